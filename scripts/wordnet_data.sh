#!/bin/sh
# The bundled WordNet data set the demos train on: data/wordnet-nouns.tsv,
# generated from WordNet 3.0 (Debian wordnet-base) when it is missing.
#   sh scripts/wordnet_data.sh
set -e
data="data/wordnet-nouns.tsv"
if [ ! -s "$data" ]; then
  echo "attend: $data is missing; generating it from WordNet 3.0 (Debian wordnet-base)"
  sh scripts/deps.sh demo
  sh data/make_wordnet.sh "$data"
fi
