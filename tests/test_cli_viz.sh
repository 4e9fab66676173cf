#!/bin/sh
# attend show, train --report, report and compare on a tiny model trained
# here (3 classes x 40 synthetic lines): terminal output readable in 80
# columns, SVG that is valid XML, HTML pages that are self-contained and
# parse (xmllint, from Debian libxml2-utils; its checks are skipped with a
# note when it is missing), JSON, the pictures each page must hold, the same
# initial positional table from train --report and from report, and the
# results files of compare. The headless-browser check is test_viz_browser.sh.
# Usage: sh tests/test_cli_viz.sh path/to/attend   (from the repository root;
# scratch files go to $ATTEND_TMP, default /tmp).

. "$(dirname "$0")/lib.sh"
test_bin "$1"
test_scratch viz

if command -v xmllint >/dev/null 2>&1; then
    HAVE_XMLLINT=1
else
    HAVE_XMLLINT=0
    echo "SKIP: xmllint not installed (Debian libxml2-utils); XML and HTML validity not checked"
fi
# xml_ok NAME FILE...: each FILE is well-formed XML
xml_ok() {
    xname=$1
    shift
    [ $HAVE_XMLLINT = 1 ] || return 0
    for f in "$@"; do
        if xmllint --noout "$f" 2>xerr; then ok; else bad "$xname: $f is not well-formed XML"; show xerr; fi
    done
}
# html_ok NAME FILE: parses as HTML (libxml2's parser predates HTML5, so its
# "Tag svg invalid"-style complaints about newer elements are ignored; any
# other error fails) and is self-contained: no scripts, no external resources.
html_ok() {
    hname=$1 f=$2
    if [ $HAVE_XMLLINT = 1 ]; then
        xmllint --html --noout "$f" 2>herr
        hrc=$?
        grep -E 'error|warning' herr | grep -v -E 'Tag [a-zA-Z]+ invalid' >herr2
        if [ $hrc = 0 ] && [ ! -s herr2 ]; then ok; else bad "$hname: $f does not parse as HTML"; show herr2; fi
    fi
    xml_ok "$hname (polyglot XHTML)" "$f"
    hasnt "$hname: no scripts" "$f" "<script"
    hasnt "$hname: no stylesheets fetched" "$f" "<link"
    hasnt "$hname: no CSS imports" "$f" "@import"
    hasnt "$hname: no CSS urls" "$f" "url("
    if grep -o -E '(https?:)?//[a-zA-Z0-9.-]+' "$f" | grep -v -x -F 'http://www.w3.org' | grep -q .; then
        bad "$hname: $f refers to the network"
        grep -o -E '(https?:)?//[a-zA-Z0-9.-]+' "$f" | grep -v -x -F 'http://www.w3.org' | sort -u | head >&2
    else
        ok
    fi
}

# ---- data: 3 classes x 40 lines, function words mixed in ----
toy_data 4242 40 4 8 mix >data.tsv
check "data.tsv has 120 lines" [ "$(wc -l <data.tsv)" -eq 120 ]

SIZES="--epochs 2 --d-model 16 --layers 1 --d-ff 32 --batch 8 --threads 1 --lr 0.01"
TINY="$SIZES --heads 2"

# ---- train --report ----
run "train --report" 0 train --data data.tsv --out m.safetensors $TINY --val-split 0.25 --log log.jsonl --report rep
cp out train.out
has "train --report: prints the page" train.out "report: rep/index.html"
check "train --report: index.html" [ -s rep/index.html ]
check "train --report: keeps the validation split it evaluated" [ "$(wc -l <rep/val.tsv)" -eq 30 ]
for fig in loss accuracy pos-init pos-trained pos-cos-init pos-cos-trained confusion head-entropy \
    head-distance head-importance example-1; do
    check "train --report: figures/$fig.svg" [ -s "rep/figures/$fig.svg" ]
