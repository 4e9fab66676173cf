#!/bin/sh
# examples/classify.c against `attend predict`: on a tiny model trained here,
# the example must print exactly what `attend predict` prints (top label and
# probability per line, an empty line for a line without tokens), and fail
# cleanly on a missing model or without arguments.
# Usage: sh examples/test_example.sh path/to/classify_example path/to/attend
EX=$1
BIN=$2
if [ ! -x "$EX" ] || [ ! -x "$BIN" ]; then
    echo "usage: sh examples/test_example.sh path/to/classify_example path/to/attend" >&2
    exit 2
fi
T=${ATTEND_TMP:-/tmp}/example.$$
mkdir -p "$T" || exit 1
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# two classes with their own words, 30 lines each
awk 'BEGIN {
    split("cat dog horse cow sheep goat lion tiger", a, " ")
    split("bread cheese apple rice soup pasta honey salad", b, " ")
    x = 7
    for (i = 0; i < 60; i++) {
        line = ""
        for (j = 0; j < 3 + i % 4; j++) {
            x = (x * 75 + 74) % 65537
            line = line (j ? " " : "") (i < 30 ? a[1 + int(x / 7) % 8] : b[1 + int(x / 7) % 8])
        }
        print (i < 30 ? "animal" : "food") "\t" line
    }
}' >"$T/data.tsv"
"$BIN" train --data "$T/data.tsv" --out "$T/model.safetensors" --epochs 10 --lr 0.01 --d-model 16 \
    --heads 2 --layers 1 --d-ff 32 --batch 8 --threads 1 >"$T/train.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ -s "$T/model.safetensors" ]; then ok; else bad "attend train: exit $rc"; cat "$T/train.out" >&2; fi

printf 'cat dog\n\nbread soup honey\n   \nlion tiger sheep cow\nunknown words only\napple\n' >"$T/in.txt"
"$BIN" predict --model "$T/model.safetensors" "$T/in.txt" >"$T/predict.out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ]; then ok; else bad "attend predict: exit $rc"; cat "$T/err" >&2; fi
"$EX" "$T/model.safetensors" <"$T/in.txt" >"$T/example.out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ]; then ok; else bad "classify_example: exit $rc"; cat "$T/err" >&2; fi
if [ "$(wc -l <"$T/example.out")" -eq 7 ]; then ok; else bad "classify_example: not one line per input line"; fi
if cmp -s "$T/predict.out" "$T/example.out"; then ok; else
    bad "classify_example and attend predict disagree"
    diff "$T/predict.out" "$T/example.out" >&2
fi
if [ "$(sed -n 1p "$T/example.out" | cut -d ' ' -f 1)" = animal ] &&
    [ "$(sed -n 3p "$T/example.out" | cut -d ' ' -f 1)" = food ]; then ok; else
    bad "classify_example: unexpected labels"; cat "$T/example.out" >&2
fi

"$EX" "$T/missing.safetensors" </dev/null >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q 'missing.safetensors' "$T/err"; then ok; else bad "missing model: exit $rc"; cat "$T/err" >&2; fi
"$EX" </dev/null >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 2 ] && grep -q 'usage' "$T/err"; then ok; else bad "no arguments: exit $rc"; fi

echo "example_classify: $pass passed, $fail failed"
[ $fail -eq 0 ]
