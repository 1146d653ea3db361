"""Export WORK/best.pt (BiLSTM + char-CNN) to an ONNX bundle with tokenizer files, config.json and MODEL_CARD.md.

/usr/bin/python3 models/train/export_bilstm.py [--ckpt models/train/work/best.pt] [--out models/jnlpba-v1]
Then: node models/train/check_onnx.js models/jnlpba-v1/model.onnx models/train/work/bilstm_ref.json
"""
import argparse
import json
import os
import platform
import shutil
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nerlib as N  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument('--work', default=os.path.join(here, 'work'))
    ap.add_argument('--ckpt', default=None)
    ap.add_argument('--vocabdir', default=os.path.join(here, 'vocab'))
    ap.add_argument('--out', default=os.path.join(root, 'models', 'jnlpba-v1'))
    ap.add_argument('--name', default='jnlpba-v1')
    ap.add_argument('--speed', default='', help='measured inference cost, a sentence for the model card')
    a = ap.parse_args()
    torch.set_num_threads(1)
    vocab = N.load_vocab(os.path.join(a.vocabdir, 'vocab.txt'))
    m, ck = N.load_tagger(a.ckpt or os.path.join(a.work, 'best.pt'), vocab)
    cfg = dict(ck['cfg'])
    os.makedirs(a.out, exist_ok=True)
    onnx_path = os.path.join(a.out, 'model.onnx')
    N.export_token_classifier(m, onnx_path)
    for f in ('tokenizer.json', 'vocab.txt', 'tokenizer_config.json'):
        shutil.copyfile(os.path.join(a.vocabdir, f), os.path.join(a.out, f))

    # padding invariance in torch: real devel windows alone vs padded to [B,128]
    devel = N.load_split(os.path.join(a.work, 'devel.json'))
    wins = N.packed_windows(devel[:6]) + N.single_windows(devel[:1])[:4]
    maxd = 0.0
    with torch.no_grad():
        for _, bi, ba, _ in N.batches(wins, 8, pad_to=N.MAXLEN):
            full = m(bi, ba)
            for r in range(bi.shape[0]):
                n = int(ba[r].sum())
                one = m(bi[r:r + 1, :n], ba[r:r + 1, :n])
                maxd = max(maxd, float((one[0] - full[r, :n]).abs().max()))
        _, bi, ba, _ = next(N.batches(wins[:4], 4, pad_to=N.MAXLEN))
        ref = m(bi, ba)
    print('padded-vs-unpadded max abs diff %.2e' % maxd)
    assert maxd < 1e-4, 'padding changes logits'
    with open(os.path.join(a.work, 'bilstm_ref.json'), 'w') as f:
        json.dump({'input_ids': bi.tolist(), 'attention_mask': ba.tolist(), 'logits': ref.tolist()}, f)

    ev = ck['eval']
    hist = ck['history']
    lastp = os.path.join(a.work, 'last.pt')
    if os.path.exists(lastp):  # show the whole run, including epochs after the best one
        full = torch.load(lastp)['state']['history']
        if len(full) > len(hist) and [h['epoch'] for h in full[:len(hist)]] == [h['epoch'] for h in hist]:
            hist = full
    best = ck['epoch']
    f1 = {md: {k: round(100 * ev[md][k]['f1'], 2) for k in ('argmax', 'viterbi')} for md in ev}
    conf = N.config_json('nerstream-bilstm', 'BiLSTMCharCNNForTokenClassification', {
        **N.bilstm_config_fields(cfg),
        'nerstream': {
            'name': a.name, 'decoding': 'bio-viterbi', 'max_length': N.MAXLEN, 'inputs': ['input_ids', 'attention_mask'],
            'padding': 'right, id 0, attention_mask 0', 'label_of_word': 'first wordpiece',
            'trained_on': 'JNLPBA train (1,800 GENIA abstracts); windows of single sentences and packed consecutive sentences',
            'devel_f1': f1, 'epoch': best,
        },
    })
    with open(os.path.join(a.out, 'config.json'), 'w') as f:
        json.dump(conf, f, indent=2)
        f.write('\n')

    size = os.path.getsize(onnx_path)
    rows = []
    for h in hist:
        rows.append('| %s | %.4f | %.2g | %.1f | %.2f | %.2f | %.2f | %.2f |' % (
            ('**%d**' % h['epoch']) if h['epoch'] == ck['epoch'] else str(h['epoch']), h['loss'], h['lr'], h['secs'] / 60, h['f1']['single']['argmax'], h['f1']['single']['viterbi'],
            h['f1']['packed']['argmax'], h['f1']['packed']['viterbi']))
    per = []
    for lab in ('DNA', 'RNA', 'cell_line', 'cell_type', 'protein'):
        cells = []
        for md in ('single', 'packed'):
            x = ev[md]['viterbi']['per_label'].get(lab, {'p': 0, 'r': 0, 'f1': 0, 'n': 0})
            cells.append('%.1f / %.1f / %.1f' % (100 * x['p'], 100 * x['r'], 100 * x['f1']))
        n = ev['single']['viterbi']['per_label'].get(lab, {}).get('n', 0)
        per.append('| %s | %d | %s | %s |' % (lab, n, cells[0], cells[1]))
    for md_row in ('argmax', 'viterbi'):
        cells = []
        for md in ('single', 'packed'):
            x = ev[md][md_row]
            cells.append('%.1f / %.1f / %.1f' % (100 * x['p'], 100 * x['r'], 100 * x['f1']))
        per.append('| **micro, %s** | | %s | %s |' % (md_row, cells[0], cells[1]))
    train_min = sum(h['secs'] for h in hist) / 60
    card = CARD.format(name=a.name, params=N.nparams(m), size_mb=size / 1e6, size=size, epoch=best, nep=len(hist),
                       train_min=train_min, rows='\n'.join(rows), per='\n'.join(per), cfg=cfg,
                       torch=torch.__version__, speed=a.speed or 'not measured for this export', cpu=platform.processor() or platform.machine(),
                       date=time.strftime('%Y-%m-%d'))
    with open(os.path.join(a.out, 'MODEL_CARD.md'), 'w') as f:
        f.write(card)
    print('wrote %s (model.onnx %.1f MB, epoch %d, devel %s)' % (a.out, size / 1e6, best, json.dumps(f1)))


