"""Add one CRF BiLSTM member to an exported mean-of-logits bundle, without the old members' checkpoints.

/usr/bin/python3 models/train/add_member.py BASE_BUNDLE MEMBER_BUNDLE OUT_BUNDLE [--name NAME] [--trained-on TEXT]

BASE_BUNDLE holds k members (export_v2.py; config.json nerstream.members lists them), MEMBER_BUNDLE one member
(export_v2.py with a single --ckpt, same vocabulary and labels). OUT_BUNDLE's graph computes
    logits = k/(k+1) * base_logits + 1/(k+1) * member_logits
and its crf.json = the same weighted mean of the CRF scores: exactly the mean of k+1 members that export_v2.py
gives when it is handed all k+1 checkpoints (run.sh does that on a fresh run); this script exists so a member
can be added when the earlier checkpoints are gone. ONNX contract, opset and float16 storage are kept: the
member graph is copied in under a name prefix and shares the inputs.
"""
import argparse
import json
import os
import shutil

import numpy as np
import onnx
from onnx import helper, numpy_helper


def prefixed(graph, prefix, keep):
    """Rename every value, node and initializer of graph with prefix, except the names in keep."""
    def rn(name):
        return name if (name == '' or name in keep) else prefix + name
    for n in graph.node:
        n.name = rn(n.name) if n.name else n.name
        for i, x in enumerate(n.input):
            n.input[i] = rn(x)
        for i, x in enumerate(n.output):
            n.output[i] = rn(x)
        for at in n.attribute:
            assert at.type not in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS), 'subgraphs not supported'
    for t in graph.initializer:
        t.name = rn(t.name)
    for v in list(graph.value_info) + list(graph.output):
        v.name = rn(v.name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('base')
    ap.add_argument('member')
    ap.add_argument('out')
    ap.add_argument('--name', default='')
    ap.add_argument('--trained-on', default='')
    a = ap.parse_args()

    bcfg = json.load(open(os.path.join(a.base, 'config.json')))
    mcfg = json.load(open(os.path.join(a.member, 'config.json')))
    for key in ('id2label', 'vocab_size'):
        assert bcfg[key] == mcfg[key], 'base and member differ in %s' % key
    k = len(bcfg['nerstream']['members'])
    assert len(mcfg['nerstream']['members']) == 1, 'member bundle must hold one member'

    base = onnx.load(os.path.join(a.base, 'model.onnx'))
    mem = onnx.load(os.path.join(a.member, 'model.onnx'))
    inputs = {i.name for i in base.graph.input}
    assert inputs == {i.name for i in mem.graph.input}, 'inputs differ'
    prefixed(base.graph, 'base/', inputs)
    prefixed(mem.graph, 'member%d/' % k, inputs)
    g = base.graph
    g.node.extend(mem.graph.node)
    g.initializer.extend(mem.graph.initializer)
    g.value_info.extend(mem.graph.value_info)
    g.initializer.extend([numpy_helper.from_array(np.array(k / (k + 1), np.float32), 'combine/w_base'),
                          numpy_helper.from_array(np.array(1 / (k + 1), np.float32), 'combine/w_member')])
    bo, mo = g.output[0].name, mem.graph.output[0].name
    g.node.extend([
        helper.make_node('Mul', [bo, 'combine/w_base'], ['combine/base'], name='combine/mul_base'),
        helper.make_node('Mul', [mo, 'combine/w_member'], ['combine/member'], name='combine/mul_member'),
        helper.make_node('Add', ['combine/base', 'combine/member'], ['logits'], name='combine/add'),
    ])
    out = onnx.ValueInfoProto()
    out.CopyFrom(g.output[0])
    out.name = 'logits'
    del g.output[:]
    g.output.append(out)
    onnx.checker.check_model(base)

    os.makedirs(a.out, exist_ok=True)
    onnx.save(base, os.path.join(a.out, 'model.onnx'))
    bc = json.load(open(os.path.join(a.base, 'crf.json')))
    mc = json.load(open(os.path.join(a.member, 'crf.json')))
    crf = {key: (k * np.array(bc[key]) + np.array(mc[key])) / (k + 1) for key in ('transitions', 'start', 'end')}
    with open(os.path.join(a.out, 'crf.json'), 'w') as f:
        json.dump({key: v.tolist() for key, v in crf.items()}, f)
        f.write('\n')
    for fn in ('tokenizer.json', 'vocab.txt', 'tokenizer_config.json'):
        shutil.copyfile(os.path.join(a.base, fn), os.path.join(a.out, fn))

    ns = bcfg['nerstream']
    ns['members'] = ns['members'] + mcfg['nerstream']['members']
    ns['devel_f1_python'] = 'not evaluated (members added with add_member.py); see MODEL_CARD.md'
    ns['combine'] = "logits = mean of the members' raw logits; crf.json = mean of their CRF scores"
    if a.name:
        ns['name'] = a.name
    if a.trained_on:
        ns['trained_on'] = a.trained_on
    arch = mcfg['architectures'][0]
    bcfg['architectures'] = ['MeanOfLogits(%d x %s)' % (k + 1, arch)]
    with open(os.path.join(a.out, 'config.json'), 'w') as f:
        json.dump(bcfg, f, indent=2)
        f.write('\n')
    print('wrote %s: %d members, model.onnx %.1f MB' % (a.out, k + 1, os.path.getsize(os.path.join(a.out, 'model.onnx')) / 1e6))


if __name__ == '__main__':
    main()
