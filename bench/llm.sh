#!/bin/bash
# bench/llm.sh — `make bench-llm`: vigil's CPU engine against llama.cpp (the
# CPU build in llama-cpp-python, a benchmark peer only, never linked into
# vigil) on the same GGUF files, same prompt length, same thread count, in
# the same run.  Prints load time, prefill and decode tokens/s and peak RSS
# for each; asserts nothing.
#   BENCH_THREADS (default: online CPUs), BENCH_PROMPT (600), BENCH_GEN (80)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
threads=${BENCH_THREADS:-$(nproc)}
np=${BENCH_PROMPT:-600}
ng=${BENCH_GEN:-80}
[ -x ./vigil ] || make -s vigil >/dev/null
models=$(tests/llm/fetch-models.sh all 2>/dev/null | grep '\.gguf$')
[ -n "$models" ] || { echo "bench-llm: no test models (tests/llm/fetch-models.sh failed)"; exit 0; }
have_peer=1
# The peer lives in var/llama-peer (pinned version, flags below), not in the
# system's site-packages, so another install cannot change what is compared.
# AVX-512 and VNNI on, like vigil's best CPU kernels; GGML_NATIVE off because
# a native build on this VM used instructions the VM refuses (SIGILL).
peer=$root/var/llama-peer
PEER_VERSION=0.3.36
if [ ! -d "$peer/llama_cpp" ]; then
	echo "bench-llm: building llama-cpp-python $PEER_VERSION into var/llama-peer (benchmark peer; takes several minutes)"
	pip install -q numpy diskcache jinja2 typing-extensions >/dev/null 2>&1
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF" \
		pip install -q --no-deps --no-cache-dir --target "$peer" "llama-cpp-python==$PEER_VERSION" >/dev/null 2>&1 || have_peer=0
fi
export PYTHONPATH=$peer${PYTHONPATH:+:$PYTHONPATH}
python3 -c 'import llama_cpp' 2>/dev/null || have_peer=0
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), threads=$threads, prompt=$np, generate=$ng"
for m in $models; do
	echo "== $(basename "$m")"
	./vigil llm bench --model "$m" -p "$np" -n "$ng" --threads "$threads" --backend cpu 2>&1 | sed 's/^/vigil     /'
	[ $have_peer = 1 ] || { echo "llama.cpp: llama-cpp-python unavailable"; continue; }
	/usr/bin/time -f "peer_max_rss_kib=%M" python3 - "$m" "$np" "$ng" "$threads" <<'PY' 2>&1 | grep -v '^llama_\|^load\|^print_info\|^\s*$' | sed 's/^/llama.cpp /'
import sys, time, random
import llama_cpp
path, np_, ng, th = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t0 = time.time()
llm = llama_cpp.Llama(model_path=path, n_ctx=np_ + ng + 8, n_threads=th, n_threads_batch=th,
                      n_batch=512, verbose=False)
load = time.time() - t0
nv = llm.n_vocab()
s = 12345
toks = []
for i in range(np_ + ng):
    s = (s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    toks.append((s >> 33) % (nv // 2))
a = time.time()
llm.eval(toks[:np_])
b = time.time()
for i in range(ng):
    llm.eval([toks[np_ + i]])
c = time.time()
print("model=%s load_s=%.3f prefill_tokens=%d prefill_s=%.3f prefill_tok_s=%.1f decode_tokens=%d decode_s=%.3f "
      "decode_tok_s=%.1f total_s=%.3f" % (path, load, np_, b - a, np_ / (b - a), ng, c - b, ng / (c - b), c - a))
PY
done
