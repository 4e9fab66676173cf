#!/bin/sh
# attend on a pretrained encoder (all-MiniLM-L6-v2) beside what a Python user
# runs: sentence-transformers and ONNX Runtime for embeddings, transformers
# (PyTorch eager) for fine-tuning. Same machine, same texts, same threads.
#
#   sh bench/pretrained_bench.sh BUILD_DIR [--quick]   (make bench-pretrained; make bench too)
#
# For each thread count (default "1 2"), peers first, then attend, so that a
# change of load hits both alike:
#   - embedding throughput, texts/s, on short (~12 WordPiece tokens), medium
#     (~35) and long (~128) texts at batch 32, tokenization included:
#     bench/embed_peers.py (sentence-transformers fp32 and bf16 autocast, ONNX
#     Runtime) and bench/embed_attend.sh (attend embed, fp32 and
#     --precision bf16), on the same text sets;
#   - latency of one 20-token text, p50 and p99 over 200 calls:
#     embed_peers.py and BUILD_DIR/bench/embed_latency (the C API);
#   - GFLOP/s of attend's embedding (matrix-product FLOPs of the encoder,
#     counted from the texts' token counts) next to the machine's sgemm
#     (attend_bench --only sgemm, 1024^3).
# Then one fine-tuning epoch (unless ATTEND_BENCH_FINETUNE=0 or --quick) on
# 10,000 short WordNet glosses (batch 32, max length 128), at the largest
# thread count: `attend train --init` beside bench/finetune_peer.py with the
# same schedule (warmup 6 %, cosine decay), accuracy of each on the same
# 2,000 held-out glosses.
#
# The table goes to stdout and BUILD_DIR/bench/pretrained.md, the raw lines
# (workload tool threads value unit) to pretrained.tsv. Nothing here is a
# stored figure.
# Environment:
#   ATTEND_BENCH_MODEL=DIR     the folder (default .venv-models/all-MiniLM-L6-v2,
#                              fetched with scripts/fetch_minilm.sh when missing)
#   ATTEND_BENCH_PYTHON=python the Python with the peers: torch, transformers,
#                              sentence-transformers, onnx, onnxruntime (default:
#                              .venv/bin/python3, then python3, whichever has them)
#   ATTEND_BENCH_NO_PEER=1     attend alone
#   ATTEND_BENCH_THREADS="1 2" thread counts
#   ATTEND_BENCH_FINETUNE=0    skip the fine-tuning epoch (about 10 minutes
#                              for attend and 15 for transformers at 2 threads)
#   ATTEND_BENCH_FINETUNE_N=N  training texts (default 10000; 2,000 held out)
#   ATTEND_BENCH_OUT=DIR       where the results go (default BUILD_DIR/bench)
. "$(dirname "$0")/common.sh"
bench_args "$@"
BIN=$BUILD/attend
LAT=$BUILD/bench/embed_latency
for b in "$BIN" "$LAT" "$BUILD/bench/attend_bench"; do
    [ -x "$b" ] || { echo "bench/pretrained_bench.sh: $b not found; build first: make BUILD=$BUILD" >&2; exit 2; }
done
THREADS=${ATTEND_BENCH_THREADS:-"1 2"}
OUT=${ATTEND_BENCH_OUT:-$BUILD/bench}
mkdir -p "$OUT" || exit 1
SUFFIX=${QUICK:+-quick}
RAW=$OUT/pretrained$SUFFIX.tsv
MD=$OUT/pretrained$SUFFIX.md
TEXTS=$OUT/pretrained-texts$SUFFIX
REPS=3
CALLS=200
[ -n "$QUICK" ] && { REPS=1; CALLS=20; }
: > "$RAW" || exit 1

MODEL=${ATTEND_BENCH_MODEL:-.venv-models/all-MiniLM-L6-v2}
if [ ! -f "$MODEL/config.json" ]; then
    [ -n "${ATTEND_BENCH_MODEL:-}" ] && { echo "bench/pretrained_bench.sh: $MODEL has no config.json" >&2; exit 2; }
    echo "bench/pretrained_bench.sh: fetching all-MiniLM-L6-v2 into $MODEL" >&2
    sh scripts/fetch_minilm.sh "$MODEL" >/dev/null || {
        echo "bench/pretrained_bench.sh: could not fetch the model; run: sh scripts/fetch_minilm.sh $MODEL" >&2
        exit 1
    }
