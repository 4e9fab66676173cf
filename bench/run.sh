#!/bin/sh
# attend beside PyTorch on the same machine, same workloads, same threads.
#
#   sh bench/run.sh BUILD_DIR [--quick]        (what `make bench` runs)
#
# Runs BUILD_DIR/bench/attend_bench and bench/torch_bench.py for each thread
# count (default "1 2"), workload group by workload group so that a change of
# load on a shared machine hits both alike, then prints the machine and one
# table: workload | threads | attend | PyTorch | PyTorch time / attend time,
# GFLOP/s of each (matrix-product FLOPs counted analytically), and the 1 -> N
# thread speedups. The table also goes to BUILD_DIR/bench/results.md and the
# raw lines to results.tsv (results-quick.* with --quick). Nothing here is a
# stored figure: every number comes from this run.
#
# --quick   tiny sizes, a few seconds: the CI smoke test (tests/test_bench_smoke.sh)
# Environment:
#   ATTEND_BENCH_NO_TORCH=1      run attend alone
#   ATTEND_BENCH_PYTHON=python   the Python with torch (default: /usr/bin/python3,
#                                then python3, whichever imports torch)
#   ATTEND_BENCH_THREADS="1 2"   thread counts
#   ATTEND_BENCH_PRECISIONS="fp32 bf16"  matmul precisions (bf16: attend's
#                                --precision bf16 beside PyTorch's autocast/bf16
#                                model; rows *_bf16; attention runs in fp32 only)
#   ATTEND_BENCH_ONLY=train,attn workload groups (sgemm train infer latency wordnet attn)
#   ATTEND_BENCH_TORCH_BLAS_THREADS=N  OpenBLAS threads of the PyTorch side (default: 1
#                                for train/infer/latency/wordnet, the thread count otherwise)
#   ATTEND_BENCH_ATTN_T="128 512" sizes of the attention workload
#   ATTEND_BENCH_OUT=DIR         where results.md / results.tsv go (default BUILD_DIR/bench)

. "$(dirname "$0")/common.sh"
bench_args "$@"
BIN=$BUILD/bench/attend_bench
if [ ! -x "$BIN" ]; then
    echo "bench/run.sh: $BIN not found; build it first: make BUILD=$BUILD" >&2
    exit 2
fi

THREADS=${ATTEND_BENCH_THREADS:-"1 2"}
PRECISIONS=${ATTEND_BENCH_PRECISIONS:-"fp32 bf16"}
GROUPS_ALL="sgemm train infer latency wordnet attn"
GROUPS_RUN=$(echo "${ATTEND_BENCH_ONLY:-$GROUPS_ALL}" | tr ',' ' ')
OUT=${ATTEND_BENCH_OUT:-$BUILD/bench}
mkdir -p "$OUT" || exit 1
SUFFIX=${QUICK:+-quick}
RAW=$OUT/results$SUFFIX.tsv
MD=$OUT/results$SUFFIX.md
TMPD=${ATTEND_TMP:-${TMPDIR:-/tmp}}
mkdir -p "$TMPD" || exit 1
: > "$RAW" || exit 1

# ---- the peer ----
PY=
if [ "${ATTEND_BENCH_NO_TORCH:-0}" != 1 ]; then
    for p in "${ATTEND_BENCH_PYTHON:-}" /usr/bin/python3 python3; do
        [ -n "$p" ] || continue
        if "$p" -c 'import torch' >/dev/null 2>&1; then
            PY=$p
            break
        fi
    done
fi
PEER_NOTE=
if [ -z "$PY" ]; then
    if [ "${ATTEND_BENCH_NO_TORCH:-0}" = 1 ]; then
        PEER_NOTE="PyTorch not run (ATTEND_BENCH_NO_TORCH=1)."
    else
        PEER_NOTE="PyTorch not found: no Python here imports torch. To compare, install it (Debian): apt-get install python3-torch libopenblas0-pthread. Running attend alone."
    fi
    echo "bench/run.sh: $PEER_NOTE" >&2
