#!/bin/sh
# attend serve beside the server a Python user would deploy (bench/serve_peer.py:
# FastAPI + uvicorn around the same model in PyTorch), on loopback, with wrk.
#
#   sh bench/serve_bench.sh BUILD_DIR            (what `make bench-serve` runs)
#
# For each server: POST /predict with one WordNet text per request (the same
# 2,000 texts for both, every label scored, as both answer by default) at
# concurrency 1, 16 and 64 for ATTEND_BENCH_SERVE_SECONDS each (default 10),
# after a warm-up; throughput, p50 and p99 latency from wrk --latency, and
# the server's resident memory at the end. Then the same for POST /embed on
# all-MiniLM-L6-v2 (attend serve on the folder; the peer's --embedder:
# sentence-transformers' encode) when the folder is there. The tables go to
# stdout and to BUILD_DIR/bench/serve.md. Every number comes from this run.
# Environment:
#   ATTEND_BENCH_SERVE_MODEL=FILE   the model (default: BUILD_DIR/bench/wordnet-serve.safetensors,
#                                   trained once with attend train on data/wordnet-nouns.tsv)
#   ATTEND_BENCH_SERVE_THREADS=N    inference threads of both servers (default: the cores)
#   ATTEND_BENCH_SERVE_SECONDS=S    seconds per measurement (default 10)
#   ATTEND_BENCH_PYTHON=python      the Python with torch, fastapi, uvicorn, safetensors
#                                   (default: .venv/bin/python3, then python3)
#   ATTEND_BENCH_SERVE_EMBED=DIR    the folder for /embed (default .venv-models/all-MiniLM-L6-v2,
#                                   skipped when absent: sh scripts/fetch_minilm.sh DIR)
#   ATTEND_BENCH_NO_PEER=1          attend alone
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd) || exit 1
cd "$ROOT" || exit 1
BIN=$BUILD/attend
[ -x "$BIN" ] || { echo "bench/serve_bench.sh: $BIN not found; run make first" >&2; exit 2; }
command -v wrk >/dev/null 2>&1 || { echo "bench/serve_bench.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
command -v curl >/dev/null 2>&1 || { echo "bench/serve_bench.sh: needs curl (apt-get install curl)" >&2; exit 2; }
OUT=$BUILD/bench
mkdir -p "$OUT" || exit 1
NCPU=$(nproc 2>/dev/null || echo 2)
THREADS=${ATTEND_BENCH_SERVE_THREADS:-$NCPU}
SECS=${ATTEND_BENCH_SERVE_SECONDS:-10}
MODEL=${ATTEND_BENCH_SERVE_MODEL:-$OUT/wordnet-serve.safetensors}
if [ ! -f "$MODEL" ]; then
    echo "bench/serve_bench.sh: training the WordNet model once (1 epoch, the default architecture) -> $MODEL" >&2
    "$BIN" train --data data/wordnet-nouns.tsv --epochs 1 --threads "$NCPU" --out "$MODEL" >&2 || exit 1
fi
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/serve_bench.XXXXXX") || exit 1
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    rm -rf "$TMPD"
}
trap cleanup EXIT INT TERM

# 2,000 WordNet glosses spread over the file, as JSON bodies
awk -F '\t' 'NR % 41 == 0 && n < 2000 {
    t = $2; gsub(/\\/, "\\\\", t); gsub(/"/, "\\\"", t); gsub(/\t/, " ", t)
    printf "{\"inputs\": \"%s\"}\n", t; n++ }' data/wordnet-nouns.tsv >"$TMPD/bodies.txt"

free_port() {
    p=$(( 20000 + $$ % 20000 ))
    while curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/" 2>/dev/null; do p=$((p + 1)); done
    echo $p
}

