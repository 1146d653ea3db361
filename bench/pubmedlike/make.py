#!/usr/bin/env python3
"""Build the PubMed-like benchmark workload (testdata/pubmedlike/docs.jsonl), deterministically.

  python3 bench/pubmedlike/make.py DATA_DIR > testdata/pubmedlike/docs.jsonl

DATA_DIR is the JNLPBA data directory (train.docs.jsonl, devel.docs.jsonl). The workload is the 200 JNLPBA devel
abstracts (title + abstract) plus title-only citations in PubMed's share: 29.1% of PubMed citations have a title
and no abstract (11,479,225 title-only of 39,497,560 records with a title or an abstract, counted from the PubMed
baseline + updates of 2025-06-16; https://huggingface.co/datasets/pankajrajdeo/PubMed). 82 title-only documents
are added (82 / 282 = 29.1%): 76 English titles of JNLPBA train abstracts, 13 of them as PubMed prints translated
titles ("[Title]."), and 6 non-English titles as PubMed's VernacularTitle holds them. Title-only citations are
interleaved with the abstracts (every 3rd or 4th document) the way a baseline file mixes them.
"""
import json
import sys

VERNACULAR = [
    "Wirkung von Interleukin-2 auf die Proliferation menschlicher T-Lymphozyten.",
    "Expression du facteur de transcription NF-kappa B dans les monocytes humains.",
    "Regulación de la expresión del gen de la interleucina 6 en células endoteliales.",
    "Ruolo del recettore dei glucocorticoidi nella leucemia linfoblastica acuta.",
    "Влияние интерферона гамма на экспрессию генов HLA класса II.",
    "ヒトT細胞におけるインターロイキン2遺伝子の転写制御",
]


def main(data):
    devel = [json.loads(l) for l in open(data + '/devel.docs.jsonl', encoding='utf-8')]
    train = [json.loads(l) for l in open(data + '/train.docs.jsonl', encoding='utf-8')]
    train.sort(key=lambda d: d['pmid'])
    step = len(train) // 64
    titles = []
    for k, d in enumerate(train[::step][:64]):
        t = d['text'].split('\n', 1)[0].strip()
        if k % 5 == 2 and len(titles) < 80:  # 13 translated titles, printed in brackets by PubMed
            t = '[' + t.rstrip('.') + '].'
        titles.append(('t' + d['pmid'], t))
    titles += [('v%d' % i, t) for i, t in enumerate(VERNACULAR)]
    assert len(titles) == 70, len(titles)
    # 12 more English titles so the share is 82 of 282
    for d in train[step // 2::step][:12]:
        titles.append(('t' + d['pmid'], d['text'].split('\n', 1)[0].strip()))
    out, ti = [], 0
    for i, d in enumerate(devel):
        out.append({'id': d['pmid'], 'text': d['text']})
        # 82 title-only citations over 200 abstracts: after abstract i when the running share falls behind 29.1%
        while ti < len(titles) and ti < round((i + 1) * 82 / 200):
            out.append({'id': titles[ti][0], 'text': titles[ti][1]})
            ti += 1
    assert ti == 82 and len(out) == 282, (ti, len(out))
    for d in out:
        sys.stdout.write(json.dumps(d, ensure_ascii=False) + '\n')


if __name__ == '__main__':
    main(sys.argv[1])
