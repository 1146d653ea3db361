#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine: installs what `make demo` and
# `make test` need and caches downloads under .cache/ (ignored by git).
#   - ONNX Runtime 1.24.1 CPU shared library (from the npm package
#     onnxruntime-node, which ships it) -> .cache/onnxruntime/libonnxruntime.so.1
#   - Go modules (go mod download)
#   - Node test tools (Hugging Face `tokenizers`, DuckDB) -> .cache/node
#   - Debian kcat (an independent Kafka client) and prometheus (for promtool)
#   - MinIO server, built from the Go module proxy as a separate binary (AGPL:
#     run only, never imported) -> .cache/minio/<version>/minio; set MINIO_BIN
#     to an existing binary to skip the build
#   - Apache Kafka broker jars (the version docker-compose.yml pins), resolved
#     from Maven Central by scripts/apache-kafka.sh fetch with Debian's Java 17
#     and Maven -> .cache/kafka/<version>/lib (run only, as separate JVMs)
#   - Human gene dictionary for NCBI Gene linking, built from Debian's
#     r-bioc-org.hs.eg.db (Bioconductor org.Hs.eg.db, Artistic-2.0; its
#     SQLite file, read with the sqlite3 shell) -> .cache/genes/hs.genes.tsv
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_VERSION=1.24.1
CACHE=.cache

log() { printf 'setup: %s\n' "$*" >&2; }

need_apt=()
command -v go >/dev/null || { echo "setup: Go 1.26+ is required (https://go.dev/dl)" >&2; exit 1; }
command -v gcc >/dev/null || need_apt+=(gcc libc6-dev)
command -v npm >/dev/null || need_apt+=(nodejs npm)
command -v make >/dev/null || need_apt+=(make)
command -v kcat >/dev/null || need_apt+=(kcat)
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]} with apt"
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# ONNX Runtime shared library.
ort_dir=$CACHE/onnxruntime
if [ ! -s "$ort_dir/libonnxruntime.so.1" ] || [ "$(cat "$ort_dir/VERSION" 2>/dev/null)" != "$ORT_VERSION" ]; then
  log "fetching ONNX Runtime $ORT_VERSION (npm onnxruntime-node)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
  tar -xzf "$tmp"/onnxruntime-node-*.tgz -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  mkdir -p "$ort_dir"
  cp "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ort_dir/libonnxruntime.so.1"
  ln -sf libonnxruntime.so.1 "$ort_dir/libonnxruntime.so"
  echo "$ORT_VERSION" > "$ort_dir/VERSION"
  rm -rf "$tmp"
fi

# Node tools used by differential and independent-reader tests.
node_dir=$CACHE/node
if [ ! -f "$node_dir/.done" ] || ! cmp -s scripts/node-package.json "$node_dir/package.json"; then
  log "installing node test tools into $node_dir"
  mkdir -p "$node_dir"
  cp scripts/node-package.json "$node_dir/package.json"
  (cd "$node_dir" && npm install --silent --no-audit --no-fund --ignore-scripts=false >/dev/null)
  touch "$node_dir/.done"
fi

# MinIO server for the real-S3 integration test (worker/minio_test.go). The
# version is the one source of truth: scripts/minio-version.
minio_version=$(cat scripts/minio-version)
minio_bin=$CACHE/minio/$minio_version/minio
if [ -n "${MINIO_BIN:-}" ] && [ -x "$MINIO_BIN" ]; then
  :
elif [ ! -x "$minio_bin" ]; then
  log "building MinIO $minio_version from the Go module proxy (a few minutes, once)"
  mkdir -p "$CACHE/minio/$minio_version"
  tmp=$(mktemp -d)
  GOBIN="$(cd "$tmp" && pwd)" GOFLAGS=-mod=mod go install -trimpath "github.com/minio/minio@$minio_version"
  mv "$tmp/minio" "$minio_bin.tmp" && mv "$minio_bin.tmp" "$minio_bin"
  rm -rf "$tmp"
fi

# Apache Kafka broker jars for the real-broker tests (scripts/apache-kafka.sh).
./scripts/apache-kafka.sh fetch

log "downloading Go modules"
go mod download

# Gene dictionary (rebuilt when the package version or the builder changes).
GENES_PKG=r-bioc-org.hs.eg.db
genes_dir=$CACHE/genes
genes_stamp="$GENES_PKG $(cat internal/genes/normalize.go internal/genes/dict.go scripts/genedict/main.go | sha256sum | cut -c1-16)"
if [ ! -s "$genes_dir/hs.genes.tsv" ] || [ "$(cat "$genes_dir/STAMP" 2>/dev/null)" != "$genes_stamp" ]; then
  log "building the gene dictionary from $GENES_PKG (apt-get download + dpkg -x)"
  tmp=$(mktemp -d)
  (cd "$tmp" && { apt-get download -qq "$GENES_PKG" 2>/dev/null || { SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo; $SUDO apt-get update -qq && apt-get download -qq "$GENES_PKG"; }; })
  dpkg -x "$tmp"/"$GENES_PKG"_*.deb "$tmp/x"
  db=$(find "$tmp/x" -name org.Hs.eg.sqlite | head -1)
  [ -n "$db" ] || { echo "setup: org.Hs.eg.sqlite not found in $GENES_PKG" >&2; exit 1; }
  sqlite3 -tabs "$db" "SELECT g.gene_id, i.symbol, i.gene_name FROM genes g JOIN gene_info i USING(_id)" > "$tmp/genes.tsv"
  sqlite3 -tabs "$db" "SELECT g.gene_id, a.alias_symbol FROM genes g JOIN alias a USING(_id)" > "$tmp/aliases.tsv"
  mkdir -p "$genes_dir"
  go run ./scripts/genedict "$tmp/genes.tsv" "$tmp/aliases.tsv" > "$tmp/hs.genes.tsv"
  mv "$tmp/hs.genes.tsv" "$genes_dir/hs.genes.tsv"
  dpkg-deb -f "$tmp"/"$GENES_PKG"_*.deb Version > "$genes_dir/SOURCE_VERSION"
  echo "$genes_stamp" > "$genes_dir/STAMP"
  rm -rf "$tmp"
fi
log "ready"
