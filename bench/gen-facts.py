# Seeded alert-fact batches for the summarizer (bench/summarize-eval.sh,
# tests/gpu/same-summaries.sh): python3 gen-facts.py OUT_DIR N writes
# OUT_DIR/batch-NN.json.
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
