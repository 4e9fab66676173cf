#!/bin/sh
# Data-parallel training under mpirun (a build with MPI: make test MPI=1; CI
# runs it through the ctest label "mpi"), on this machine only (loopback):
# - mpirun -np 2 and -np 3 (batches and pieces that do not divide evenly,
#   2 threads per process, the default model) give the single process's
#   model at 1 thread: the same tensor bytes and the same header but for the
#   provenance, which says 2 / 3 processes; so does fine-tuning a small
#   pretrained encoder (train --init);
# - a signal to mpirun or to one process stops all of them with a checkpoint,
#   and resuming under mpirun, with the same or another number of processes,
#   gives the uninterrupted model;
# - a process killed with SIGKILL ends the job with a non-zero exit and
#   mpirun's message, without a hang (bounded by timeout); the model file
#   left loads and the checkpoint left resumes to the uninterrupted model;
# - a process that fails alone (a missing file, other data) ends the job
#   with that process's message on every process, without a hang.
# In a build without MPI: the refusal to run as one of several processes,
# then SKIP (exit 77).
# Usage: sh tests/test_mpi.sh path/to/attend
set -u
A=$1
T=${ATTEND_TMP:-/tmp}/test_mpi.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# Small synthetic data: 4 classes with their own words, 313 examples (282
# for training: no batch size below divides it).
awk 'BEGIN { srand(11); split("alpha beta gamma delta", c, " ");
  for (i = 0; i < 313; i++) { k = i % 4 + 1; line = c[k];
    for (j = 0; j < 3 + i % 13; j++) line = line " " c[k] int(rand() * 30) " w" int(rand() * 50);
    printf "%s\t%s\n", c[k], line } }' > "$T/d.tsv"
BASE="--data $T/d.tsv --epochs 2 --d-model 16 --heads 2 --layers 1 --d-ff 32 --seed 5"

if "$A" --version | grep -q '^mpi: no'; then
  # A build without MPI refuses to be one of several processes.
  OMPI_COMM_WORLD_SIZE=2 "$A" train $BASE --out "$T/x.safetensors" > "$T/x.out" 2>&1
  rc=$?
  [ $rc -eq 1 ] && grep -q "built without MPI" "$T/x.out" && ok || bad "non-MPI build under mpirun: exit $rc: $(cat "$T/x.out")"
  [ ! -e "$T/x.safetensors" ] && ok || bad "non-MPI build under mpirun wrote a model"
  echo "test_mpi: $pass passed, $fail failed"
  [ $fail -eq 0 ] || exit 1
  echo "SKIP: $A was built without MPI (make test MPI=1 runs these tests)"
  exit 77
fi
if ! command -v mpirun > /dev/null 2>&1; then
  echo "SKIP: mpirun not found (Debian: apt-get install openmpi-bin)"
  exit 77
fi
# Root needs Open MPI's consent; shared memory and loopback only.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
MPI="timeout 120 mpirun --oversubscribe"
# rank K's pid of the job started in the background as $pid (timeout ->
# mpirun -> the processes, in rank order as started)
rank_pid() { ps -o pid= --ppid $(ps -o pid= --ppid $1 | head -1) | sed -n "$(($2 + 1))p"; }

# same_model A B: the same tensor bytes, and the same header once the
# provenance (which records processes and threads) is taken out.
hdr_len() { od -An -tu8 -N8 "$1" | tr -d ' '; }
header() { head -c $(($(hdr_len "$1") + 8)) "$1" | tail -c +9 | sed 's/"provenance":"\([^"\\]\|\\.\)*"//; s/ *$//'; }
same_model() {
  [ -s "$1" ] && [ -s "$2" ] || return 1
  tail -c +$(($(hdr_len "$1") + 9)) "$1" > "$T/t1"
  tail -c +$(($(hdr_len "$2") + 9)) "$2" > "$T/t2"
  header "$1" > "$T/h1"
  header "$2" > "$T/h2"
  cmp -s "$T/t1" "$T/t2" && cmp -s "$T/h1" "$T/h2"
}

# ---- the same model at 1, 2 and 3 processes ----
# batch 10 in pieces of 2: 5 pieces, 3 + 2 over two processes (the second
# adds two pieces of its own to the sum); the last batch has 2 examples.
F2="$BASE --batch 10 --piece 2"
"$A" train $F2 --threads 1 --out "$T/one2.safetensors" > "$T/one2.out" 2>&1
[ $? -eq 0 ] && ok || bad "single process run failed: $(tail -2 "$T/one2.out")"
$MPI -np 2 "$A" train $F2 --threads 2 --out "$T/two.safetensors" > "$T/two.out" 2>&1
[ $? -eq 0 ] && ok || bad "mpirun -np 2 failed: $(tail -5 "$T/two.out")"
same_model "$T/one2.safetensors" "$T/two.safetensors" && ok || bad "mpirun -np 2 model differs from the single process's"
"$A" info --model "$T/two.safetensors" | grep -q '^provenance .*"processes":2,"process_threads":\[2,2\]' && ok ||
  bad "provenance does not record 2 processes of 2 threads: $("$A" info --model "$T/two.safetensors" | grep provenance)"
