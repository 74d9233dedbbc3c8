#!/bin/bash
# tests/apply/test_apply.sh — `vigil crontab apply/diff/history/show/rollback`
# against Debian's real cron: the real /usr/bin/crontab, for a dedicated
# system user created here and removed afterwards.  No other user's crontab
# is read or written.
#
# Tests marked GATE-DEPENDENT need the real validator gate (issue 4); they
# fail loudly if the gate ever stops refusing them.
set -u
U=vigiltest-apply
VIGIL=${VIGIL_BIN:?VIGIL_BIN not set}
ROOT=${VIGIL_ROOT:?VIGIL_ROOT not set}

if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root to create the test user $U"; exit 77; fi
if ! command -v crontab >/dev/null || ! command -v sqlite3 >/dev/null; then
	"$ROOT/tests/deps.sh" test >/dev/null 2>&1 || true
fi
for p in crontab sqlite3 useradd; do
	command -v $p >/dev/null || { echo "SKIP: $p not installed (Debian packages cron, sqlite3)"; exit 77; }
done

T=$(mktemp -d /tmp/vigil-apply-test.XXXXXX)
DB=$T/db/vigil.db
CREATED_USER=0
pa= pb=
cleanup() {
	for p in $pa $pb; do kill -9 "$p" 2>/dev/null; done
	crontab -u $U -r >/dev/null 2>&1
	[ $CREATED_USER = 1 ] && userdel $U >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
if ! id $U >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin $U || { echo "FAIL: useradd $U"; exit 1; }
	CREATED_USER=1
fi
crontab -u $U -r >/dev/null 2>&1   # a leftover from an aborted run

n_ok=0
gate_fail=
fail() { echo "FAIL: $*"; echo "---- last output:"; cat "$T/out" 2>/dev/null | tail -n 30; exit 1; }
ok() { n_ok=$((n_ok + 1)); echo "ok $n_ok - $*"; }
v() { "$VIGIL" --db "$DB" crontab "$@" >"$T/out" 2>&1; }
vu() { local sub=$1; shift; v "$sub" "$@" --user $U; }
# wait_for FILE PATTERN: until FILE contains PATTERN (at most 30 s)
wait_for() { local i; for ((i = 0; i < 600; i++)); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
installed() { crontab -u $U -l 2>/dev/null; }
is_installed() { cmp -s <(installed) "$1"; }
q() { sqlite3 "$DB" "$1"; }
nrev() { q "SELECT count(*) FROM crontab_revisions WHERE user='$U'"; }
# The registry agrees with the crontab: no open journal row, no pending
# revision, and the last committed revision is exactly what is installed.
consistent() {
	local open pend last
	open=$(q "SELECT count(*) FROM crontab_journal WHERE done=0")
	pend=$(q "SELECT count(*) FROM crontab_revisions WHERE kind LIKE 'pending%'")
	[ "$open" = 0 ] || fail "$1: $open journal row(s) still open"
	[ "$pend" = 0 ] || fail "$1: $pend pending revision(s) left"
	last=$(q "SELECT new_rev FROM crontab_journal WHERE user='$U' AND step='committed' ORDER BY id DESC LIMIT 1")
	if [ -n "$last" ]; then
		q "SELECT writefile('$T/last.rev', content) FROM crontab_revisions WHERE id=$last" >/dev/null
		cmp -s <(installed) "$T/last.rev" || fail "$1: installed crontab is not revision $last"
	fi
}

# ---- fixtures: every job runs through `vigil run SLUG` (a ping call) and
# every slug is a check in the registry, so the real gate accepts them.
job() { echo "$2 vigil run $1 -- /bin/true"; }
{ echo "# managed by vigil"; job alpha "0 3 * * *"; job beta "*/5 * * * *"; job gamma "30 1 * * 1"; } >"$T/old.cron"
{ echo "# managed by vigil"; job alpha "0 4 * * *"; job beta "*/5 * * * *"; job gamma "30 1 * * 1"; job delta "15 2 * * *"; } >"$T/new.cron"
{ cat "$T/new.cron"; job epsilon "45 5 * * *"; } >"$T/new2.cron"
{ echo "# managed by vigil"; job alpha "0 3 * * *"; job beta "*/5 * * * *"; } >"$T/minus1.cron"
{ echo "# managed by vigil"; job alpha "0 3 * * *"; } >"$T/minus2.cron"
printf '' >"$T/empty.cron"
printf '# nothing here\n\n# really\n' >"$T/comments.cron"
{ cat "$T/old.cron"; echo "61 * * * * vigil run alpha -- /bin/true"; } >"$T/invalid.cron"

v history || fail "history on a fresh db"
now=$(date +%s)000
# alpha is crontab-driven (its schedule and line follow the crontab); the
# others are manual checks.  All paused, so that no expected run (V502)
# depends on the hour the test runs at.
q "INSERT INTO checks(slug,schedule,created_ms,source,paused) VALUES('alpha','0 0 * * *',$now,'crontab',1)"
for s in beta gamma delta epsilon; do
	q "INSERT INTO checks(slug,schedule,created_ms,source,paused) VALUES('$s','0 0 * * *',$now,'',1)"
done

# ---- apply a valid file ------------------------------------------------------
vu apply "$T/old.cron" || fail "apply old.cron"
is_installed "$T/old.cron" || fail "installed crontab is not old.cron"
[ "$(nrev)" = 2 ] || fail "expected 2 revisions (snapshot + apply), got $(nrev)"
consistent "apply"
[ "$(q "SELECT schedule FROM checks WHERE slug='alpha'")" = "0 3 * * *" ] || fail "alpha's schedule not taken from the crontab"
[ "$(q "SELECT crontab_line FROM checks WHERE slug='alpha'")" = "0 3 * * * vigil run alpha -- /bin/true" ] || fail "alpha's crontab_line"
[ "$(q "SELECT schedule||crontab_line FROM checks WHERE slug='gamma'")" = "0 0 * * *" ] || fail "a manual check was changed"
ok "apply a valid file; checks follow the crontab"

vu apply "$T/old.cron" && grep -q "no change" "$T/out" || fail "re-apply of the same file"
[ "$(nrev)" = 2 ] || fail "no-change apply recorded a revision"
ok "applying the installed content again changes nothing"

# ---- refused inputs: nothing changes -------------------------------------------
r0=$(nrev)
vu apply "$T/empty.cron"; [ $? = 1 ] || fail "empty file not refused (exit 1)"
grep -q "V104" "$T/out" || fail "empty: the gate did not miss alpha's line"
q "UPDATE checks SET source='' WHERE slug='alpha'"   # now only the guard stands in the way
vu apply "$T/empty.cron"; [ $? = 1 ] || fail "empty file not refused by the guard"
grep -q "no jobs" "$T/out" || fail "empty: no reason given"
vu apply "$T/comments.cron"; [ $? = 1 ] || fail "comment-only file not refused"
grep -q "no jobs" "$T/out" || fail "comment-only: no reason given"
q "UPDATE checks SET source='crontab' WHERE slug='alpha'"
is_installed "$T/old.cron" && [ "$(nrev)" = "$r0" ] || fail "a refused apply changed something"
ok "empty and comment-only crontabs refused, nothing changed"

printf '0 3 * * * vigil run alpha -- /bin/true' >"$T/nonl.cron"
vu apply "$T/nonl.cron"; [ $? = 1 ] || fail "missing final newline not refused"
grep -q "nonl.cron:1:.*no newline" "$T/out" || fail "missing newline: no file:line:col"
is_installed "$T/old.cron" || fail "changed after refusal"
ok "a file without its final newline is refused with file:line:col"

# GATE-DEPENDENT: the gate must reject invalid cron syntax (V301) before
# anything is installed.  Without the gate, crontab itself would refuse
# the file at step 7 and the restore runs — still nothing changes, but the
# V301 assertion below fails so the missing gate cannot go unnoticed.
vu apply "$T/invalid.cron"; [ $? = 1 ] || fail "invalid file not refused"
is_installed "$T/old.cron" || fail "invalid file changed the installed crontab"
if grep -q "V301" "$T/out" && [ "$(nrev)" = "$r0" ]; then
	ok "invalid cron syntax refused by the gate, nothing changed"
else	# the rest still runs; the test fails at the end
	gate_fail="GATE-DEPENDENT: invalid.cron got past the gate (no V301 finding, or revisions were recorded)"
	echo "NOT OK: $gate_fail"
fi

# ---- removals --------------------------------------------------------------------
vu apply "$T/minus1.cron"; [ $? = 1 ] || fail "removal without --allow-removals not refused"
grep -q "1 job(s) would be removed" "$T/out" || fail "removal: no reason"
is_installed "$T/old.cron" || fail "refused removal changed the crontab"
vu apply "$T/minus1.cron" --allow-removals 1 || fail "removal with --allow-removals 1"
is_installed "$T/minus1.cron" || fail "minus1 not installed"
consistent "removal"
vu apply "$T/old.cron" || fail "re-add"
vu apply "$T/minus2.cron" --allow-removals 2; [ $? = 1 ] || fail "removing 2 of 3 (more than half) not refused"
grep -q "more than half" "$T/out" || fail "half guard: no reason"
is_installed "$T/old.cron" || fail "half guard changed the crontab"
vu apply "$T/minus2.cron" --allow-removals 2 --yes || fail "removing 2 of 3 with --yes"
is_installed "$T/minus2.cron" || fail "minus2 not installed"
# an empty crontab leaves crontab-driven alpha without its line (V104):
# make it manual for this step
q "UPDATE checks SET source='' WHERE slug='alpha'"
vu apply "$T/empty.cron" --allow-empty || fail "empty with --allow-empty"
is_installed "$T/empty.cron" || fail "empty not installed"
vu apply "$T/old.cron" || fail "old after empty"
q "UPDATE checks SET source='crontab' WHERE slug='alpha'"
consistent "removals"
ok "removals refused; allowed with --allow-removals (and --yes past half, --allow-empty for none)"

# ---- drift ------------------------------------------------------------------------
{ cat "$T/old.cron"; echo "0 0 * * * /usr/bin/hand-added"; } >"$T/hand.cron"
crontab -u $U "$T/hand.cron"
r0=$(nrev)
vu apply "$T/new.cron"; [ $? = 1 ] || fail "drift not refused"
grep -q "drift" "$T/out" && grep -q "hand-added" "$T/out" || fail "drift not shown"
is_installed "$T/hand.cron" && [ "$(nrev)" = "$r0" ] || fail "drift refusal changed something"
vu apply "$T/new.cron" --yes --allow-removals 1 || fail "drift with --yes"
is_installed "$T/new.cron" || fail "new not installed after --yes"
hand_rev=$(q "SELECT old_rev FROM crontab_journal WHERE step='committed' ORDER BY id DESC LIMIT 1")
[ "$(q "SELECT kind FROM crontab_revisions WHERE id=$hand_rev")" = snapshot ] || fail "hand-edited crontab not recorded"
v show "$hand_rev" && cmp -s "$T/out" "$T/hand.cron" || fail "show of the hand-edited revision"
consistent "drift"
ok "drift detected and shown; --yes records the hand-edited crontab first"

# ---- dry run, diff ---------------------------------------------------------------------
r0=$(nrev)
vu apply "$T/new2.cron" --dry-run || fail "dry run"
grep -q "+ epsilon" "$T/out" || fail "dry run shows no job diff"
is_installed "$T/new.cron" && [ "$(nrev)" = "$r0" ] || fail "dry run changed something"
vu diff "$T/old.cron" || fail "diff"
grep -q '~ alpha: schedule "0 4 \* \* \*" -> "0 3 \* \* \*"' "$T/out" && grep -q -- "- delta" "$T/out" \
	&& grep -q "apply would refuse" "$T/out" || fail "diff output"
is_installed "$T/new.cron" || fail "diff changed something"
ok "dry run and diff show the job-wise diff and change nothing"

# ---- rollback ------------------------------------------------------------------------------
vu apply "$T/new2.cron" || fail "apply new2"
rev_new=$(q "SELECT new_rev FROM crontab_journal WHERE step='committed' ORDER BY id DESC LIMIT 1")
vu rollback --allow-removals 1 || fail "rollback to the previous revision"
is_installed "$T/new.cron" || fail "rollback did not restore new.cron"
[ "$(q "SELECT kind FROM crontab_revisions ORDER BY id DESC LIMIT 1")" = rollback ] || fail "rollback kind"
old_rev=$(q "SELECT min(id) FROM crontab_revisions WHERE kind='apply'")   # old.cron
vu rollback "$rev_new" || fail "rollback to revision $rev_new"
is_installed "$T/new2.cron" || fail "rollback REV"
vu rollback "$old_rev" --allow-removals 2 --force || fail "rollback --force"
is_installed "$T/old.cron" || fail "rollback --force to $old_rev"
[ "$(q "SELECT kind FROM crontab_revisions ORDER BY id DESC LIMIT 1")" = rollback-forced ] || fail "--force not recorded"
v history --user $U && grep -q "rollback-forced.*\[installed\]" "$T/out" || fail "history does not show the forced rollback as installed"
consistent "rollback"
ok "rollback to the previous and to a given revision; --force recorded"

# ---- fault injection: every step fails / is killed -----------------------------------------------
reset_old() {
	v recover >/dev/null 2>&1
	vu apply "$T/old.cron" --allow-removals 9 --yes || fail "reset to old.cron"
	is_installed "$T/old.cron" || fail "reset"
	consistent "reset"
}
old_or_new() { is_installed "$T/old.cron" || is_installed "$T/new.cron" || fail "$1: installed crontab is neither old nor new"; }

for k in 1 2 3 4 5 6 7 8 10; do
	reset_old
	VIGIL_TEST_FAIL_STEP=$k vu apply "$T/new.cron"; rc=$?
	[ $rc = 1 ] || fail "fail at step $k: exit $rc, expected 1"
	is_installed "$T/old.cron" || fail "fail at step $k: old crontab not in place"
	if [ $k -ge 7 ]; then grep -q "step 9: restored" "$T/out" || fail "fail at step $k: no restore reported"; fi
	consistent "fail at step $k"
done
ok "a failure at any step leaves exactly the old crontab, registry consistent"

for k in 7 8; do
	reset_old
	VIGIL_TEST_FAIL_STEP=$k,9 vu apply "$T/new.cron"; [ $? = 1 ] || fail "fail $k+9: exit"
	grep -q "RESTORE FAILED" "$T/out" || fail "fail $k+9: restore failure not reported"
	old_or_new "fail $k+9"
	[ "$(q "SELECT count(*) FROM crontab_journal WHERE done=0")" = 1 ] || fail "fail $k+9: journal not left open"
	v recover || fail "recover after fail $k+9"
	grep -q "unfinished apply.*reverted" "$T/out" || fail "recover after $k+9 did not report the revert"
	is_installed "$T/old.cron" || fail "recover after $k+9: not old"
	consistent "recover after fail $k+9"
done
ok "a failed restore is reported and finished by the next command"

for var in VIGIL_TEST_KILL_STEP VIGIL_TEST_KILL_AFTER; do
	for k in 1 2 3 4 5 6 7 8 10; do
		reset_old
		env $var=$k "$VIGIL" --db "$DB" crontab apply "$T/new.cron" --user $U >"$T/out" 2>&1; rc=$?
		[ $rc = 137 ] || fail "$var=$k: exit $rc, expected SIGKILL (137)"
		old_or_new "$var=$k"
		# the next command: alternately `recover` and another apply
		if [ $((k % 2)) = 0 ]; then
			v recover || fail "$var=$k: recover"
		else
			vu apply "$T/new.cron" || fail "$var=$k: next apply"
			is_installed "$T/new.cron" || fail "$var=$k: next apply did not install new"
		fi
		open_before=$(grep -c "unfinished apply" "$T/out")
		case "$var:$k" in   # a journal row was open when the process died
		*STEP:7|*STEP:8|*STEP:10|*AFTER:6|*AFTER:7|*AFTER:8)
			[ "$open_before" -ge 1 ] || fail "$var=$k: the next command did not report the unfinished apply";;
		esac
		old_or_new "$var=$k after recovery"
		consistent "$var=$k"
	done
done
# `vigil status` (and `vigil serve`) finish an interrupted apply before anything else
reset_old
env VIGIL_TEST_KILL_STEP=8 "$VIGIL" --db "$DB" crontab apply "$T/new.cron" --user $U >"$T/out" 2>&1
[ $? = 137 ] || fail "status recovery: apply was not killed"
"$VIGIL" --db "$DB" status >"$T/out" 2>&1 || fail "status recovery: vigil status failed"
grep -q "unfinished apply" "$T/out" || fail "status recovery: vigil status did not report the unfinished apply"
old_or_new "status recovery"
consistent "status recovery"
v recover || fail "status recovery: recover"
grep -q "unfinished apply" "$T/out" && fail "status recovery: the apply was still open after vigil status"
ok "vigil status finishes an interrupted apply"

for var in VIGIL_TEST_KILL_STEP VIGIL_TEST_KILL_AFTER; do
	reset_old
	env VIGIL_TEST_FAIL_STEP=8 $var=9 "$VIGIL" --db "$DB" crontab apply "$T/new.cron" --user $U >"$T/out" 2>&1
	[ $? = 137 ] || fail "killed in restore ($var): exit"
	old_or_new "killed in restore ($var)"
	v recover || fail "recover after kill in restore"
	grep -q "reverted" "$T/out" || fail "kill in restore: not reverted"
	is_installed "$T/old.cron" || fail "kill in restore: not old"
	consistent "killed in restore ($var)"
done
ok "kill -9 at every step: exactly old or new, and the next command finishes or reverts"

# ---- a crontab that lies -------------------------------------------------------------------------------
mkdir -p "$T/bin"
cat >"$T/bin/crontab" <<EOF
#!/bin/bash
# answers 0 but installs something else; lies once unless LIE_ALWAYS is set
last=\${@: -1}
if [ "\$last" != -l ] && [ -f "\$last" ] && { [ -n "\${LIE_ALWAYS:-}" ] || [ ! -e "$T/lied" ]; }; then
	touch "$T/lied"
	{ cat "\$last"; echo "* * * * * /tmp/not-what-you-meant"; } >"$T/lie.cron"
	/usr/bin/crontab "\${@:1:\$#-1}" "$T/lie.cron"
	exit 0
fi
exec /usr/bin/crontab "\$@"
EOF
chmod +x "$T/bin/crontab"
reset_old
PATH="$T/bin:$PATH" vu apply "$T/new.cron"; [ $? = 1 ] || fail "lying crontab: exit"
grep -q "did not install what it was given" "$T/out" && grep -q "step 9: restored" "$T/out" || fail "lying crontab not caught"
is_installed "$T/old.cron" || fail "lying crontab: old not restored"
consistent "lying crontab"
rm -f "$T/lied"
PATH="$T/bin:$PATH" LIE_ALWAYS=1 vu apply "$T/new.cron"; [ $? = 1 ] || fail "always-lying crontab: exit"
grep -q "RESTORE FAILED" "$T/out" || fail "always-lying crontab: failed restore not reported"
v recover || fail "recover after the always-lying crontab"
is_installed "$T/old.cron" || fail "always-lying: not old after recovery"
consistent "always-lying crontab"
ok "a crontab that answers 0 but installs something else is caught and the old one restored"

# ---- a crontab that prints Vixie's header on -l (as non-Debian Vixie crons do)
mkdir -p "$T/hbin"
cat >"$T/hbin/crontab" <<EOF
#!/bin/bash
last=\${@: -1}
if [ "\$last" = -l ]; then
	out=\$(/usr/bin/crontab "\$@") || exit \$?
	if [ -s "$T/hdr.name" ]; then
		echo "# DO NOT EDIT THIS FILE - edit the master and reinstall."
		echo "# (\$(cat "$T/hdr.name") installed on \$(date))"
		echo '# (Cron version -- \$Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp \$)'
	fi
	[ -n "\$out" ] && printf '%s\n' "\$out"
	exit 0
fi
echo "\$last" >"$T/hdr.name"
exec /usr/bin/crontab "\$@"
EOF
chmod +x "$T/hbin/crontab"
reset_old
PATH="$T/hbin:$PATH" vu apply "$T/new.cron" || fail "header-printing crontab: apply new"
PATH="$T/hbin:$PATH" vu apply "$T/new2.cron" || fail "header-printing crontab: second apply (drift?)"
grep -q "vigil-crontab-$U-" "$T/hdr.name" || fail "the wrapper saw no vigil install"
is_installed "$T/new2.cron" || fail "header-printing crontab: not new2"
consistent "header-printing crontab"
ok "a crontab that shows the header of vigil's install on -l is recognised (verify and drift)"

# ---- two applies at once ---------------------------------------------------------------------------------
reset_old
mkfifo "$T/hold"
exec 3<>"$T/hold"         # A blocks reading it until fd 3 is closed
VIGIL_TEST_HOLD_STEP=6 VIGIL_TEST_HOLD_FIFO="$T/hold" \
	timeout -k 5 60 "$VIGIL" --db "$DB" crontab apply "$T/new.cron" --user $U >"$T/a.out" 2>&1 3>&- &
pa=$!
wait_for "$T/a.out" "holding at step 6" || fail "A did not reach step 6"   # A holds the lock from its start
"$VIGIL" --db "$DB" crontab apply "$T/new2.cron" --user $U --no-wait >"$T/c.out" 2>&1 3>&-
[ $? = 1 ] && grep -q "another apply for $U is running" "$T/c.out" || { cat "$T/c.out"; fail "--no-wait did not fail cleanly"; }
timeout -k 5 60 "$VIGIL" --db "$DB" crontab apply "$T/new2.cron" --user $U >"$T/b.out" 2>&1 3>&- &   # B must not hold the FIFO open
pb=$!
wait_for "$T/b.out" "waiting for the lock" || fail "B did not wait for the lock"
is_installed "$T/old.cron" || fail "B changed the crontab while A held the lock"
exec 3>&-                 # let A go on
wait $pa; ra=$?
wait $pb; rb=$?
[ $ra = 0 ] || { cat "$T/a.out"; fail "A: exit $ra"; }
[ $rb = 0 ] || { cat "$T/b.out"; fail "B: exit $rb"; }
is_installed "$T/new2.cron" || fail "final crontab is not B's"
# serial, never interleaved: B's old revision is exactly A's new one
read -r a_new b_old <<<"$(q "SELECT (SELECT new_rev FROM crontab_journal ORDER BY id DESC LIMIT 1 OFFSET 1), (SELECT old_rev FROM crontab_journal ORDER BY id DESC LIMIT 1)" | tr '|' ' ')"
[ "$(q "SELECT sha256 FROM crontab_revisions WHERE id=$a_new")" = "$(q "SELECT sha256 FROM crontab_revisions WHERE id=$b_old")" ] \
	|| fail "B did not start from A's result"
consistent "concurrent"
ok "two concurrent applies run one after the other; --no-wait fails cleanly"

[ -n "$gate_fail" ] && { echo "FAIL: $gate_fail"; exit 1; }
# ---- SIGTERM in the middle: the apply finishes first -----------------------------------------------------
reset_old
rm -f "$T/term.out"   # wait_for must not see an older file
exec 3<>"$T/hold"
VIGIL_TEST_HOLD_STEP=6 VIGIL_TEST_HOLD_FIFO="$T/hold" \
	timeout -k 5 60 "$VIGIL" --db "$DB" crontab apply "$T/new.cron" --user $U >"$T/term.out" 2>&1 3>&- &
pa=$!
wait_for "$T/term.out" "holding at step 6" || fail "A did not reach step 6"   # signals are held from step 5 on
pv=$(pgrep -P $pa -f "crontab apply")
[ -n "$pv" ] || fail "no vigil process under timeout"
kill -TERM "$pv"
exec 3>&-
wait $pa; ra=$?
[ $ra = 143 ] || { cat "$T/term.out"; fail "SIGTERM: exit $ra, expected 143 after finishing"; }
grep -q "applied: revision" "$T/term.out" || { cat "$T/term.out"; fail "SIGTERM cut the apply short"; }
is_installed "$T/new.cron" || fail "SIGTERM: new not installed"
consistent "SIGTERM"
ok "SIGTERM during an apply takes effect only after it finished"

echo "all $n_ok apply tests passed"
exit 0
