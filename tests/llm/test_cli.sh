#!/bin/bash
# tests/llm/test_cli.sh — `vigil llm` end to end (sanitized binary): mkmodel,
# info, run (prompt and chat, seeded sampling reproducible), tokenize, bench,
# and the exit codes and messages of bad input.
set -u
V=${VIGIL_BIN:?}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$V" llm mkmodel --arch qwen3 --layers 1 --embd 64 --heads 2 --kv-heads 1 --head-dim 64 --ff 64 \
	--type q8_0 --untied --out "$t/m.gguf" || fail "mkmodel"
"$V" llm info "$t/m.gguf" >"$t/info" || fail "info"
grep -q '^architecture:  qwen3' "$t/info" || fail "info: $(cat "$t/info")"
grep -q 'heads:         2 (kv 1, head_dim 64)' "$t/info" || fail "info heads"
grep -q 'chat template: chatml' "$t/info" || fail "info template"

a=$("$V" llm run --model "$t/m.gguf" --prompt "hello there" -n 12 --temp 0.9 --seed 5 --threads 2) || fail "run"
b=$("$V" llm run --model "$t/m.gguf" --prompt "hello there" -n 12 --temp 0.9 --seed 5 --threads 1) || fail "run 2"
[ "$a" = "$b" ] || fail "same seed, different text: [$a] [$b]"
"$V" llm run --model "$t/m.gguf" --chat "hi" --system "Be brief." -n 4 --stats 2>"$t/stats" >/dev/null || fail "chat"
grep -q 'tok/s' "$t/stats" || fail "--stats: $(cat "$t/stats")"

ids=$("$V" llm tokenize --model "$t/m.gguf" --text "<|im_start|>user") || fail "tokenize"
first=${ids%% *}
plain=$("$V" llm tokenize --model "$t/m.gguf" --text "<|im_start|>user" --no-special) || fail "tokenize 2"
[ "$ids" != "$plain" ] || fail "--no-special changed nothing"
[ "$first" -gt 255 ] || fail "special token not matched: $ids"

"$V" llm bench --model "$t/m.gguf" -p 16 -n 4 --threads 2 | grep -q 'decode_tok_s=' || fail "bench"

# bad input: usage errors exit 2, unusable files exit 1 with the file and field named
"$V" llm run --prompt x >/dev/null 2>&1; [ $? -eq 2 ] || fail "run without --model"
"$V" llm frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown sub-command"
"$V" llm mkmodel --arch gpt2 --out "$t/x.gguf" >/dev/null 2>&1; [ $? -eq 1 ] || fail "mkmodel bad arch"
"$V" llm run --model "$t/m.gguf" --prompt x --temp nope >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --temp"
"$V" llm info "$t/none.gguf" 2>"$t/err"; [ $? -eq 1 ] || fail "missing file"
grep -q "none.gguf" "$t/err" || fail "missing file message: $(cat "$t/err")"
head -c 200 "$t/m.gguf" >"$t/cut.gguf"
"$V" llm info "$t/cut.gguf" 2>"$t/err"; [ $? -eq 1 ] || fail "truncated file"
grep -q "cut.gguf: offset [0-9]*: " "$t/err" || fail "truncated file message: $(cat "$t/err")"
# --backend auto: on the CPU only with a line saying why (no GPU, or a build without CUDA)
"$V" llm run --model "$t/m.gguf" --prompt x -n 2 --backend auto --stats >/dev/null 2>"$t/auto" || fail "--backend auto"
if grep -q 'backend cpu' "$t/auto"; then
	grep -q 'cuda backend: .*; running on the CPU' "$t/auto" || fail "auto on the CPU without a reason: $(cat "$t/auto")"
else
	grep -q 'backend cuda' "$t/auto" || fail "--backend auto: no backend named: $(cat "$t/auto")"
	! grep -q 'running on the CPU' "$t/auto" || fail "auto on CUDA with a fallback note: $(cat "$t/auto")"
fi
# --backend cpu: never a note
"$V" llm run --model "$t/m.gguf" --prompt x -n 2 --backend cpu 2>"$t/cpu" >/dev/null || fail "--backend cpu"
! grep -q 'CUDA' "$t/cpu" || fail "--backend cpu printed: $(cat "$t/cpu")"
# --backend cuda: runs on a GPU box, else fails cleanly (1) with a reason
"$V" llm run --model "$t/m.gguf" --prompt x -n 2 --backend cuda >/dev/null 2>"$t/err"
rc=$?
[ $rc -eq 0 ] || { [ $rc -eq 1 ] && grep -q "cuda" "$t/err"; } || fail "--backend cuda: rc $rc $(cat "$t/err")"
echo "ok"
