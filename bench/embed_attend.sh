#!/bin/sh
# attend's side of bench/embed_peers.py: `attend embed` on the same text sets,
# one TSV line per figure in the peers' format
#
#     workload <TAB> tool <TAB> threads <TAB> value <TAB> unit
#
#   sh bench/embed_attend.sh BUILD_DIR MODEL_DIR TEXT_DIR [THREADS] [REPS]
#
# TEXT_DIR comes from `python3 bench/embed_peers.py --model MODEL_DIR
# --write-texts TEXT_DIR` (short.txt, medium.txt, long.txt). Workloads short,
# medium, long: texts/s over the whole set, the median of REPS runs (default
# 3), tokenization and writing the vectors included. The peers time their
# encode() call only, with the model already loaded, so attend's fixed cost
# (starting, loading the folder: `attend embed` on an empty input, median of
# REPS) is taken off each run. Tools: attend (fp32) and attend-bf16
# (--precision bf16). Run it right after embed_peers.py, on the same machine,
# and say how loaded the machine was: nothing here is a stored figure.
set -eu
if [ $# -lt 3 ]; then
    echo "usage: sh bench/embed_attend.sh BUILD_DIR MODEL_DIR TEXT_DIR [THREADS] [REPS]" >&2
    exit 2
fi
BIN=$1/attend
MODEL=$2
TEXTS=$3
THREADS=${4:-1}
REPS=${5:-3}
[ -x "$BIN" ] || { echo "embed_attend: $BIN not found (make first)" >&2; exit 2; }
for w in short medium long; do
    [ -f "$TEXTS/$w.txt" ] || { echo "embed_attend: $TEXTS/$w.txt missing (embed_peers.py --write-texts)" >&2; exit 2; }
done

# seconds of one run of attend embed on FILE with extra flags
run_s() {
    file=$1
    shift
    t0=$(date +%s.%N)
    "$BIN" embed --model "$MODEL" --threads "$THREADS" "$@" "$file" >/dev/null
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{ printf "%.6f\n", $2 - $1 }'
}

# median of REPS runs
median_s() {
    i=0
    while [ $i -lt "$REPS" ]; do
        run_s "$@"
        i=$((i + 1))
    done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

empty=$(mktemp)
trap 'rm -f "$empty"' EXIT
for tool in attend attend-bf16; do
    prec=fp32
    [ "$tool" = attend-bf16 ] && prec=bf16
    fixed=$(median_s "$empty" --precision $prec)
    echo "embed_attend: $tool: fixed cost (start, load) ${fixed} s, taken off each run" >&2
    for w in short medium long; do
        n=$(wc -l <"$TEXTS/$w.txt")
        s=$(median_s "$TEXTS/$w.txt" --precision $prec)
        printf '%s\t%s\t%s\t%s\ttexts/s\n' "$w" "$tool" "$THREADS" \
            "$(echo "$n $s $fixed" | awk '{ d = $2 - $3; printf "%.4g", (d > 0 ? $1 / d : 0) }')"
    done
done
