#!/bin/sh
# attend explain on a tiny model trained here (3 classes x 30 synthetic
# lines, post-norm and pre-norm): exit codes; --layer, --head, --token and
# --pad-to out of range are usage errors that name the valid range; every
# terminal line fits 100 columns; the softmax weights printed equal the
# --json ones (the library's, at full precision) and sum to 1; the padding
# keys are masked; the --out page is self-contained, parses as HTML and as
# XML (xmllint, from Debian libxml2-utils; skipped with a note when it is
# missing) and holds the heatmaps with their shapes. test_explain.c checks
# every printed number against its own recomputation from the weights.
# Usage: sh tests/test_cli_explain.sh path/to/attend   (from the repository
# root; scratch files go to $ATTEND_TMP, default /tmp).

. "$(dirname "$0")/lib.sh"
test_bin "$1"
test_scratch explain

# fits NAME FILE: every line within 100 columns (UTF-8 code points)
fits() {
    if LC_ALL=C sed 's/[\xc0-\xf7][\x80-\xbf]*/#/g' "$2" | awk 'length > 100 { bad = 1 } END { exit bad }'; then ok
    else bad "$1: a line is wider than 100 columns"; LC_ALL=C awk 'length > 100' "$2" | head -3 >&2; fi
}

if command -v xmllint >/dev/null 2>&1; then
    HAVE_XMLLINT=1
else
    HAVE_XMLLINT=0
    echo "SKIP: xmllint not installed (Debian libxml2-utils); the page's HTML and XML validity not checked"
fi

# ---- data and models ----
toy_data 77 30 3 6 func >data.tsv
SIZES="--epochs 1 --d-model 16 --d-ff 32 --batch 8 --threads 1 --heads 4 --max-len 16"
run "train post-norm" 0 train --data data.tsv --out post.safetensors $SIZES --layers 2
run "train pre-norm, cls" 0 train --data data.tsv --out pre.safetensors $SIZES --layers 1 --norm-first \
    --activation gelu --pool cls --pos sinusoidal
TEXT="the big cat and the old dog eat bread"

# ---- the terminal ----
run "explain" 0 explain --model post.safetensors --text "$TEXT" --layer 2 --head 3 --token 3
cp out post.out
for word in "attend explain: layer 2 of 2, head 3 of 4, query token 3 of 9 (\"cat\")" \
    "B = 1 text, T = 9 tokens, E = 16" "1. The input of layer 2" "Layer 2 reads what layer 1 wrote" \
    "x_3 = [" "2. The query of token 3 in head 3" "rows 9 to 12 of W_q" "q = [" "k_9 = [" "v_9 = [" \
    "1/sqrt(D) = 1/sqrt(4) = 0.500000" "No key is masked" "The weights sum to 1.000000" "o_3 = [" "o_4 = [" \
    "c = [" "attn = [" "r = x_3 + attn" "y = norm2(n + f)" "y = [" "y_forward = [" \
    "matches the model's forward pass: max |difference| = "; do
    has "explain" post.out "$word"
done
fits "explain" post.out
# the weights printed (4 decimals) are the library's (--json, full precision)
run "explain --json" 0 explain --model post.safetensors --text "$TEXT" --layer 2 --head 3 --token 3 --json
cp out post.json
check "--json: one line of JSON" [ "$(wc -l <post.json)" -eq 1 ] && [ "$(head -c 1 post.json)" = "{" ]
has "--json: matches" post.json '"matches":true'
sed 's/.*"weights":\[\([^]]*\)\].*/\1/' post.json | tr ',' '\n' | awk '{ printf "%.4f\n", $1 }' >w.json
awk '/^4\. Scores/ { t = 1 } /^5\. / { t = 0 } t && $1 ~ /^[0-9]+$/ { print $NF }' post.out >w.txt
check "the table has 9 weights" [ "$(wc -l <w.txt)" -eq 9 ]
if cmp -s w.json w.txt; then ok; else bad "the printed weights are not the library's"; paste w.txt w.json >&2; fi
awk '{ s += $1 } END { exit !(s > 0.9995 && s < 1.0005) }' w.txt
check "the printed weights sum to 1" [ $? -eq 0 ]

# pre-norm, cls pooling, the text padded: masked keys
run "explain --pad-to" 0 explain --model pre.safetensors --text "$TEXT" --head 2 --token 1 --pad-to 13
cp out pre.out
for word in "query token 1 of 10 (\"<cls>\")" "T = 13 tokens" "13 <pad>" "a pre-norm layer with GELU" \
    "e = [" "p = [" "a_1 = [" "Keys 11 to 13 are padding and masked" "y = r + f" \
    "after the last layer the model applies encoder.norm" "matches the model's forward pass"; do
    has "explain --pad-to" pre.out "$word"
