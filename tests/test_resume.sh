#!/bin/sh
# Interruption and exact resume: SIGINT / SIGTERM stop training with a
# checkpoint and exit 130 / 143; --resume then gives a model byte-identical to
# a run that was never stopped; SIGKILL at random moments (many of them during
# a save) never leaves a model or checkpoint file that does not load; the
# temporary file such a kill leaves is removed by the next save to that file.
# Usage: sh tests/test_resume.sh path/to/attend   (KILL_TRIALS=200 for the long run)
set -u
A=$1
T=${ATTEND_TMP:-/tmp}/test_resume.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# Small synthetic data: 4 classes with their own words.
awk 'BEGIN { srand(7); split("alpha beta gamma delta", c, " ");
  for (i = 0; i < 400; i++) { k = i % 4 + 1; line = c[k];
    for (j = 0; j < 6 + i % 9; j++) line = line " " c[k] int(rand() * 30) " w" int(rand() * 50);
    printf "%s\t%s\n", c[k], line } }' > "$T/d.tsv"
FLAGS="--data $T/d.tsv --epochs 4 --batch 8 --d-model 16 --heads 2 --layers 1 --d-ff 32 --threads 1 --seed 3"

"$A" train $FLAGS --out "$T/full.safetensors" > "$T/full.out" 2>&1
[ $? -eq 0 ] && ok || bad "uninterrupted run failed: $(tail -2 "$T/full.out")"
[ ! -e "$T/full.safetensors.ckpt" ] && ok || bad "checkpoint left behind after a finished run"

# SIGINT / SIGTERM while training: wait for the first periodic checkpoint, then signal.
for sig in INT TERM; do
  rm -f "$T/s.safetensors" "$T/s.safetensors.ckpt"
  "$A" train $FLAGS --out "$T/s.safetensors" --checkpoint-every 7 > "$T/s.out" 2>&1 &
  pid=$!
  n=0
  while [ ! -e "$T/s.safetensors.ckpt" ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n + 1)); done
  kill -$sig $pid 2>/dev/null
  wait $pid
  rc=$?
  want=130; [ $sig = TERM ] && want=143
  if [ $rc -eq $want ]; then ok; elif [ $rc -eq 0 ]; then echo "note: run ended before SIG$sig"; ok
  else bad "SIG$sig: exit $rc, expected $want: $(tail -1 "$T/s.out")"; fi
  if [ $rc -eq $want ]; then
    grep -q "resume with --resume" "$T/s.out" && ok || bad "SIG$sig: no resume hint"
  fi
  # SIGTERM's run resumes from the model's path, which people type: the
  # checkpoint beside it (MODEL.ckpt) is found
  from="$T/s.safetensors.ckpt"; [ $sig = TERM ] && from="$T/s.safetensors"
  "$A" train $FLAGS --out "$T/s.safetensors" --resume "$from" > "$T/r.out" 2>&1
  [ $? -eq 0 ] && ok || bad "resume after SIG$sig failed: $(tail -2 "$T/r.out")"
  cmp -s "$T/full.safetensors" "$T/s.safetensors" && ok || bad "resumed model differs from the uninterrupted one (SIG$sig)"
  # the epoch lines of the resumed run match the uninterrupted run's
  grep '^epoch' "$T/full.out" | sed 's/ [0-9.]* s / /' | tail -2 > "$T/e1"
  grep '^epoch' "$T/r.out" | sed 's/ [0-9.]* s / /' | tail -2 > "$T/e2"
  cmp -s "$T/e1" "$T/e2" && ok || bad "resumed epoch lines differ (SIG$sig)"
done

# A checkpoint from other settings is refused.
"$A" train $FLAGS --out "$T/x.safetensors" --checkpoint "$T/keep.ckpt" > /dev/null 2>&1
"$A" train $FLAGS --lr 0.01 --out "$T/x.safetensors" --resume "$T/keep.ckpt" > "$T/x.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "other data or settings" "$T/x.out" && ok || bad "mismatched resume: exit $rc: $(head -1 "$T/x.out")"
"$A" train $FLAGS --out "$T/x.safetensors" --resume "$T/full.safetensors" > "$T/x.out" 2>&1
[ $? -eq 1 ] && grep -q "full.safetensors is a model file, not a checkpoint, and its checkpoint .*full.safetensors.ckpt does not exist" "$T/x.out" && ok || bad "a finished model given as checkpoint was not refused with its checkpoint named: $(cat "$T/x.out")"
"$A" train $FLAGS --out "$T/x.safetensors" --resume "$T/d.tsv" > "$T/x.out" 2>&1
[ $? -eq 1 ] && grep -q "d.tsv" "$T/x.out" && ok || bad "data given as checkpoint: $(cat "$T/x.out")"

# Temporary files of killed saves: the next save to the same file removes
# "<file>.tmp.<pid>[.<k>]" when process <pid> is gone, and nothing else: not
# a live process's (this shell's), not other names, not a directory or link.
sh -c 'exit 0' &
dead=$!
wait $dead
S=$T/stale
mkdir -p "$S"
M=$S/m.safetensors
if kill -0 $dead 2>/dev/null; then
  echo "note: pid $dead was reused at once; stale-file check skipped"
