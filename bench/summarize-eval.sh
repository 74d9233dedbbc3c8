#!/bin/bash
# make summarize-eval: the summarizer's quality run (not part of make test).
# 50 generated fact batches go through the largest test model (or
# $VIGIL_EVAL_MODEL): prints the acceptance rate, the rules broken most, and
# the time per summary on the CPU, and on the GPU when this vigil has CUDA.
#   VIGIL_EVAL_N=50   number of batches     VIGIL_EVAL_LIMIT=30   seconds per summary
#   VIGIL_EVAL_TOKENS=100  token budget     VIGIL_EVAL_SHOW=1     print every summary
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
V=${VIGIL_BIN:-$root/vigil}
N=${VIGIL_EVAL_N:-50}
LIMIT=${VIGIL_EVAL_LIMIT:-30}
TOKENS=${VIGIL_EVAL_TOKENS:-100}
model=${VIGIL_EVAL_MODEL:-}
if [ -z "$model" ]; then
	VIGIL_ROOT=$root "$root/tests/llm/fetch-models.sh" all >/dev/null 2>&1
	model=$(ls -S "$root"/var/models/*.gguf 2>/dev/null | head -n 1)   # the largest
fi
[ -n "$model" ] && [ -f "$model" ] || { echo "SKIP: no model (set VIGIL_EVAL_MODEL or run make model)"; exit 0; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# Seeded batches: 1 to 5 checks each, every state and reason, exit statuses
# that look like times, unicode names, muted checks, long output tails.
python3 "$root/bench/gen-facts.py" "$tmp" "$N"

run_backend() {	# $1 = cpu|cuda
	local be=$1 args=() t0 t1
	printf 'llm_backend = %s\nllm_time_limit = %s\nllm_max_tokens = %s\n' "$be" "$LIMIT" "$TOKENS" >"$tmp/$be.conf"
	for f in "$tmp"/batch-*.json; do args+=(--facts "$f"); done
	t0=$(date +%s%N)
	"$V" --config "$tmp/$be.conf" summarize "${args[@]}" --model "$model" --explain >"$tmp/$be.out" 2>&1 \
		|| { echo "backend $be: vigil failed:"; tail -5 "$tmp/$be.out"; return; }
	t1=$(date +%s%N)
	[ -n "${VIGIL_EVAL_SHOW:-}" ] && cat "$tmp/$be.out"
	awk -v be="$be" -v wall_ms=$(( (t1 - t0) / 1000000 )) '
		/^== /                 { n++ }
		/^chosen: model/       { acc++ }
		/^candidate \(local model/ { match($0, /[0-9]+ tokens, [0-9.]+ s/); split(substr($0, RSTART, RLENGTH), a, " ");
		                         toks += a[1]; gen += a[3]; cands++ }
		/^candidate: none/     { sub(/^candidate: none \(/, ""); sub(/ after.*| \(.*/, ""); rule["no candidate: " $0]++ }
		/^S[1-8]: / && !/: ok \(/ { rule[substr($0, 1, 2)]++ }
		/^note: .*mid-sentence/ { sub(/^note: /, ""); sub(/ \(.*\)/, ""); sub(/ after.*/, ""); rule[$0]++ }
		END {
			printf "backend %s: %d/%d model summaries accepted (%.0f%%)\n", be, acc, n, n ? 100 * acc / n : 0
			printf "  time per summary: %.2f s wall (model loaded once, %.1f s total); generation %.2f s, %.1f tokens/s over %d candidates\n",
			       n ? wall_ms / 1000 / n : 0, wall_ms / 1000, cands ? gen / cands : 0, gen ? toks / gen : 0, cands
			print "  rules broken most (candidates rejected by each):"
			for (r in rule) printf "    %4d  %s\n", rule[r], r | "sort -rn"
		}' "$tmp/$be.out"
}

echo "summarize-eval: $N batches, model $(basename "$model") ($(du -h "$model" | cut -f1)), limit ${LIMIT}s, ${TOKENS} tokens, $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg)"
run_backend cpu
if "$V" llm info 2>/dev/null | grep -qi cuda || command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
	run_backend cuda
else
	echo "backend cuda: skipped (no GPU here)"
fi
