#!/bin/sh
# Generates data/wordnet-nouns.tsv from WordNet 3.0 (Debian's wordnet-base):
# one row per noun synset, "label<TAB>gloss", where the label is the synset's
# lexicographer file (noun.animal, noun.artifact, ... 26 classes) and the text
# is its gloss (definition and examples) as WordNet writes it.
#
#   sh data/make_wordnet.sh [OUT]        (default OUT: data/wordnet-nouns.tsv)
#   WNDIR=/path/to/dict sh data/make_wordnet.sh   (WordNet files elsewhere)
#
# Needs only POSIX sh and awk. The output is deterministic: rows in the order
# of data.noun (by synset offset).
set -eu

WNDIR=${WNDIR:-/usr/share/wordnet}
here=$(dirname "$0")
out=${1:-$here/wordnet-nouns.tsv}
src=$WNDIR/data.noun

if [ ! -r "$src" ]; then
    echo "make_wordnet.sh: $src not found; install WordNet: sudo apt-get install -y wordnet-base" >&2
    echo "make_wordnet.sh: (or set WNDIR to the directory holding data.noun)" >&2
    exit 1
fi

# Debian's wordnet-base does not ship the lexnames file, so its table
# (lexnames(5WN), the same in every WordNet 3.0) is built in; a lexnames file
# beside data.noun, when there is one, takes precedence.
lexnames=$WNDIR/lexnames
[ -r "$lexnames" ] || lexnames=

tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT INT TERM

LC_ALL=C awk -v lexfile="$lexnames" '
BEGIN {
    n = split("noun.Tops noun.act noun.animal noun.artifact noun.attribute " \
              "noun.body noun.cognition noun.communication noun.event " \
              "noun.feeling noun.food noun.group noun.location noun.motive " \
              "noun.object noun.person noun.phenomenon noun.plant " \
              "noun.possession noun.process noun.quantity noun.relation " \
              "noun.shape noun.state noun.substance noun.time", names, " ")
    for (i = 1; i <= n; i++) lex[i + 2] = names[i]   # noun.Tops is file 03
    if (lexfile != "") {
        while ((getline line < lexfile) > 0) {
            split(line, f, "\t")
            if (f[2] ~ /^noun\./) lex[f[1] + 0] = f[2]
        }
        close(lexfile)
    }
    rows = 0
}
# The licence header: lines starting with two spaces.
substr($0, 1, 2) == "  " { next }
{
    lexnum = $2 + 0
    label = lex[lexnum]
    if (label == "") {
        printf("make_wordnet.sh: line %d: unknown lexicographer file %s\n", NR, $2) > "/dev/stderr"
        bad = 1
        exit 1
    }
    bar = index($0, " | ")
    if (bar == 0) {
        printf("make_wordnet.sh: line %d: synset %s has no gloss\n", NR, $1) > "/dev/stderr"
        bad = 1
        exit 1
    }
    gloss = substr($0, bar + 3)
    gsub(/[\t\r\n]/, " ", gloss)
    sub(/^ +/, "", gloss)
    sub(/ +$/, "", gloss)
    if (gloss == "") {
        printf("make_wordnet.sh: line %d: synset %s has an empty gloss\n", NR, $1) > "/dev/stderr"
        bad = 1
        exit 1
    }
    print label "\t" gloss
    rows++
}
END {
    if (bad) exit 1
    if (rows == 0) {
        print "make_wordnet.sh: no synsets found in " FILENAME > "/dev/stderr"
        exit 1
    }
}
' "$src" > "$tmp"

mv "$tmp" "$out"
trap - EXIT INT TERM
rows=$(wc -l < "$out" | tr -d ' ')
classes=$(cut -f1 "$out" | sort -u | wc -l | tr -d ' ')
echo "make_wordnet.sh: wrote $out: $rows rows, $classes classes" >&2