fi

# ---- the peers ----
PY=
PEER_NOTE=
if [ "${ATTEND_BENCH_NO_PEER:-0}" = 1 ]; then
    PEER_NOTE="peers not run (ATTEND_BENCH_NO_PEER=1)"
else
    for p in "${ATTEND_BENCH_PYTHON:-}" .venv/bin/python3 python3; do
        [ -n "$p" ] || continue
        if "$p" -c 'import torch, transformers, sentence_transformers, onnx, onnxruntime' >/dev/null 2>&1; then
            PY=$p
            break
        fi
    done
    if [ -z "$PY" ]; then
        PEER_NOTE="peers not found: no Python here imports torch, transformers, sentence_transformers, onnx and onnxruntime. Install them in the project's venv: python3 -m venv .venv && .venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu && .venv/bin/pip install transformers sentence-transformers onnx onnxruntime"
        echo "bench/pretrained_bench.sh: $PEER_NOTE. Running attend alone." >&2
    else
        PEER_NOTE=$("$PY" -c 'import torch, transformers, sentence_transformers, onnxruntime
print(f"torch {torch.__version__}, transformers {transformers.__version__}, sentence-transformers {sentence_transformers.__version__}, onnxruntime {onnxruntime.__version__}")' 2>/dev/null)
    fi
fi

bench_machine
START=$(date +%s)
echo "attend pretrained bench${QUICK:+ (quick)}: $DATE; machine: $CPU, $CORES cores; load $LOAD0" >&2

# The text sets: the peers' generator, counting tokens with attend's own
# tokenizer (the same ids as the model's), so no Python package is needed.
python3 bench/embed_peers.py --model "$MODEL" --write-texts "$TEXTS" --attend "$BIN" $QUICK || exit 1

RC=0
note_fail() { echo "bench/pretrained_bench.sh: $1 failed" >&2; RC=1; }
for t in $THREADS; do
    if [ -n "$PY" ]; then
        echo "  $t thread(s): sentence-transformers, ONNX Runtime" >&2
        "$PY" bench/embed_peers.py --model "$MODEL" --threads "$t" --reps "$REPS" \
            --latency-calls "$CALLS" --cache "$OUT/onnx" $QUICK >> "$RAW" || note_fail "embed_peers.py --threads $t"
    fi
    echo "  $t thread(s): attend" >&2
    sh bench/embed_attend.sh "$BUILD" "$MODEL" "$TEXTS" "$t" "$REPS" >> "$RAW" || note_fail "embed_attend.sh $t"
    for p in fp32 bf16; do
        "$LAT" "$MODEL" "$TEXTS/latency.txt" --threads "$t" --precision $p --calls "$CALLS" >> "$RAW" ||
            note_fail "embed_latency --threads $t --precision $p"
    done
    "$BUILD/bench/attend_bench" --only sgemm --threads "$t" $QUICK |
        awk -F'\t' -v t="$t" '$1 == "BENCH" && $2 == "sgemm_1024x1024x1024" { printf "sgemm\tattend\t%s\t%s\tGFLOP/s\n", t, $6 }' >> "$RAW"
done

# ---- one fine-tuning epoch ----
FT_N=${ATTEND_BENCH_FINETUNE_N:-10000}
if [ -z "$QUICK" ] && [ "${ATTEND_BENCH_FINETUNE:-1}" != 0 ]; then
    FT=$OUT/pretrained-finetune
    mkdir -p "$FT" || exit 1
    # Glosses of at most 10 words (~12-16 tokens), spread evenly over the
    # file (it is sorted by label) so that every label is in both sets:
    # every 6th chosen line is held out.
    awk -F'\t' -v want=$((FT_N + FT_N / 5)) -v tr="$FT/train.tsv" -v va="$FT/valid.tsv" '
        NR == FNR { if (split($2, w, " ") <= 10) n++; next }
        FNR == 1 { stride = n / want; if (stride < 1) stride = 1; next_pick = 0 }
        split($2, w, " ") <= 10 {
            if (k++ >= next_pick && got < want) {
                print > ((got % 6 == 5) ? va : tr)
                got++; next_pick += stride
            }
        }' data/wordnet-nouns.tsv data/wordnet-nouns.tsv
    FT_T=$(echo $THREADS | awk '{ print $NF }')
    echo "  fine-tuning epoch, $(wc -l < "$FT/train.tsv") texts, $FT_T thread(s): transformers" >&2
    if [ -n "$PY" ]; then
        "$PY" bench/finetune_peer.py --model "$MODEL" --train "$FT/train.tsv" --valid "$FT/valid.tsv" \
            --epochs 1 --threads "$FT_T" --batch 32 --max-length 128 --schedule cosine >> "$RAW" ||
            note_fail "finetune_peer.py"
    fi
    echo "  fine-tuning epoch: attend" >&2
    rm -f "$FT/attend.jsonl"
    if "$BIN" train --init "$MODEL" --data "$FT/train.tsv" --val-split 0 --epochs 1 --batch 32 \
        --max-len 128 --threads "$FT_T" --out "$FT/attend.safetensors" --log "$FT/attend.jsonl" >&2 &&
        acc=$("$BIN" eval --model "$FT/attend.safetensors" --data "$FT/valid.tsv" --json --threads "$FT_T" |
            python3 -c 'import json, sys; print(json.load(sys.stdin)["accuracy"])'); then
        # seconds of the epoch: training and saving the model (no validation pass)
        s=$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["seconds"])' "$FT/attend.jsonl")
        n=$(wc -l < "$FT/train.tsv")
        printf 'finetune_epoch\tattend\t%s\t%s\ts/epoch\n' "$FT_T" "$s" >> "$RAW"
        printf 'finetune_train_texts_per_s\tattend\t%s\t%s\ttexts/s\n' "$FT_T" "$(echo "$n $s" | awk '{ printf "%.4g", $1 / $2 }')" >> "$RAW"
        printf 'finetune_valid_acc\tattend\t%s\t%s\tfraction\n' "$FT_T" "$acc" >> "$RAW"
    else
        note_fail "attend train --init"
    fi