fi

# ---- the machine ----
bench_machine
START=$(date +%s)

echo "attend bench${QUICK:+ (quick)}: $DATE" >&2
echo "machine: $CPU, $CORES cores, $MEM; AVX-512 $AVX512, AMX $AMX; $OPENBLAS_PKG; load $LOAD0" >&2

RC=0
run_one() { # impl group threads precision
    printf 'LOAD\t%s\n' "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)" >> "$RAW"
    if [ "$1" = attend ]; then
        "$BIN" --only "$2" --threads "$3" --precision "$4" $QUICK --tmp "$TMPD" >> "$RAW" || {
            echo "bench/run.sh: attend_bench --only $2 --threads $3 --precision $4 failed" >&2
            RC=1
        }
    else
        # PyTorch's model workloads run with OpenBLAS single-threaded beside
        # torch's own intra-op threads: OpenBLAS's threads and torch's spin
        # against each other otherwise (measured here at 2 threads: train step
        # 259 vs 363 ms, inference 35 vs 63 ms). sgemm and attn keep OpenBLAS
        # at the thread count: there torch's time is the BLAS's.
        blas=
        case "$2" in
            train|infer|latency|wordnet) blas=${ATTEND_BENCH_TORCH_BLAS_THREADS:-1} ;;
            *) blas=${ATTEND_BENCH_TORCH_BLAS_THREADS:-} ;;
        esac
        ATTEND_BENCH_TORCH_BLAS_THREADS=$blas \
        "$PY" bench/torch_bench.py --only "$2" --threads "$3" --precision "$4" $QUICK --tmp "$TMPD" >> "$RAW" || {
            echo "bench/run.sh: torch_bench.py --only $2 --threads $3 --precision $4 failed" >&2
        }
    fi
}
if [ -n "$QUICK" ]; then
    # quick: one process per implementation, thread count and precision
    G=$(echo $GROUPS_RUN | tr ' ' ',')
    for p in $PRECISIONS; do
        for t in $THREADS; do
            echo "  running attend, $t thread(s), $p" >&2
            run_one attend "$G" "$t" "$p"
            if [ -n "$PY" ]; then
                echo "  running PyTorch, $t thread(s), $p" >&2
                run_one pytorch "$G" "$t" "$p"
            fi
        done
    done
else
    for g in $GROUPS_RUN; do
        for p in $PRECISIONS; do
            [ "$g" = attn ] && [ "$p" != fp32 ] && continue  # attention is fp32 only
            for t in $THREADS; do
                echo "  $g: attend, $t thread(s), $p" >&2
                run_one attend "$g" "$t" "$p"
                if [ -n "$PY" ]; then
                    echo "  $g: PyTorch, $t thread(s), $p" >&2
                    run_one pytorch "$g" "$t" "$p"
                fi
            done
        done
    done
fi
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
ELAPSED=$(( $(date +%s) - START ))
BLAS_CFG=$(awk -F'\t' '$1 == "MACHINE" && $2 == "attend" { if (match($3, /OpenBLAS \([^)]*\)/)) print substr($3, RSTART + 10, RLENGTH - 11) ", kernel " $4; exit }' "$RAW")
TORCH_CFG=$(awk -F'\t' '$1 == "MACHINE" && $2 == "pytorch" { print $3; exit }' "$RAW")

