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

log "downloading Go modules"
go mod download
log "ready"
