#!/bin/sh
# Smoke test of the benchmark harness (not a timing test: nothing here looks
# at a time). Runs `bench/run.sh BUILD --quick` with attend alone and one
# thread, and checks that it exits 0, prints the table header and a row for
# each workload group in both precisions, and writes results-quick.md.
# Usage: sh tests/test_bench_smoke.sh path/to/build/attend   (from the repository root)
BIN=$1
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "usage: sh tests/test_bench_smoke.sh path/to/build/attend" >&2
    exit 2
fi
BUILD=$(dirname "$BIN")
if [ ! -x "$BUILD/bench/attend_bench" ]; then
    echo "FAIL: $BUILD/bench/attend_bench was not built" >&2
    exit 1
fi
T=${ATTEND_TMP:-/tmp}/bench_smoke.$$
mkdir -p "$T" || exit 1
trap 'rm -rf "$T"' EXIT

ATTEND_BENCH_NO_TORCH=1 ATTEND_BENCH_THREADS=1 ATTEND_BENCH_OUT="$T" ATTEND_TMP="$T" \
    sh bench/run.sh "$BUILD" --quick > "$T/out.txt" 2> "$T/err.txt"
rc=$?
fail=0
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
[ $rc -eq 0 ] || bad "bench/run.sh --quick exited $rc"
grep -q '^| workload | threads | attend |' "$T/out.txt" || bad "no table header"
grep -q '^| op | threads | fused |' "$T/out.txt" || bad "no attention table header"
for w in sgemm_4096x64x192 train_step_ff256 train_step_ff2048 infer_batch latency_p50 latency_p99 wordnet_epoch fwd_T32 fwdbwd_T64; do
    grep -q "^| $w" "$T/out.txt" || bad "no row for $w"
done
for w in sgemm_4096x64x192 train_step_ff256 train_step_ff2048 infer_batch4_ff256 latency_p50_ff256 wordnet_epoch; do
    grep -q "^| ${w}_bf16 " "$T/out.txt" || bad "no row for ${w}_bf16"
done
grep -q '^bf16 rows against fp32' "$T/out.txt" || bad "no bf16 table"
grep -q 'attn_fwd_T32_bf16' "$T/results-quick.tsv" && bad "attention ran in bf16"
grep -q 'PyTorch not run' "$T/out.txt" || bad "the missing peer is not reported"
grep -q 'failed' "$T/out.txt" && bad "a workload failed"
[ -s "$T/results-quick.md" ] || bad "results-quick.md not written"
if [ $fail -ne 0 ]; then
    echo "--- stdout" >&2; cat "$T/out.txt" >&2
    echo "--- stderr" >&2; cat "$T/err.txt" >&2
    exit 1
fi
echo "bench smoke: ok"
