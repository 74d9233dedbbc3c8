#!/bin/bash
# tests/gpu/same-summaries.sh prepare|device|compare — issue 8's "the same
# summaries from the summarizer on both backends", with a real model.
#
# The device machine lacks the headers vigil's summarizer needs (SQLite,
# curl), and a model does not fit in one 64 MiB carry; so:
#   prepare [MODEL]   here: 8 seeded fact batches (bench/gen-facts.py), the
#                     summarizer's exact prompts (vigil summarize prompt), the
#                     summarizer's own CPU candidates (vigil summarize --explain),
#                     and the model split in two (.m1/part, .m2/part).
#   device            on the GPU machine (call 1 carries .m1, call 2 carries
#                     .m2 .sumchk .gpu-deb): joins the model, builds vigil-llm
#                     with CUDA for the local card, and makes the summarizer's
#                     generation call (its system prompt, the chat prompt, stop
#                     "\n\n", 160 tokens, greedy) on the CPU and CUDA backends;
#                     writes $OUT/texts.tgz.
#   compare DIR       here: the device's CPU and CUDA texts must be identical,
#                     and equal to the summarizer's candidate made here once the
#                     summarizer's own cut (complete sentences only when the
#                     budget ran out) is applied.  The summary sent is a
#                     deterministic function of the candidate and the facts.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
SYS="You write short, factual alert summaries of cron job failures for a system operator. You state only what the facts say."
case ${1:-} in
prepare)
	model=${2:-var/models/smollm2-135m-instruct-q4_1.gguf}
	[ -f "$model" ] || { echo "no model $model (make model)"; exit 1; }
	[ -x ./vigil ] || make -s vigil
	rm -rf .sumchk .m1 .m2 && mkdir -p .sumchk .m1 .m2
	python3 bench/gen-facts.py .sumchk 8
	sha256sum "$model" | cut -c1-64 >.sumchk/model.sha256
	split -b 50000000 -d "$model" .sumchk/part.
	mv .sumchk/part.00 .m1/part && cat .sumchk/part.0[1-9] >.m2/part && rm -f .sumchk/part.*
	printf 'llm_backend = cpu\nllm_time_limit = 120s\nllm_max_tokens = 160\n' >.sumchk/cpu.conf
	for f in .sumchk/batch-*.json; do
		./vigil summarize prompt --facts "$f" | python3 -c 'import sys; s=sys.stdin.read(); sys.stdout.write(s[:-1])' >"${f%.json}.chat"
		./vigil --config .sumchk/cpu.conf summarize --facts "$f" --model "$model" --explain >"${f%.json}.local" 2>&1
	done
	echo "prepared .sumchk (8 batches), .m1/part and .m2/part"
	;;
device)
	out=${OUT:-/tmp/sumout}; mkdir -p "$out/t"
	[ -f .m1/part ] && cp .m1/part /tmp/m1part
	[ -f /tmp/m1part ] && [ -f .m2/part ] || { echo "model parts missing (carry .m1, then .m2)"; exit 0; }
	cat /tmp/m1part .m2/part >/tmp/same-summaries.gguf
	[ "$(sha256sum /tmp/same-summaries.gguf | cut -c1-64)" = "$(cat .sumchk/model.sha256)" ] || { echo "model checksum differs"; exit 1; }
	if ! echo '#include <pcre2.h>' | cc -DPCRE2_CODE_UNIT_WIDTH=8 -E - >/dev/null 2>&1 && ls .gpu-deb/*.deb >/dev/null 2>&1; then
		for f in .gpu-deb/*.deb; do dpkg -x "$f" /tmp/pcre2root; done
		lib=$(dirname "$(find /tmp/pcre2root -name 'libpcre2-8.so*' | head -1)")
		export CPATH=/tmp/pcre2root/usr/include LIBRARY_PATH=$lib LD_LIBRARY_PATH=$lib
	fi
	. "$root/tests/gpu/gpu-lib.sh"
	gpu_nvcc /tmp/nvcc-native native
	make -j16 llm CUDA=1 NVCC=/tmp/nvcc-native >"$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 1; }
	nvidia-smi --query-gpu=name --format=csv,noheader | tee "$out/t/gpu.txt"
	for f in .sumchk/batch-*.chat; do
		b=$(basename "$f" .chat)
		p=$(cat "$f"; echo x); p=${p%x}
		for be in cpu cuda; do
			./vigil-llm run --model /tmp/same-summaries.gguf --system "$SYS" --chat "$p" --stop $'\n\n' -n 160 --temp 0 \
				--backend "$be" --stats >"$out/t/$b.$be.txt" 2>"$out/t/$b.$be.err"
		done
		cmp -s "$out/t/$b.cpu.txt" "$out/t/$b.cuda.txt" && echo "$b: CPU and CUDA texts identical" || echo "$b: DIFFERENT"
	done
	tar czf "$out/texts.tgz" -C "$out/t" . && rm -rf "$out/t"
	;;
compare)
	d=${2:?compare DIR (where texts.tgz or the texts are)}
	[ -f "$d/texts.tgz" ] && { mkdir -p /tmp/same-summaries && tar xzf "$d/texts.tgz" -C /tmp/same-summaries && d=/tmp/same-summaries; }
	python3 - "$d" <<'PY'
import glob, os, re, sys
d, bad, n = sys.argv[1], 0, 0
for loc in sorted(glob.glob('.sumchk/batch-*.local')):
    b = os.path.basename(loc)[:-len('.local')]
    t = open(loc).read()
    m = re.search(r'^candidate \(local model[^\n]*\):\n(.*?)\n(?=S1: )', t, re.S | re.M)
    cand = '\n'.join(l[2:] if l.startswith('  ') else l for l in m.group(1).split('\n')) if m else ''
    cpu, cuda = open(f'{d}/{b}.cpu.txt').read(), open(f'{d}/{b}.cuda.txt').read()
    cut = cuda
    if 'stop: max tokens' in open(f'{d}/{b}.cuda.err').read():   # the summarizer's cut
        ends = [k for k, ch in enumerate(cut) if ch in '.!?' and (k + 1 == len(cut) or cut[k + 1] in ' \n')]
        if ends: cut = cut[:ends[-1] + 1]
    norm = lambda s: [l.rstrip() for l in s.rstrip().split('\n')]   # --explain trims line ends
    ok = cpu == cuda and norm(cand) == norm(cut)
    n += 1; bad += not ok
    print(f"{b}: device CPU == CUDA: {cpu == cuda}; summarizer's candidate here == device text: {norm(cand) == norm(cut)}; "
          f"{re.search(r'^chosen: .*', t, re.M).group(0)}")
print(f"{n - bad} of {n} batches: same summaries"); sys.exit(1 if bad or not n else 0)
PY
	;;
*) echo "usage: $0 prepare [MODEL] | device | compare DIR"; exit 2 ;;
esac
