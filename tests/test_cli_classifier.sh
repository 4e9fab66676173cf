#!/bin/sh
# The classifier from the command line: attend train, eval, predict and info on
# a tiny synthetic dataset made here (3 classes x 40 lines, each class with its
# own words), in every data format, plus determinism, --log, and hostile input
# (empty or single-class data, unknown labels, malformed lines, out-of-range
# flags, missing, truncated or foreign model files). Every run must exit 0, 1
# (runtime failure) or 2 (usage error) as expected, say what is wrong on
# stderr, and never crash (exit >= 128).
# Usage: sh tests/test_cli_classifier.sh path/to/attend   (from the repository
# root; scratch files go to $ATTEND_TMP, default /tmp). Needs only POSIX tools.

. "$(dirname "$0")/lib.sh"
test_bin "$1"
test_scratch cli_classifier  # every scratch file below is relative to $T

# run NAME ARGS...: runs $BIN ARGS with stdout in out, stderr in err, the exit
# code in $rc; a crash (exit >= 128) is a failure by itself.
run() {
    name=$1
    shift
    "$BIN" "$@" >out 2>err
    rc=$?
    if [ $rc -ge 128 ]; then bad "$name: crashed (exit $rc)"; show err; fi
}

# expect NAME CODE PATTERNS ARGS...: the exit code must be CODE and, when CODE
# is not 0, stderr must hold an "attend: " line and every ';'-separated fixed
# string of PATTERNS.
expect() {
    ename=$1 code=$2 patterns=$3
    shift 3
    run "$ename" "$@"
    if [ "$rc" = "$code" ]; then ok; else bad "$ename: exit $rc, expected $code"; show err; fi
    if [ "$code" != 0 ]; then
        if grep -q '^attend: ' err; then ok; else bad "$ename: no 'attend: <message>' on stderr"; show err; fi
    fi
    old_ifs=$IFS
    IFS=';'
    for p in $patterns; do
        if grep -F -q -- "$p" err; then ok; else bad "$ename: stderr does not mention '$p'"; show err; fi
    done
    IFS=$old_ifs
}

# same NAME A B: files A and B are byte-identical.
same() {
    if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; diff "$2" "$3" | head -10 >&2; fi
}

# ---- data: 3 classes x 40 lines, words drawn with a fixed LCG ----
toy_data 4242 40 3 6 plain >data.tsv
check "data.tsv has 120 lines" [ "$(wc -l <data.tsv)" -eq 120 ]

# The same records as CSV (header, quoted fields, commas and "" inside quotes,
# newlines inside some texts), fastText and JSONL.
awk -F '\t' 'BEGIN { print "id,eng,Subject" }
{
    text = $2
    if (NR % 7 == 0) sub(/ /, "\n", text)          # newline inside a quoted field
    if (NR % 5 == 0) text = text ", \"\"" $2 "\"\""  # comma and escaped quotes
    printf "%d,\"%s\",%s\n", NR, text, $1
}' data.tsv >data.csv
awk -F '\t' '{ print "__label__" $1 " " $2 }' data.tsv >data.txt
awk -F '\t' '{ printf "{\"text\": \"%s\", \"label\": \"%s\"}\n", $2, $1 }' data.tsv >data.jsonl

SMALL="--epochs 3 --d-model 16 --heads 2 --layers 1 --d-ff 32 --batch 8 --threads 1"

# ---- train ----
# (the model the later checks use trains a little longer, so that its
# predictions are clear-cut)
expect "train" 0 "" train --data data.tsv --out model.safetensors $SMALL --epochs 10 --lr 0.01
cp out train.out
check "train: model file written" [ -s model.safetensors ]
check "train: one line per epoch" [ "$(grep -c '^epoch [0-9]*/10 ' train.out)" -eq 10 ]
has "train: epoch line" train.out "epoch 1/10  train loss "
has "train: epoch line shows val accuracy" train.out "val acc "
has "train: final line" train.out "model saved to model.safetensors"

# ---- eval ----
expect "eval" 0 "" eval --model model.safetensors --data data.tsv
cp out eval.out
for word in "N         120" accuracy macro-F1 precision recall support "confusion matrix" animal food tool; do
    has "eval text" eval.out "$word"
done
# the confusion matrix has one row per class: "   1   n   n   n  animal"
check "eval: confusion matrix rows" [ "$(grep -c -E '^ +[1-3]( +[0-9]+){3}  (animal|food|tool)$' eval.out)" -eq 3 ]
acc=$(sed -n 's/^accuracy *\([0-9]*\)\..*/\1/p' eval.out)
check "eval: the model learned the training data (accuracy ${acc:-?}% >= 80%)" [ "${acc:-0}" -ge 80 ]

