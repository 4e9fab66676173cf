#!/bin/sh
# The pages of attend train --report, attend compare and attend show --out
# rendered by a real browser: headless Chromium (Debian package chromium,
# installed by .ci/run) with networking switched off takes a screenshot of
# each page, which must be a PNG well above the size of a blank page's (a
# page whose pictures failed to draw is nearly blank), and dumps the DOM,
# which must hold the expected number of heatmaps and plots. Skipped, with a
# line saying so, when chromium is not installed.
# Usage: sh tests/test_viz_browser.sh path/to/attend   (from the repository
# root; scratch files go to $ATTEND_TMP, default /tmp).

. "$(dirname "$0")/lib.sh"
test_bin "$1"
CHROMIUM=""
for c in chromium chromium-browser; do
    if command -v $c >/dev/null 2>&1; then CHROMIUM=$c; break; fi
done
if [ -z "$CHROMIUM" ]; then
    echo "SKIP: chromium is not installed (Debian: apt-get install chromium); pages not rendered"
    exit 77
fi
test_scratch viz_browser
TIMEOUT=""
command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout 120"

# chrome ARGS...: headless, no sandbox (CI runs as root), no GPU, every
# request sent to a proxy that does not exist (so nothing can be fetched),
# its own profile and HOME in the scratch directory.
chrome() {
    HOME=$T $TIMEOUT $CHROMIUM --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>' --no-first-run \
        --user-data-dir="$T/profile" --hide-scrollbars "$@" 2>>chrome.log
}
# shot NAME PAGE PNG: screenshot of PAGE (1200 x 3000)
shot() {
    rm -f "$3"
    chrome --window-size=1200,3000 --screenshot="$T/$3" "file://$T/$2" >/dev/null
    if [ -s "$3" ]; then ok; else bad "$1: no screenshot of $2"; tail -5 chrome.log >&2; return 1; fi
    sig=$(od -An -tx1 -N8 "$3" | tr -d ' \n')
    echo "  $3: $(size "$3") bytes"
    check "$1: $3 is a PNG" [ "$sig" = "89504e470d0a1a0a" ]
}
size() { wc -c <"$1" | tr -d ' '; }

# ---- the pages ----
toy_data 777 40 4 8 the >data.tsv
SIZES="--epochs 2 --d-model 16 --layers 1 --d-ff 32 --batch 8 --threads 1 --lr 0.01"
"$BIN" train --data data.tsv --out m.safetensors $SIZES --heads 2 --val-split 0.25 --report rep >train.out 2>&1
check "train --report ran" [ -s rep/index.html ]
"$BIN" compare --data data.tsv --heads 1,2 --seeds 2 $SIZES --out cmp >compare.out 2>&1
check "compare ran" [ -s cmp/index.html ]
"$BIN" show --model m.safetensors --text "the old cat and the dog ate bread" --out show.html >show.out 2>&1
check "show --out html ran" [ -s show.html ]
printf '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>blank</title></head><body></body></html>\n' >blank.html

# ---- screenshots ----
shot "blank page" blank.html blank.png
blank=$(size blank.png 2>/dev/null || echo 0)
for page in rep/index.html cmp/index.html show.html; do
    png=$(echo "$page" | tr '/.' '__').png
    shot "$page" "$page" "$png" || continue
    s=$(size "$png")
    # a blank 1200x3000 PNG is a few KB; pictures and text make it far larger
    check "$page: screenshot not blank ($s bytes, blank page $blank)" [ "$s" -gt $((blank * 4)) ] && [ "$s" -gt 30000 ]
done

# ---- the DOM Chromium built ----
dom() { chrome --dump-dom "file://$T/$1" >"$2"; }
dom rep/index.html rep.dom
n_ex=$(count rep/index.html 'attend-model-view')
check "report DOM: $((8 + n_ex)) heatmaps (got $(count rep.dom 'class="attend-heatmap'))" \
    [ "$(count rep.dom 'class="attend-heatmap')" -eq $((8 + n_ex)) ]
check "report DOM: 2 plots" [ "$(count rep.dom 'class="attend-plot"')" -eq 2 ]
check "report DOM: the attention examples" [ "$n_ex" -ge 1 ] && [ "$(count rep.dom 'attend-model-view')" -eq "$n_ex" ]
check "report DOM: the model card" grep -q 'id="model-card"' rep.dom
dom cmp/index.html cmp.dom
# 3 per-head heatmaps for each of 2 configurations, and the 2-head model's attention on 3 texts
check "compare DOM: 9 heatmaps (got $(count cmp.dom 'class="attend-heatmap'))" [ "$(count cmp.dom 'class="attend-heatmap')" -eq 9 ]
check "compare DOM: 3 plots (accuracy, loss, learning curves)" [ "$(count cmp.dom 'class="attend-plot"')" -eq 3 ]
check "compare DOM: error bars drawn" [ "$(count cmp.dom 'class="attend-series"')" -ge 2 ]
dom show.html show.dom
check "show DOM: head view and model view" [ "$(count show.dom 'class="attend-heatmap')" -eq 2 ]
# a standalone picture: an XML error would show as a <parsererror> page
dom rep/figures/confusion.svg svg.dom
check "figure SVG: rendered without a parser error" [ -s svg.dom ] && ! grep -q parsererror svg.dom

test_done test_viz_browser.sh
