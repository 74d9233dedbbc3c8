#!/bin/bash
# `vigil summarize` and `vigil summarize verify` from the command line.
set -u
V=${VIGIL_BIN:?}; R=${VIGIL_ROOT:?}
F=$R/tests/summarizer/facts
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# The summary sent without a model is the deterministic one.
out=$("$V" summarize --facts "$F/single-fail.json") || fail "summarize rc=$?"
[ "$out" = 'weather-pull failed at 07:45 UTC with exit 1: "error: connection refused".' ] || fail "summary: $out"

# --explain says why there is no candidate and which text was chosen.
out=$("$V" --config /dev/null summarize --facts "$F/never-pinged.json" --explain) || fail "explain rc=$?"
grep -q '^candidate: none (no model configured (llm_model))$' <<<"$out" || fail "explain: $out"
grep -q '^chosen: facts (summary generated from the facts)$' <<<"$out" || fail "explain: $out"
[ "$(tail -n 1 <<<"$out")" = "new-etl has never pinged: it was expected at 06:00 UTC." ] || fail "explain: $out"

# verify: accepted text exits 0 and prints nothing.
printf 'weather-pull failed at 7:45 UTC with exit 1.\n' >"$tmp/ok.txt"
out=$("$V" summarize verify --facts "$F/single-fail.json" --text-file "$tmp/ok.txt") || fail "verify ok rc=$?"
[ -z "$out" ] || fail "verify ok printed: $out"

# verify: rejected text exits 1 with one line per broken rule.
printf 'weather-pull was fixed at 07:45 UTC after exit 2.\n' >"$tmp/bad.txt"
out=$("$V" summarize verify --facts "$F/single-fail.json" --text-file "$tmp/bad.txt"); rc=$?
[ $rc -eq 1 ] || fail "verify bad rc=$rc"
[ "$out" = $'S3: "exit 2" does not match any exit status in the facts\nS5: "fixed" claims a fix or that someone is acting' ] || fail "verify bad: $out"

# --slugs: a registered check that is not in the batch ("nightly" is a plain word).
printf 'weather-pull failed with exit 1 in the nightly run.\n' >"$tmp/reg.txt"
"$V" summarize verify --facts "$F/single-fail.json" --text-file "$tmp/reg.txt" >/dev/null || fail "unregistered plain word should pass"
out=$("$V" summarize verify --facts "$F/single-fail.json" --text-file "$tmp/reg.txt" --slugs weather-pull,nightly); rc=$?
[ $rc -eq 1 ] && [ "$out" = 'S1: "nightly" is a registered check that is not in this batch' ] || fail "slugs: rc=$rc $out"

# Facts errors name the field; usage errors exit 2.
printf '{"generated_at":"2026-11-26T08:00:00Z","host":"h","checks":[{"slug":"a","state":"sideways","reason":"late"}]}' >"$tmp/bad.json"
err=$("$V" summarize --facts "$tmp/bad.json" 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] || fail "bad facts rc=$rc"
grep -q "bad.json: checks\[0\].state: expected one of down, up, grace, unknown" <<<"$err" || fail "bad facts: $err"
"$V" summarize >/dev/null 2>&1; [ $? -eq 2 ] || fail "no --facts should exit 2"
"$V" summarize verify --facts "$F/single-fail.json" >/dev/null 2>&1; [ $? -eq 2 ] || fail "verify without text should exit 2"
"$V" summarize --facts "$F/hung.json" --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option should exit 2"

# Repeated --facts: one "== FILE" section per batch, in order.
out=$("$V" summarize --facts "$F/hung.json" --facts "$F/recovery.json") || fail "two facts rc=$?"
[ "$out" = "== $F/hung.json
report-gen is hung: started at 05:00 UTC and has not finished after 3 h.
== $F/recovery.json
weather-pull recovered at 08:10 UTC. backup-db recovered at 08:12 UTC." ] || fail "two facts: $out"

# The prompt lists every check with its slug.
out=$("$V" summarize prompt --facts "$F/many-failures.json") || fail "prompt rc=$?"
for s in weather-pull backup-db sync-2024 report-gen mail-digest cache-warm; do
	grep -q -- "^- $s " <<<"$out" || fail "prompt lacks $s"
done
echo "ok"