expect "eval --json" 0 "" eval --model model.safetensors --data data.tsv --json
cp out eval.json
check "eval --json: one line" [ "$(wc -l <eval.json)" -eq 1 ]
for key in '"n":120' '"loss":' '"accuracy":' '"macro_f1":' '"labels":["animal","food","tool"]' \
    '"per_class":' '"precision":' '"recall":' '"f1":' '"support":40' '"confusion":[['; do
    has "eval --json" eval.json "$key"
done

# ---- predict ----
printf 'cat dog horse\n\nbread soup pasta\n   \nhammer saw drill\nlion tiger wolf\nbread honey pasta butter\n' >in.txt
expect "predict FILE" 0 "" predict --model model.safetensors in.txt
cp out pred.out
check "predict: one output line per input line" [ "$(wc -l <pred.out)" -eq 7 ]
printf 'animal\n\nfood\n\ntool\nanimal\nfood\n' >want.txt
cut -d ' ' -f 1 pred.out >got.txt
same "predict: top-1 labels in input order" want.txt got.txt
check "predict: 'label prob' lines" [ "$(grep -c -E '^(animal|food|tool) [01]\.[0-9]{4}$' pred.out)" -eq 5 ]
check "predict: empty and blank lines give empty lines" [ -z "$(sed -n '2p;4p' pred.out | tr -d '\n')" ]

expect "predict -k 2" 0 "" predict --model model.safetensors -k 2 in.txt
check "predict -k 2: two labels per line" \
    [ "$(grep -c -E '^[a-z]+ [01]\.[0-9]{4} [a-z]+ [01]\.[0-9]{4}$' out)" -eq 5 ]
check "predict -k 2: still 7 lines" [ "$(wc -l <out)" -eq 7 ]
cut -d ' ' -f 1,2 out >k2.txt
same "predict -k 2: first label as with -k 1" pred.out k2.txt
expect "predict -k 9 (more than classes)" 0 "" predict --model model.safetensors -k 9 in.txt
check "predict -k 9: all 3 labels" [ "$(grep -c -E '^([a-z]+ [01]\.[0-9]{4} ){2}[a-z]+ [01]\.[0-9]{4}$' out)" -eq 5 ]

expect "predict --json" 0 "" predict --model model.safetensors --json -k 2 in.txt
check "predict --json: 7 lines" [ "$(wc -l <out)" -eq 7 ]
check "predict --json: JSON lines" [ "$(grep -c '^{"labels":\[.*\],"probs":\[.*\]}$' out)" -eq 7 ]
check "predict --json: empty line -> empty lists" [ "$(sed -n 2p out)" = '{"labels":[],"probs":[]}' ]
has "predict --json" out '{"labels":["animal",'

"$BIN" predict --model model.safetensors - <in.txt >stdin.out 2>err
rc=$?
check "predict -: exit 0" [ $rc -eq 0 ]
same "predict -: same as from the file" pred.out stdin.out
cat in.txt | "$BIN" predict --model model.safetensors >pipe.out 2>err
rc=$?
check "predict from a pipe: exit 0" [ $rc -eq 0 ]
same "predict from a pipe: same as from the file" pred.out pipe.out
: >none.txt
expect "predict on empty input" 0 "" predict --model model.safetensors none.txt
check "predict on empty input: no output" [ ! -s out ]
printf 'cat \377 dog\nbread soup' >badutf.txt  # invalid UTF-8; no final newline
expect "predict: invalid UTF-8 line" 0 "badutf.txt:1" predict --model model.safetensors badutf.txt
if [ "$(wc -l <out)" -eq 2 ] && [ -z "$(sed -n 1p out)" ] && [ "$(sed -n 2p out | cut -d ' ' -f 1)" = food ]; then
    ok
else
    bad "predict: invalid UTF-8 line should give an empty line, then the next prediction"; show out
fi

# ---- info ----
expect "info" 0 "" info --model model.safetensors
for word in config d_model parameters embedding.weight head.out.weight labels "animal food tool" \
    provenance data.tsv vocabulary; do
    has "info" out "$word"
done

# ---- determinism: same seed and threads -> same lines and same file ----
mask() { grep '^epoch ' "$1" | sed -E 's/ [0-9]+\.[0-9]+ s( |$)/ _ s\1/'; }
expect "train run 1" 0 "" train --data data.tsv --out det1.safetensors $SMALL --seed 7
mask out >det1.txt
expect "train run 2" 0 "" train --data data.tsv --out det2.safetensors $SMALL --seed 7
mask out >det2.txt
check "determinism: epoch lines present" [ -s det1.txt ]
same "determinism: same epoch lines" det1.txt det2.txt
same "determinism: byte-identical model files" det1.safetensors det2.safetensors
expect "train, another seed" 0 "" train --data data.tsv --out det3.safetensors $SMALL --seed 8
if cmp -s det1.safetensors det3.safetensors; then bad "determinism: seeds 7 and 8 give the same model"; else ok; fi
T2=$(echo "$SMALL" | sed 's/--threads 1/--threads 2/')
expect "train, 2 threads, run 1" 0 "" train --data data.tsv --out det4.safetensors $T2 --seed 7
mask out >det4.txt
expect "train, 2 threads, run 2" 0 "" train --data data.tsv --out det5.safetensors $T2 --seed 7
mask out >det5.txt
same "determinism, 2 threads: same epoch lines" det4.txt det5.txt
same "determinism, 2 threads: byte-identical model files" det4.safetensors det5.safetensors

