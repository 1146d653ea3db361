// Peer benchmark: the same bundle and documents through transformers.js's
// token-classification pipeline, as a careful user would run it.
//
//   node transformersjs.mjs BUNDLE_DIR DOCS.jsonl MODE [BATCH] [THREADS]
//
// MODE: whole     one text per document (the peer truncates at 128 wordpieces)
//       sentences sentences of each document in input order, BATCH at a time
//       sorted    the same sentences sorted by length before batching (least padding)
// Prints one JSON line: docs, seconds, docs_per_s, wordpieces (of the input),
// covered (wordpieces the model saw), covered_per_s, coverage.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env, AutoTokenizer, AutoModelForTokenClassification } from '@huggingface/transformers';

const [bundle, docsPath, mode = 'sentences', batchArg = '32', threadsArg = '2'] = process.argv.slice(2);
if (!bundle || !docsPath || !['whole', 'sentences', 'sorted'].includes(mode)) {
  console.error('usage: node transformersjs.mjs BUNDLE_DIR DOCS.jsonl whole|sentences|sorted [BATCH] [THREADS]');
  process.exit(2);
}
const B = Number(batchArg), threads = Number(threadsArg);

// transformers.js reads a Hugging Face model folder: config.json with a
// known model_type, tokenizer files, onnx/model.onnx. Build one that points
// at the bundle's graph (the graph's own inputs decide what is fed).
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peer-model-'));
const name = 'bundle';
fs.mkdirSync(path.join(dir, name, 'onnx'), { recursive: true });
const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
fs.writeFileSync(path.join(dir, name, 'config.json'), JSON.stringify({
  model_type: 'bert', architectures: ['BertForTokenClassification'], id2label: cfg.id2label,
  label2id: Object.fromEntries(Object.entries(cfg.id2label).map(([k, v]) => [v, Number(k)])),
  max_position_embeddings: 128, pad_token_id: 0,
}));
for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
  if (fs.existsSync(path.join(bundle, f))) fs.copyFileSync(path.join(bundle, f), path.join(dir, name, f));
}
const tc = path.join(dir, name, 'tokenizer_config.json');
const tcj = fs.existsSync(tc) ? JSON.parse(fs.readFileSync(tc, 'utf8')) : {};
tcj.model_max_length = 128; // else transformers.js does not truncate
fs.writeFileSync(tc, JSON.stringify(tcj));
fs.symlinkSync(path.resolve(bundle, 'model.onnx'), path.join(dir, name, 'onnx', 'model.onnx'));
env.allowRemoteModels = false;
env.localModelPath = dir;

const docs = fs.readFileSync(docsPath, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
  .map((d) => (d.title ? d.title + '\n' : '') + d.text);

const tokenizer = await AutoTokenizer.from_pretrained(name);
const model = await AutoModelForTokenClassification.from_pretrained(name, {
  dtype: 'fp32', session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
});

// A simple sentence split (the peer has none); long sentences stay truncated.
const split = (t) => t.split(/(?<=[.!?])\s+(?=[A-Z(\[])/).filter((s) => s.trim());
let texts = mode === 'whole' ? docs : docs.flatMap(split);
const pieces = (t) => tokenizer(t, { add_special_tokens: false }).input_ids.dims.at(-1);
let wordpieces = 0;
for (const d of docs) wordpieces += pieces(d);
if (mode === 'sorted') texts = texts.map((t) => [pieces(t), t]).sort((a, b) => a[0] - b[0]).map((x) => x[1]);

const t0 = performance.now();
let covered = 0;
for (let i = 0; i < texts.length; i += B) {
  const batch = texts.slice(i, i + B);
  const inputs = tokenizer(batch, { padding: true, truncation: true, max_length: 128 });
  const { logits } = await model(inputs);
  const mask = inputs.attention_mask.tolist();
  for (const row of mask) covered += row.reduce((a, b) => a + Number(b), 0) - 2; // without [CLS] [SEP]
  if (!logits) throw new Error('no logits');
}
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({
  peer: 'transformers.js 4.3.1', mode, batch: B, threads, docs: docs.length, texts: texts.length, seconds,
  docs_per_s: docs.length / seconds, wordpieces, covered, covered_per_s: covered / seconds, coverage: covered / wordpieces,
}));
fs.rmSync(dir, { recursive: true, force: true });
