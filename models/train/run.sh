#!/usr/bin/env bash
# run.sh — reproduce models/jnlpba-v1 end to end (vocab → data → train → export → check), resumable:
# each step is skipped when its output exists; training resumes from work/last.pt.
#   models/train/run.sh [deadline-minutes-for-training, default 70]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DATA="${DATA:-$ROOT/../shared/data/jnlpba}" # the shared data directory next to the checkout
PY="${PY:-/usr/bin/python3}"
WORK="$HERE/work"
MIN="${1:-70}"
mkdir -p "$WORK"
cd "$ROOT"
[ -f "$HERE/vocab/tokenizer.json" ] || node "$HERE/build_vocab.js" "$DATA/train.docs.jsonl" "$HERE/vocab" 16000
for s in train devel; do
  [ -f "$WORK/$s.json" ] || node "$HERE/prep_data.js" "$HERE/vocab/tokenizer.json" "$DATA/$s.iob2" "$WORK/$s.json"
done
[ -f "$ROOT/testdata/tinybert/model.onnx" ] || "$PY" "$HERE/make_tinybert.py"
"$PY" "$HERE/train_bilstm.py" --work "$WORK" --deadline "$(( $(date +%s) + MIN * 60 ))"
"$PY" "$HERE/export_bilstm.py" --work "$WORK" --out "$ROOT/models/jnlpba-v1"
if [ -d "$WORK/ort/node_modules/onnxruntime-node" ]; then
  node "$HERE/check_onnx.js" "$ROOT/models/jnlpba-v1/model.onnx" "$WORK/bilstm_ref.json"
else
  echo "skip ORT check: install onnxruntime-node into $WORK/ort (see README)" >&2
fi
