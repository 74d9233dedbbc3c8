#!/bin/bash
# tests/gpu/run.sh test|bench — the GPU checks and timings (make gpu-test /
# make gpu-bench).  Needs nvcc and an NVIDIA GPU; without a GPU it says so and
# exits 77.  Logs go to $OUT (the device runner's folder) or tests/out/gpu.
#
#   test:  kernel checkers (tests/gpu/check_kernels.cu) on random inputs,
#          compute-sanitizer memcheck + racecheck on a quick pass of them, and
#          whole-model CPU-vs-GPU parity (tests/gpu/check_model.c) when built.
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
fi
if [ "$mode" = test ]; then
	TAIL=12 step kernels build/gpu/check_kernels test
	grep -E '^FAIL' "$out/kernels.log" | head -40
	if command -v compute-sanitizer >/dev/null 2>&1; then
		step memcheck timeout 200 compute-sanitizer --tool memcheck --error-exitcode 3 build/gpu/check_kernels test quick
		step racecheck timeout 200 compute-sanitizer --tool racecheck --error-exitcode 3 build/gpu/check_kernels test quick
	else
		echo "compute-sanitizer not found: sanitizer runs skipped"
	fi
	if [ -x build/gpu/check_model ]; then
		step model build/gpu/check_model test
	fi
else
	TAIL=80 step kernels-bench build/gpu/check_kernels bench
	if [ -x build/gpu/check_model ]; then
		TAIL=80 step model-bench build/gpu/check_model bench
	fi
fi
echo "gpu $mode: $([ $fail -eq 0 ] && echo PASS || echo FAIL)"
exit $fail
