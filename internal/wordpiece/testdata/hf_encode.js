// Encodes texts with Hugging Face tokenizers (npm `tokenizers`, the Rust
// library's Node binding) for the Go differential test.
//
//   node hf_encode.js tokenizer.json < inputs.jsonl > outputs.jsonl
//
// Input: one JSON string per line. Output: one JSON object per input line,
// {"ids", "tokens", "words", "offsets"}, from encode(text, null,
// {addSpecialTokens: false}). The module is found at $HF_TOKENIZERS_MODULE or
// at .cache/node/node_modules/tokenizers in the repository root.
'use strict';
const fs = require('fs');
const path = require('path');
const modDir = process.env.HF_TOKENIZERS_MODULE ||
  path.resolve(__dirname, '../../../.cache/node/node_modules/tokenizers');
const { Tokenizer } = require(modDir);

async function main() {
  const tk = Tokenizer.fromFile(process.argv[2]);
  const inputs = fs.readFileSync(0, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  const out = [];
  const batch = 256;
  for (let i = 0; i < inputs.length; i += batch) {
    const encs = await tk.encodeBatch(inputs.slice(i, i + batch), { addSpecialTokens: false });
    for (const e of encs) {
      out.push(JSON.stringify({ ids: e.getIds(), tokens: e.getTokens(), words: e.getWordIds(), offsets: e.getOffsets() }));
    }
  }
  fs.writeFileSync(1, out.join('\n') + (out.length ? '\n' : ''));
}
main().catch((err) => { console.error(err); process.exit(1); });