{
    echo "## attend vs PyTorch${QUICK:+ (quick smoke sizes: not a measurement)}"
    echo
    echo "- command: \`sh bench/run.sh $BUILD${QUICK:+ --quick}\` (threads: $THREADS; precisions: $PRECISIONS), $DATE, ${ELAPSED} s"
    echo "- machine: $CPU, $CORES cores, $MEM; AVX-512: $AVX512, AMX: $AMX"
    echo "- CPU flags: $FLAGS"
    echo "- BLAS: $OPENBLAS_PKG; $BLAS_CFG"
    echo "- peer: ${TORCH_CFG:-$PEER_NOTE}"
    echo "- load average (1/5/15 min) at start: $LOAD0; at end: $LOAD1"
    echo
    awk -F'\t' -v threads="$THREADS" '
    function fmt(ms) {
        if (ms == "" || ms == "-") return "—"
        ms += 0
        if (ms >= 100) return sprintf("%.0f ms", ms)
        if (ms >= 10) return sprintf("%.1f ms", ms)
        if (ms >= 1) return sprintf("%.2f ms", ms)
        return sprintf("%.3f ms", ms)
    }
    function gf(g) { return (g == "" || g == "-") ? "—" : g }
    function num(x) { return x != "" && x != "-" && x + 0 > 0 }
    function ratio(p, a) { return (num(p) && num(a)) ? sprintf("%.2fx", p / a) : "—" }
    function kv(extra, key,    n, parts, i) {
        n = split(extra, parts, " ")
        for (i = 1; i <= n; i++)
            if (index(parts[i], key "=") == 1) return substr(parts[i], length(key) + 2)
        return ""
    }
    function pair(key, k, a, p,    av, pv) {
        av = kv(X[a, k], key); pv = kv(X[p, k], key)
        if (av == "" && pv == "") return ""
        return (av == "" ? "—" : av) " / " (pv == "" ? "—" : pv)
    }
    function why(k, impl, label,    x) {
        x = X[impl, k]
        return x ~ /^(skipped|failed)/ ? label " " x "; " : ""
    }
    function note(w, k,    s, v) {
        s = why(k, "attend", "attend") why(k, "pytorch", "PyTorch")
        v = pair("texts_per_s", k, "attend", "pytorch"); if (v != "") s = s "texts/s " v "; "
        if (w ~ /^wordnet_epoch/) {
            s = s kv(X["attend", k], "examples") " texts, vocab " kv(X["attend", k], "vocab") "; train loss " pair("train_loss", k, "attend", "pytorch") "; "
        }
        if (w ~ /^(train_step|infer)/) s = s "B " kv(X["attend", k], "B") ", T " kv(X["attend", k], "T") "; "
        if (w ~ /^train_step/) s = s "attention " kv(X["attend", k], "attention") "; "
        if (w ~ /^latency/) s = s kv(X["attend", k], "tokens") " tokens; "
        v = pair("cpu", k, "attend", "pytorch"); if (v != "") s = s "CPU share " v
        sub(/; $/, "", s)
        return s
    }
    $1 == "LOAD" { load = $2 }
    $1 == "BENCH" {
        w = $2; k = w SUBSEP $4
        if (!(w in wseen)) { wseen[w] = 1; word[++nw] = w }
        T[$3, k] = $5; G[$3, k] = $6; X[$3, k] = $7; have[k] = 1
    }
    END {
        nt = split(threads, th, " ")
        print "| workload | threads | attend | attend GFLOP/s | PyTorch | PyTorch GFLOP/s | PyTorch / attend | notes (attend / PyTorch) |"
        print "|---|---|---|---|---|---|---|---|"
        for (i = 1; i <= nw; i++) for (j = 1; j <= nt; j++) {
            w = word[i]; k = w SUBSEP th[j]
            if (!(k in have) || w ~ /^attn_/) continue
            printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", w, th[j], fmt(T["attend", k]), gf(G["attend", k]), fmt(T["pytorch", k]), gf(G["pytorch", k]), ratio(T["pytorch", k], T["attend", k]), note(w, k)
        }
        na = 0
        for (i = 1; i <= nw; i++) if (word[i] ~ /^attn_/) na++
        if (na) {
            print ""
            print "The attention op alone (batch 1, 8 heads, head dim 64): attend fused, attend unfused, PyTorch."
            print ""
            print "| op | threads | fused | fused GFLOP/s | unfused | unfused / fused | PyTorch | PyTorch / fused | peak MiB fused / unfused / PyTorch | notes |"
            print "|---|---|---|---|---|---|---|---|---|---|"
            for (i = 1; i <= nw; i++) for (j = 1; j <= nt; j++) {
                w = word[i]; k = w SUBSEP th[j]
                if (!(k in have) || w !~ /^attn_/) continue
                pf = kv(X["attend", k], "peak_mib"); pu = kv(X["attend_unfused", k], "peak_mib"); pp = kv(X["pytorch", k], "peak_mib")
                n = why(k, "attend", "fused") why(k, "attend_unfused", "unfused") why(k, "pytorch", "PyTorch")
                c = kv(X["attend", k], "cpu") " / " kv(X["attend_unfused", k], "cpu") " / " kv(X["pytorch", k], "cpu")
                if (c != " /  / ") n = n "CPU share " c
                sub(/; $/, "", n)
                printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s | %s |\n", substr(w, 6), th[j], fmt(T["attend", k]), gf(G["attend", k]), fmt(T["attend_unfused", k]), ratio(T["attend_unfused", k], T["attend", k]), fmt(T["pytorch", k]), ratio(T["pytorch", k], T["attend", k]), (pf == "" ? "—" : pf), (pu == "" ? "—" : pu), (pp == "" ? "—" : pp), n
            }
        }
        nb = 0
        for (i = 1; i <= nw; i++) if (word[i] ~ /_bf16$/) nb++
        if (nb) {
            print ""
            print "bf16 rows against fp32: attend --precision bf16 beside attend fp32 and PyTorch fp32 (what a PyTorch user runs by default)."
            print ""
            print "| workload | threads | attend bf16 | attend fp32 | attend fp32 / bf16 | PyTorch fp32 | PyTorch fp32 / attend bf16 |"
            print "|---|---|---|---|---|---|---|"
            for (i = 1; i <= nw; i++) for (j = 1; j <= nt; j++) {
                w = word[i]; k = w SUBSEP th[j]
                if (!(k in have) || w !~ /_bf16$/) continue
                b = substr(w, 1, length(w) - 5); kb = b SUBSEP th[j]
                printf "| %s | %s | %s | %s | %s | %s | %s |\n", b, th[j], fmt(T["attend", k]), fmt(T["attend", kb]), ratio(T["attend", kb], T["attend", k]), fmt(T["pytorch", kb]), ratio(T["pytorch", kb], T["attend", k])
            }
        }
        if (nt >= 2) {
            t1 = th[1]; tn = th[nt]
            print ""
            printf "Thread scaling: time with %s thread(s) / time with %s.\n\n", t1, tn
            print "| workload | attend | PyTorch |"
            print "|---|---|---|"
            split("attend pytorch", im, " ")
            for (i = 1; i <= nw; i++) {
                w = word[i]; line = "| " w; any = 0
                for (m = 1; m <= 2; m++) {
                    a = T[im[m], w SUBSEP t1]; b = T[im[m], w SUBSEP tn]
                    if (num(a) && num(b)) { line = line sprintf(" | %.2fx", a / b); any = 1 }
                    else line = line " | —"
                }
                if (any) print line " |"
            }
        }
    }' "$RAW"
    echo
    echo "Times are medians over repetitions (latency rows: the p50 / p99 of single calls);"
    echo "GFLOP/s counts matrix-product FLOPs only (a training step = 3x the forward)."
    echo "CPU share: process CPU time / (wall time x threads) while timing; well below 1 means"
    echo "other jobs took the cores (spinning OpenMP threads count as busy, so 1 does not prove"
    echo "the opposite). Raw lines: $RAW."
} > "$MD"
cat "$MD"
if ! grep -q '^BENCH' "$RAW"; then
    echo "bench/run.sh: no measurement was printed" >&2
    RC=1
fi
exit $RC
