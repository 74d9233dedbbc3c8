#!/bin/bash
# make summarize-eval: the summarizer's quality run (not part of make test).
# 50 generated fact batches go through the largest test model (or
# $VIGIL_EVAL_MODEL): prints the acceptance rate, the rules broken most, and
# the time per summary on the CPU, and on the GPU when this vigil has CUDA.
#   VIGIL_EVAL_N=50   number of batches     VIGIL_EVAL_LIMIT=30   seconds per summary
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
V=${VIGIL_BIN:-$root/vigil}
N=${VIGIL_EVAL_N:-50}
LIMIT=${VIGIL_EVAL_LIMIT:-30}
model=${VIGIL_EVAL_MODEL:-}
if [ -z "$model" ]; then
	[ -d "$root/var/models" ] || { [ -x "$root/local_llm/get-model.sh" ] && "$root/local_llm/get-model.sh" >&2; }
	model=$(ls -S "$root"/var/models/*.gguf 2>/dev/null | head -n 1)
fi
[ -n "$model" ] && [ -f "$model" ] || { echo "SKIP: no model (set VIGIL_EVAL_MODEL or run make model)"; exit 0; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# Seeded batches: 1 to 5 checks each, every state and reason, exit statuses
# that look like times, unicode names, muted checks, long output tails.
python3 - "$tmp" "$N" <<'PY'
import json, random, sys, datetime as dt
out, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(20261126)
slugs = ["weather-pull", "backup-db", "sync-2024", "report-gen", "mail-digest", "cache-warm",
         "log-rotate", "disk-check", "ntp-sync", "db-vacuum", "queue-drain", "invoice-run",
         "gpu-burn", "cert-renew", "s3-upload", "etl_daily", "backup-2", "feed-import"]
names = {"backup-db": "Nightly database backup", "invoice-run": "Rechnungslauf", "feed-import": "フィード取り込み"}
tails = ["error: connection refused", "rsync error: some files/attrs were not transferred (code 23)",
         "/dev/sda1 is 97% full", "timeout: sending signal TERM to command", "Traceback (most recent call last):\nKeyError: 'id'",
         "curl: (28) Operation timed out after 30001 milliseconds", "psql: FATAL: password authentication failed"]
kinds = [("down", "fail"), ("down", "exit"), ("down", "late"), ("down", "hung"), ("down", "never_pinged"),
         ("grace", "late"), ("up", "recovered"), ("unknown", None)]
def iso(t): return t.strftime("%Y-%m-%dT%H:%M:%SZ")
for b in range(n):
    now = dt.datetime(2026, 11, 26, rnd.randint(0, 23), rnd.choice([0, 5, 15, 30, 45]), 0)
    checks = []
    for slug in rnd.sample(slugs, rnd.randint(1, 5)):
        state, reason = rnd.choice(kinds)
        exp = now - dt.timedelta(minutes=rnd.choice([5, 15, 30, 60, 120, 300]))
        c = {"slug": slug, "name": names.get(slug, slug), "state": state, "reason": reason,
             "since": iso(exp + dt.timedelta(minutes=rnd.choice([0, 1, 10]))), "expected_at": iso(exp),
             "grace_s": rnd.choice([60, 300, 900, 1800]), "last_start": None, "last_success": None,
             "last_fail": None, "exit_status": None, "duration_s": None, "output_tail": None,
             "crontab_line": "%d %d * * * vigil run %s -- /opt/jobs/%s.sh" % (exp.minute, exp.hour, slug, slug),
             "muted": rnd.random() < 0.1}
        if reason != "never_pinged":
            c["last_success"] = iso(exp - dt.timedelta(days=1) + dt.timedelta(seconds=rnd.randint(5, 600)))
            c["last_start"] = iso(exp)
            c["duration_s"] = rnd.choice([1, 12, 45.5, 129, 3600])
        if reason in ("fail", "exit"):
            c["last_fail"] = iso(exp + dt.timedelta(seconds=rnd.randint(1, 90)))
            c["exit_status"] = rnd.choice([1, 2, 3, 45, 124, 127, 130])
            c["output_tail"] = rnd.choice(tails)
        if reason == "hung":
            c["duration_s"] = (now - exp).total_seconds()
        if state == "up":
            c["since"] = iso(now - dt.timedelta(minutes=2)); c["last_success"] = c["since"]; c["exit_status"] = 0
        checks.append(c)
    json.dump({"generated_at": iso(now), "host": "eval-host", "checks": checks},
              open("%s/batch-%02d.json" % (out, b), "w"), indent=1, ensure_ascii=False)
PY

run_backend() {	# $1 = cpu|cuda
	local be=$1 acc=0 tot=0 t0 t1 ms sum_ms=0 toks=0 gen=0
	printf 'llm_backend = %s\nllm_time_limit = %s\nllm_max_tokens = 120\n' "$be" "$LIMIT" >"$tmp/$be.conf"
	: >"$tmp/$be.rules"
	for f in "$tmp"/batch-*.json; do
		t0=$(date +%s%N)
		out=$("$V" --config "$tmp/$be.conf" summarize --facts "$f" --model "$model" --explain 2>&1) || { echo "$f: $out"; continue; }
		t1=$(date +%s%N)
		ms=$(( (t1 - t0) / 1000000 )); sum_ms=$((sum_ms + ms)); tot=$((tot + 1))
		grep -q '^chosen: model' <<<"$out" && acc=$((acc + 1))
		grep -E '^S[1-8]: ' <<<"$out" | grep -v ': ok (' | cut -d: -f1 >>"$tmp/$be.rules"
		grep -q '^note: token budget' <<<"$out" && echo "budget" >>"$tmp/$be.rules"
		grep -q '^candidate: none' <<<"$out" && echo "no-candidate" >>"$tmp/$be.rules"
		if [[ $out =~ candidate\ \(local\ model,\ ([0-9]+)\ tokens,\ ([0-9.]+)\ s\) ]]; then
			toks=$((toks + BASH_REMATCH[1])); gen=$(awk -v a="$gen" -v b="${BASH_REMATCH[2]}" 'BEGIN{print a+b}')
		fi
		[ -n "${VIGIL_EVAL_SHOW:-}" ] && { echo "== $f"; echo "$out"; }
	done
	echo "backend $be: $acc/$tot model summaries accepted ($(awk -v a=$acc -v t=$tot 'BEGIN{printf "%.0f", t ? 100*a/t : 0}')%)"
	echo "  time per summary (wall, incl. model load): $(awk -v s=$sum_ms -v t=$tot 'BEGIN{printf "%.2f", t ? s/t/1000 : 0}') s;" \
	     "generation: $(awk -v g=$gen -v t=$tot 'BEGIN{printf "%.2f", t ? g/t : 0}') s, $(awk -v k=$toks -v g=$gen 'BEGIN{printf "%.1f", g ? k/g : 0}') tokens/s"
	echo "  rules broken most (count of rejected candidates):"
	sort "$tmp/$be.rules" | uniq -c | sort -rn | sed 's/^/    /'
}

echo "summarize-eval: $N batches, model $(basename "$model") ($(du -h "$model" | cut -f1)), limit ${LIMIT}s, $(nproc) CPUs"
run_backend cpu
if "$V" llm info 2>/dev/null | grep -qi cuda || command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
	run_backend cuda
else
	echo "backend cuda: skipped (no GPU here)"
fi