else
  for f in "$M.tmp.$dead" "$M.tmp.$dead.7" "$M.ckpt.tmp.$dead" \
           "$M.tmp.$$" "$M.tmp.$$.1" "$M.tmp.0$dead" "$M.tmp.${dead}x" "$M.tmp.$dead.123" \
           "$M.tmp." "$M.tmp.$dead.x" "$S/other.safetensors.tmp.$dead" "$S/m.tmp.$dead"; do
    echo partial > "$f"
  done
  mkdir "$M.tmp.$dead.8"
  ln -s "$S/other.safetensors.tmp.$dead" "$M.tmp.$dead.9"
  "$A" train $FLAGS --epochs 1 --out "$M" > "$T/stale.out" 2>&1
  [ $? -eq 0 ] && ok || bad "run over stale temporary files failed: $(tail -1 "$T/stale.out")"
  for f in "$M.tmp.$dead" "$M.tmp.$dead.7" "$M.ckpt.tmp.$dead"; do
    [ ! -e "$f" ] && ok || bad "stale $(basename "$f") (process gone) was not removed"
  done
  for f in "$M.tmp.$$" "$M.tmp.$$.1" "$M.tmp.0$dead" "$M.tmp.${dead}x" "$M.tmp.$dead.123" \
           "$M.tmp." "$M.tmp.$dead.x" "$S/other.safetensors.tmp.$dead" "$S/m.tmp.$dead" \
           "$M.tmp.$dead.8" "$M.tmp.$dead.9"; do
    [ -e "$f" ] || [ -L "$f" ] && ok || bad "$(basename "$f") was removed but is not a stale temporary file"
  done
fi

# SIGKILL at random moments: the model and checkpoint files always load, and
# the temporary file a kill during a save leaves is removed by the next save.
trials=${KILL_TRIALS:-12}
in_save=0
t0=$(date +%s)
i=0
while [ $i -lt $trials ]; do
  i=$((i + 1))
  "$A" train $FLAGS --epochs 30 --out "$T/k.safetensors" --checkpoint-every 1 > /dev/null 2>&1 &
  pid=$!
  # 0.05 .. 1.5 s: a save every step means most kills land in or near a save
  sleep "$(awk -v s=$i 'BEGIN { srand(s); printf "%.2f", 0.05 + rand() * 1.45 }')"
  kill -KILL $pid 2>/dev/null
  wait $pid 2>/dev/null
  # a temporary file of this process: the kill came between creating it and the rename
  ls "$T" | grep -Eq "^k\.safetensors(\.ckpt)?\.tmp\.$pid(\.[0-9]+)?\$" && in_save=$((in_save + 1))
  if [ -e "$T/k.safetensors" ]; then
    "$A" info --model "$T/k.safetensors" > /dev/null 2>&1 && ok || bad "trial $i: model file does not load"
  fi
  if [ -e "$T/k.safetensors.ckpt" ]; then
    "$A" train $FLAGS --epochs 30 --out "$T/k2.safetensors" --resume "$T/k.safetensors.ckpt" --checkpoint "$T/k2.ckpt" > "$T/k.out" 2>&1 &
    p2=$!
    sleep 0.3
    kill -INT $p2 2>/dev/null
    wait $p2
    rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 130 ] && ok || bad "trial $i: checkpoint does not resume (exit $rc): $(tail -1 "$T/k.out")"
  fi
done
"$A" train $FLAGS --epochs 1 --out "$T/k.safetensors" > "$T/k.out" 2>&1
[ $? -eq 0 ] && ok || bad "run after the SIGKILL trials failed: $(tail -1 "$T/k.out")"
left=$(ls "$T" | grep -c '^k\.safetensors.*\.tmp\.')
[ "$left" -eq 0 ] && ok || bad "$left temporary files of killed saves remain after a save"
echo "SIGKILL: $trials trials, $in_save killed during a save, $(( $(date +%s) - t0 )) s"

# An output directory that cannot be written is refused before training.
"$A" train $FLAGS --out "$T/nodir/m.safetensors" > "$T/w.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "cannot write" "$T/w.out" && ok || bad "unwritable --out: exit $rc: $(head -1 "$T/w.out")"

# A file-size limit (a full disk, as far as the process can tell) fails the
# save with a message and leaves the previous model intact.
cp "$T/full.safetensors" "$T/f.safetensors"
(ulimit -f 20; "$A" train $FLAGS --out "$T/f.safetensors" > "$T/f.out" 2>&1)
rc=$?
[ $rc -eq 1 ] && ok || bad "file-size limit: exit $rc, expected 1: $(tail -1 "$T/f.out")"
cmp -s "$T/full.safetensors" "$T/f.safetensors" && ok || bad "previous model changed after a failed save"

echo "test_resume: $pass passed, $fail failed"
[ $fail -eq 0 ]
