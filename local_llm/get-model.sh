#!/bin/bash
# local_llm/get-model.sh — `make model`: downloads the recommended summarizer
# model for vigil, once, on a machine with internet access:
#
#   Qwen2.5-0.5B-Instruct, GGUF, Q4_K_M (Apache-2.0), 491 400 032 bytes,
#   pinned to a commit of the publisher's repository and checked by sha256.
#
# It goes to var/models/qwen2.5-0.5b-instruct-q4_k_m.gguf (or $1).  Point
# vigil at it with `llm_model = <path>` in the config, or try it with
#   ./vigil llm run --model var/models/qwen2.5-0.5b-instruct-q4_k_m.gguf --chat "Hello"
# An existing file with the right checksum is kept; a partial download is
# resumed; a wrong checksum deletes the file and fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/var/models/qwen2.5-0.5b-instruct-q4_k_m.gguf}
commit=9217f5db79a29953eb74d5343926648285ec7e67
url="https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/$commit/qwen2.5-0.5b-instruct-q4_k_m.gguf"
sha=74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db
size=491400032

check() { [ -f "$1" ] && [ "$(stat -c %s "$1")" = "$size" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha" ]; }

mkdir -p "$(dirname "$out")"
if check "$out"; then
	echo "model: $out is already there (sha256 ok)"
	exit 0
fi
if command -v curl >/dev/null 2>&1; then
	echo "model: downloading $url"
	curl -fL --retry 3 -C - -o "$out.part" "$url"
elif command -v wget >/dev/null 2>&1; then
	wget -c -O "$out.part" "$url"
else
	echo "model: need curl or wget" >&2
	exit 1
fi
if ! check "$out.part"; then
	echo "model: $out.part: size or sha256 mismatch (want $size bytes, sha256 $sha); removed" >&2
	rm -f "$out.part"
	exit 1
fi
mv "$out.part" "$out"
echo "model: $out ready (sha256 ok)"