CARD = """# {name} — biomedical NER (DNA, RNA, cell_line, cell_type, protein)

A small, CPU-friendly named-entity tagger for biomedical abstracts, trained from scratch (no
pretrained weights) on the JNLPBA 2004 shared-task training set (GENIA corpus). It is the default
model of nerstream. Bundle files: `model.onnx`, `tokenizer.json`, `vocab.txt`, `tokenizer_config.json`,
`config.json`, this card.

## Data and licence
- Training: JNLPBA train split, 1,800 MEDLINE abstracts (GENIA corpus v3.02 annotations mapped to
  5 types), 16,921 sentences. Model selection: JNLPBA devel split (200 abstracts, 1,838 sentences) —
  the scores below are on that split, which therefore is **not** an unbiased test score.
- The GENIA corpus is distributed under the **Creative Commons Attribution 3.0** licence
  (see `LICENSE.GENIA` in the JNLPBA data directory). Attribution: GENIA Project, Tsujii Laboratory,
  University of Tokyo — J.-D. Kim, T. Ohta, Y. Tateisi, J. Tsujii, "GENIA corpus — a semantically
  annotated corpus for bio-textmining", Bioinformatics 19(suppl. 1):i180–i182, 2003; and the JNLPBA
  shared task: J.-D. Kim, T. Ohta, Y. Tsuruoka, Y. Tateisi, N. Collier, "Introduction to the
  Bio-Entity Recognition Task at JNLPBA", 2004. This model is a derived work; keep this attribution
  when redistributing it.

## Interface
- Tokenizer: cased WordPiece, 16,000 tokens learned from the training texts only (`tokenizer.json`,
  BertNormalizer without lowercasing or accent stripping, BertPreTokenizer, `[CLS] $A [SEP]`;
  `[PAD]`=0 `[UNK]`=1 `[CLS]`=2 `[SEP]`=3 `[MASK]`=4).
- ONNX (opset 14): inputs `input_ids`, `attention_mask` int64 [batch, sequence] (dynamic axes, up to
  128); output `logits` float32 [batch, sequence, 11]. No `token_type_ids`. Pad on the right with id 0
  and mask 0: the logits of real positions do not depend on padding (checked to < 1e-4).
- Labels (index order): `0:O 1:B-DNA 2:I-DNA 3:B-RNA 4:I-RNA 5:B-cell_line 6:I-cell_line 7:B-cell_type
  8:I-cell_type 9:B-protein 10:I-protein`. Wordpiece labels: `B-` only on the first wordpiece of a
  word; a word's label is its first wordpiece's label.
- Decoding: constrained BIO Viterbi over log-softmax (forbids O→I-X, B-X→I-Y, I-X→I-Y and a leading
  I-); it is worth +1.5–3 F1 over argmax.
- Windows: trained on a 50/50 mix of single sentences and runs of consecutive sentences of the same
  abstract packed into one window ([CLS] s1 s2 … [SEP], ≤126 wordpieces), so both packing modes work.

## Architecture
Per wordpiece: word embedding ({cfg[emb]}) ‖ char-CNN over the wordpiece's characters without `##`
(char embedding {cfg[char_emb]}, {cfg[char_filters]} filters of width 3, ReLU, max-pool; the char table is a
constant inside the graph) → dropout {cfg[dropout]} → {cfg[layers]} × BiLSTM ({cfg[hidden]} per direction; the
backward direction reverses each row's first `len` tokens with a gather computed from `attention_mask`,
runs a forward LSTM and reverses back, so it never reads padding) → linear → 11 logits.
Parameters: {params:,}. `model.onnx`: {size:,} bytes ({size_mb:.1f} MB).

Inference cost (ONNX Runtime CPU): {speed}. A BiLSTM costs ~5.4 MFLOP per wordpiece and runs its
128 steps sequentially, so it is roughly 10× the compute of a 2-layer/128-hidden BERT of the same
window size; it won on accuracy only because nothing pretrained is available here.

## Training
Adam (lr 1e-3, halved after each epoch without devel improvement; the last two epochs that fit
before the time limit are capped at 5e-4 and 2.5e-4), batch 32 length-bucketed windows,
gradient clipping 5, cross-entropy over wordpieces (`[CLS]`/`[SEP]`/padding ignored), seed 13.
{nep} epochs in {train_min:.0f} min on one CPU thread ({cpu}, 2 cores shared with other jobs;
torch {torch}); best epoch by mean constrained-Viterbi devel F1 of both modes: **{epoch}**.
Reproduce with `models/train/run.sh` (see `models/train/README.md`).

### Devel F1 per epoch (exact-span micro F1 over GENIA tokens, %)
| epoch | train loss | lr | min | single argmax | single Viterbi | packed argmax | packed Viterbi |
|---|---|---|---|---|---|---|---|
{rows}

### Best epoch on devel, constrained Viterbi (P / R / F1, %)
| type | gold spans | single sentences | packed sentences |
|---|---|---|---|
{per}

The end-to-end number through the Go pipeline (its own sentence splitter, packing and decoding) is
reported separately by `worker eval`.

## Known limits
- Trained from scratch on 1,800 abstracts: below fine-tuned pretrained biomedical transformers
  (published BioBERT-style results on the official JNLPBA **test** set are in the high 70s F1). The
  official test set is harder than devel; expect this model to score several points lower there.
- Domain: MEDLINE abstracts about human blood cells and transcription factors (GENIA); other
  organisms, full texts, clinical text or other entity types are out of scope.
- Cased vocabulary from 1,800 abstracts: rare words are split into many wordpieces; the char-CNN
  sees only each wordpiece's characters, not the whole word.
- Entities never cross sentence boundaries in training data, but in packed windows the BiLSTM reads
  neighbouring sentences; Viterbi constraints run over the whole window.
- Max 128 positions per window (126 wordpieces + `[CLS]`/`[SEP]`); longer sentences must be split by
  the caller.

_Generated by `models/train/export_bilstm.py` on {date}._
"""

if __name__ == '__main__':
    main()
