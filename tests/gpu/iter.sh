#!/bin/bash
# tests/gpu/iter.sh — one device call of kernel work: builds this tree's checkers
# and a baseline tree's (BASE, default: none) for the local GPU only, then runs
# the steps named in $STEPS (default "ktest bench mtest"): ktest = check_kernels test
# quick; mtest = check_model test; bench = check_model bench (this tree, then
# with each of $VARIANTS "name=VAR=value" set (bf16 only), then BASE) on
# BENCH_ONLY types; mv / attn = kernel sweeps;
# ncu = per-kernel times of one decode step (this tree; BASE too with NCU_BASE=1);
# timeline = CUPTI start/end of every kernel of the decode graph, as it really ran;
# san = compute-sanitizer memcheck/racecheck on the quick checks; sanffn /
# sanattn / sanmv = the same on those checks alone; ffn = its timings; ktest
# honours KONLY=ffn|attn|mv (those checks alone).
# PREBUILT=1: use build/gpu/check_kernels and check_model as carried (built on a
# machine without a GPU for this card's arch) when they run, else build; BASE's
# build/gpu/check_model too when it is there.
# Logs to $OUT.  Not part of make gpu-test (tests/gpu/run.sh is).
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-/tmp/iter-out}
mkdir -p "$out"
STEPS=${STEPS:-ktest bench mtest}
BASE=${BASE:-}
export BENCH_ONLY=${BENCH_ONLY:-bf16,q8_0}
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv,noheader | tee "$out/gpu.txt"
debs=$(ls "$here"/.gpu-deb/*.deb "$here"/../.gpu-deb/*.deb 2>/dev/null)
if ! echo '#include <pcre2.h>' | cc -DPCRE2_CODE_UNIT_WIDTH=8 -E - >/dev/null 2>&1 && [ -n "$debs" ]; then
	for f in $debs; do dpkg -x "$f" /tmp/pcre2root; done
	inc=/tmp/pcre2root/usr/include lib=$(dirname "$(find /tmp/pcre2root -name 'libpcre2-8.so*' | head -1)")
	export CPATH=$inc${CPATH:+:$CPATH} LIBRARY_PATH=$lib${LIBRARY_PATH:+:$LIBRARY_PATH}
	export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
. "$here/tests/gpu/gpu-lib.sh"
gpu_nvcc /tmp/nvcc-native native
build() { # tree -> tree/build/gpu/check_model (+ check_kernels)
	local t=$1
	( cd "$t" && mkdir -p build/gpu && make -j8 llm CUDA=1 NVCC=/tmp/nvcc-native >build/gpu/make.log 2>&1 &&
	  gpu_link_model "$t" build build/gpu/check_model "" &&
	  nvcc -O3 -std=c++17 -I. -arch=native -lineinfo -DVIGIL_CUDA=1 -o build/gpu/check_kernels \
	     tests/gpu/check_kernels.cu kernels/kern_ops.cu ) >"$out/build-$(basename "$t").log" 2>&1
	echo "build $t: rc=$?"
}
t0=$SECONDS
if [ -n "${PREBUILT:-}" ] && "$here/build/gpu/check_kernels" none >/dev/null 2>&1 && [ -x "$here/build/gpu/check_model" ]; then
	echo "PREBUILT: using the carried build/gpu/check_kernels and check_model"  # built elsewhere for sm_90
else
	build "$here" &
fi
[ -n "$BASE" ] && ! { [ -n "${PREBUILT:-}" ] && [ -x "$BASE/build/gpu/check_model" ]; } && build "$BASE" &
wait
echo "builds: $((SECONDS - t0)) s"
mkdir -p /tmp/iter
run() { # name cmd...: log in /tmp/iter/name.log, appended to $out/logs.txt
	local name=$1; shift
	local t=$SECONDS rc
	"$@" >"/tmp/iter/$name.log" 2>&1
	rc=$?
	{ echo "#### $name (rc=$rc)"; cat "/tmp/iter/$name.log"; } >>"$out/logs.txt"
	echo "== $name rc=$rc ($((SECONDS - t)) s)"
}
for s in $STEPS; do
	case $s in
	ktest)
		run kernels timeout 200 "$here/build/gpu/check_kernels" test quick
		grep -E '^FAIL' /tmp/iter/kernels.log | head -20; tail -1 /tmp/iter/kernels.log;;
	mtest)
		run model timeout 300 "$here/build/gpu/check_model" test
		grep -E '^FAIL' /tmp/iter/model.log | head -20; tail -1 /tmp/iter/model.log;;
	bench)
		bw=$("$here/build/gpu/check_kernels" barrier 2>/dev/null | grep -oE 'copy bandwidth = [0-9]+' | grep -oE '[0-9]+$')
		echo "copy bandwidth $bw GB/s"
		run bench-new timeout 200 "$here/build/gpu/check_model" bench "${bw:-3000}"
		for v in ${VARIANTS:-}; do # name=VAR=value[,VAR2=value2] (a value cannot hold a comma): this tree again, VARIANT_ONLY types (bf16), with VAR set
			( IFS=, read -ra kv <<<"${v#*=}"; export "${kv[@]}" BENCH_ONLY=${VARIANT_ONLY:-bf16} BENCH_MODELS=${VARIANT_MODELS:-}; run "bench-${v%%=*}" timeout 200 "$here/build/gpu/check_model" bench "${bw:-3000}" )
		done
		[ -n "$BASE" ] && run bench-base timeout 200 "$BASE/build/gpu/check_model" bench "${bw:-3000}"
		grep -H '^bench ' /tmp/iter/bench-*.log | sed -E 's|/tmp/iter/bench-||; s/\.log:bench / /' | sed -E 's/VRAM.*prefill512/prefill512/; s/  floor.*forward/ forward/';;
	san) # compute-sanitizer on the quick kernel checks and the small-model parity checks
		for tool in memcheck racecheck; do
			run $tool timeout ${SAN_S:-130} compute-sanitizer --tool $tool --error-exitcode 3 "$here/build/gpu/check_kernels" test quick
			tail -2 /tmp/iter/$tool.log
		done
		run model-memcheck timeout 100 compute-sanitizer --tool memcheck --error-exitcode 3 "$here/build/gpu/check_model" quick
		tail -2 /tmp/iter/model-memcheck.log;;
	ffn) run ffn timeout 100 "$here/build/gpu/check_kernels" ffn; grep time /tmp/iter/ffn.log;;
	san?*) # sanffn / sanattn / sanmv: compute-sanitizer on those quick checks alone (KONLY)
		k=${s#san}
		for tool in memcheck racecheck; do
			KONLY=$k run "$k-$tool" timeout "${SAN_S:-150}" compute-sanitizer --tool $tool --error-exitcode 3 "$here/build/gpu/check_kernels" test quick
			tail -2 "/tmp/iter/$k-$tool.log"
		done;;
	attnprof) # the fused decode attention's phase clock: a checker built with -DVIGIL_ATD_PROF
		[ -x "$here/build/gpu/check_kernels_prof" ] || nvcc -O3 -std=c++17 -I"$here" -arch=native -DVIGIL_CUDA=1 -DVIGIL_ATD_PROF \
			-o "$here/build/gpu/check_kernels_prof" "$here/tests/gpu/check_kernels.cu" "$here/kernels/kern_ops.cu"
		run attnprof timeout 100 "$here/build/gpu/check_kernels_prof" attnprof; grep prof /tmp/iter/attnprof.log;;
	mv) run mv timeout 200 "$here/build/gpu/check_kernels" mv; grep time /tmp/iter/mv.log;;
	attn) run attn timeout 200 "$here/build/gpu/check_kernels" attn; grep -E 'fused|split  64' /tmp/iter/attn.log;;
	timeline) # CUPTI timeline of the decode graph (check_model built with -DVIGIL_CUPTI): TL_ARGS "model,type,position ..."
		# TL_PROF=1: also the decode attention's phase clock inside the graph (kern_ops built with -DVIGIL_ATD_PROF);
		# TL_PROF=gt: the same stamps in global nanoseconds (-DVIGIL_ATD_GT), spread over the blocks
		tlb=$here/build/gpu/check_model_tl${TL_PROF:+p}${TL_PROF:+${TL_PROF#1}}
		if [ ! -x "$tlb" ]; then
			ko='' pf=()
			if [ -n "${TL_PROF:-}" ]; then
				ko=/tmp/kern_ops_prof.o pf=(-DVIGIL_ATD_PROF)
				[ "$TL_PROF" = gt ] && pf+=(-DVIGIL_ATD_GT)
				nvcc -O3 -std=c++17 -I"$here" -arch=native -DVIGIL_CUDA=1 "${pf[@]}" -Xcompiler -fPIC -c -o $ko \
					"$here/kernels/kern_ops.cu"
			fi
			gpu_link_timeline "$here" build "$tlb" "$ko" "${pf[@]}" || echo "timeline: build failed"
		fi
		for a in ${TL_ARGS:-qwen2,bf16,128 qwen2,bf16,4000 qwen3,bf16,128 qwen3,bf16,4000}; do
			IFS=, read -r tm tt tp <<<"$a"
			run "tl-$tm-$tt-$tp" timeout 120 "$tlb" timeline "$tm" "$tt" "$tp" 32
			grep '^tl' "/tmp/iter/tl-$tm-$tt-$tp.log" | grep -v ' node '
		done;;
	ncu) # NCU_ARGS: check_model profile's model and position (default Qwen2.5 at 100)
		for t in "$here" ${NCU_BASE:+$BASE}; do
			n=$(basename "$t")
			run ncu-$n timeout 200 ncu --graph-profiling node --clock-control none --cache-control none \
				--metrics gpu__time_duration.sum --csv --log-file "$out/ncu-$n.csv" "$t/build/gpu/check_model" profile ${NCU_ARGS:-}
			python3 "$here/tests/gpu/ncu_summary.py" "$out/ncu-$n.csv" 2 | tee "$out/ncu-$n.txt" | cut -c1-100
		done;;
	ncuk) # NCU_KERNEL (regex) in detail: the NCU_SKIP-th launch of it in check_model profile $NCU_ARGS
		run ncuk timeout 300 ncu --graph-profiling node -k "regex:${NCU_KERNEL:-attn_dec}" --launch-skip ${NCU_SKIP:-30} \
			--launch-count 1 --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats \
			--section Occupancy --section LaunchStats --section SchedulerStats --section SourceCounters \
			"$here/build/gpu/check_model" profile ${NCU_ARGS:-}
		cp /tmp/iter/ncuk.log "$out/ncuk.txt"; grep -E 'Duration|Throughput|Hit Rate|Warp Cycles|Stall|Achieved Occ' /tmp/iter/ncuk.log | head -40;;
	esac
done
for f in "$out"/build-*.log; do [ -f "$f" ] && { echo "#### $(basename "$f")"; tail -30 "$f"; }; done >>"$out/logs.txt"
rm -f "$out"/build-*.log