done
xml_ok "report figures" rep/figures/*.svg
html_ok "report page" rep/index.html
n_ex=$(count rep/index.html 'class="attend-heatmap attend-model-view"')
check "report: 1 to 6 attention examples (got $n_ex)" [ "$n_ex" -ge 1 ] && [ "$n_ex" -le 6 ]
# 4 positional (table and cosine, before and after), confusion, 3 per-head, the examples
n_hm=$(count rep/index.html 'class="attend-heatmap')
check "report: $((8 + n_ex)) heatmaps (got $n_hm)" [ "$n_hm" -eq $((8 + n_ex)) ]
check "report: 2 plots (got $(count rep/index.html 'class="attend-plot"'))" \
    [ "$(count rep/index.html 'class="attend-plot"')" -eq 2 ]
has "train --report: heatmap counts printed" train.out "$n_hm heatmaps, 2 plots"
for word in "Training curves" "Positional encoding" "Confusion matrix" "Per-class metrics" "Attention maps" \
    "Per-head diagnostics" "Model card" "attend_version" "data_fnv1a64" "parameters" "at initialisation" \
    "after training" "Cosine similarity" "Head importance" "animal" "recorded by attend train"; do
    has "report page" rep/index.html "$word"
done
for fig in rep/figures/*.svg; do
    has "$fig has a title" "$fig" "<title>"
done

# ---- report for an existing model ----
run "report" 0 report --model m.safetensors --data rep/val.tsv --log log.jsonl --out rep2 --threads 1
has "report: prints the page" out "report: rep2/index.html"
html_ok "report page (attend report)" rep2/index.html
check "report: same heatmap count as train --report" [ "$(count rep2/index.html 'class="attend-heatmap')" -eq "$n_hm" ]
check "report: curves from --log" [ "$(count rep2/index.html 'class="attend-plot"')" -eq 2 ]
# the initial table recreated from the seed is the one train recorded
if cmp -s rep/figures/pos-init.svg rep2/figures/pos-init.svg; then ok; else
    bad "report: the recreated initial positional table differs from train's (did the init seed derivation change?)"
fi
if cmp -s rep/figures/confusion.svg rep2/figures/confusion.svg; then ok; else bad "report: same confusion matrix"; fi
has "report: says where the initial table comes from" rep2/index.html "recreated from the training seed"
run "report without --log" 0 report --model m.safetensors --data rep/val.tsv --out rep3 --threads 1 --examples 1
check "report without --log: no curves" [ "$(count rep3/index.html 'class="attend-plot"')" -eq 0 ]
has "report without --log: says how to get them" rep3/index.html "attend train --log"
check "report --examples 1: at most 2 examples" [ "$(count rep3/index.html 'attend-model-view')" -le 2 ]
run "report: missing --data" 2 report --model m.safetensors --out rep4
printf 'animal\tcat dog\nplant\toak tree\n' >unknown.tsv
run "report: unknown label" 1 report --model m.safetensors --data unknown.tsv --out rep4
has "report: unknown label named" err "plant"
run "report: missing model" 1 report --model missing.safetensors --data data.tsv --out rep4
# sinusoidal and no positions: the matching section
run "train --pos sinusoidal --report" 0 train --data data.tsv --out sin.safetensors $TINY --pos sinusoidal --report repsin
check "sinusoidal: table and cosine once (fixed)" [ "$(count repsin/index.html 'attend-pos')" -eq 2 ]
has "sinusoidal: says it is fixed" repsin/index.html "same before and after training"
run "train --pos none --pool cls --report" 0 train --data data.tsv --out none.safetensors $TINY --pos none --pool cls --report repnone
check "no positions: no positional pictures" [ "$(count repnone/index.html 'attend-pos')" -eq 0 ]
has "no positions: says so" repnone/index.html "no positional encoding"
html_ok "report page (cls, no positions)" repnone/index.html

# ---- show: terminal ----
run "show" 0 show --model m.safetensors --text "the big cat and the old dog eat bread"
cp out show.out
for word in "predicted  " "tokens     9" "layer 1, mean of its 2 heads" "shading:" "tokens each head attends to most" \
    "L1 H1" "L1 H2" " 3 cat"; do
    has "show" show.out "$word"
done
check "show: no colour when stdout is not a terminal" [ "$(count show.out "$(printf '\033')")" -eq 0 ]
# every line fits 80 columns (each 3-byte shading character is one column)
LC_ALL=C sed 's/\xe2\x96[\x80-\xbf]/#/g' show.out | awk 'length > 80 { bad = 1 } END { exit bad }'
check "show: every line fits in 80 columns" [ $? -eq 0 ]
run "show --color always" 0 show --model m.safetensors --text "cat dog" --color always
check "show --color always: 24-bit colour" [ "$(count out "$(printf '\033')[38;2;")" -gt 0 ]
LC_ALL=C sed -e 's/\x1b\[[0-9;]*m//g' -e 's/\xe2\x96[\x80-\xbf]/#/g' out | awk 'length > 80 { bad = 1 } END { exit bad }'
check "show --color always: every line fits in 80 columns" [ $? -eq 0 ]
run "show --layer 1 --head 2" 0 show --model m.safetensors --text "hammer and saw" --layer 1 --head 2
has "show --layer --head" out "layer 1, head 2"
hasnt "show --layer --head: only that head" out "layer 1, head 1"
run "show --head 1" 0 show --model m.safetensors --text "hammer and saw" --head 1
has "show --head: that head of each layer" out "layer 1, head 1"
run "show: unknown word" 0 show --model m.safetensors --text "zebra cat"
has "show: unknown word marked" out "zebra     *"
has "show: unknown words counted" out "1 not in the vocabulary"
echo "soup and bread" | "$BIN" show --model m.safetensors --text - >out 2>err
check "show --text -: exit 0" [ $? -eq 0 ]
has "show --text -: reads stdin" out "text       soup and bread"
long=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40; do
    long="$long cat dog"
done
run "show: 80 tokens" 0 show --model m.safetensors --text "$long"
LC_ALL=C sed 's/\xe2\x96[\x80-\xbf]/#/g' out | awk 'length > 80 { bad = 1 } END { exit bad }'
check "show: 80 tokens still fit in 80 columns" [ $? -eq 0 ]
has "show: says when keys are cut" out "keys past 66 not drawn"
run "show: --layer too large" 2 show --model m.safetensors --text "cat" --layer 2
has "show: --layer range named" err "the model has 1 layer"
run "show: --head too large" 2 show --model m.safetensors --text "cat" --head 3
run "show: no tokens" 1 show --model m.safetensors --text "   "
has "show: no tokens explained" err "no tokens"
run "show: invalid UTF-8" 1 show --model m.safetensors --text "$(printf 'cat \377')"
run "show: bad --out name" 2 show --model m.safetensors --text "cat" --out x.png
run "show: --json with --out" 2 show --model m.safetensors --text "cat" --out x.svg --json
run "show: missing --text" 2 show --model m.safetensors
run "show: missing model" 1 show --model missing.safetensors --text "cat"
run "show --help" 0 show --help
has "show --help: example" out "Example: attend show"

# ---- show: SVG, HTML, JSON ----
TEXT='the <big> cat & "old" dog'
run "show --out svg" 0 show --model m.safetensors --text "$TEXT" --out s.svg
has "show --out svg: says what it wrote" out "wrote s.svg: 10 tokens, 1 layer x 2 heads"
xml_ok "show svg" s.svg
has "show svg: standalone" s.svg '<?xml version="1.0"'
has "show svg: xmlns" s.svg 'xmlns="http://www.w3.org/2000/svg"'
has "show svg: text escaped" s.svg '&lt;big&gt; cat &amp; &quot;old&quot;'
has "show svg: head view" s.svg "Head view"
has "show svg: model view" s.svg "Model view"
has "show svg: prediction" s.svg "predicted: "
has "show svg: legend" s.svg "attention weight"
run "show --out html" 0 show --model m.safetensors --text "$TEXT" --out s.html --layer 1
html_ok "show html" s.html
check "show html: head view and model view" [ "$(count s.html 'class="attend-heatmap')" -eq 2 ]
has "show html: probabilities" s.html "probability"
has "show html: top tokens" s.html "tokens attended to most"
run "show --json" 0 show --model m.safetensors --text "$TEXT" --json
check "show --json: one line" [ "$(wc -l <out)" -eq 1 ]
for key in '"tokens":["the","<","big",">","cat","&"' '"unknown":[' '"predicted":"' '"labels":["animal","food","tool"]' \
    '"probs":[' '"layers":1' '"heads":2' '"attention":[[[['; do
    has "show --json" out "$key"
done
# number arrays: probs, then 1 layer x 2 heads x 10 query rows
check "show --json: probs + 2 heads x 10 query rows" [ "$(grep -o '\[[0-9.e,-]*\]' out | wc -l)" -eq 21 ]

# ---- compare ----
run "compare" 0 compare --data data.tsv --heads 1,2 --seeds 2 $SIZES --out cmp
cp out compare.out
has "compare: split" compare.out "split data.tsv: "
has "compare: one line per run" compare.out "[4/4] heads 2, pos learned, seed 2: val loss "
has "compare: markdown table" compare.out "| heads | pos | runs | params | val loss | val accuracy (%) | val macro-F1 | seconds |"
has "compare: page" compare.out "compare: cmp/index.html"
check "compare: results.csv, one line per configuration" [ "$(wc -l <cmp/results.csv)" -eq 3 ]
check "compare: runs.csv, one line per run" [ "$(wc -l <cmp/runs.csv)" -eq 5 ]
check "compare: table.md" [ "$(grep -c '^| [12] | learned | 2 |' cmp/table.md)" -eq 2 ]
check "compare: equal parameter counts across heads" [ "$(cut -d, -f4 cmp/results.csv | sed 1d | sort -u | wc -l)" -eq 1 ]
check "compare: the split files" [ -s cmp/train.tsv ] && [ -s cmp/val.tsv ]
check "compare: the split covers the data" [ $(($(wc -l <cmp/train.tsv) + $(wc -l <cmp/val.tsv))) -eq 120 ]
check "compare: no model left behind without --keep-models" [ ! -e cmp/.run.safetensors ]
for key in '"setup"' '"configs"' '"runs"' '"val_accuracy_mean"' '"val_accuracy_std"' '"entropy_bits"' \
    '"accuracy_drop"' '"n_val"'; do
    has "compare: results.json" cmp/results.json "$key"
done
html_ok "compare page" cmp/index.html
check "compare page: 3 plots (accuracy, loss, learning curves)" [ "$(count cmp/index.html 'class="attend-plot"')" -eq 3 ]
# 3 per-head heatmaps per configuration, and the best 2-head model's attention on 3 validation texts
check "compare page: 2 x 3 per-head heatmaps + 3 examples" [ "$(count cmp/index.html 'class="attend-heatmap')" -eq 9 ]
check "compare page: the examples are head views" [ "$(count cmp/index.html 'attend-head-view')" -eq 3 ]
check "compare page: one importance table" [ "$(count cmp/index.html 'attend-importance')" -eq 1 ]
check "compare page: the importance table has a row per head" \
    [ "$(sed -n '/attend-importance/,/<\/table>/p' cmp/index.html | grep -c '<tr><td')" -eq 2 ]
has "compare page: error bars explained" cmp/index.html "1 standard deviation over the seeds"
has "compare page: the winner named" cmp/index.html "The best configuration with more than one head is 2 heads"
has "compare page: in plain words" cmp/index.html "pooled standard deviations over the seeds"
check "compare: curves.csv, 2 epochs x 4 runs" [ "$(wc -l <cmp/curves.csv)" -eq 9 ]
has "compare: results.csv has the learning-speed columns" cmp/results.csv "curve_accuracy_mean,curve_accuracy_std"
# same seeds, same split -> same numbers (seconds aside)
run "compare again" 0 compare --data data.tsv --heads 1,2 --seeds 2 $SIZES --out cmp2
cut -d, -f1-7 cmp/runs.csv >a.csv
cut -d, -f1-7 cmp2/runs.csv >b.csv
if cmp -s a.csv b.csv; then ok; else bad "compare: two identical runs give different results"; diff a.csv b.csv >&2; fi
run "compare --pos learned,sinusoidal --keep-models" 0 compare --data data.tsv --heads 2 --pos learned,sinusoidal \
    --seeds 1 $SIZES --out cmp3 --keep-models
check "compare --keep-models: models kept" [ -s cmp3/models/h2-learned-s1.safetensors ] && [ -s cmp3/models/h2-sinusoidal-s1.safetensors ]
check "compare: one seed, no spread shown" [ "$(grep -c '±' cmp3/table.md)" -eq 0 ]
run "compare: heads not dividing d_model" 2 compare --data data.tsv --heads 3 --d-model 16 --out cmp4
has "compare: divisibility explained" err "not divisible by 3 heads"
run "compare: bad --pos" 2 compare --data data.tsv --heads 1 --pos learnt --out cmp4
run "compare: missing --heads" 2 compare --data data.tsv --out cmp4
run "compare --help" 0 compare --help

# ---- compare on several data sets side by side ----
# a second data set: the same words, labelled by the first word's class
awk -F'\t' '{ print ($1 == "animal" ? "a" : "b") "\t" $2 }' data.tsv >data2.tsv
awk 'NR % 5 == 0' data.tsv >val1.tsv
printf 'Said <b>before</b> & "after".\n\nA second paragraph.\n' >note.txt
run "compare: two data sets" 0 compare --data data.tsv --val val1.tsv --name first --data data2.tsv \
    --heads 1,2 --seeds 2 $SIZES --pool cls --examples 2 --note note.txt --out cmpm
cp out comparem.out
has "two data sets: says which is running" comparem.out "data set 2 of 2: data2"
has "two data sets: 8 runs" comparem.out "[8/8] heads 2, pos learned, seed 2"
has "two data sets: combined markdown" comparem.out "| heads | pos | first: val accuracy (%) | first: mean over epochs (%) | data2: val accuracy (%) |"
has "two data sets: page printed" comparem.out "compare: cmpm/index.html"
for d in first data2; do
    for f in index.html results.csv runs.csv curves.csv results.json table.md; do
        check "two data sets: $d/$f" [ -s "cmpm/$d/$f" ]
    done
done
check "two data sets: --val used, no split for the first" [ ! -e cmpm/first/train.tsv ]
check "two data sets: the second split" [ -s cmpm/data2/train.tsv ] && [ -s cmpm/data2/val.tsv ]
check "two data sets: results.csv with a data column, 2 x 2 lines" [ "$(wc -l <cmpm/results.csv)" -eq 5 ]
has "two data sets: results.csv header" cmpm/results.csv "data,heads,pos,runs,params"
check "two data sets: results.csv lines per data set" [ "$(grep -c '^first,' cmpm/results.csv)" -eq 2 ] && \
    [ "$(grep -c '^data2,' cmpm/results.csv)" -eq 2 ]
check "two data sets: table.md heads x data set" [ "$(grep -c '^| [12] | learned | [0-9.]* ± [0-9.]* |' cmpm/table.md)" -eq 2 ]
html_ok "compare page, two data sets" cmpm/index.html
html_ok "compare page, one of two data sets" cmpm/first/index.html
# 2 accuracy plots side by side, then per data set loss and learning curves
check "two data sets: 6 plots" [ "$(count cmpm/index.html 'class="attend-plot"')" -eq 6 ]
# per data set: 2 configurations x 3 per-head heatmaps + 2 examples
check "two data sets: 16 heatmaps" [ "$(count cmpm/index.html 'class="attend-heatmap')" -eq 16 ]
check "two data sets: the combined table" [ "$(count cmpm/index.html 'attend-summary')" -eq 1 ]
check "two data sets: combined table, 2 rows" \
    [ "$(sed -n '/attend-summary/,/<\/table>/p' cmpm/index.html | grep -c '<tr><td')" -eq 2 ]
check "two data sets: an importance table each" [ "$(count cmpm/index.html 'attend-importance')" -eq 2 ]
check "two data sets: a section each" [ "$(count cmpm/index.html '<h2 id="set-')" -eq 2 ]
has "two data sets: links to each page" cmpm/index.html '<a href="data2/index.html">'
has "two data sets (cls pooling): what the <cls> query reads" cmpm/index.html "the &lt;cls&gt; query (what the classifier reads)"
hasnt "one data set (mean pooling): no <cls> column" cmp/index.html "the &lt;cls&gt; query (what the classifier reads)"
has "two data sets: the note, escaped" cmpm/index.html '<p>Said &lt;b&gt;before&lt;/b&gt; &amp; &quot;after&quot;.</p>'
has "two data sets: the note's second paragraph" cmpm/index.html '<p>A second paragraph.</p>'
hasnt "two data sets: no raw markup from the note" cmpm/index.html '<b>before'
has "two data sets: the note on each set's own page too" cmpm/data2/index.html 'A second paragraph.'
check "two data sets: generated sentences, 2 per data set" \
    [ "$(grep -c '^<p>.*Validation accuracy' cmpm/index.html)" -eq 4 ]
run "compare: --val given twice" 2 compare --data data.tsv --val val1.tsv --val val1.tsv --heads 1 --out cmp5
has "compare: --val twice explained" err "given twice for the same --data"
run "compare: bad --name" 2 compare --data data.tsv --name ../x --heads 1 --out cmp5
run "compare: the same name twice" 1 compare --data data.tsv --data data.tsv --heads 1 $SIZES --out cmp5
has "compare: same name explained" err "two data sets are named 'data'"
run "compare: 9 data sets" 2 compare --data a --data a --data a --data a --data a --data a --data a --data a \
    --data a --heads 1 --out cmp5
run "compare: a note that is not UTF-8" 1 compare --data data.tsv --heads 1 $SIZES --note "$(printf 'x\377' >bad.txt; echo bad.txt)" --out cmp5
has "compare: bad note explained" err "invalid UTF-8"
run "compare: a missing note" 1 compare --data data.tsv --heads 1 $SIZES --note missing.txt --out cmp5

test_done test_cli_viz.sh
