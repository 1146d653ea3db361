"""Export one or more CRF BiLSTM checkpoints (train_bilstm.py --crf) as ONE nerstream bundle (jnlpba-v2).

/usr/bin/python3 models/train/export_v2.py --ckpt models/train/work_a/best.pt --ckpt models/train/work_b/best.pt \
    --out models/jnlpba-v2 --name jnlpba-v2 [--eval] [--fp16]
Then: node models/train/check_ensemble.js models/jnlpba-v2/model.onnx SCRATCH/ensemble_ref.json

Combining members: the graph's `logits` output is the MEAN of the members' raw logits (CRF emissions) and
crf.json holds the MEAN of their transition, start and end scores. The score of a label path under the
combined model is then exactly the mean of the members' path scores, so Viterbi over it (what
internal/ner does with a bundle's crf.json) picks the path the members agree on best. One member is the
plain single-model export. ONNX contract unchanged: input_ids, attention_mask int64 [batch, sequence]
(dynamic) -> logits float32 [batch, sequence, 11], opset 14; auxiliary heads (other corpora) are not
exported. --fp16 stores float32 initializers as float16 + Cast (inference stays float32; see
export_ensemble.py). config.json records decoding "crf", the members and their devel scores.
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nerlib as N  # noqa: E402
from export_ensemble import export_onnx, load_members, rounded_fp16  # noqa: E402


def f1_table(ev):
    return {md: {k: round(100 * v['f1'], 2) for k, v in ev[md].items()} for md in ev}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', action='append', required=True, help='member checkpoint (best.pt); repeat')
    ap.add_argument('--vocabdir', default=os.path.join(here, 'vocab'))
    ap.add_argument('--devel', default=os.path.join(here, 'work', 'devel.json'))
    ap.add_argument('--out', default=os.path.join(root, 'models', 'jnlpba-v2'))
    ap.add_argument('--name', default='jnlpba-v2')
    ap.add_argument('--scratch', default=os.path.join(here, 'work', 'export_v2'))
    ap.add_argument('--eval', action='store_true', help='python devel F1 of the exported combination')
    ap.add_argument('--fp16', action='store_true', help='float16 initializers + Cast (about half the size)')
    ap.add_argument('--trained-on', default='JNLPBA train (1,800 GENIA abstracts)')
    a = ap.parse_args()
    torch.set_num_threads(1)
    vocab = N.load_vocab(os.path.join(a.vocabdir, 'vocab.txt'))
    members, cks = load_members(a.ckpt, vocab)
    for p, m in zip(a.ckpt, members):
        assert m.crf is not None, '%s was not trained with --crf' % p
    ens = N.MeanLogits(members).eval()

    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.scratch, exist_ok=True)
    onnx_path = os.path.join(a.out, 'model.onnx')
    tmp = os.path.join(a.scratch, 'fp32.onnx')
    stats = export_onnx(ens, onnx_path, tmp, fp16=a.fp16)
    if stats:
        print('initializers: %s' % json.dumps(stats))
    print('model.onnx %.1f MB (fp32 export %.1f MB)' % (os.path.getsize(onnx_path) / 1e6, os.path.getsize(tmp) / 1e6))
    with open(os.path.join(a.out, 'crf.json'), 'w') as f:
        json.dump(ens.crf.to_json(), f)
        f.write('\n')

    devel = N.load_split(a.devel)
    wins = N.packed_windows(devel[:3])[:5] + N.single_windows(devel[:1])[:3]
    run = rounded_fp16(ens).eval() if a.fp16 else ens
    with torch.no_grad():
        _, bi, ba, _ = next(N.batches(wins, len(wins), pad_to=N.MAXLEN))
        ref32, ref = ens(bi, ba), run(bi, ba)
        maxd = 0.0
        for r in range(bi.shape[0]):
            n = int(ba[r].sum())
            maxd = max(maxd, float((ens(bi[r:r + 1, :n], ba[r:r + 1, :n])[0] - ref32[r, :n]).abs().max()))
    print('torch: padded-vs-unpadded max abs diff %.2e' % maxd)
    assert maxd < 1e-4, 'padding changes logits'
    with open(os.path.join(a.scratch, 'ensemble_ref.json'), 'w') as f:
        json.dump({'input_ids': bi.tolist(), 'attention_mask': ba.tolist(), 'logits': ref32.tolist(),
                   'logits_fp16w': ref.tolist()}, f)

    members_info = [{'checkpoint': os.path.relpath(p, root), 'epoch': ck['epoch'], 'cfg': ck['cfg'],
                     'devel_f1': f1_table(ck['eval'])} for p, ck in zip(a.ckpt, cks)]
    f1 = 'not evaluated at export'
    if a.eval:
        ev = {md: N.evaluate(run, devel, md) for md in ('single', 'packed')}
        f1 = f1_table(ev)
        print('devel F1 %s' % json.dumps(f1))
        with open(os.path.join(a.scratch, 'eval.json'), 'w') as f:
            json.dump({'members': members_info, 'combined': ev}, f, indent=1)
    for fn in ('tokenizer.json', 'vocab.txt', 'tokenizer_config.json'):
        shutil.copyfile(os.path.join(a.vocabdir, fn), os.path.join(a.out, fn))
    cfg = cks[0]['cfg']
    arch = 'BiLSTMCharCNNCRFForTokenClassification'
    if len(members) > 1:
        arch = 'MeanOfLogits(%d x %s)' % (len(members), arch)
    conf = N.config_json('nerstream-bilstm', arch, {
        **N.bilstm_config_fields(cfg),
        'nerstream': {
            'name': a.name, 'decoding': 'crf', 'max_length': N.MAXLEN, 'inputs': ['input_ids', 'attention_mask'],
            'padding': 'right, id 0, attention_mask 0', 'label_of_word': 'first wordpiece',
            'crf': 'crf.json: learned transitions over word starts (first wordpieces), decoded per sentence',
            'trained_on': a.trained_on, 'devel_f1_python': f1,
            'members': [{k: v for k, v in mi.items() if k != 'cfg'} for mi in members_info],
            'combine': 'logits = mean of the members\' raw logits; crf.json = mean of their CRF scores',
            'weights': 'float16 initializers + Cast to float32' if a.fp16 else 'float32',
        },
    })
    with open(os.path.join(a.out, 'config.json'), 'w') as f:
        json.dump(conf, f, indent=2)
        f.write('\n')
    print('wrote %s' % a.out)


if __name__ == '__main__':
    main()