# wait_up PORT: until /health answers 200 (60 s at most)
wait_up() {
    i=0
    while [ $i -lt 600 ]; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/health")" = 200 ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# run NAME PORT PATH: wrk at each concurrency; lines "NAME C req_s p50_ms p99_ms non2xx"
run() {
    wrk -t 2 -c 16 -d 2s -s bench/serve_wrk.lua "http://127.0.0.1:$2" -- "$TMPD/bodies.txt" "$3" >/dev/null 2>&1
    for c in 1 16 64; do
        t=2
        [ $c -lt 2 ] && t=1
        wrk -t $t -c $c -d "${SECS}s" --latency -s bench/serve_wrk.lua "http://127.0.0.1:$2" \
            -- "$TMPD/bodies.txt" "$3" >"$TMPD/wrk.$1.$c" 2>&1
        awk -v name="$1" -v c=$c '
            function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
            /Requests\/sec:/ { rps = $2 }
            $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
            /Non-2xx/ { bad = $NF }
            /Socket errors/ { errs = $0 }
            END { printf "%s %d %s %.3f %.3f %d\n", name, c, rps, p50, p99, bad + 0 }' "$TMPD/wrk.$1.$c"
    done
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# the Python with the peer's packages (empty: attend alone)
PY=
if [ "${ATTEND_BENCH_NO_PEER:-0}" != 1 ]; then
    for p in "${ATTEND_BENCH_PYTHON:-}" .venv/bin/python3 python3; do
        [ -n "$p" ] || continue
        if "$p" -c 'import torch, fastapi, uvicorn, safetensors' >/dev/null 2>&1; then PY=$p; break; fi
    done
    [ -n "$PY" ] || echo "bench/serve_bench.sh: no Python with torch, fastapi, uvicorn and safetensors (set ATTEND_BENCH_PYTHON); attend alone" >&2
fi

# attend_round TAG PATH MODEL: attend serve on MODEL under wrk; sets RSS_TAG,
# HWM_TAG and BATCHES_TAG
attend_round() {
    PORT=$(free_port)
    "$BIN" serve --model "$3" --port "$PORT" --threads "$THREADS" >"$TMPD/attend.log" 2>&1 &
    SERVER=$!
    wait_up "$PORT" || { cat "$TMPD/attend.log" >&2; exit 1; }
    run "attend_$1" "$PORT" "$2" >>"$TMPD/results"
    rss=$(rss_kb $SERVER)
    hwm=$(hwm_kb $SERVER)
    batches=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^attend_batch_size_sum/ { s = $2 } /^attend_batch_size_count/ { n = $2 } END { if (n) printf "%.2f", s / n }')
    eval "RSS_$1=\$rss HWM_$1=\$hwm BATCHES_$1=\$batches"
    kill -TERM $SERVER
    wait $SERVER
    SERVER=
}

# peer_round TAG PATH PEER_ARGS...: bench/serve_peer.py under wrk; sets PEER_RSS_TAG
peer_round() {
    [ -n "$PY" ] || return 0
    tag=$1 path=$2
    shift 2
    PORT=$(free_port)
    "$PY" bench/serve_peer.py serve "$@" --threads "$THREADS" --port "$PORT" >"$TMPD/peer.log" 2>&1 &
    SERVER=$!
    if wait_up "$PORT"; then
        run "peer_$tag" "$PORT" "$path" >>"$TMPD/results"
        rss=$(rss_kb $SERVER)
        eval "PEER_RSS_$tag=\$rss"
    else
        echo "bench/serve_bench.sh: the peer did not start:" >&2
        cat "$TMPD/peer.log" >&2
    fi
    kill $SERVER
    wait $SERVER 2>/dev/null
    SERVER=
}

# table TAG: the markdown table of one endpoint from the results
table() {
    echo "| concurrency | attend req/s | attend p50 ms | attend p99 ms | peer req/s | peer p50 ms | peer p99 ms | attend / peer throughput |"
    echo "|---|---|---|---|---|---|---|---|"
    awk -v a="attend_$1" -v p="peer_$1" '{ R[$1, $2] = $3; P50[$1, $2] = $4; P99[$1, $2] = $5; BAD[$1, $2] = $6 }
        END {
            split("1 16 64", cs, " ")
            for (i = 1; i <= 3; i++) {
                c = cs[i]
                ratio = (R[p, c] > 0) ? sprintf("%.1fx", R[a, c] / R[p, c]) : "—"
                printf "| %d | %.0f | %.2f | %.2f | %s | %s | %s | %s |\n", c, R[a, c], P50[a, c], P99[a, c],
                    ((p, c) in R) ? sprintf("%.0f", R[p, c]) : "—",
                    ((p, c) in R) ? sprintf("%.2f", P50[p, c]) : "—",
                    ((p, c) in R) ? sprintf("%.2f", P99[p, c]) : "—", ratio
                if (BAD[a, c] + BAD[p, c] > 0) printf "(non-2xx answers: attend %d, peer %d)\n", BAD[a, c], BAD[p, c]
            }
        }' "$TMPD/results"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$TMPD/results"
attend_round predict /predict "$MODEL"
peer_round predict /predict --classifier "$MODEL"
EMBED=${ATTEND_BENCH_SERVE_EMBED:-.venv-models/all-MiniLM-L6-v2}
if [ -f "$EMBED/config.json" ]; then
    attend_round embed /embed "$EMBED"
    peer_round embed /embed --classifier "$MODEL" --embedder "$EMBED"
else
    echo "bench/serve_bench.sh: no $EMBED/config.json: /embed not measured (sh scripts/fetch_minilm.sh $EMBED)" >&2
    EMBED=
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

MODEL_KB=$(( $(wc -c <"$MODEL") / 1024 ))
{
    echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $NCPU cores; load average $LOAD_BEFORE before, $LOAD_AFTER after."
    echo "$THREADS inference threads each; wrk on the same machine, ${SECS} s per row."
    echo
    echo "POST /predict, model $(basename "$MODEL") ($(( MODEL_KB / 1024 )) MiB), one WordNet gloss per request:"
    echo
    table predict
    echo
    echo "attend: resident memory after the runs $(( ${RSS_predict:-0} / 1024 )) MiB (peak $(( ${HWM_predict:-0} / 1024 )) MiB), model file $(( MODEL_KB / 1024 )) MiB; texts per batch on average ${BATCHES_predict:-?}."
    [ -n "${PEER_RSS_predict:-}" ] && echo "peer: resident memory after the runs $(( PEER_RSS_predict / 1024 )) MiB."
    if [ -n "$EMBED" ]; then
        echo
        echo "POST /embed, $(basename "$EMBED") (attend serve on the folder; the peer: sentence-transformers), one WordNet gloss per request:"
        echo
        table embed
        echo
        echo "attend: resident memory after the runs $(( ${RSS_embed:-0} / 1024 )) MiB (peak $(( ${HWM_embed:-0} / 1024 )) MiB); texts per batch on average ${BATCHES_embed:-?}."
        [ -n "${PEER_RSS_embed:-}" ] && echo "peer: resident memory after the runs $(( PEER_RSS_embed / 1024 )) MiB."
    fi
} >"$OUT/serve.md"
cat "$OUT/serve.md"
