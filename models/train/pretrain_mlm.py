"""Masked-LM pretraining of the BiLSTM + char-CNN encoder (lever 6 of the quality issue). Resumes.

/usr/bin/python3 models/train/pretrain_mlm.py --work DIR --deadline UNIX_TIME [--glove FILE] [--extra F.json ...]
Text: the wordpieces of JNLPBA train (WORK/train.json) and of the auxiliary corpora (--extra, prep_data.js output);
their labels are not read. JNLPBA devel is never seen. Windows: the same single/packed mixture as fine-tuning.
Objective: BERT-style masking (15% of wordpieces; 80% [MASK], 10% random, 10% kept) and a linear 16k-way head on
the encoder's output (the BiLSTM reads the masked input in both directions, so nothing leaks). Adam --lr.
Writes WORK/mlm.log, WORK/mlm.pt (encoder weights, read by train_bilstm.py --init) after every epoch,
WORK/mlm_last.pt (resume). Monitoring: masked-token accuracy on a fixed 2% of the windows held out from training.
"""
import argparse
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nerlib as N  # noqa: E402
from train_bilstm import log  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--work', required=True)
    ap.add_argument('--vocab', default=os.path.join(here, 'vocab', 'vocab.txt'))
    ap.add_argument('--deadline', type=float, required=True)
    ap.add_argument('--epochs', type=int, default=50)
    ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--seed', type=int, default=41)
    ap.add_argument('--glove', default='')
    ap.add_argument('--extra', nargs='*', default=[])
    a = ap.parse_args()
    torch.set_num_threads(1)
    logp = os.path.join(a.work, 'mlm.log')
    vocab = N.load_vocab(a.vocab)
    docs = [{'sents': d['sents']} for d in N.load_split(os.path.join(a.work, 'train.json'))]
    for path in a.extra:
        docs += N.load_aux(path)[1]
    rng0 = random.Random(a.seed)
    rng0.shuffle(docs)
    nho = max(1, len(docs) // 50)
    held, docs = docs[:nho], docs[nho:]
    held_w = N.packed_windows(held)
    torch.manual_seed(a.seed)
    model = N.BiLSTMTagger(vocab)
    head = torch.nn.Linear(2 * model.cfg['hidden'], len(vocab))
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=a.lr)
    state = {'epoch': 0, 'history': []}
    last = os.path.join(a.work, 'mlm_last.pt')
    if os.path.exists(last):
        ck = torch.load(last)
        model.load_state_dict(ck['model'])
        head.load_state_dict(ck['head'])
        opt.load_state_dict(ck['opt'])
        state = ck['state']
        log(logp, 'resumed after epoch %d' % state['epoch'])
    else:
        if a.glove:
            n = N.glove_init(model.emb, vocab, a.glove)
            log(logp, 'glove: initialised %d of %d wordpiece embeddings' % (n, len(vocab)))
        log(logp, 'start: %d docs (%d held out), %d wordpieces' % (
            len(docs), nho, sum(len(s['ids']) for d in docs for s in d['sents'])))
    times = [h['secs'] for h in state['history']]
    while state['epoch'] < a.epochs:
        ep = state['epoch'] + 1
        if times and time.time() + sum(times) / len(times) > a.deadline:
            log(logp, 'deadline: not starting epoch %d' % ep)
            break
        rng = random.Random(a.seed * 1000 + ep)
        gen = torch.Generator().manual_seed(a.seed * 1000 + ep)
        model.train()
        t0 = time.time()
        tot = nb = 0
        for _, ids, att, _ in N.batches(N.mixed_windows(docs, rng), a.bs, rng=rng):
            x, tgt = N.mask_batch(ids, att, len(vocab), gen)
            feat = model.features(x, att)
            sel = tgt >= 0
            loss = F.cross_entropy(head(feat[sel]), tgt[sel])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            tot += loss.item()
            nb += 1
            if nb % 100 == 0:
                log(logp, 'ep %d step %d loss %.4f (%.1f ms/step)' % (ep, nb, tot / nb, 1000 * (time.time() - t0) / nb))
        model.eval()
        hit = cnt = 0
        with torch.no_grad():
            g2 = torch.Generator().manual_seed(a.seed)
            for _, ids, att, _ in N.batches(held_w, 64):
                x, tgt = N.mask_batch(ids, att, len(vocab), g2)
                sel = tgt >= 0
                pred = head(model.features(x, att)[sel]).argmax(-1)
                hit += int((pred == tgt[sel]).sum())
                cnt += int(sel.sum())
        secs = time.time() - t0
        times.append(secs)
        state['epoch'] = ep
        state['history'].append({'epoch': ep, 'loss': tot / max(nb, 1), 'held_acc': hit / max(cnt, 1), 'secs': secs})
        log(logp, 'EPOCH %d loss %.4f held-out masked accuracy %.4f (%d tokens) %.0fs' % (ep, tot / max(nb, 1), hit / max(cnt, 1), cnt, secs))
        torch.save({'encoder': N.encoder_state(model), 'cfg': model.cfg, 'history': state['history']}, os.path.join(a.work, 'mlm.tmp'))
        os.replace(os.path.join(a.work, 'mlm.tmp'), os.path.join(a.work, 'mlm.pt'))
        torch.save({'model': model.state_dict(), 'head': head.state_dict(), 'opt': opt.state_dict(), 'state': state}, last + '.tmp')
        os.replace(last + '.tmp', last)
    log(logp, 'done after epoch %d' % state['epoch'])


if __name__ == '__main__':
    main()