fi

# ---- FLOPs of one embedding pass over each set (matrix products only) ----
# per layer and text of T tokens: 2T.E.3E (q, k, v) + 2T.E.E (out) +
# 2.2T.E.F (feed-forward) + 2.2T.T.E (scores and weighted sum)
cfg() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$MODEL/config.json" "$1"; }
E=$(cfg hidden_size); F=$(cfg intermediate_size); L=$(cfg num_hidden_layers)
for w in short medium long; do
    "$BIN" tokenize --model "$MODEL" "$TEXTS/$w.txt" | awk -v w=$w -v E="$E" -v F="$F" -v L="$L" '
        { T = NF; f += L * (2 * T * E * (4 * E + 2 * F) + 4 * T * T * E) }
        END { printf "flops_per_text\t%s\tall\t%.6g\tFLOP\n", w, f / NR }' >> "$RAW"
done

LOAD1=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
ELAPSED=$(( $(date +%s) - START ))
{
    echo "## all-MiniLM-L6-v2: attend beside sentence-transformers, ONNX Runtime and transformers${QUICK:+ (quick smoke sizes: not a measurement)}"
    echo
    echo "- command: \`sh bench/pretrained_bench.sh $BUILD${QUICK:+ --quick}\` (threads: $THREADS), $DATE, ${ELAPSED} s"
    echo "- machine: $CPU, $CORES cores, $MEM; AVX-512: $AVX512, AMX: $AMX; $OPENBLAS_PKG"
    echo "- peers: ${PEER_NOTE:-none}"
    echo "- load average (1/5/15 min) at start: $LOAD0; at end: $LOAD1"
    echo
    awk -F'\t' -v threads="$THREADS" -f bench/pretrained_table.awk "$RAW"
    echo
    echo "Raw lines: $RAW."
} > "$MD"
cat "$MD"
grep -q '	attend	' "$RAW" || { echo "bench/pretrained_bench.sh: attend printed no measurement" >&2; RC=1; }
exit $RC
