#!/bin/bash
# tests/llm/test_cpu_only.sh — the model engine built without CUDA (CUDA=0, as
# on a machine without nvcc): it links no CUDA library, `--backend auto` runs
# on the CPU and says why, `--backend cuda` fails cleanly (exit 1, reason
# named), and greedy text equals the CUDA-capable build's CPU backend.
set -u
V=${VIGIL_BIN:?}
root=$(cd "$(dirname "$0")/../.." && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

make -s -C "$root" llm CUDA=0 BUILD="$t/build" LLM_BIN="$t/vigil-llm" >"$t/make.log" 2>&1 ||
	fail "CPU-only build: $(tail -20 "$t/make.log")"
L=$t/vigil-llm
[ -x "$L" ] || fail "no $L after the build"
if ldd "$L" | grep -E 'libcudart|libcublas|libcuda\.'; then fail "CPU-only build links CUDA"; fi

"$L" mkmodel --arch qwen2 --layers 2 --embd 64 --heads 4 --kv-heads 2 --ff 128 --type q8_0 --out "$t/m.gguf" ||
	fail "mkmodel"
out=$("$L" run --model "$t/m.gguf" --prompt "cron job" -n 16 --backend auto 2>"$t/auto.err") ||
	fail "--backend auto: $(cat "$t/auto.err")"
grep -qi 'cpu' "$t/auto.err" || fail "--backend auto gave no line about falling back: $(cat "$t/auto.err")"
grep -q 'without CUDA' "$t/auto.err" || fail "--backend auto did not say why: $(cat "$t/auto.err")"
"$L" run --model "$t/m.gguf" --prompt "cron job" -n 2 --backend cuda >/dev/null 2>"$t/cuda.err"
rc=$?
[ $rc -eq 1 ] || fail "--backend cuda: exit $rc, want 1"
grep -q 'built without CUDA' "$t/cuda.err" || fail "--backend cuda message: $(cat "$t/cuda.err")"
ref=$("$V" llm run --model "$t/m.gguf" --prompt "cron job" -n 16 --backend cpu 2>/dev/null) || fail "reference run"
[ -n "$out" ] || fail "empty output"
[ "$out" = "$ref" ] || fail "CPU-only build wrote [$out], the full build's CPU backend [$ref]"
echo "ok"
