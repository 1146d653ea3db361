#!/usr/bin/env node
// prep_lexicon.js — tokenize a gene/protein name list (one name per line) with the bundle's tokenizer.json for
// train_bilstm.py --lexicon (mention-replacement augmentation).
//
// Usage: node models/train/prep_lexicon.js <tokenizer.json> <names.txt> <out.json>
// names.txt is made by run.sh from Entrez Gene human (Debian r-bioc-org.hs.eg.db): official symbols and aliases
// of protein-coding genes, without spaces, 2–12 characters, no LOC placeholders.
// Output JSON: {names:[...], ids:[[...]]}; names with an [UNK] wordpiece or more than 8 wordpieces are dropped.
'use strict';
const fs = require('fs');
const path = require('path');
const NODE_MODULES = process.env.NODE_MODULES || path.join(__dirname, '..', '..', '.cache', 'node', 'node_modules');
const tk = require(path.join(NODE_MODULES, 'tokenizers'));

async function main() {
  const [tokPath, namesPath, outPath] = process.argv.slice(2);
  if (!outPath) { console.error('usage: prep_lexicon.js <tokenizer.json> <names.txt> <out.json>'); process.exit(2); }
  const tok = tk.Tokenizer.fromFile(tokPath);
  const all = [...new Set(fs.readFileSync(namesPath, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean))].sort();
  const out = { names: [], ids: [] };
  let unk = 0; let long = 0;
  for (let i = 0; i < all.length; i += 512) {
    const part = all.slice(i, i + 512);
    const encs = await tok.encodeBatch(part, { addSpecialTokens: false });
    encs.forEach((e, j) => {
      const ids = e.getIds();
      if (ids.includes(1)) { unk++; return; }
      if (ids.length === 0 || ids.length > 8) { long++; return; }
      out.names.push(part[j]); out.ids.push(ids);
    });
  }
  fs.writeFileSync(outPath, JSON.stringify(out));
  console.error(`${namesPath}: ${all.length} names, kept ${out.names.length} (${unk} with [UNK], ${long} empty or over 8 wordpieces)`);
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