done
fits "explain --pad-to" pre.out
n_masked=$(awk '/^4\. Scores/ { t = 1 } /^5\. / { t = 0 } t && $1 ~ /^[0-9]+$/ && $(NF-1) == "yes" && $(NF-2) == "-inf" && $NF == "0.0000"' pre.out | wc -l)
check "3 keys masked: -inf, weight 0 (got $n_masked)" [ "$n_masked" -eq 3 ]
echo "soup and bread" | "$BIN" explain --model post.safetensors --text - >out 2>err
check "--text -: exit 0" [ $? -eq 0 ]
has "--text -: reads stdin" out "text    soup and bread"
# a long text and long tokens still fit
LONG="$(printf 'supercalifragilisticexpialidocious %.0s' 1 2 3 4 5 6 7 8 9 10 11 12 13 14)"
run "explain, 14 long unknown words" 0 explain --model post.safetensors --text "$LONG" --token 14
fits "explain, long words" out

# ---- usage errors name the valid range ----
run "--layer 3" 2 explain --model post.safetensors --text "$TEXT" --layer 3
has "--layer 3" err "the model has 2 layers (1..2)"
run "--layer 0" 2 explain --model post.safetensors --text "$TEXT" --layer 0
run "--head 5" 2 explain --model post.safetensors --text "$TEXT" --head 5
has "--head 5" err "4 heads per layer (1..4)"
run "--token 10" 2 explain --model post.safetensors --text "$TEXT" --token 10
has "--token 10" err "the text has 9 tokens (1..9)"
run "--pad-to 5" 2 explain --model post.safetensors --text "$TEXT" --pad-to 5
has "--pad-to 5" err "(9..16)"
run "--pad-to 17" 2 explain --model post.safetensors --text "$TEXT" --pad-to 17
run "no --text" 2 explain --model post.safetensors
run "no --model" 2 explain --text "$TEXT"
run "--out page.svg" 2 explain --model post.safetensors --text "$TEXT" --out page.svg
run "--json with --out" 2 explain --model post.safetensors --text "$TEXT" --out p.html --json
run "unknown flag" 2 explain --model post.safetensors --text "$TEXT" --heads 2
run "missing model" 1 explain --model missing.safetensors --text "$TEXT"
run "a text without tokens" 1 explain --model post.safetensors --text "   "
has "a text without tokens" err "no tokens"
run "explain --help" 0 explain --help
has "--help: example" out "Example: attend explain"
has "--help: --pad-to" out "--pad-to N"
run "the command list" 0 --help
has "the command list" out "explain"

# ---- the page ----
run "explain --out" 0 explain --model pre.safetensors --text "$TEXT <&>" --head 2 --token 4 --pad-to 14 --out page.html
has "--out: says so" out "wrote page.html: layer 1, head 2, token 4; matches the forward pass"
check "--out: page written" [ -s page.html ]
check "--out: no temporary file left" [ "$(ls | grep -c 'page.html.')" -eq 0 ]
if [ $HAVE_XMLLINT = 1 ]; then
    xmllint --html --noout page.html 2>herr
    hrc=$?
    grep -E 'error|warning' herr | grep -v -E 'Tag [a-zA-Z]+ invalid' >herr2
    if [ $hrc = 0 ] && [ ! -s herr2 ]; then ok; else bad "the page does not parse as HTML"; show herr2; fi
    if xmllint --noout page.html 2>xerr; then ok; else bad "the page is not well-formed XML"; show xerr; fi
fi
hasnt "page: no scripts" page.html "<script"
hasnt "page: no stylesheets fetched" page.html "<link"
hasnt "page: no CSS urls" page.html "url("
check "page: 19 heatmaps (pre-norm: A too)" [ "$(count page.html 'class="attend-heatmap attend-step"')" -eq 19 ]
for word in "X: T x E = 14 x 16" "A = norm1(X): T x E = 14 x 16" "D x E = 4 x 16" "K: T x D = 14 x 4" \
    "V: T x D = 14 x 4" "1 x T = 1 x 14" "H x T = 4 x 14" "H x D = 4 x 4" "c: 1 x E = 1 x 16" \
    "E x E = 16 x 16" "h: 1 x F = 1 x 32" "&lt;&amp;&gt;" "padding keys are masked" "reproduces it"; do
    has "page" page.html "$word"
done

test_done test_cli_explain
