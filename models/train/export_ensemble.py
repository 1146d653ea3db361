"""Export an ensemble of two (or more) BiLSTM + char-CNN checkpoints as ONE ONNX model with fp16 weights.

/usr/bin/python3 models/train/export_ensemble.py \
    --ckpt models/train/work/best.pt --ckpt models/train/work2/best.pt \
    --out models/jnlpba-v1x2 --name jnlpba-v1x2 [--eval]
Then: node models/train/check_ensemble.js models/jnlpba-v1x2/model.onnx models/train/work2/ensemble_ref.json

The graph's `logits` output is the MEAN of the members' log_softmax, so the ONNX contract is unchanged
(inputs input_ids, attention_mask int64 [batch, sequence], dynamic; output logits float32
[batch, sequence, 11]; opset 14). softmax(mean log p) is the normalized geometric mean of the members'
probabilities, and a per-position constant shift does not change argmax or BIO Viterbi decoding.

Size: every float32 initializer with >= 16 elements is stored as float16 followed by a Cast to float32
(ONNX Runtime folds the Casts when the session is created, so inference still runs in float32); int64
initializers whose values fit in uint8 (the wordpiece -> chars table) are stored as uint8 + Cast. The
members share one chars table (same vocabulary). Two float32 members would be ~53 MB; this is ~24 MB.

Writes OUT/model.onnx, copies tokenizer.json, vocab.txt, tokenizer_config.json and config.json from
--base (the single-model bundle; config's nerstream.name / architectures / devel scores are rewritten),
and SCRATCH/ensemble_ref.json (padded devel windows with torch logits for the fp32 members and for
members whose weights are rounded to float16, for check_ensemble.js). The model card is written by hand
from `bin/worker eval` / `bin/worker bench` (see models/train/README.md).
"""
import argparse
import copy
import json
import os
import shutil
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nerlib as N  # noqa: E402


