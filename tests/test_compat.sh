#!/bin/sh
# Model files written by earlier releases keep loading and give the same
# answers: tests/data/release-0.1.0/ holds a model trained by attend 0.1.0
# and what that release's `attend predict` printed for texts.txt.
# Usage: sh tests/test_compat.sh path/to/attend
BIN=$1
[ -x "$BIN" ] || { echo "usage: sh tests/test_compat.sh path/to/attend" >&2; exit 2; }
D=tests/data/release-0.1.0
T=${ATTEND_TMP:-/tmp}/test_compat.$$
mkdir -p "$T" || exit 1
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

"$BIN" predict --model "$D/model.safetensors" -k 3 --json "$D/texts.txt" >"$T/got" 2>"$T/err" && ok ||
    bad "predict on the 0.1.0 model: $(cat "$T/err")"
cmp -s "$T/got" "$D/predict.jsonl" && ok || { bad "predictions differ from 0.1.0's"; diff "$D/predict.jsonl" "$T/got"; }
"$BIN" info --model "$D/model.safetensors" >"$T/info" 2>&1 && ok || bad "info on the 0.1.0 model: $(cat "$T/info")"
grep -q '^arch        classifier' "$T/info" && grep -q 'pool cls' "$T/info" && ok || bad "info: $(head -4 "$T/info")"
"$BIN" eval --model "$D/model.safetensors" --data "$D/data.tsv" --json >"$T/eval" 2>&1 && ok || bad "eval: $(cat "$T/eval")"
echo "test_compat: $pass passed, $fail failed"
[ $fail -eq 0 ]
