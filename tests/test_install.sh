#!/bin/sh
# make install into a scratch prefix, then use attend the way any Debian
# library is used: examples/classify.c built with
#   cc classify.c $(pkg-config --cflags --libs attend)
# against the installed headers and shared library must print what the
# installed `attend predict` prints. Also: the files a package ships are all
# there (program, static and shared library with its soname, headers,
# attend.pc, attend(1)), the shared library exports exactly the functions
# the public headers declare, and the man page names every command.
# Usage: sh tests/test_install.sh path/to/build/attend
BIN=$1
[ -x "$BIN" ] || { echo "usage: sh tests/test_install.sh path/to/build/attend" >&2; exit 2; }
BUILD=$(cd "$(dirname "$BIN")" && pwd)
ROOT=$(pwd)
if grep -q '^ATTEND_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null ||
    grep -q '^ATTEND_TSAN:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    echo "SKIP: a sanitizer build; programs linking it would need the sanitizer runtime"
    exit 77
fi
for tool in cc pkg-config nm; do
    command -v $tool >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done
T=${ATTEND_TMP:-/tmp}/test_install.$$
mkdir -p "$T" && T=$(cd "$T" && pwd) || exit 1
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

P=$T/prefix
cmake --install "$BUILD" --prefix "$P" >"$T/install.out" 2>&1 && ok || { bad "cmake --install failed"; cat "$T/install.out"; }
LIB=$(dirname "$(find "$P" -name 'libattend.so.*.*' | head -1)")
[ -x "$P/bin/attend" ] && ok || bad "bin/attend not installed"
[ -f "$LIB/libattend.a" ] && ok || bad "libattend.a not installed"
soname=$(objdump -p "$LIB"/libattend.so.*.* 2>/dev/null | awk '/SONAME/ {print $2}')
[ "$soname" = libattend.so.0 ] && [ -L "$LIB/libattend.so.0" ] && [ -L "$LIB/libattend.so" ] && ok ||
    bad "shared library: soname '$soname', links $(ls "$LIB")"
for h in attend.h attend_train.h attend_viz.h; do
    [ -f "$P/include/$h" ] && ok || bad "include/$h not installed"
done
PC=$(dirname "$(find "$P" -name attend.pc | head -1)")
[ -f "$PC/attend.pc" ] && ok || bad "attend.pc not installed"
MAN=$(find "$P" -name attend.1 | head -1)
[ -f "$MAN" ] && ok || bad "attend.1 not installed"
for c in train eval predict info show report compare op; do
    grep -q "^\.SS $c\$" "$MAN" && ok || bad "the man page has no section for $c"
done
if command -v groff >/dev/null 2>&1; then
    groff -man -Tutf8 -ww -z "$MAN" 2>"$T/groff.err" && [ ! -s "$T/groff.err" ] && ok ||
        { bad "groff warns on attend.1"; head -5 "$T/groff.err"; }
fi

# exports: the functions of the public headers, no internals
nm -D --defined-only "$LIB/libattend.so" | awk '$2 == "T" {sub(/@.*/, "", $3); print $3}' | sort >"$T/exported"
sort "$BUILD/attend.exports" >"$T/declared"
if cmp -s "$T/exported" "$T/declared"; then ok; else
    bad "the shared library's exports differ from the public headers' declarations"
    diff "$T/declared" "$T/exported" | head -10
fi
[ "$(wc -l <"$T/declared")" -gt 100 ] && ok || bad "only $(wc -l <"$T/declared") functions declared?"

# a program built against the installed copy, as a user would build it
export PKG_CONFIG_PATH=$PC
cc "$ROOT/examples/classify.c" -o "$T/classify" $(pkg-config --cflags --libs attend) 2>"$T/cc.err" && ok ||
    { bad "cc classify.c \$(pkg-config --cflags --libs attend) failed"; cat "$T/cc.err"; }
ldd "$T/classify" 2>/dev/null | grep -q "libattend.so.0 => $LIB" ||
    LD_LIBRARY_PATH=$LIB ldd "$T/classify" | grep -q "libattend.so.0 => $LIB" && ok ||
    bad "classify does not use the installed shared library"
awk 'BEGIN { split("cat dog horse cow sheep", a, " "); split("bread cheese apple rice soup", b, " ");
  for (i = 0; i < 40; i++) print (i % 2 ? "animal\t" a[1 + i % 5] " " a[1 + (i * 3) % 5] : "food\t" b[1 + i % 5] " " b[1 + (i * 7) % 5]) }' >"$T/d.tsv"
"$P/bin/attend" train --data "$T/d.tsv" --out "$T/m.safetensors" --epochs 3 --d-model 8 --heads 2 --layers 1 \
    --d-ff 16 --threads 1 >"$T/train.out" 2>&1 && ok || { bad "installed attend train failed"; cat "$T/train.out"; }
printf 'cat dog\nbread soup\n\nsheep horse\n' >"$T/in.txt"
"$P/bin/attend" predict --model "$T/m.safetensors" "$T/in.txt" >"$T/want" 2>&1 && ok || bad "installed attend predict failed"
LD_LIBRARY_PATH=$LIB "$T/classify" "$T/m.safetensors" <"$T/in.txt" >"$T/got" 2>&1 && ok || bad "classify failed: $(cat "$T/got")"
cmp -s "$T/want" "$T/got" && ok || { bad "classify (installed library) and attend predict disagree"; diff "$T/want" "$T/got"; }

echo "test_install: $pass passed, $fail failed"
[ $fail -eq 0 ]
