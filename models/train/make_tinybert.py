"""Make testdata/tinybert: a tiny BERT-shaped token classifier bundle for tests (deterministic, seeded).

/usr/bin/python3 models/train/make_tinybert.py [--work models/train/work] [--out testdata/tinybert] [--steps 1500]
Needs WORK/train.json and WORK/devel.json from prep_data.js. 2 post-LN layers, hidden 32, 2 heads,
128 positions, 11 labels; trained for a fixed number of steps on single sentences and packed windows
(so it predicts entities, not noise; it is not a good model). Exports ONNX opset 14 with inputs
input_ids / attention_mask / token_type_ids int64 [batch, seq] and output logits float32 [batch, seq, 11].
"""
import argparse
import json
import os
import random
import shutil
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nerlib as N  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument('--work', default=os.path.join(here, 'work'))
    ap.add_argument('--vocabdir', default=os.path.join(here, 'vocab'))
    ap.add_argument('--out', default=os.path.join(root, 'testdata', 'tinybert'))
    ap.add_argument('--steps', type=int, default=1500)
    ap.add_argument('--seed', type=int, default=7)
    # shape (defaults: the 2-layer/32-hidden test fixture); e.g. --layers 4 --hidden 256 --heads 4 --inter 1024
    # --steps 0 gives a random-weight BERT of a realistic shape for speed measurements (bench/peers)
    ap.add_argument('--layers', type=int, default=2)
    ap.add_argument('--hidden', type=int, default=32)
    ap.add_argument('--heads', type=int, default=2)
    ap.add_argument('--inter', type=int, default=128)
    ap.add_argument('--name', default='')
    a = ap.parse_args()
    torch.set_num_threads(1)
    random.seed(a.seed)
    torch.manual_seed(a.seed)
    vocab = N.load_vocab(os.path.join(a.vocabdir, 'vocab.txt'))
    train = N.load_split(os.path.join(a.work, 'train.json'))
    devel = N.load_split(os.path.join(a.work, 'devel.json'))
    m = N.TinyBert(len(vocab), hidden=a.hidden, layers=a.layers, heads=a.heads, inter=a.inter)
    print('params', N.nparams(m), flush=True)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    step, t0, ep = 0, time.time(), 0
    while step < a.steps:
        ep += 1
        rng = random.Random(a.seed * 100 + ep)
        for _, ids, att, lab in N.batches(N.mixed_windows(train, rng), 32, rng=rng):
            m.train()
            loss = F.cross_entropy(m(ids, att).reshape(-1, N.NL), lab.reshape(-1), ignore_index=N.IGN)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 5.0)
            opt.step()
            step += 1
            if step % 100 == 0:
                print('step %d loss %.4f %.0fs' % (step, loss.item(), time.time() - t0), flush=True)
            if step >= a.steps:
                break
    m.eval()
    ev = N.evaluate(m, devel[:20] if a.steps == 0 else devel, 'single')
    print('devel single F1 argmax %.2f viterbi %.2f' % (100 * ev['argmax']['f1'], 100 * ev['viterbi']['f1']), flush=True)

    os.makedirs(a.out, exist_ok=True)
    ids = torch.tensor([[2, 100, 200, 300, 3] + [0] * 3])
    att = torch.tensor([[1] * 5 + [0] * 3])
    tt = torch.zeros_like(ids)
    torch.onnx.export(m, (ids, att, tt), os.path.join(a.out, 'model.onnx'), opset_version=14,
                      input_names=['input_ids', 'attention_mask', 'token_type_ids'], output_names=['logits'],
                      dynamic_axes={n: {0: 'batch', 1: 'sequence'} for n in ('input_ids', 'attention_mask', 'token_type_ids', 'logits')},
                      do_constant_folding=True)
    for f in ('tokenizer.json', 'vocab.txt', 'tokenizer_config.json'):
        shutil.copyfile(os.path.join(a.vocabdir, f), os.path.join(a.out, f))
    cfg = N.config_json('bert', 'BertForTokenClassification', {
        'hidden_size': a.hidden, 'num_hidden_layers': a.layers, 'num_attention_heads': a.heads, 'intermediate_size': a.inter,
        'hidden_act': 'gelu', 'layer_norm_eps': 1e-12, 'type_vocab_size': 2,
        'nerstream': {'decoding': 'bio-viterbi', 'max_length': 128, 'purpose': 'tests only' if a.steps else 'speed only (random weights)',
                      **({'name': a.name} if a.name else {}),
                      'devel_f1_single_viterbi': round(100 * ev['viterbi']['f1'], 2)},
    })
    with open(os.path.join(a.out, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
        f.write('\n')
    # reference logits for a cross-check by onnxruntime (check_onnx.js)
    torch.manual_seed(1)
    ids = torch.randint(5, len(vocab), (2, 128))
    att = torch.ones(2, 128, dtype=torch.long)
    ids[0, 20:] = 0
    att[0, 20:] = 0
    with torch.no_grad():
        lg = m(ids, att, torch.zeros_like(ids))
    with open(os.path.join(a.work, 'tinybert_ref.json' if not a.name else a.name + '_ref.json'), 'w') as f:
        json.dump({'input_ids': ids.tolist(), 'attention_mask': att.tolist(), 'logits': lg.tolist()}, f)
    print('wrote', a.out)


if __name__ == '__main__':
    main()
