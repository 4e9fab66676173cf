#!/bin/sh
# Installs the Debian packages attend needs, or prints the exact command.
#   sh scripts/deps.sh build   what `make` and `make test` need
#   sh scripts/deps.sh demo    that, plus the WordNet source of the bundled data
#   sh scripts/deps.sh test    that, plus xmllint and chromium for the picture tests
#   sh scripts/deps.sh ci      that, plus clang's libFuzzer for the fuzzing smoke run
set -e
need="cmake make gcc pkg-config libopenblas-dev libutf8proc-dev libcjson-dev"
case "${1:-build}" in
  demo) need="$need wordnet-base" ;;
  test) need="$need libxml2-utils chromium" ;;
  ci) need="$need libxml2-utils chromium clang-14 libclang-rt-14-dev" ;;
esac

missing=""
for p in $need; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "attend: missing packages:$missing (this is not a Debian system; install their equivalents)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "attend: missing packages:$missing" >&2
  echo "attend: run: sudo apt-get update && sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "attend: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends $missing >&2