# ---- --precision bf16: trains, records itself, runs deterministically ----
expect "train --precision bf16" 0 "" train --data data.tsv --out bf1.safetensors $SMALL --seed 7 --precision bf16
mask out >bf1.txt
expect "train --precision bf16, again" 0 "" train --data data.tsv --out bf2.safetensors $SMALL --seed 7 --precision bf16
same "bf16: byte-identical model files" bf1.safetensors bf2.safetensors
if cmp -s det1.safetensors bf1.safetensors; then bad "bf16: same model as fp32 (precision not applied)"; else ok; fi
expect "info of a bf16 model" 0 "" info --model bf1.safetensors
has "bf16: provenance" out '"matmul_precision":"bf16"'
expect "info of an fp32 model" 0 "" info --model det1.safetensors
has "fp32: provenance" out '"matmul_precision":"fp32"'
expect "eval --precision bf16" 0 "" eval --model model.safetensors --data data.tsv --precision bf16
acc16=$(sed -n 's/^accuracy *\([0-9]*\)\..*/\1/p' out)
check "eval --precision bf16: accuracy ${acc16:-?}% within a point of fp32's ${acc:-?}%" \
    [ "${acc16:-0}" -ge $(( ${acc:-0} - 1 )) ]
printf 'cat dog horse\n' >one.txt
expect "predict --precision bf16" 0 "" predict --model model.safetensors --precision bf16 one.txt
expect "--precision fp16 is refused" 2 "--precision expects fp32 or bf16" \
    train --data data.tsv --out x.safetensors --precision fp16
expect "--precision without a value" 2 "--precision" eval --model model.safetensors --data data.tsv --precision

# ---- --log ----
expect "train --log" 0 "" train --data data.tsv --out log.safetensors $SMALL --log train.log
check "--log: one line per epoch" [ "$(wc -l <train.log)" -eq 3 ]
check "--log: JSON objects" [ "$(grep -c '^{"epoch":[1-3],.*}$' train.log)" -eq 3 ]
for key in '"epoch":3' '"train_loss":' '"val_loss":' '"val_accuracy":' '"lr":' '"seconds":'; do
    has "--log" train.log "$key"
done

# ---- the other formats ----
expect "train CSV" 0 "" train --data data.csv --text-col eng --label-col Subject --out csv.safetensors $SMALL
check "train CSV: model written" [ -s csv.safetensors ]
check "train CSV: epoch lines" [ "$(grep -c '^epoch ' out)" -eq 3 ]
expect "eval CSV" 0 "" eval --model csv.safetensors --data data.csv --text-col eng --label-col Subject --json
has "eval CSV: every multi-line record read as one" out '"n":120'
expect "train CSV, wrong column" 1 "text" train --data data.csv --text-col nope --label-col Subject \
    --out x.safetensors $SMALL
expect "train fastText" 0 "" train --data data.txt --out ft.safetensors $SMALL
check "train fastText: model written" [ -s ft.safetensors ]
expect "eval fastText" 0 "" eval --model ft.safetensors --data data.txt --json
has "eval fastText" out '"n":120'
expect "train JSONL" 0 "" train --data data.jsonl --out jsonl.safetensors $SMALL
check "train JSONL: model written" [ -s jsonl.safetensors ]
expect "eval JSONL" 0 "" eval --model jsonl.safetensors --data data.jsonl --json
has "eval JSONL" out '"n":120'
cp data.tsv data.dat
expect "train --format tsv on an unknown extension" 0 "" train --data data.dat --format tsv \
    --out fmt.safetensors $SMALL
expect "train: unknown extension without --format" "1" "data.dat" train --data data.dat \
    --out x.safetensors $SMALL

# ---- bad data ----
: >empty.tsv
expect "empty data file" 1 "empty.tsv" train --data empty.tsv --out x.safetensors $SMALL
check "empty data file: no model written" [ ! -e x.safetensors ]
grep '^animal' data.tsv >one.tsv
expect "single-class data" 1 "class" train --data one.tsv --out x.safetensors $SMALL
printf 'zebra\tcat dog\nanimal\tcat horse\n' >unknown.tsv
expect "eval: label the model does not know" 1 "zebra" eval --model model.safetensors --data unknown.tsv
expect "train: missing data file" 1 "no-such.tsv" train --data no-such.tsv --out x.safetensors $SMALL
expect "train: --val with a label not in --data" 1 "zebra" train --data data.tsv --val unknown.tsv \
    --out x.safetensors $SMALL

