// Builds the small WordPiece test configurations committed next to this
// script (cased/, uncased/, raw/), each a Hugging Face tokenizer.json; cased/
// and uncased/ also get a vocab.txt with the same tokens (cased/ with a
// tokenizer_config.json saying do_lower_case: false). Deterministic for a
// given corpus.
//
//   node build_configs.js $DATA/train.docs.jsonl   (DATA: the JNLPBA data directory)
//
// The vocabulary is built by hand (the Node binding's trainer takes no
// options): the special tokens, every character seen at least 5 times (bare
// and with "##"), the most frequent words, and the most frequent word
// prefixes and "##" suffixes, plus a few non-Latin tokens (Greek, CJK,
// accented) so that those paths are exercised. Rare characters are left out
// on purpose: words containing them become [UNK].
'use strict';
const fs = require('fs');
const path = require('path');
const modDir = process.env.HF_TOKENIZERS_MODULE ||
  path.resolve(__dirname, '../../../.cache/node/node_modules/tokenizers');
const { Tokenizer, bertNormalizer, bertPreTokenizer } = require(modDir);

const corpus = process.argv[2];
if (!corpus) { console.error('usage: node build_configs.js train.docs.jsonl'); process.exit(2); }
const texts = fs.readFileSync(corpus, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).text);

function topK(counts, k, minCount) {
  return [...counts.entries()].filter(([, c]) => c >= minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, k).map(([w]) => w);
}
function inc(m, k) { m.set(k, (m.get(k) || 0) + 1); }

function buildVocab(lowercase, specials, sizes) {
  const norm = bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: lowercase, lowercase });
  const pre = bertPreTokenizer();
  const words = new Map(), chars = new Map(), prefixes = new Map(), suffixes = new Map();
  for (const t of texts) {
    for (const [w] of pre.preTokenizeString(norm.normalizeString(t))) {
      inc(words, w);
      const cs = [...w];
      for (const c of cs) inc(chars, c);
      for (let n = 2; n <= 6 && n < cs.length; n++) {
        inc(prefixes, cs.slice(0, n).join(''));
        inc(suffixes, cs.slice(cs.length - n).join(''));
      }
    }
  }
  const vocab = [...specials];
  const seen = new Set(vocab);
  const add = (tok) => { if (!seen.has(tok)) { seen.add(tok); vocab.push(tok); } };
  const alphabet = topK(chars, 100000, 5).sort();
  for (const c of alphabet) add(c);
  for (const c of alphabet) add('##' + c);
  for (const tok of ['α', 'β', 'γ', '##α', '##β', '##γ', 'κ', '##κ', '中', '文', 'é', '##é', 'naïve', 'Ω', 'µ', '##µ']) {
    add(lowercase ? tok.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '') : tok);
  }
  for (const w of topK(words, sizes.words, 2)) add(w);
  for (const p of topK(prefixes, sizes.prefixes, 3)) add(p);
  for (const s of topK(suffixes, sizes.suffixes, 3)) add('##' + s);
  return vocab;
}

function write(dir, vocab, normalizer, postProcessor, maxChars, specialNames, withVocabTxt) {
  const v = {};
  vocab.forEach((tok, i) => { v[tok] = i; });
  const added = specialNames.map((s) => ({
    id: v[s], content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  })).sort((a, b) => a.id - b.id);
  const tj = {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer, pre_tokenizer: { type: 'BertPreTokenizer' }, post_processor: postProcessor,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: maxChars, vocab: v },
  };
  const out = path.join(__dirname, dir);
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'tokenizer.json'), JSON.stringify(tj, null, 1) + '\n');
  if (withVocabTxt) fs.writeFileSync(path.join(out, 'vocab.txt'), vocab.join('\n') + '\n');
  const tk = Tokenizer.fromFile(path.join(out, 'tokenizer.json')); // must load
  console.log(`${dir}: ${tk.getVocabSize()} tokens`);
}

const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
// Cased, like the production vocabulary: TemplateProcessing, strip_accents null.
write('cased', buildVocab(false, specials, { words: 3000, prefixes: 800, suffixes: 800 }),
  { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: false },
  {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
      { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
    special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
  }, 100, specials, true);
fs.writeFileSync(path.join(__dirname, 'cased', 'tokenizer_config.json'),
  JSON.stringify({ do_lower_case: false, tokenizer_class: 'BertTokenizer' }, null, 2) + '\n');

// Uncased (lowercase, accents stripped because strip_accents is null), ids
// laid out like bert-base-uncased ([PAD] 0, [UNK] 1.., specials not first),
// BertProcessing, a short max_input_chars_per_word so long words become [UNK].
{
  const pre = ['[PAD]', '[unused0]', '[unused1]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  write('uncased', buildVocab(true, pre, { words: 2000, prefixes: 600, suffixes: 600 }),
    { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    { type: 'BertProcessing', sep: ['[SEP]', 5], cls: ['[CLS]', 4] }, 30, specials, true);
}

// Odd switches: no clean_text, no CJK handling, accents stripped, no lowercase.
write('raw', buildVocab(false, specials, { words: 1500, prefixes: 400, suffixes: 400 }),
  { type: 'BertNormalizer', clean_text: false, handle_chinese_chars: false, strip_accents: true, lowercase: false },
  null, 100, specials, false);
