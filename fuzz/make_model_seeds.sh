#!/bin/sh
# Writes the model loader's seeds into fuzz/corpus/model/: tiny classifiers
# trained with attend (three architectures covering every option of the
# config: learned/sinusoidal/no positions, mean/cls/max pooling, post/pre
# norm, relu/gelu, head hidden layers, zero layers), each as a plain file and
# in fuzz_model.c's other encoding (header JSON, NUL, data section), plus a
# few hostile variants of the metadata. Committed; rerun after a change of
# the model file format:
#     sh fuzz/make_model_seeds.sh build/attend
set -e
BIN=${1:-build/attend}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
OUT=$(pwd)/fuzz/corpus/model
mkdir -p "$OUT"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
printf 'pos\tgood fine great nice happy\npos\tgreat happy joy\npos\tnice good fun\nneg\tbad awful sad poor\nneg\tsad poor ugly bad\nneg\tawful terrible bad\nmid\tso so okay\nmid\tokay fine so\n' > d.tsv
common="--data d.tsv --epochs 1 --val-split 0 --threads 1 --d-ff 8 --max-len 8"
"$BIN" train $common --out a.safetensors --d-model 8 --heads 2 --layers 1 >/dev/null 2>&1
"$BIN" train $common --out b.safetensors --d-model 4 --heads 1 --layers 1 --pos sinusoidal \
    --pool cls --norm-first --activation gelu --head-hidden 3,2 >/dev/null 2>&1
"$BIN" train $common --out c.safetensors --d-model 4 --heads 2 --layers 0 --pos none --pool max >/dev/null 2>&1

# split FILE NAME: FILE as is, and as header + NUL + data
split() {
    cp "$1" "$OUT/$2"
    n=$(od -An -tu8 -N8 "$1" | tr -d ' ')
    { dd if="$1" bs=1 skip=8 count="$n" 2>/dev/null; printf '\000'; tail -c +$((9 + n)) "$1"; } > "$OUT/$2.split"
}
split a.safetensors post_learned_mean
split b.safetensors pre_sinusoidal_cls_hidden
split c.safetensors nolayers_nopos_max

# hostile metadata on model a, in the split form (the header stays consistent)
n=$(od -An -tu8 -N8 a.safetensors | tr -d ' ')
dd if=a.safetensors bs=1 skip=8 count="$n" 2>/dev/null > h.json
tail -c +$((9 + n)) a.safetensors > data.bin
variant() {
    sed "$2" h.json > v.json
    { cat v.json; printf '\000'; cat data.bin; } > "$OUT/$1.split"
}
variant bad_format 's/attend.classifier.v1/attend.classifier.v9/'
variant vocab_size_mismatch 's/\\"vocab_size\\":[0-9]*/\\"vocab_size\\":17/'
variant num_classes_mismatch 's/\\"num_classes\\":3/\\"num_classes\\":2/'
variant huge_d_model 's/\\"d_model\\":8/\\"d_model\\":16384/'
variant huge_max_len_sinusoidal 's/\\"max_len\\":8,\\"pos\\":\\"learned\\"/\\"max_len\\":16384,\\"pos\\":\\"sinusoidal\\"/'
variant nhead_not_divisor 's/\\"nhead\\":2/\\"nhead\\":3/'
variant labels_unsorted 's/\[\\"mid\\",\\"neg\\",\\"pos\\"\]/[\\"pos\\",\\"neg\\",\\"mid\\"]/'
variant no_vocab 's/"vocab":/"vocaX":/'
variant renamed_tensor 's/embedding.weight/embedding.weighs/'
variant wrong_shape 's/"shape":\[16,8\]/"shape":[8,16]/'
# a NaN in the first weight
{ cat h.json; printf '\000'; printf '\000\000\300\177'; tail -c +5 data.bin; } > "$OUT/nan_weight.split"
ls "$OUT" | wc -l
