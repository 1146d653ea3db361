#!/usr/bin/env node
// prep_data.js — tokenize a JNLPBA .iob2 split with the bundle's tokenizer.json, exactly as production does.
//
// Usage: node models/train/prep_data.js <tokenizer.json> <split.iob2> <out.json> [--any-labels]
//   --any-labels: the file's own tag set (O, then B-/I- per type in sorted order) instead of JNLPBA's;
//   used for the auxiliary corpora (BioNLP13CG/PC, BioNLP11ID) whose types are not JNLPBA's.
//
// A sentence's text is its GENIA tokens joined by single spaces. Because BertPreTokenizer splits on
// whitespace and punctuation and WordPiece works per pre-token, tokenizing each GENIA token on its own
// and concatenating gives the same wordpieces as tokenizing the sentence text; the script checks that
// on every 50th sentence (ids and character offsets) and fails loudly on any difference.
// Labels: wordpiece label = its token's tag, B- only on the token's first wordpiece (the rest I-).
// Output JSON: {labels:[...], docs:[{pmid, sents:[{ids:[..], wtok:[..], wlab:[..], tlab:[..], words:[..]}]}]}
//   ids  wordpiece ids without [CLS]/[SEP]; wtok: GENIA token index of each wordpiece;
//   wlab wordpiece label ids; tlab GENIA token label ids; words the GENIA tokens.
'use strict';
const fs = require('fs');
const path = require('path');
const NODE_MODULES = process.env.NODE_MODULES || path.join(__dirname, '..', '..', '.cache', 'node', 'node_modules');
const tk = require(path.join(NODE_MODULES, 'tokenizers'));

let LABELS = ['O', 'B-DNA', 'I-DNA', 'B-RNA', 'I-RNA', 'B-cell_line', 'I-cell_line', 'B-cell_type', 'I-cell_type', 'B-protein', 'I-protein'];
let LID = Object.fromEntries(LABELS.map((l, i) => [l, i]));
if (process.argv.includes('--any-labels')) {
  const types = new Set();
  const file = process.argv[3];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const tab = line.lastIndexOf('\t');
    const tag = tab < 0 ? '' : line.slice(tab + 1).trim();
    if (tag.startsWith('B-') || tag.startsWith('I-')) types.add(tag.slice(2));
  }
  LABELS = ['O', ...[...types].sort().flatMap((t) => ['B-' + t, 'I-' + t])];
  LID = Object.fromEntries(LABELS.map((l, i) => [l, i]));
}

function parseIOB2(file) {
  const docs = [];
  let doc = null; let sent = null;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const flush = () => { if (sent && sent.words.length) { if (!doc) { doc = { pmid: '', sents: [] }; docs.push(doc); } doc.sents.push(sent); } sent = null; };
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('###MEDLINE:')) { flush(); doc = { pmid: line.slice(11).trim(), sents: [] }; docs.push(doc); return; }
    if (line.trim() === '') { flush(); return; }
    const tab = line.lastIndexOf('\t');
    if (tab < 0) throw new Error(`${file}:${i + 1}: no tab in ${JSON.stringify(line)}`);
    const w = line.slice(0, tab); const tag = line.slice(tab + 1).trim();
    if (!(tag in LID)) throw new Error(`${file}:${i + 1}: unknown tag ${tag}`);
    if (!sent) sent = { words: [], tags: [] };
    sent.words.push(w); sent.tags.push(tag);
  });
  flush();
  return docs.filter((d) => d.sents.length);
}

async function main() {
  const [tokPath, iobPath, outPath] = process.argv.slice(2).filter((x) => !x.startsWith('--'));
  if (!outPath) { console.error('usage: prep_data.js <tokenizer.json> <split.iob2> <out.json>'); process.exit(2); }
  const tok = tk.Tokenizer.fromFile(tokPath);
  const docs = parseIOB2(iobPath);
  const cache = new Map();
  const uniq = [];
  for (const d of docs) for (const s of d.sents) for (const w of s.words) if (!cache.has(w)) { cache.set(w, null); uniq.push(w); }
  const B = 512;
  for (let i = 0; i < uniq.length; i += B) {
    const part = uniq.slice(i, i + B);
    const encs = await tok.encodeBatch(part, { addSpecialTokens: false });
    encs.forEach((e, j) => cache.set(part[j], e.getIds()));
  }
  let nsent = 0; let nwp = 0; let nunk = 0; let nempty = 0; let checked = 0;
  const out = { labels: LABELS, docs: [] };
  for (const d of docs) {
    const od = { pmid: d.pmid, sents: [] };
    for (const s of d.sents) {
      const ids = []; const wtok = []; const wlab = [];
      s.words.forEach((w, ti) => {
        const wi = cache.get(w);
        if (wi.length === 0) nempty++;
        const tag = s.tags[ti];
        wi.forEach((id, k) => {
          ids.push(id); wtok.push(ti);
          if (id === 1) nunk++;
          let l = tag;
          if (k > 0 && tag.startsWith('B-')) l = 'I-' + tag.slice(2);
          wlab.push(LID[l]);
        });
      });
      if (nsent % 50 === 0) {
        const enc = await tok.encode(s.words.join(' '), null, { addSpecialTokens: false });
        const got = enc.getIds();
        if (got.length !== ids.length || got.some((x, k) => x !== ids[k])) {
          throw new Error(`${iobPath}: pmid ${d.pmid}: per-token tokenization differs from sentence tokenization: ${JSON.stringify(s.words)}`);
        }
        checked++;
      }
      nsent++; nwp += ids.length;
      od.sents.push({ ids, wtok, wlab, tlab: s.tags.map((t) => LID[t]), words: s.words });
    }
    out.docs.push(od);
  }
  fs.writeFileSync(outPath, JSON.stringify(out));
  console.error(`${iobPath}: ${out.docs.length} docs, ${nsent} sentences, ${nwp} wordpieces (${(nwp / nsent).toFixed(1)}/sentence), ${nunk} [UNK], ${nempty} tokens with no wordpiece, ${checked} sentences cross-checked`);
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
