#!/bin/sh
# `attend op` from the command line: one good run per subcommand, then hostile
# input (missing tensor, wrong shape or dtype, bad --heads, truncated or corrupt
# safetensors, missing file, bad flags), each of which must fail with the right
# exit code (1 runtime, 2 usage), never crash, and say what is wrong on stderr.
# Usage: sh tests/test_cli_op.sh path/to/attend   (from the repository root;
# scratch files go to $ATTEND_TMP, default /tmp). Needs no Python: the broken
# files are committed under tests/data/ or cut from the fixtures here.

BIN=$1
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "usage: sh tests/test_cli_op.sh path/to/attend" >&2
    exit 2
fi
T=${ATTEND_TMP:-/tmp}/cli_op.$$
mkdir -p "$T" || exit 1
trap 'rm -rf "$T"' EXIT

FX=tests/fixtures
MHA=$FX/mha_self            # E = 16, H = 4
ENC=$FX/encoder_pre_gelu    # E = 16, H = 4, GELU, norm_first
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect NAME CODES PATTERNS ARGS...
#   runs $BIN ARGS; the exit code must be one of CODES (space-separated) and
#   stderr must contain every ';'-separated fixed string of PATTERNS.
expect() {
    name=$1 codes=$2 patterns=$3
    shift 3
    "$BIN" "$@" >"$T/stdout" 2>"$T/stderr"
    rc=$?
    if [ $rc -ge 128 ]; then
        bad "$name: crashed (exit $rc)"; sed 's/^/    /' "$T/stderr" >&2; return
    fi
    found=0
    for c in $codes; do [ "$rc" = "$c" ] && found=1; done
    if [ $found = 1 ]; then ok; else
        bad "$name: exit $rc, expected $codes"; sed 's/^/    /' "$T/stderr" >&2
    fi
    if [ "$codes" != 0 ]; then
        if grep -q '^attend: ' "$T/stderr"; then ok; else
            bad "$name: no 'attend: <message>' line on stderr"; sed 's/^/    /' "$T/stderr" >&2
        fi
    fi
    old_ifs=$IFS
    IFS=';'
    for p in $patterns; do
        if grep -F -q -- "$p" "$T/stderr"; then ok; else
            bad "$name: stderr does not mention '$p'"; sed 's/^/    /' "$T/stderr" >&2
        fi
    done
    IFS=$old_ifs
}

# exists NAME FILE: FILE exists and is not empty.
exists() {
    if [ -s "$2" ]; then ok; else bad "$1: $2 was not written"; fi
}

# ---- good runs ----
expect "mha --causal" 0 "" op mha --weights $FX/mha_causal/weights.safetensors \
    --input $FX/mha_causal/input.safetensors --out "$T/mha.safetensors" --heads 4 --causal
exists "mha --causal" "$T/mha.safetensors"
expect "encoder-layer gelu norm-first" 0 "" op encoder-layer --weights $ENC/weights.safetensors \
    --input $ENC/input.safetensors --out "$T/enc.safetensors" --heads 4 \
    --activation gelu --norm-first --eps 1e-5
exists "encoder-layer gelu norm-first" "$T/enc.safetensors"
expect "encoder-layer defaults" 0 "" op encoder-layer --weights $FX/encoder_no_mask/weights.safetensors \
    --input $FX/encoder_no_mask/input.safetensors --out "$T/enc2.safetensors" --heads 2
exists "encoder-layer defaults" "$T/enc2.safetensors"

# ---- bad tensors (files from tests/gen_fixtures.py) ----
W=$MHA/weights.safetensors
expect "missing query" 1 "query" op mha --weights $W --input tests/data/bad_no_query.safetensors \
    --out "$T/x.safetensors" --heads 4
expect "query of wrong shape" 1 "query" op mha --weights $W \
    --input tests/data/bad_query_shape.safetensors --out "$T/x.safetensors" --heads 4
expect "query of rank 2" 1 "query" op mha --weights $W \
    --input tests/data/bad_query_rank.safetensors --out "$T/x.safetensors" --heads 4
expect "query stored as F64" 1 "query;F32" op mha --weights $W \
    --input tests/data/bad_query_f64.safetensors --out "$T/x.safetensors" --heads 4
expect "E not divisible by H" "1 2" "divisible" op mha --weights $W \
    --input $MHA/input.safetensors --out "$T/x.safetensors" --heads 5
