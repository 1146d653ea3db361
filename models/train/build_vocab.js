#!/usr/bin/env node
// build_vocab.js — build the cased 16k WordPiece vocabulary for nerstream's NER models.
//
// Usage: node models/train/build_vocab.js <train.docs.jsonl> <out_dir> [vocab_size=16000]
//
// Reads the TRAIN split texts only, trains the default WordPiece trainer of the Hugging Face
// `tokenizers` npm binding (its Node `train` takes no options, so the vocabulary "ends where it ends"),
// then keeps the 5 special tokens followed by the first (vocab_size-5) learned tokens in learned
// order (alphabet first, then merges by frequency), which is a valid greedy-longest-match
// WordPiece vocabulary because every single character (and "##"+character) comes first.
// Writes tokenizer.json (HF BERT layout), vocab.txt and tokenizer_config.json, then reloads
// tokenizer.json with Tokenizer.fromFile and prints a sample encoding as a self-check.
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');
const NODE_MODULES = process.env.NODE_MODULES || path.join(__dirname, '..', '..', '.cache', 'node', 'node_modules');
const tk = require(path.join(NODE_MODULES, 'tokenizers'));

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

function main() {
  const [docsPath, outDir, sizeArg] = process.argv.slice(2);
  if (!docsPath || !outDir) {
    console.error('usage: build_vocab.js <train.docs.jsonl> <out_dir> [vocab_size]');
    process.exit(2);
  }
  const vocabSize = Number(sizeArg || 16000);
  fs.mkdirSync(outDir, { recursive: true });

  // 1. Train text: one document text per line (title\nabstract keeps its newline: a line each).
  const lines = fs.readFileSync(docsPath, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const texts = lines.map((l, i) => {
    try { return JSON.parse(l).text; } catch (e) { throw new Error(`parse ${docsPath} line ${i + 1}: ${e.message}`); }
  });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nerstream-vocab-'));
  const txt = path.join(tmp, 'train.txt');
  fs.writeFileSync(txt, texts.join('\n') + '\n');

  // 2. Default WordPiece trainer behind a cased BERT normalizer + BERT pre-tokenizer.
  const t = new tk.Tokenizer(tk.WordPiece.empty());
  t.setNormalizer(tk.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: false, lowercase: false }));
  t.setPreTokenizer(tk.bertPreTokenizer());
  t.train([txt]);
  const learned = Object.entries(t.getVocab(false)).sort((a, b) => a[1] - b[1]).map((e) => e[0]);
  fs.rmSync(tmp, { recursive: true, force: true });

  // 3. Specials first, then learned tokens in learned order, cut to size.
  const vocab = SPECIALS.slice();
  const seen = new Set(vocab);
  for (const w of learned) {
    if (vocab.length >= vocabSize) break;
    if (!seen.has(w)) { seen.add(w); vocab.push(w); }
  }
  console.error(`learned ${learned.length} tokens, kept ${vocab.length}`);
  const vmap = {};
  vocab.forEach((w, i) => { vmap[w] = i; });

  // 4. tokenizer.json in the Hugging Face BertTokenizerFast layout.
  const added = SPECIALS.map((w, i) => ({ id: i, content: w, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const tj = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: false },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: vmap },
  };
  fs.writeFileSync(path.join(outDir, 'tokenizer.json'), JSON.stringify(tj, null, 2) + '\n');
  fs.writeFileSync(path.join(outDir, 'vocab.txt'), vocab.join('\n') + '\n');
  const cfg = {
    do_lower_case: false,
    model_max_length: 128,
    tokenizer_class: 'BertTokenizer',
    unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]',
    tokenize_chinese_chars: true,
    strip_accents: null,
    clean_up_tokenization_spaces: true,
  };
  fs.writeFileSync(path.join(outDir, 'tokenizer_config.json'), JSON.stringify(cfg, null, 2) + '\n');

  // 5. Self-check: reload and encode.
  const back = tk.Tokenizer.fromFile(path.join(outDir, 'tokenizer.json'));
  if (back.getVocabSize(true) !== vocab.length) throw new Error(`reloaded vocab size ${back.getVocabSize(true)} != ${vocab.length}`);
  const s = 'IL-2 gene expression and NF-kappa B activation through CD28 requires reactive oxygen production by 5-lipoxygenase.';
  back.encode(s).then((enc) => {
    const ids = enc.getIds();
    if (ids[0] !== 2 || ids[ids.length - 1] !== 3) throw new Error('expected [CLS] ... [SEP]');
    console.log(JSON.stringify({ tokens: enc.getTokens(), offsets: enc.getOffsets() }));
  }).catch((e) => { console.error(e); process.exit(1); });
}

main();
