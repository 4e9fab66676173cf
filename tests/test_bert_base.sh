#!/bin/sh
# A bert-base-shaped model (12 layers, hidden 768, 12 heads, feed-forward
# 3072, 512 positions, the 30522-token uncased vocabulary: 109.5 M
# parameters) with random weights in BF16, written by tests/make_bert_folder
# as a Hugging Face folder with the "bert." prefix: attend info, tokenize,
# embed, train --init (a pooler head), predict, eval and export work on it
# at full size, and the exported folder predicts what the fine-tuned model
# predicts. Needs about 2 GB of memory and 1.5 GB of scratch disk.
# Usage: sh tests/test_bert_base.sh path/to/attend   (from the repository root;
# make_bert_folder is looked for beside the tests' other programs, or in
# $ATTEND_MAKE_BERT_FOLDER)
. "$(dirname "$0")/lib.sh"
test_bin "$1"
MAKE=${ATTEND_MAKE_BERT_FOLDER:-$(dirname "$BIN")/tests/make_bert_folder}
[ -x "$MAKE" ] || { echo "FAIL: $MAKE not built" >&2; exit 1; }
test_scratch bert_base

mkdir base || exit 1
check "make_bert_folder" "$MAKE" base "$ROOT/tests/wordpiece/vocab-minilm.txt"

run "info on the folder" 0 info --model base
has "info: parameters" out "parameters  109482240"
has "info: layers" out "layers 12, d_ff 3072, max_len 512"

# Ids of bert-base-uncased's vocabulary (the same as all-MiniLM-L6-v2's:
# README's example and tests/wordpiece/expected-minilm.txt).
printf 'Hello, world!\n\n' > two.txt
run "tokenize" 0 tokenize --model base two.txt
printf '101 7592 1010 2088 999 102\n101 102\n' > want_ids
check "tokenize: ids of bert-base-uncased" cmp -s out want_ids

printf 'a small dog\nthe first text is longer than the second one\n' > texts.txt
run "embed" 0 embed --model base texts.txt
check "embed: two lines of 768 numbers" awk 'NF != 768 { exit 1 } END { exit NR != 2 }' out

# Fine-tuning: 16 texts, 2 labels, 2 steps of 8.
i=0
while [ $i -lt 8 ]; do
    printf 'pos\tthe cat sat on the mat number %d\nneg\ta dog ran in the park number %d\n' $i $i
    i=$((i + 1))
done > train.tsv
run "train --init" 0 train --init base --data train.tsv --val-split 0 --epochs 1 --batch 8 \
    --max-len 16 --pool pooler --threads 2 --out ft.safetensors
has "train: loss printed" out "loss"
check "train: the model file" test -s ft.safetensors
check "train: no checkpoint left" test ! -e ft.safetensors.ckpt
run "info on the fine-tuned model" 0 info --model ft.safetensors
has "fine-tuned info: parameters" out "parameters  109483778"
run "predict" 0 predict --model ft.safetensors -k 2 texts.txt
cp out predicted
check "predict: two lines" test "$(wc -l < predicted)" -eq 2
run "eval" 0 eval --model ft.safetensors --data train.tsv
has "eval: accuracy" out "accuracy"

run "export" 0 export --model ft.safetensors --out exported
check "export: config.json" test -s exported/config.json
has "export: BertForSequenceClassification" exported/config.json "BertForSequenceClassification"
run "predict on the exported folder" 0 predict --model exported -k 2 texts.txt
check "predict on the exported folder: two lines" test "$(wc -l < out)" -eq 2
# the same labels in the same order, probabilities within 1e-4
check "exported folder predicts what the model predicts" awk '
    NR == FNR { for (i = 1; i <= NF; i++) a[FNR, i] = $i; n[FNR] = NF; next }
    {
        if (NF != n[FNR]) exit 1
        for (i = 1; i <= NF; i++) {
            x = a[FNR, i]; y = $i
            if (x ~ /^[0-9.e-]+$/ && y ~ /^[0-9.e-]+$/) { d = x - y; if (d < 0) d = -d; if (d > 1e-4) exit 1 }
            else if (x != y) exit 1
        }
    }' predicted out
test_done test_bert_base
