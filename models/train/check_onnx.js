#!/usr/bin/env node
// check_onnx.js — run model.onnx in onnxruntime-node on reference inputs written by the Python side
// and compare logits. Usage: [THREADS=n] [BENCH=runs] node check_onnx.js <model.onnx> <ref.json> [ort_node_modules]
'use strict';
const path = require('path');
const fs = require('fs');
const [modelPath, refPath, nm] = process.argv.slice(2);
const ort = require(path.join(nm || path.join(__dirname, 'work', 'ort', 'node_modules'), 'onnxruntime-node'));
(async () => {
  const ref = JSON.parse(fs.readFileSync(refPath, 'utf8'));
  const sess = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: Number(process.env.THREADS || 1) });
  const B = ref.input_ids.length; const T = ref.input_ids[0].length;
  const t = (a) => new ort.Tensor('int64', BigInt64Array.from(a.flat().map(BigInt)), [B, T]);
  const feeds = { input_ids: t(ref.input_ids), attention_mask: t(ref.attention_mask) };
  if (sess.inputNames.includes('token_type_ids')) feeds.token_type_ids = t(ref.input_ids.map((r) => r.map(() => 0)));
  const out = await sess.run(feeds);
  const lg = out.logits;
  const want = ref.logits.flat(2);
  let maxd = 0;
  for (let i = 0; i < want.length; i++) maxd = Math.max(maxd, Math.abs(lg.data[i] - want[i]));
  console.log(JSON.stringify({ inputs: sess.inputNames, outputs: sess.outputNames, dims: lg.dims, type: lg.type, max_abs_diff: maxd }));
  // timing of a [32,128] batch
  if (process.env.BENCH) {
    const ids = new BigInt64Array(32 * 128).fill(100n); const att = new BigInt64Array(32 * 128).fill(1n);
    const f = { input_ids: new ort.Tensor('int64', ids, [32, 128]), attention_mask: new ort.Tensor('int64', att, [32, 128]) };
    if (sess.inputNames.includes('token_type_ids')) f.token_type_ids = new ort.Tensor('int64', new BigInt64Array(32 * 128), [32, 128]);
    await sess.run(f);
    const n = Number(process.env.BENCH); const t0 = Date.now();
    for (let i = 0; i < n; i++) await sess.run(f);
    console.log(JSON.stringify({ ms_per_batch_32x128: (Date.now() - t0) / n }));
  }
  if (maxd > 1e-3) { console.error('MISMATCH'); process.exit(1); }
})().catch((e) => { console.error(e); process.exit(1); });
