#!/bin/sh
# Data-parallel scaling on this machine: one epoch of the default model on
# the bundled WordNet data as
#   1x1   1 process x 1 thread
#   1x2   1 process x 2 threads
#   1x2p  the same with OMP_WAIT_POLICY=passive (threads sleep at barriers
#         instead of spinning: on a machine other jobs keep busy, a spinning
#         thread takes the core its partner is waiting for)
#   2x1   2 processes x 1 thread (mpirun)
# in ROUNDS interleaved rounds, so a change in the machine's load hits every
# configuration alike. Prints one TSV line per run:
#   MPI_SCALING  config  epoch_s  step_ms  exchange_ms  user_s  load1  models_equal
# step_ms and exchange_ms are attend train's own averages (its closing
# "N steps, X ms per step" line); user_s is the CPU time of all processes;
# load1 the 1-minute load average before the run; models_equal says
# whether the run's tensors equal the first run's (they must).
# Usage: sh bench/mpi_scaling.sh [BUILD_DIR (build-mpi)] [ROUNDS (1)] [EXTRA train flags...]
set -u
B=${1:-build-mpi}
ROUNDS=${2:-1}
[ $# -ge 2 ] && shift 2 || shift $#
EXTRA="$*"
A=$B/attend
DATA=data/wordnet-nouns.tsv
if ! "$A" --version | grep -q '^mpi: Open MPI\|^mpi: [A-Z]'; then
  echo "bench/mpi_scaling.sh: $A was built without MPI (make MPI=1)" >&2
  exit 1
fi
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
FLAGS="--data $DATA --epochs 1 --seed 1 $EXTRA"

data_bytes() { tail -c +$(($(od -An -tu8 -N8 "$1" | tr -d ' ') + 9)) "$1"; }
run() { # name, processes, threads [OMP_WAIT_POLICY]
  load=$(cut -d' ' -f1 /proc/loadavg)
  if [ "$2" -eq 1 ]; then
    env ${4:+OMP_WAIT_POLICY=$4} /usr/bin/time -f "%U" -o "$T/time" "$A" train $FLAGS --threads "$3" --out "$T/$1.st" > "$T/out" 2>&1
  else
    /usr/bin/time -f "%U" -o "$T/time" mpirun --oversubscribe -np "$2" \
      "$A" train $FLAGS --threads "$3" --out "$T/$1.st" > "$T/out" 2>&1
  fi
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "bench/mpi_scaling.sh: $1 failed (exit $rc):" >&2
    tail -5 "$T/out" >&2
    exit 1
  fi
  epoch=$(sed -n 's/^epoch 1\/1 .*  \([0-9.]*\) s .*/\1/p' "$T/out")
  step=$(sed -n 's/.* steps, \([0-9.]*\) ms per step.*/\1/p' "$T/out")
  xch=$(sed -n 's/.*gradient exchange \([0-9.]*\) ms per step.*/\1/p' "$T/out")
  [ -f "$T/first.data" ] || data_bytes "$T/$1.st" > "$T/first.data"
  data_bytes "$T/$1.st" > "$T/this.data"
  same=yes; cmp -s "$T/first.data" "$T/this.data" || same=NO
  printf 'MPI_SCALING\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$epoch" "$step" "${xch:--}" \
    "$(tail -1 "$T/time")" "$load" "$same"
  grep 'gradient exchange' "$T/out" | sed 's/^/# /'
}
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $("$A" --version | tail -1)"
i=0
while [ $i -lt "$ROUNDS" ]; do
  i=$((i + 1))
  run 1x1 1 1
  run 1x2 1 2
  run 1x2p 1 2 passive
  run 2x1 2 1
done