{
    cat data.tsv
    printf 'no tab on this line\n'
    printf 'food\tbread \377 cheese\n'
    printf 'tool\thammer saw\n'
} >mal.tsv
expect "malformed lines are skipped" 0 "mal.tsv:121;mal.tsv:122" train --data mal.tsv \
    --out mal.safetensors $SMALL
check "malformed lines: model written" [ -s mal.safetensors ]
if grep -q 'mal.tsv:123' err; then bad "malformed lines: the good line 123 was reported"; else ok; fi
expect "malformed lines with --strict" 1 "mal.tsv:121" train --data mal.tsv --out strict.safetensors \
    $SMALL --strict
check "--strict: no model written" [ ! -e strict.safetensors ]
expect "eval: malformed lines are skipped" 0 "mal.tsv:121" eval --model model.safetensors --data mal.tsv --json
has "eval: malformed lines are skipped" out '"n":121'
expect "eval --strict" 1 "mal.tsv:121" eval --model model.safetensors --data mal.tsv --strict

# ---- flags out of range: usage errors ----
expect "--epochs 0" 2 "--epochs" train --data data.tsv --out x.safetensors $SMALL --epochs 0
expect "--lr -1" 2 "--lr" train --data data.tsv --out x.safetensors $SMALL --lr -1
expect "--heads 3 --d-model 16" 2 "divisible" train --data data.tsv --out x.safetensors $SMALL --heads 3
expect "--dropout 1.5" 2 "--dropout" train --data data.tsv --out x.safetensors $SMALL --dropout 1.5
expect "--batch 0" 2 "--batch" train --data data.tsv --out x.safetensors $SMALL --batch 0
expect "--epochs abc" 2 "--epochs" train --data data.tsv --out x.safetensors $SMALL --epochs abc
expect "--max-vocab 2 (below the 3 special tokens)" 2 "--max-vocab" train --data data.tsv \
    --out x.safetensors $SMALL --max-vocab 2
expect "--pool median" 2 "--pool" train --data data.tsv --out x.safetensors $SMALL --pool median
expect "unknown train flag" 2 "--frobnicate" train --data data.tsv --out x.safetensors --frobnicate
expect "train without --out" 2 "" train --data data.tsv
expect "flag without value" 2 "" train --data data.tsv --out x.safetensors --epochs
expect "unknown eval flag" 2 "--frobnicate" eval --model model.safetensors --data data.tsv --frobnicate
expect "predict -k 0" 2 "-k" predict --model model.safetensors -k 0 in.txt
expect "unknown predict flag" 2 "--frobnicate" predict --model model.safetensors --frobnicate
expect "predict without --model" 2 "" predict in.txt
expect "unknown info flag" 2 "--frobnicate" info --frobnicate
expect "unknown command" 2 "frobnicate" frobnicate
check "no model from any usage error" [ ! -e x.safetensors ]
for cmd in train eval predict info; do
    expect "$cmd --help" 0 "" $cmd --help
    has "$cmd --help" out "Example:"
done
expect "train --help" 0 "" train --help
for word in "--d-model N" "(default 64)" "(default 8)" "--pos KIND" "--pool KIND" "--head-hidden" "--label-smoothing" "--val-split"; do
    has "train --help" out "$word"
done

# ---- bad model files ----
expect "predict: missing model" 1 "missing.safetensors" predict --model missing.safetensors in.txt
size=$(wc -c <model.safetensors)
head -c $((size / 2)) model.safetensors >trunc.safetensors
expect "predict: truncated model" 1 "trunc.safetensors" predict --model trunc.safetensors in.txt
check "predict: truncated model prints no predictions" [ ! -s out ]
expect "eval: truncated model" 1 "trunc.safetensors" eval --model trunc.safetensors --data data.tsv
expect "info: truncated model" 1 "trunc.safetensors" info --model trunc.safetensors
head -c 5 model.safetensors >tiny.safetensors
expect "info: 5-byte model" 1 "tiny.safetensors" info --model tiny.safetensors
FX=$ROOT/tests/fixtures/mha_self/weights.safetensors
if [ -f "$FX" ]; then
    expect "info: a safetensors file that is no model" 1 "not an attend classifier" info --model "$FX"
    expect "predict: a safetensors file that is no model" 1 "weights.safetensors" predict --model "$FX" in.txt
else
    bad "fixture $FX not found (run from the repository root)"
fi
expect "predict: missing input file" 1 "no-such-input.txt" predict --model model.safetensors no-such-input.txt
expect "eval: model given as data" 1 "" eval --model model.safetensors --data model.safetensors

test_done test_cli_classifier