# process 0 alone prints: one line per epoch
[ "$(grep -c '^epoch ' "$T/two.out")" -eq 2 ] && ok || bad "epoch lines under mpirun -np 2: $(grep -c '^epoch ' "$T/two.out"), expected 2"
grep '^epoch' "$T/one2.out" | sed 's/ [0-9.]* s / /' > "$T/e1"
grep '^epoch' "$T/two.out" | sed 's/ [0-9.]* s / /' > "$T/e2"
cmp -s "$T/e1" "$T/e2" && ok || bad "epoch lines (losses, accuracy) differ under mpirun -np 2"

# The default model (d_model 64, 2 layers, d_ff 256) in pieces of 8: its
# GEMMs are cut into blocks, and 2 threads share them.
FD="--data $T/d.tsv --epochs 1 --seed 5 --batch 24"
"$A" train $FD --threads 1 --out "$T/oned.safetensors" > "$T/oned.out" 2>&1
[ $? -eq 0 ] && ok || bad "single process run (default model) failed: $(tail -2 "$T/oned.out")"
$MPI -np 2 "$A" train $FD --threads 2 --out "$T/twod.safetensors" > "$T/twod.out" 2>&1
[ $? -eq 0 ] && ok || bad "mpirun -np 2 (default model) failed: $(tail -5 "$T/twod.out")"
same_model "$T/oned.safetensors" "$T/twod.safetensors" && ok || bad "mpirun -np 2 x 2 threads (default model): model differs from 1 process x 1 thread"

# Fine-tuning a pretrained encoder (train --init on a small BERT folder of
# tests/hf_fixtures): the same model under mpirun -np 2 as in one process.
ENC=$(cd "$(dirname "$0")" && pwd)/hf_fixtures/bert/e20_h4_l3_base
awk 'BEGIN { split("walk play read sing", a, " "); split("dog cat river tree", b, " ")
    for (i = 0; i < 60; i++) { c = i % 2; w = c ? a[1 + i % 4] : b[1 + int(i / 2) % 4]
        print (c ? "verb" : "noun") "\tthe " w " " w " lazy" } }' > "$T/ft.tsv"
FI="--init $ENC --data $T/ft.tsv --epochs 1 --lr 1e-3 --batch 12 --piece 4 --seed 3"
"$A" train $FI --threads 1 --out "$T/ft1.safetensors" > "$T/ft1.out" 2>&1
[ $? -eq 0 ] && ok || bad "fine-tuning, one process: $(tail -2 "$T/ft1.out")"
$MPI -np 2 "$A" train $FI --threads 1 --out "$T/ft2.safetensors" > "$T/ft2.out" 2>&1
[ $? -eq 0 ] && ok || bad "fine-tuning under mpirun -np 2 failed: $(tail -5 "$T/ft2.out")"
same_model "$T/ft1.safetensors" "$T/ft2.safetensors" && ok || bad "fine-tuning under mpirun -np 2: model differs from the single process's"

# batch 7 in pieces of 1: 7 pieces, 3 + 3 + 1 over three processes; the
# last batch (2 examples) leaves the third process without a piece.
F3="$BASE --batch 7 --piece 1"
"$A" train $F3 --threads 1 --out "$T/one3.safetensors" > "$T/one3.out" 2>&1
[ $? -eq 0 ] && ok || bad "single process run failed: $(tail -2 "$T/one3.out")"
$MPI -np 3 "$A" train $F3 --threads 1 --out "$T/three.safetensors" > "$T/three.out" 2>&1
[ $? -eq 0 ] && ok || bad "mpirun -np 3 failed: $(tail -5 "$T/three.out")"
same_model "$T/one3.safetensors" "$T/three.safetensors" && ok || bad "mpirun -np 3 model differs from the single process's"
# and the pieces do change the arithmetic (so the checks above can fail)
same_model "$T/one2.safetensors" "$T/one3.safetensors" && bad "models of different batches are equal" || ok

