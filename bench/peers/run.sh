#!/usr/bin/env bash
# Side-by-side throughput: nerstream (`worker bench`) against transformers.js
# on the same bundle and documents, alternating runs so that both see the same
# machine state; prints medians and ratios.
#   bench/peers/run.sh [BUNDLE] [DOCS.jsonl] [ROUNDS] [THREADS]
# The peer is installed on first use into .cache/peers (npm, no install
# scripts); nothing of it is committed.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUNDLE=${1:-models/jnlpba-v2}
DOCS=${2:-testdata/jnlpba/devel.docs.jsonl}
ROUNDS=${3:-3}
THREADS=${4:-2}
PEERS=.cache/peers
if [ ! -d "$PEERS/node_modules/@huggingface/transformers" ]; then
  mkdir -p "$PEERS"
  (cd "$PEERS" && npm init -y >/dev/null && npm install --silent --ignore-scripts --no-audit --no-fund @huggingface/transformers@4.3.1)
fi
cp bench/peers/transformersjs.mjs "$PEERS/"
[ -x bin/worker ] || make build >/dev/null
out=$(mktemp)
for r in $(seq "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  # nerstream gets THREADS cores (GOMAXPROCS) and picks its sessions and threads within them (--model-sessions 0)
  GOMAXPROCS="$THREADS" bin/worker bench --model "$BUNDLE" --docs "$DOCS" --rounds 1 --json \
    | sed 's/^/{"who":"nerstream","r":'"$r"',"res":/; s/$/}/' >>"$out"
  for mode in whole sentences sorted; do
    node "$PEERS/transformersjs.mjs" "$BUNDLE" "$DOCS" "$mode" 32 "$THREADS" \
      | sed 's/^/{"who":"'"$mode"'","r":'"$r"',"res":/; s/$/}/' >>"$out"
  done
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const by = (who, f) => med(rows.filter((r) => r.who === who).map((r) => f(r.res)));
const ns = { dps: by("nerstream", (r) => r.docs_per_s), wps: by("nerstream", (r) => r.wordpieces_per_s) };
console.log(`nerstream: ${ns.dps.toFixed(1)} docs/s, ${ns.wps.toFixed(0)} wordpieces covered/s (coverage 1.000), packing ${rows[0].res.packing}, ${rows[0].res.sessions} session(s) x ${rows[0].res.intra_threads} thread(s)`);
for (const m of ["whole", "sentences", "sorted"]) {
  const dps = by(m, (r) => r.docs_per_s), wps = by(m, (r) => r.covered_per_s), cov = by(m, (r) => r.coverage);
  console.log(`transformers.js ${m.padEnd(9)}: ${dps.toFixed(1)} docs/s, ${wps.toFixed(0)} wordpieces covered/s, coverage ${cov.toFixed(3)}; nerstream ÷ peer: ${(ns.dps / dps).toFixed(2)}× docs/s, ${(ns.wps / wps).toFixed(2)}× wordpieces covered/s`);
}
console.log(`medians of ${process.argv[2]} alternating rounds, ${process.argv[3]} threads each`);
' "$out" "$ROUNDS" "$THREADS"
rm -f "$out"
