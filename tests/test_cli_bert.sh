#!/bin/sh
# Pretrained encoders from the command line, on the small Hugging Face
# folders of tests/hf_fixtures/bert (no download): attend tokenize, embed,
# predict and info on a folder; tokenize on an attend classifier; bad lines,
# bad flags and bad folders. Every run must exit 0, 1 (runtime failure) or 2
# (usage error) as expected, say what is wrong on stderr, and never crash.
# Usage: sh tests/test_cli_bert.sh path/to/attend   (from the repository
# root; scratch files go to $ATTEND_TMP, default /tmp). Needs only POSIX tools.

. "$(dirname "$0")/lib.sh"
test_bin "$1"
ENC=$ROOT/tests/hf_fixtures/bert/e20_h4_l3_base      # BertModel, E 20, 24 positions
CLS=$ROOT/tests/hf_fixtures/bert/e24_h2_l1_no_token_types  # with a classifier, E 24
test_scratch cli_bert

run() {
    name=$1
    shift
    "$BIN" "$@" <"${STDIN:-/dev/null}" >out 2>err
    rc=$?
    if [ $rc -ge 128 ]; then bad "$name: crashed (exit $rc)"; show err; fi
}
# expect NAME CODE PATTERNS ARGS...: exit code CODE, and every ';'-separated
# fixed string of PATTERNS on stderr.
expect() {
    ename=$1 code=$2 patterns=$3
    shift 3
    run "$ename" "$@"
    if [ "$rc" = "$code" ]; then ok; else bad "$ename: exit $rc, expected $code"; show err; fi
    old_ifs=$IFS
    IFS=';'
    for p in $patterns; do
        if grep -F -q -- "$p" err; then ok; else bad "$ename: stderr does not mention '$p'"; show err; fi
    done
    IFS=$old_ifs
}
# fields FILE LINE: number of space-separated fields of line LINE
fields() { sed -n "$2p" "$1" | awk '{ print NF }'; }

printf 'The lazy dog walked!\n\nover the river \377 bad\nCafé 山水 reading\n' >texts.txt

# ---- tokenize ----
expect "tokenize" 0 "texts.txt:3" tokenize --model "$ENC" texts.txt
cp out tok.out
check "tokenize: one line per line" [ "$(wc -l <tok.out)" -eq 4 ]
check "tokenize: [CLS] ... [SEP] (ids 2, 3)" [ "$(sed -n 1p tok.out | awk '{ print $1, $NF }')" = "2 3" ]
check "tokenize: an empty line is [CLS] [SEP]" [ "$(sed -n 2p tok.out)" = "2 3" ]
check "tokenize: invalid UTF-8 gives an empty line" [ -z "$(sed -n 3p tok.out)" ]
expect "tokenize --json" 0 "" tokenize --model "$ENC" --json texts.txt
has "tokenize --json" out '"tokens":["[CLS]"'
has "tokenize --json" out '"n_total":'
expect "tokenize --max-len 4" 0 "" tokenize --model "$ENC" --max-len 4 texts.txt
check "tokenize --max-len 4: 4 ids, [SEP] last" [ "$(sed -n 1p out | awk '{ print NF, $NF }')" = "4 3" ]
expect "tokenize --max-len past the positions" 2 "[2, 24]" tokenize --model "$ENC" --max-len 100 texts.txt
STDIN=texts.txt expect "tokenize from stdin" 0 "" tokenize --model "$ENC"
check "tokenize: stdin as the file" cmp -s out tok.out

# ---- embed ----
expect "embed" 0 "texts.txt:3" embed --model "$ENC" texts.txt
cp out emb.out
check "embed: one line per line" [ "$(wc -l <emb.out)" -eq 4 ]
for l in 1 2 4; do check "embed: line $l has 20 values" [ "$(fields emb.out $l)" -eq 20 ]; done
check "embed: invalid UTF-8 gives an empty line" [ -z "$(sed -n 3p emb.out)" ]
expect "embed --batch 1" 0 "" embed --model "$ENC" --batch 1 texts.txt
check "embed: chunks of 1 line give the same vectors" awk 'NR == FNR { for (i = 1; i <= NF; i++) a[FNR, i] = $i; next }
    { for (i = 1; i <= NF; i++) { d = a[FNR, i] - $i; if (d > 1e-5 || d < -1e-5) exit 1 } }' emb.out out
