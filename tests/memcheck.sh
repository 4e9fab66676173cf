#!/bin/sh
# `make check-memory`: the whole test suite under valgrind memcheck.
#   - builds attend with debug info in BUILD (default build-memcheck);
#   - runs every test executable (build/tests/test_*) under valgrind;
#   - runs every shell test (tests/test_*.sh, examples/test_example.sh) with
#     the attend binary (and the example program) replaced by a wrapper that
#     runs it under valgrind, so every CLI command those tests issue - train,
#     eval, predict, info, op, on good and hostile input - is checked too.
# Any memcheck error (invalid read/write, use of uninitialised values,
# invalid free) or any definitely lost block fails the run; each process
# writes its own log to BUILD/valgrind/, and the failing ones are printed.
# Usage (from the repository root): sh tests/memcheck.sh [BUILD]
set -u
BUILD=${1:-build-memcheck}
ROOT=$(pwd)
if ! command -v valgrind >/dev/null 2>&1; then
    echo "memcheck: valgrind is not installed (Debian: apt-get install valgrind)" >&2
    exit 1
fi
echo "memcheck: building in $BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$BUILD.configure.log" 2>&1 ||
    { cat "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" > "$BUILD/memcheck-build.log" 2>&1 ||
    { tail -40 "$BUILD/memcheck-build.log"; exit 1; }
BUILD=$(cd "$BUILD" && pwd)
LOGS=$BUILD/valgrind
rm -rf "$LOGS" "$BUILD/vg-bin"
mkdir -p "$LOGS" "$BUILD/vg-bin" "$BUILD/tests/tmp"

# One valgrind command line for everything; %p keeps the processes apart.
VG="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
--errors-for-leak-kinds=definite --num-callers=40 --child-silent-after-fork=yes"

# wrap NAME BINARY: a script that runs BINARY under valgrind, logging to
# LOGS/NAME.PID.log so that stderr stays what the tests expect.
wrap() {
    cat > "$BUILD/vg-bin/$1" <<WRAP
#!/bin/sh
exec $VG --log-file=$LOGS/$1.%p.log $2 "\$@"
WRAP
    chmod +x "$BUILD/vg-bin/$1"
}
wrap attend "$BUILD/attend"
wrap classify_example "$BUILD/examples/classify_example"
# Tests that find other programs beside the binary (dirname of attend) see
# the build's own entries.
for entry in "$BUILD"/*; do
    case $(basename "$entry") in vg-bin | valgrind) continue ;; esac
    [ -e "$BUILD/vg-bin/$(basename "$entry")" ] || ln -s "$entry" "$BUILD/vg-bin/$(basename "$entry")"
done
ATTEND_VG=$BUILD/vg-bin/attend

failed=0
ran=0
# run NAME COMMAND...: one test; its exit status must be 0.
run() {
    name=$1
    shift
    start=$(date +%s)
    "$@" > "$LOGS/$name.out" 2>&1
    rc=$?
    ran=$((ran + 1))
    if [ $rc -eq 0 ]; then
        echo "memcheck: $name ok ($(( $(date +%s) - start )) s)"
    else
        failed=$((failed + 1))
        echo "memcheck: $name FAILED (exit $rc; output in $LOGS/$name.out)"
        tail -20 "$LOGS/$name.out" | sed 's/^/    /'
    fi
}

for exe in "$BUILD"/tests/test_*; do
    [ -f "$exe" ] && [ -x "$exe" ] || continue
    name=$(basename "$exe")
    run "$name" env ATTEND_BIN="$ATTEND_VG" ATTEND_TMP="$BUILD/tests/tmp" \
        $VG --log-file="$LOGS/$name.%p.log" "$exe"
done
# Timing harnesses are not memory tests (and their CLI calls repeat the
# ones above); MEMCHECK_SKIP lists the shell tests left out.
SKIP=${MEMCHECK_SKIP:-test_bench_smoke}
for script in tests/test_*.sh; do
    name=$(basename "$script" .sh)
    case " $SKIP " in *" $name "*) echo "memcheck: $name skipped (MEMCHECK_SKIP)"; continue ;; esac
    run "$name" env ATTEND_TMP="$BUILD/tests/tmp" sh "$script" "$ATTEND_VG"
done
if [ -f examples/test_example.sh ]; then
    run example_classify env ATTEND_TMP="$BUILD/tests/tmp" sh examples/test_example.sh \
        "$BUILD/vg-bin/classify_example" "$ATTEND_VG"
fi

# Every process's log: errors or definite leaks fail the run.
nlogs=0
bad=0
for log in "$LOGS"/*.log; do
    [ -f "$log" ] || continue
    nlogs=$((nlogs + 1))
    if grep -q 'ERROR SUMMARY: [1-9]' "$log" || grep -q 'definitely lost: [1-9]' "$log"; then
        bad=$((bad + 1))
        echo "memcheck: errors in $log:"
        sed -n '/^==[0-9]*== [A-Z]/,$p' "$log" | head -60 | sed 's/^/    /'
    fi
done
echo "memcheck: $nlogs processes checked, $bad with errors or definite leaks"
[ $bad -eq 0 ] || failed=$((failed + 1))
echo "memcheck: $((ran - failed > 0 ? ran - failed : 0)) passed, $failed failed"
[ $failed -eq 0 ]
