#!/usr/bin/env node
// check_ensemble.js — check an fp16-weight ensemble model.onnx (export_ensemble.py) in onnxruntime-node:
//  1. ORT logits of the [B,128]-padded reference windows vs torch with fp16-rounded weights (tight) and
//     vs torch fp32 (loose: the weights were rounded to float16);
//  2. padding invariance: each window run alone at its own length vs the same rows in the padded batch.
// Usage: [THREADS=n] [BENCH=runs] node check_ensemble.js <model.onnx> <ensemble_ref.json> [ort_node_modules]
// Exit 1 when fp16w diff > 1e-3, fp32 diff > 2e-2 or padding diff > 1e-4.
'use strict';
const path = require('path');
const fs = require('fs');
const [modelPath, refPath, nm] = process.argv.slice(2);
const ort = require(path.join(nm || path.join(__dirname, 'work', 'ort', 'node_modules'), 'onnxruntime-node'));
(async () => {
  const ref = JSON.parse(fs.readFileSync(refPath, 'utf8'));
  const sess = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: Number(process.env.THREADS || 1) });
  const B = ref.input_ids.length; const T = ref.input_ids[0].length;
  const t = (a, b, n) => new ort.Tensor('int64', BigInt64Array.from(a.flat().map(BigInt)), [b, n]);
  const out = await sess.run({ input_ids: t(ref.input_ids, B, T), attention_mask: t(ref.attention_mask, B, T) });
  const lg = out.logits; const L = lg.dims[2];
  let d32 = 0; let d16 = 0; let dpad = 0;
  for (let b = 0; b < B; b++) {
    const n = ref.attention_mask[b].reduce((s, x) => s + x, 0);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < L; k++) {
        const v = lg.data[(b * T + i) * L + k];
        d32 = Math.max(d32, Math.abs(v - ref.logits[b][i][k]));
        d16 = Math.max(d16, Math.abs(v - ref.logits_fp16w[b][i][k]));
      }
    }
    const one = await sess.run({ input_ids: t([ref.input_ids[b].slice(0, n)], 1, n), attention_mask: t([ref.attention_mask[b].slice(0, n)], 1, n) });
    for (let i = 0; i < n * L; i++) dpad = Math.max(dpad, Math.abs(one.logits.data[i] - lg.data[b * T * L + i]));
  }
  const res = { inputs: sess.inputNames, outputs: sess.outputNames, dims: lg.dims, type: lg.type, bytes: fs.statSync(modelPath).size,
    max_abs_diff_vs_torch_fp16w: d16, max_abs_diff_vs_torch_fp32: d32, max_abs_diff_padded_vs_alone: dpad };
  console.log(JSON.stringify(res));
  if (process.env.BENCH) {
    const ids = new BigInt64Array(32 * 128).fill(100n); const att = new BigInt64Array(32 * 128).fill(1n);
    const f = { input_ids: new ort.Tensor('int64', ids, [32, 128]), attention_mask: new ort.Tensor('int64', att, [32, 128]) };
    await sess.run(f);
    const runs = Number(process.env.BENCH); const t0 = Date.now();
    for (let i = 0; i < runs; i++) await sess.run(f);
    console.log(JSON.stringify({ ms_per_batch_32x128: (Date.now() - t0) / runs }));
  }
  if (d16 > 1e-3 || d32 > 2e-2 || dpad > 1e-4) { console.error('MISMATCH'); process.exit(1); }
})().catch((e) => { console.error(e); process.exit(1); });