# ---- interrupt and resume ----
# SIGINT to mpirun (Ctrl-C), then SIGTERM to one process: all stop with a
# checkpoint; resuming under mpirun (-np 3 after -np 2: the number may
# change) gives the uninterrupted model.
FR="$F2 --epochs 20 --threads 1"
"$A" train $FR --out "$T/full.safetensors" > "$T/full.out" 2>&1
[ $? -eq 0 ] && ok || bad "uninterrupted run failed: $(tail -2 "$T/full.out")"
for who in mpirun process; do
  rm -f "$T/s.safetensors" "$T/s.safetensors.ckpt"
  $MPI -np 2 "$A" train $FR --out "$T/s.safetensors" --checkpoint-every 7 > "$T/s.out" 2>&1 &
  pid=$!
  n=0
  while [ ! -e "$T/s.safetensors.ckpt" ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n + 1)); done
  if [ $who = mpirun ]; then
    kill -INT $pid 2>/dev/null
  else
    kill -TERM "$(rank_pid $pid 1)" 2>/dev/null
  fi
  wait $pid
  rc=$?
  if grep -q "model saved to" "$T/s.out"; then
    # the run ended before the signal came: nothing to resume
    echo "note: run ended before the signal to $who"
    same_model "$T/full.safetensors" "$T/s.safetensors" && ok || bad "model (-np 2) differs from the single process's"
    continue
  fi
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ -e "$T/s.safetensors.ckpt" ] && ok ||
    bad "signal to $who: exit $rc: $(tail -3 "$T/s.out")"
  # A signal to a process is seen at the next step by all of them: exactly
  # one message, exit 143. (mpirun passes a signal on a second later and
  # kills the processes a second after that, so its output may stop short;
  # the checkpoint is then the last one written.)
  if [ $who = process ]; then
    [ $rc -eq 143 ] && [ "$(grep -c 'interrupted at epoch .*resume with --resume' "$T/s.out")" -eq 1 ] && ok ||
      bad "signal to one process: exit $rc, $(grep -c 'interrupted at epoch' "$T/s.out") messages, expected 143 and one"
  fi
  np=3; [ $who = mpirun ] && np=2
  $MPI -np $np "$A" train $FR --out "$T/s.safetensors" --resume "$T/s.safetensors" > "$T/r.out" 2>&1
  [ $? -eq 0 ] && ok || bad "resume under mpirun -np $np after a signal to $who failed: $(tail -3 "$T/r.out")"
  same_model "$T/full.safetensors" "$T/s.safetensors" && ok || bad "resumed model (-np $np, signal to $who) differs from the uninterrupted one"
done

# ---- a process killed: the job ends, the files load ----
rm -f "$T/k.safetensors" "$T/k.safetensors.ckpt"
$MPI -np 3 "$A" train $FR --epochs 40 --out "$T/k.safetensors" --checkpoint-every 3 > "$T/k.out" 2>&1 &
pid=$!
n=0
while [ ! -e "$T/k.safetensors" ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n + 1)); done
t0=$(date +%s)
kill -KILL "$(rank_pid $pid 1)" 2>/dev/null
wait $pid
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && ok || bad "job with a killed process: exit $rc (124: it hung until the timeout)"
grep -qi "killed\|signal 9" "$T/k.out" && ok || bad "no message about the killed process: $(tail -5 "$T/k.out")"
echo "killed process: the job ended $(( $(date +%s) - t0 )) s after the kill, exit $rc"
"$A" info --model "$T/k.safetensors" > /dev/null 2>&1 && ok || bad "the model file left by the killed job does not load"
$MPI -np 2 "$A" train $FR --epochs 40 --out "$T/k2.safetensors" --resume "$T/k.safetensors.ckpt" > "$T/k2.out" 2>&1
[ $? -eq 0 ] && ok || bad "the checkpoint left by the killed job does not resume: $(tail -3 "$T/k2.out")"
"$A" train $FR --epochs 40 --out "$T/k1.safetensors" > /dev/null 2>&1
same_model "$T/k1.safetensors" "$T/k2.safetensors" && ok || bad "resumed after the kill: model differs from the uninterrupted one"

# ---- a process failing alone ----
# process 1 reads a file that does not exist / other data (MPMD launch)
sed 's/alpha/omega/' "$T/d.tsv" > "$T/other.tsv"
for case in missing other; do
  f="$T/missing.tsv"; want="process 1 of 2: .*missing.tsv"
  [ $case = other ] && { f="$T/other.tsv"; want="process 1 of 2: .*differ from process 0"; }
  rm -f "$T/m.safetensors"
  $MPI -np 1 "$A" train $F2 --threads 1 --out "$T/m.safetensors" : \
    -np 1 "$A" train $F2 --threads 1 --out "$T/m.safetensors" --data "$f" > "$T/m.out" 2>&1
  rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && ok || bad "process 1 with $case data: exit $rc (124: a hang)"
  grep -q "$want" "$T/m.out" && ok || bad "process 1 with $case data: no message '$want': $(head -3 "$T/m.out")"
  [ ! -e "$T/m.safetensors" ] && ok || bad "process 1 with $case data: a model was written"
done

echo "test_mpi: $pass passed, $fail failed"
[ $fail -eq 0 ]
