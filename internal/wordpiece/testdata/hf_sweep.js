// Runs every Unicode scalar value through the pieces of Hugging Face's
// BertNormalizer and BertPreTokenizer (npm `tokenizers`), one switch at a
// time, for the Go test TestCodePointSweep.
//
//   node hf_sweep.js > sweep.txt
//
// Output: one line per code point whose handling is not the identity in at
// least one of the five probes, as tab-separated fields:
//   cp  clean  chinese  strip  lower  pretok  order
// cp in hex; clean: "-" (unchanged), "x" (removed) or "s" (mapped to space);
// chinese: "-" or "c" (surrounded by spaces); strip and lower: "-" or the
// result as hex code points joined by "," ("" when empty); pretok: "w"
// (whitespace split), "p" (isolated punctuation) or "-"; order: the
// position of U+0345 (combining class 240) in NFD("a\u0345" + c) when it is
// not 1, which reveals the combining class of c's decomposition ("-" when
// it is 1).
'use strict';
const path = require('path');
const modDir = process.env.HF_TOKENIZERS_MODULE ||
  path.resolve(__dirname, '../../../.cache/node/node_modules/tokenizers');
const { bertNormalizer, bertPreTokenizer, nfdNormalizer } = require(modDir);

const off = { cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false };
const clean = bertNormalizer({ ...off, cleanText: true });
const chinese = bertNormalizer({ ...off, handleChineseChars: true });
const strip = bertNormalizer({ ...off, stripAccents: true });
const lower = bertNormalizer({ ...off, lowercase: true });
const pre = bertPreTokenizer();
const nfd = nfdNormalizer();
const hex = (s) => [...s].map((c) => c.codePointAt(0).toString(16)).join(',');

const lines = [];
for (let cp = 0; cp <= 0x10ffff; cp++) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue;
  const c = String.fromCodePoint(cp);
  const cl = clean.normalizeString(c);
  const a = cl === c ? '-' : cl === '' ? 'x' : cl === ' ' ? 's' : '?' + hex(cl);
  const b = chinese.normalizeString(c) === c ? '-' : 'c';
  const s = strip.normalizeString(c);
  const l = lower.normalizeString(c);
  const n = pre.preTokenizeString('a' + c + 'b').length;
  const p = n === 1 ? '-' : n === 2 ? 'w' : n === 3 ? 'p' : '?' + n;
  const pos = [...nfd.normalizeString('a\u0345' + c)].indexOf('\u0345');
  const o = pos === 1 ? '-' : String(pos);
  if (a !== '-' || b !== '-' || s !== c || l !== c || p !== '-' || o !== '-') {
    lines.push([cp.toString(16), a, b, s === c ? '-' : hex(s), l === c ? '-' : hex(l), p, o].join('\t'));
  }
}
process.stdout.write(lines.join('\n') + '\n');
