#!/bin/bash
# vigil's crontab parser against Debian's own crontab(1): every file below is
# offered to both.  "ok" files must pass both; "bad" files must be refused by
# both; "strict" files are accepted by Debian but refused by vigil, with a
# message that says Debian would accept them.  crontab(1) runs for a
# dedicated test user inside a private mount namespace whose spool is an
# empty tmpfs, so no real crontab is read or written.
set -u
bin=${VIGIL_BIN:-./build/test/vigil}
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (test user, mount namespace)"
command -v crontab >/dev/null || skip "Debian's crontab(1) is not installed"
unshare -m --propagation private true 2>/dev/null || skip "cannot create a mount namespace here"
getent group crontab >/dev/null || skip "no crontab group"
[ -d /var/spool/cron/crontabs ] || skip "no /var/spool/cron/crontabs"

user=vgctab$$
work=$(mktemp -d /tmp/vigil-ctab.XXXXXX)
trap 'userdel "$user" 2>/dev/null; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM HUP
useradd -M -d /nonexistent -s /usr/sbin/nologin "$user" || skip "useradd failed"

long() { head -c "$1" /dev/zero | tr '\0' "$2"; }
lines() { local i; for ((i = 0; i < $1; i++)); do echo '#'; done; }

cases=(
	ok "0 0 * * * true"$'\n'
	ok "*/5 * * * * true"$'\n'
	ok "0 0 * * mon-fri true"$'\n'
	ok "0 0 * jan-mar/2 * true"$'\n'
	ok "0 0 * * MON,wed true"$'\n'
	ok "0 0 * * sun-7 true"$'\n'
	ok "0 0 * * 00007 true"$'\n'
	ok "0 0 1,15 * 5 true"$'\n'
	ok "0 0 29 2 * true"$'\n'
	ok "1-5,*/20 8-18/2 * * 1-5 true"$'\n'
	ok "@daily true"$'\n'
	ok "@reboot true"$'\n'
	ok "@midnight"$'\t'"true"$'\n'
	ok "@annually true"$'\n'
	ok "@hourly true"$'\n'
	ok 'FOO=""'$'\n'"0 0 * * * true"$'\n'
	ok "A = b c"$'\n'
	ok "'A B'=c"$'\n'
	ok "# a last comment line without newline"
	ok $'\n\n  \t0 0 * * * true\n# x\n'
	ok "0 22 * * 1-5 mail -s hi joe%Joe,%%Where are your kids?%"$'\n'
	ok "0 0 * * * $(long 998 a)"$'\n'
	ok "$(lines 10000)"$'\n'
	ok "0 0 * * * true"$'\n'"   "
	ok "$(long 998 0)5 0 * * * true"$'\n'
	ok "=nameless"$'\n'
	bad "60 * * * * true"$'\n'
	bad "* 24 * * * true"$'\n'
	bad "0 0 0 * * true"$'\n'
	bad "0 0 32 * * true"$'\n'
	bad "0 0 * 0 * true"$'\n'
	bad "0 0 * 13 * true"$'\n'
	bad "0 0 * * 8 true"$'\n'
	bad "0 0 * * 7-8 true"$'\n'
	bad "mon-fri * * * * true"$'\n'
	bad "5/2 * * * * true"$'\n'
	bad "*/0 * * * * true"$'\n'
	bad "1-70/100 * * * * true"$'\n'
	bad "0 0 * * Monday true"$'\n'
	bad "0 0 * * 0x5 true"$'\n'
	bad "0 0 * * */mon true"$'\n'
	bad "-5 0 * * * true"$'\n'
	bad "5,,6 0 * * * true"$'\n'
	bad "0 0 * * true"$'\n'
	bad "@DAILY true"$'\n'
	bad "@weekly,x true"$'\n'
	bad "@every true"$'\n'
	bad "FOO="$'\n'
	bad "FOO=\"bar"$'\n'
	bad "0 0 * * * true"
	bad "A=1"
	bad "0 0 * * * $(long 999 a)"$'\n'
	bad "$(lines 10001)"$'\n'
	bad "$(long 999 0)5 0 * * * true"$'\n'
	bad "0 0 * * * true"$'\n\r\n'
	bad $'\xef\xbb\xbf'"# comment"$'\n'
	bad $'\xef\xbb\xbf'"0 0 * * * true"$'\n'
	strict "5; * * * * true"$'\n'
	strict "*/5/3 * * * * true"$'\n'
	strict "1#2 * * * * true"$'\n'
	strict "*5 * * * * true"$'\n'
	strict "5-1 * * * * true"$'\n'
	strict "0 0 * * fri-mon true"$'\n'
	strict "*/60 * * * * true"$'\n'
	strict "*/100 * * * * true"$'\n'
	strict "0 0 30 2 * true"$'\n'
	strict "0 0 31 4,6 * true"$'\n'
	strict "0 0 * * *"$'\n'
	strict "@daily"$'\n'
	strict "0 0 * * * true"$'\r\n'
	strict "A=$(long 1100 v)"$'\n'
	strict $'\xef\xbb\xbf'"A=1"$'\n'
)

i=0
while [ $i -lt ${#cases[@]} ]; do
	printf '%s' "${cases[$((i + 1))]}" >"$work/case$((i / 2))"
	echo "${cases[$i]}" >"$work/case$((i / 2)).want"
	i=$((i + 2))
done
n=$((i / 2))

# Debian's verdicts, from inside a namespace with an empty tmpfs spool
unshare -m --propagation private bash -c '
	mount -t tmpfs -o mode=1730 tmpfs /var/spool/cron/crontabs || exit 1
	chgrp crontab /var/spool/cron/crontabs
	for ((k = 0; k < $3; k++)); do
		crontab -u "$1" "$2/case$k" >"$2/case$k.debian" 2>&1
		echo $? >"$2/case$k.debian_rc"
	done
' _ "$user" "$work" "$n" || skip "could not run crontab(1) in a namespace"

fail=0
for ((k = 0; k < n; k++)); do
	want=$(cat "$work/case$k.want")
	drc=$(cat "$work/case$k.debian_rc")
	out=$("$bin" crontab check "$work/case$k" 2>&1)
	vrc=$?
	show=$(head -c 60 "$work/case$k" | tr '\n\r\t' '|~>' | LC_ALL=C sed 's/[^[:print:]]/?/g')
	case $want in
	ok) exp_d=0; exp_v=0 ;;
	bad) exp_d=1; exp_v=1 ;;
	strict) exp_d=0; exp_v=1 ;;
	esac
	got_d=$([ "$drc" -eq 0 ] && echo 0 || echo 1)
	if [ "$got_d" != "$exp_d" ]; then
		echo "FAIL [$want] '$show': Debian's crontab $([ "$got_d" = 0 ] && echo accepts || echo refuses) it: $(head -1 "$work/case$k.debian")"
		fail=1
	elif [ "$vrc" != "$exp_v" ]; then
		echo "FAIL [$want] '$show': vigil crontab check exit $vrc, want $exp_v: $out"
		fail=1
	elif [ "$want" = strict ] && ! grep -q "Debian" <<<"$out"; then
		echo "FAIL [$want] '$show': message does not say what Debian does: $out"
		fail=1
	else
		echo "ok   [$want] '$show'${out:+ -> ${out#*: error: }}" | cut -c1-200
	fi
done
[ $fail -eq 0 ]