expect "encoder E not divisible by H" "1 2" "divisible" op encoder-layer \
    --weights $ENC/weights.safetensors --input $ENC/input.safetensors \
    --out "$T/x.safetensors" --heads 3
expect "missing src" 1 "src" op encoder-layer --weights $ENC/weights.safetensors \
    --input $MHA/input.safetensors --out "$T/x.safetensors" --heads 4
expect "encoder weights given to mha" 1 "encoder_pre_gelu/weights.safetensors" op mha --weights $ENC/weights.safetensors \
    --input $MHA/input.safetensors --out "$T/x.safetensors" --heads 4

# ---- broken files ----
size=$(wc -c <"$W")
head -c $((size / 2)) "$W" >"$T/trunc_weights.safetensors"
expect "truncated weights" 1 "trunc_weights.safetensors" op mha \
    --weights "$T/trunc_weights.safetensors" --input $MHA/input.safetensors \
    --out "$T/x.safetensors" --heads 4

head -c 6 "$W" >"$T/tiny_weights.safetensors"
expect "file shorter than 8 bytes" 1 "tiny_weights.safetensors" op mha \
    --weights "$T/tiny_weights.safetensors" --input $MHA/input.safetensors \
    --out "$T/x.safetensors" --heads 4

isize=$(wc -c <"$MHA/input.safetensors")
head -c $((isize - 3)) "$MHA/input.safetensors" >"$T/trunc_input.safetensors"
expect "truncated input" 1 "trunc_input.safetensors" op mha --weights $W \
    --input "$T/trunc_input.safetensors" --out "$T/x.safetensors" --heads 4

cp "$W" "$T/corrupt_weights.safetensors"
printf '\377\376garbage\001\002\003\004' |
    dd of="$T/corrupt_weights.safetensors" bs=1 seek=8 count=13 conv=notrunc 2>/dev/null
expect "corrupt header" 1 "corrupt_weights.safetensors" op mha \
    --weights "$T/corrupt_weights.safetensors" --input $MHA/input.safetensors \
    --out "$T/x.safetensors" --heads 4

# header length field far larger than the file
cp "$W" "$T/hugelen_weights.safetensors"
printf '\377\377\377\377\377\377\377\177' |
    dd of="$T/hugelen_weights.safetensors" bs=1 seek=0 count=8 conv=notrunc 2>/dev/null
expect "huge header length" 1 "hugelen_weights.safetensors" op mha \
    --weights "$T/hugelen_weights.safetensors" --input $MHA/input.safetensors \
    --out "$T/x.safetensors" --heads 4

cp "$W" "$T/trailing_weights.safetensors"
printf 'junk' >>"$T/trailing_weights.safetensors"
expect "trailing bytes" 1 "trailing_weights.safetensors" op mha \
    --weights "$T/trailing_weights.safetensors" --input $MHA/input.safetensors \
    --out "$T/x.safetensors" --heads 4

expect "nonexistent weights" 1 "no_such_file.safetensors" op mha \
    --weights "$T/no_such_file.safetensors" --input $MHA/input.safetensors \
    --out "$T/x.safetensors" --heads 4
expect "output directory missing" 1 "" op mha --weights $W --input $MHA/input.safetensors \
    --out "$T/no/such/dir/x.safetensors" --heads 4

# ---- usage errors ----
expect "unknown flag" 2 "--frobnicate" op mha --weights $W --input $MHA/input.safetensors \
    --out "$T/x.safetensors" --heads 4 --frobnicate
expect "missing --heads" 2 "heads" op mha --weights $W --input $MHA/input.safetensors \
    --out "$T/x.safetensors"
expect "--heads not a number" 2 "heads" op mha --weights $W --input $MHA/input.safetensors \
    --out "$T/x.safetensors" --heads four
expect "--heads 0" "1 2" "heads" op mha --weights $W --input $MHA/input.safetensors \
    --out "$T/x.safetensors" --heads 0
expect "flag without value" 2 "" op mha --weights $W --input $MHA/input.safetensors \
    --out "$T/x.safetensors" --heads
expect "bad --activation" 2 "activation" op encoder-layer --weights $ENC/weights.safetensors \
    --input $ENC/input.safetensors --out "$T/x.safetensors" --heads 4 --activation tanh
expect "unknown op" 2 "" op frobnicate --weights $W

echo "test_cli_op: $pass passed, $fail failed"
[ $fail -eq 0 ]
