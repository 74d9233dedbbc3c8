#!/bin/bash
# tests/gpu/run.sh test|bench — the GPU checks and timings (make gpu-test /
# make gpu-bench).  Needs nvcc and an NVIDIA GPU; without a GPU it says so and
# exits 77.  Logs go to $OUT (the device runner's folder) or tests/out/gpu.
#
#   test:  kernel checkers (tests/gpu/check_kernels.cu) on random inputs,
#          compute-sanitizer memcheck + racecheck on a quick pass of them, and
#          whole-model CPU-vs-GPU parity (tests/gpu/check_model.c) when built,
#          once on the default decode path, once with the persistent decode
#          kernel (VIGIL_CUDA_PERSIST=1; sanitizers on a small-model pass too) and
#          once with the fused feed-forward forced on every model it covers
#          (VIGIL_CUDA_FUSE_DOWN=1; sanitizers on a small-model pass too).
#   bench: kernel timings and copy bandwidth, then whole-model timings.
set -u
mode=${1:-test}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
out=${OUT:-$root/tests/out/gpu}
mkdir -p "$out" build/gpu
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
	echo "SKIP: no NVIDIA GPU here (nvidia-smi finds none)"
	exit 77
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv | tee "$out/gpu.txt"
arch=-arch=native
# PCRE2 headers/library for local_llm's tokenizer: carried Debian packages
# (.gpu-deb/*.deb, git-ignored) are unpacked when the system has none.
if ! echo '#include <pcre2.h>' | cc -DPCRE2_CODE_UNIT_WIDTH=8 -E - >/dev/null 2>&1 && ls .gpu-deb/*.deb >/dev/null 2>&1; then
	for f in .gpu-deb/*.deb; do dpkg -x "$f" /tmp/pcre2root; done
	inc=/tmp/pcre2root/usr/include lib=$(dirname "$(find /tmp/pcre2root -name 'libpcre2-8.so*' | head -1)")
	export CPATH=$inc${CPATH:+:$CPATH} LIBRARY_PATH=$lib${LIBRARY_PATH:+:$LIBRARY_PATH}
	export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	echo "using carried PCRE2 from $lib"
fi
fail=0
step() {	# name, command...: runs, logs to $out/name.log, records failure
	local name=$1; shift
	echo "== $name: $*"
	local t0=$SECONDS
	"$@" >"$out/$name.log" 2>&1
	local rc=$?
	tail -n "${TAIL:-25}" "$out/$name.log"
	echo "== $name: rc=$rc ($((SECONDS - t0)) s)"
	[ $rc -eq 0 ] || fail=1
	return $rc
}
step build-checker "$NVCC" -O3 -std=c++17 -I. $arch -lineinfo -DVIGIL_CUDA=1 \
	-Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter \
	-o build/gpu/check_kernels tests/gpu/check_kernels.cu kernels/kern_ops.cu || exit 1
if [ -f tests/gpu/check_model.c ]; then
	step build-llm make -j"$(nproc)" llm CUDA=1 || exit 1
	objs=$(ls build/rel/local_llm/*.o build/rel/kernels/*.o build/cu/kernels/*.o | grep -v llm_main.o)
	cuda=${CUDA_HOME:-/usr/local/cuda}
	step build-check-model cc -O2 -std=c11 -D_GNU_SOURCE -I. -DVIGIL_CUDA=1 -Wall -Wextra -Werror \
		-o build/gpu/check_model tests/gpu/check_model.c $objs -lpcre2-8 -lm -pthread \
		-L"$cuda/lib64" -Wl,-rpath,"$cuda/lib64" -lcudart -lcublas -lstdc++ || exit 1
fi
if [ "$mode" = test ]; then
	TAIL=12 step kernels build/gpu/check_kernels test
	grep -E '^FAIL' "$out/kernels.log" | head -40
	# the decode attention's merge both ways: by a merger block wherever there
	# are two key ranges or more, and always by the last range block to finish
	VIGIL_CUDA_ATD_MERGER=2 KONLY=attn TAIL=3 step kernels-attn-merger build/gpu/check_kernels test
	VIGIL_CUDA_ATD_MERGER=0 KONLY=attn TAIL=3 step kernels-attn-no-merger build/gpu/check_kernels test
	if [ -n "${GPU_QUICK:-}" ]; then
		echo "GPU_QUICK: sanitizer runs skipped"
	elif command -v compute-sanitizer >/dev/null 2>&1; then
		step memcheck timeout 200 compute-sanitizer --tool memcheck --error-exitcode 3 build/gpu/check_kernels test quick
		# racecheck over the quick pass took 164 s in session 5 and did not
		# finish in 165 s in session 12 (K6; it did within 450 s, K7)
		step racecheck timeout 600 compute-sanitizer --tool racecheck --error-exitcode 3 build/gpu/check_kernels test quick
	else
		echo "compute-sanitizer not found: sanitizer runs skipped"
	fi
	if [ -x build/gpu/check_model ]; then
		step model build/gpu/check_model test
		# the persistent decode kernel (off by default) through the same checks
		VIGIL_CUDA_PERSIST=1 step model-persistent build/gpu/check_model test
		# the fused feed-forward on every model it covers, its graph replaced by
		# the long-context one (longer key ranges where they fit; the fused
		# feed-forward kept there for float weights) from position 200 on
		# (inside most greedy decodes); then the same with one accumulator copy
		# and no fused feed-forward in the long graph for any type
		VIGIL_CUDA_FUSE_DOWN=1 VIGIL_CUDA_FUSE_UNTIL=200 step model-fused build/gpu/check_model test
		VIGIL_CUDA_FUSE_DOWN=1 VIGIL_CUDA_FUSE_UNTIL=200 VIGIL_CUDA_FUSE_LONG=0 VIGIL_CUDA_FIX_COPIES=1 \
			step model-fused-1copy build/gpu/check_model test
		if [ -z "${GPU_QUICK:-}" ] && command -v compute-sanitizer >/dev/null 2>&1; then
			for tool in memcheck racecheck; do
				VIGIL_CUDA_PERSIST=1 step model-$tool-persistent timeout 300 compute-sanitizer --tool $tool \
					--error-exitcode 3 build/gpu/check_model quick
				VIGIL_CUDA_FUSE_DOWN=1 step model-$tool-fused timeout 300 compute-sanitizer --tool $tool \
					--error-exitcode 3 build/gpu/check_model quick
			done
		fi
	fi
else
	TAIL=80 step kernels-bench build/gpu/check_kernels bench
	if [ -x build/gpu/check_model ]; then
		bw=$(grep -oE '= [0-9]+ GB/s' "$out/kernels-bench.log" | grep -oE '[0-9]+' | head -1)
		TAIL=20 step model-bench build/gpu/check_model bench "${bw:-0}"
		# second pass: tensor-core (bf16) prefill, and decode without programmatic dependent launch
		VIGIL_CUDA_PREFILL=bf16 VIGIL_CUDA_NO_PDL=1 TAIL=20 step model-bench-bf16-nopdl build/gpu/check_model bench "${bw:-0}"
		if command -v ncu >/dev/null 2>&1; then
			# per-kernel device time of one eager + one graph decode step
			step ncu ncu --graph-profiling node --clock-control none --cache-control none \
				--metrics gpu__time_duration.sum --csv \
				--log-file "$out/ncu.csv" build/gpu/check_model profile
			python3 tests/gpu/ncu_summary.py "$out/ncu.csv" 2 | tee "$out/ncu-summary.txt"
		fi
	fi
fi
# few files come back from the device runner: fold the logs into one
for f in "$out"/*.log; do [ -f "$f" ] && { echo "#### $(basename "$f")"; cat "$f"; }; done >"$out/$mode-logs.txt"
rm -f "$out"/*.log
echo "gpu $mode: $([ $fail -eq 0 ] && echo PASS || echo FAIL)"
exit $fail
