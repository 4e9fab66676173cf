#!/bin/sh
# make demo: train the default classifier on the bundled WordNet data, then
# evaluate it on the held-out 20% and classify a few sentences.
#   sh scripts/demo.sh BUILD_DIR
set -e
build="${1:-build}"
attend="$build/attend"
out="$build/demo"
data="data/wordnet-nouns.tsv"
mkdir -p "$out"

sh scripts/wordnet_data.sh

echo "== attend train: default model, 20% stratified validation split"
"$attend" train --data "$data" --val-split 0.2 --val-out "$out/val.tsv" \
  --out "$out/wordnet.safetensors" --log "$out/train.jsonl" --report "$out/report"

echo
echo "== attend eval on the held-out validation split"
"$attend" eval --model "$out/wordnet.safetensors" --data "$out/val.tsv" | sed -n '1,6p'
echo "(full per-class table and confusion matrix: $attend eval --model $out/wordnet.safetensors --data $out/val.tsv)"

echo
echo "== attend predict: top 3 lexicographer classes for a few glosses"
"$attend" predict --model "$out/wordnet.safetensors" -k 3 scripts/demo_examples.txt |
  paste scripts/demo_examples.txt - | sed 's/\t/\n    -> /'
echo
echo "model: $out/wordnet.safetensors   (attend info --model $out/wordnet.safetensors)"
echo "report: $out/report/index.html   (open it in a browser; pictures also in $out/report/figures/)"
echo "attention of one text: $attend show --model $out/wordnet.safetensors --text \"a large wild cat with a mane\""