expect "embed --normalize" 0 "" embed --model "$ENC" --normalize texts.txt
check "embed --normalize: unit vectors" awk 'NF { s = 0; for (i = 1; i <= NF; i++) s += $i * $i; if (s < 0.9999 || s > 1.0001) exit 1 }' out
expect "embed --pooling max" 0 "" embed --model "$ENC" --pooling max texts.txt
check "embed --pooling max differs from mean" [ "$(sed -n 1p out)" != "$(sed -n 1p emb.out)" ]
expect "embed --json" 0 "" embed --model "$ENC" --json texts.txt
has "embed --json" out '{"embedding":['
has "embed --json: the bad line" out '{"embedding":[],"n_tokens":0}'
expect "embed --normalize --no-normalize" 2 "contradict" embed --model "$ENC" --normalize --no-normalize texts.txt
expect "embed --pooling bogus" 2 "--pooling" embed --model "$ENC" --pooling bogus texts.txt
expect "embed, no such model" 1 "nowhere" embed --model "$T/nowhere" texts.txt
mkdir pickle
cp "$ENC/config.json" "$ENC/vocab.txt" pickle/
printf 'not a safetensors file' >pickle/pytorch_model.bin
expect "embed, pytorch_model.bin only" 1 "pickle;safetensors" embed --model pickle texts.txt
expect "embed, no such input" 1 "cannot open" embed --model "$ENC" "$T/none.txt"

# ---- predict / info on folders ----
expect "predict, a classifier folder" 0 "texts.txt:3" predict --model "$CLS" -k 2 texts.txt
check "predict: one line per line" [ "$(wc -l <out)" -eq 4 ]
has "predict: labels" out "LABEL_"
expect "predict, an encoder folder" 1 "without a classification head;attend embed" predict --model "$ENC" texts.txt
expect "info, a folder" 0 "" info --model "$ENC"
has "info" out "arch        bert"
has "info" out "none (an encoder)"

# ---- show on folders ----
expect "show, a classifier folder" 0 "" show --model "$CLS" --text "the lazy dog walked" --json
has "show --json: [CLS] ... [SEP]" out '"tokens":["[CLS]","the","lazy","dog","walk","##ed","[SEP]"]'
has "show --json: a prediction" out '"predicted":"LABEL_'
expect "show, an encoder folder" 0 "" show --model "$ENC" --text "the lazy dog walked"
has "show: an encoder predicts nothing" out "predicted  nothing: an encoder"
has "show: [CLS] and [SEP]" out "(with [CLS] and [SEP])"
expect "show --out svg, an encoder" 0 "" show --model "$ENC" --text "the lazy dog" --out enc.svg
check "show --out: the picture" [ -s enc.svg ]

# ---- fine-tuning: train --init ----
awk 'BEGIN { split("walk play read sing", a, " "); split("dog cat river tree", b, " ")
    for (i = 0; i < 120; i++) { c = i % 2; w = c ? a[1 + i % 4] : b[1 + int(i / 2) % 4]
        print (c ? "verb" : "noun") "\tthe " w " " w " lazy" } }' >ft.tsv