class Ensemble(nn.Module):
    """Mean of the members' log_softmax over the label axis; same inputs/outputs as one member."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, input_ids, attention_mask):
        acc = None
        for m in self.members:
            lp = F.log_softmax(m(input_ids, attention_mask), -1)
            acc = lp if acc is None else acc + lp
        return acc / len(self.members)


def shrink_initializers(model, min_elems=16):
    """float32 -> float16 + Cast(float32); small-valued int64 tables -> uint8 + Cast(int64). In place."""
    g = model.graph
    inputs = {i.name for i in g.input}
    casts, keep, stats = [], [], {'fp16': 0, 'uint8': 0, 'kept': 0}
    for init in g.initializer:
        assert init.name not in inputs, 'initializer %s is also a graph input' % init.name
        arr = numpy_helper.to_array(init)
        if init.data_type == TensorProto.FLOAT and arr.size >= min_elems:
            h = arr.astype(np.float16)
            assert np.isfinite(h).all(), '%s overflows float16' % init.name
            keep.append(numpy_helper.from_array(h, init.name + '__fp16'))
            casts.append(helper.make_node('Cast', [init.name + '__fp16'], [init.name], to=TensorProto.FLOAT,
                                          name='Cast_' + init.name + '__fp16'))
            stats['fp16'] += 1
        elif init.data_type == TensorProto.INT64 and arr.size >= 1024 and arr.min() >= 0 and arr.max() <= 255:
            keep.append(numpy_helper.from_array(arr.astype(np.uint8), init.name + '__u8'))
            casts.append(helper.make_node('Cast', [init.name + '__u8'], [init.name], to=TensorProto.INT64,
                                          name='Cast_' + init.name + '__u8'))
            stats['uint8'] += 1
        else:
            keep.append(init)
            stats['kept'] += 1
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return stats


def rounded_fp16(model):
    """A copy whose float parameters are rounded to float16 (what the exported graph computes with)."""
    r = copy.deepcopy(model)
    with torch.no_grad():
        for p in r.parameters():
            p.copy_(p.half().float())
    return r


def load_members(paths, vocab):
    """Load BiLSTMTagger checkpoints; members share one chars table (one constant in the graph)."""
    members, cks = [], []
    for p in paths:
        m, ck = N.load_tagger(p, vocab)
        members.append(m)
        cks.append(ck)
    for m in members[1:]:
        assert torch.equal(m.chars, members[0].chars), 'members disagree on the chars table (vocabulary)'
        m.chars = members[0].chars
    return members, cks


def export_onnx(module, onnx_path, tmp_path, fp16=True):
    """Export module (bundle contract) to tmp_path, optionally shrink its initializers, check, save to onnx_path."""
    N.export_token_classifier(module, tmp_path)
    mp = onnx.load(tmp_path)
    stats = shrink_initializers(mp) if fp16 else None
    onnx.checker.check_model(mp)
    onnx.save(mp, onnx_path)
    return stats


def f1_table(ev):
    return {md: {k: round(100 * ev[md][k]['f1'], 2) for k in ('argmax', 'viterbi')} for md in ev}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', action='append', required=True, help='member checkpoint (best.pt); repeat')
    ap.add_argument('--vocabdir', default=os.path.join(here, 'vocab'))
    ap.add_argument('--devel', default=os.path.join(here, 'work', 'devel.json'))
    ap.add_argument('--base', default=os.path.join(root, 'models', 'jnlpba-v1'), help='bundle to copy tokenizer/config from')
    ap.add_argument('--out', default=os.path.join(root, 'models', 'jnlpba-v1x2'))
    ap.add_argument('--name', default='jnlpba-v1x2')
    ap.add_argument('--scratch', default=os.path.join(here, 'work2'), help='where ensemble_ref.json / ensemble_eval.json go')
    ap.add_argument('--eval', action='store_true', help='python devel F1 of the ensemble (fp32 and fp16-rounded)')
    a = ap.parse_args()
    assert len(a.ckpt) >= 2, 'an ensemble needs at least two --ckpt'
    torch.set_num_threads(1)
    vocab = N.load_vocab(os.path.join(a.vocabdir, 'vocab.txt'))
    members, cks = load_members(a.ckpt, vocab)
    ens = Ensemble(members).eval()

    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.scratch, exist_ok=True)
    onnx_path = os.path.join(a.out, 'model.onnx')
    tmp_path = os.path.join(a.scratch, 'ensemble_fp32.onnx')
    stats = export_onnx(ens, onnx_path, tmp_path)
    print('initializers: %s; fp32 export %.1f MB -> %s %.1f MB' % (
        json.dumps(stats), os.path.getsize(tmp_path) / 1e6, onnx_path, os.path.getsize(onnx_path) / 1e6))

    # reference logits (torch fp32 and fp16-rounded weights) on padded devel windows, and padding invariance in torch
    devel = N.load_split(a.devel)
    wins = N.packed_windows(devel[:3])[:5] + N.single_windows(devel[:1])[:3]
    ens16 = rounded_fp16(ens).eval()
    with torch.no_grad():
        _, bi, ba, _ = next(N.batches(wins, len(wins), pad_to=N.MAXLEN))
        ref32 = ens(bi, ba)
        ref16 = ens16(bi, ba)
        maxd = 0.0
        for r in range(bi.shape[0]):
            n = int(ba[r].sum())
            one = ens(bi[r:r + 1, :n], ba[r:r + 1, :n])
            maxd = max(maxd, float((one[0] - ref32[r, :n]).abs().max()))
    mask = ba.bool()
    d16 = float((ref32 - ref16).abs()[mask].max())
    print('torch: padded-vs-unpadded max abs diff %.2e; fp32-vs-fp16-rounded weights max abs diff %.2e' % (maxd, d16))
    assert maxd < 1e-4, 'padding changes logits'
    with open(os.path.join(a.scratch, 'ensemble_ref.json'), 'w') as f:
        json.dump({'input_ids': bi.tolist(), 'attention_mask': ba.tolist(), 'logits': ref32.tolist(),
                   'logits_fp16w': ref16.tolist()}, f)

    members_info = [{'checkpoint': os.path.relpath(p, root), 'epoch': ck['epoch'], 'devel_f1': f1_table(ck['eval'])}
                    for p, ck in zip(a.ckpt, cks)]
    ens_f1 = None
    if a.eval:
        res = {}
        for tag, model in (('fp32', ens), ('fp16w', ens16)):
            res[tag] = {md: N.evaluate(model, devel, md) for md in ('single', 'packed')}
            print('ensemble %s devel F1 %s' % (tag, json.dumps(f1_table(res[tag]))))
        with open(os.path.join(a.scratch, 'ensemble_eval.json'), 'w') as f:
            json.dump({'members': members_info, 'ensemble': res}, f, indent=1)
        ens_f1 = f1_table(res['fp16w'])

    for f in ('tokenizer.json', 'vocab.txt', 'tokenizer_config.json'):
        shutil.copyfile(os.path.join(a.base, f), os.path.join(a.out, f))
    with open(os.path.join(a.base, 'config.json')) as f:
        conf = json.load(f)
    base_arch = conf['architectures'][0]
    conf['architectures'] = ['EnsembleMeanLogSoftmax(%d x %s)' % (len(members), base_arch)]
    ns = conf['nerstream']
    ns['name'] = a.name
    ns.pop('epoch', None)
    ns['devel_f1'] = ens_f1 if ens_f1 is not None else 'not evaluated at export'
    ns['ensemble'] = {
        'members': members_info,
        'combine': 'logits output = mean over members of log_softmax(member logits)',
        'weights': 'float16 initializers + Cast to float32 (inference runs in float32)',
    }
    with open(os.path.join(a.out, 'config.json'), 'w') as f:
        json.dump(conf, f, indent=2)
        f.write('\n')
    print('wrote %s' % a.out)


if __name__ == '__main__':
    main()