expect "train --init" 0 "" train --init "$ENC" --data ft.tsv --out ft.safetensors --epochs 2 --lr 1e-3 --batch 16 --threads 1 --seed 3
check "train --init: the model" [ -s ft.safetensors ]
has "train --init: two epochs" out "epoch 2/2"
expect "train --init again" 0 "" train --init "$ENC" --data ft.tsv --out ft2.safetensors --epochs 2 --lr 1e-3 --batch 16 --threads 1 --seed 3
check "train --init: same seed, same file" cmp -s ft.safetensors ft2.safetensors
# at 2 threads: the same weights (the provenance records the threads)
tensors() { tail -c +$(($(od -An -tu8 -N8 "$1" | tr -d ' ') + 9)) "$1"; }
expect "train --init, 2 threads" 0 "" train --init "$ENC" --data ft.tsv --out ft4.safetensors --epochs 2 --lr 1e-3 --batch 16 --threads 2 --seed 3
tensors ft.safetensors >ft.bytes
tensors ft4.safetensors >ft4.bytes
check "train --init: 2 threads, the same weights as 1" sh -c "[ -s ft.bytes ] && cmp -s ft.bytes ft4.bytes"
# fine-tuning sorts by length within chunks of 8 batches by default
# (--bucket 8); --bucket 0 draws each batch at random
expect "train --init --bucket 8" 0 "" train --init "$ENC" --data ft.tsv --out ft5.safetensors --epochs 2 --lr 1e-3 --batch 4 --threads 1 --seed 3 --bucket 8
expect "train --init, batch 4" 0 "" train --init "$ENC" --data ft.tsv --out ft7.safetensors --epochs 2 --lr 1e-3 --batch 4 --threads 1 --seed 3
tensors ft5.safetensors >ft5.bytes
tensors ft7.safetensors >ft7.bytes
check "train --init: --bucket 8 is the default" sh -c "[ -s ft5.bytes ] && cmp -s ft7.bytes ft5.bytes"
expect "train --init --bucket 0" 0 "" train --init "$ENC" --data ft.tsv --out ft6.safetensors --epochs 2 --lr 1e-3 --batch 4 --threads 1 --seed 3 --bucket 0
tensors ft6.safetensors >ft6.bytes
check "train --init: --bucket 0 draws other batches" sh -c "[ -s ft6.bytes ] && ! cmp -s ft7.bytes ft6.bytes"
expect "predict, fine-tuned" 0 "" predict --model ft.safetensors -k 1 texts.txt
has "predict, fine-tuned: labels" out "noun"
expect "eval, fine-tuned" 0 "" eval --model ft.safetensors --data ft.tsv
has "eval, fine-tuned" out "accuracy"
expect "info, fine-tuned" 0 "" info --model ft.safetensors
has "info, fine-tuned: provenance names the folder" out "e20_h4_l3_base"
has "info, fine-tuned: 2 classes" out "2 classes"
expect "embed, fine-tuned" 0 "" embed --model ft.safetensors texts.txt
check "embed, fine-tuned: 20 values" [ "$(fields out 1)" -eq 20 ]
expect "show, fine-tuned" 0 "" show --model ft.safetensors --text "the dog dog lazy"
has "show, fine-tuned" out "predicted  noun"
expect "report, fine-tuned" 0 "" report --model ft.safetensors --data ft.tsv --out rep
check "report, fine-tuned: the page" [ -s rep/index.html ]
expect "train --init from the fine-tuned model, --pool mean" 0 "" train --init ft.safetensors --data ft.tsv --out ft3.safetensors --epochs 1 --pool mean --threads 1
expect "train --init --d-model" 2 "--d-model does not apply with --init" train --init "$ENC" --data ft.tsv --out x.safetensors --d-model 32
expect "train --pool pooler without --init" 2 "needs --init" train --data ft.tsv --out x.safetensors --pool pooler
expect "train --init --max-len past the positions" 1 "max_len" train --init "$ENC" --data ft.tsv --out x.safetensors --max-len 100
expect "train --init, not a folder" 1 "nowhere" train --init "$T/nowhere" --data ft.tsv --out x.safetensors

# ---- export for transformers ----
expect "export" 0 "" export --model ft.safetensors --out ft-hf
for f in config.json model.safetensors vocab.txt tokenizer_config.json special_tokens_map.json; do
    check "export: $f" [ -s "ft-hf/$f" ]
done
has "export: BertForSequenceClassification" ft-hf/config.json '"architectures": ["BertForSequenceClassification"]'
has "export: labels" ft-hf/config.json '"id2label": {"0": "noun", "1": "verb"}'
expect "predict, fine-tuned" 0 "" predict --model ft.safetensors --json -k 2 texts.txt
cp out pred_model.out
expect "predict, the exported folder" 0 "" predict --model ft-hf --json -k 2 texts.txt
check "export: the folder predicts as the model does" cmp -s out pred_model.out
expect "export, mean pooling" 2 "no equivalent;--pool pooler" export --model ft3.safetensors --out x-hf
expect "export, an encoder folder" 2 "without a classification head" export --model "$ENC" --out x-hf

# ---- tokenize on an attend classifier ----
awk 'BEGIN { for (i = 0; i < 30; i++) print (i % 2 ? "a" : "b") "\tword" i % 5 " other" i % 3 }' >data.tsv
expect "train a tiny classifier" 0 "" train --data data.tsv --out tiny.safetensors --epochs 1 --d-model 8 --heads 2 --layers 1 --d-ff 8 --threads 1
expect "train --init from a classifier" 1 "attend classifier" train --init tiny.safetensors --data ft.tsv --out x.safetensors
expect "export, an attend classifier" 2 "no transformers equivalent" export --model tiny.safetensors --out x-hf
printf 'word1 other2\n' >one.txt
expect "tokenize, an attend model" 0 "" tokenize --model tiny.safetensors one.txt
check "tokenize, an attend model: word 1 other 2" [ "$(fields out 1)" -eq 4 ]
expect "tokenize --max-len on an attend model" 2 "fixed when it was trained" tokenize --model tiny.safetensors --max-len 5 one.txt

test_done test_cli_bert
