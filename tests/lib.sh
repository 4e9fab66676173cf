# What the shell tests share. A test sources it first:
#     . "$(dirname "$0")/lib.sh"
# then calls test_bin "$1" and test_scratch NAME, checks with the helpers
# below, and ends with test_done NAME (its status is the test's).

pass=0
fail=0

# test_bin PATH: BIN, the absolute path of the attend program under test
# (a usage error, exit 2, without one); ROOT, the repository root (the
# working directory the tests are run from).
test_bin() {
    BIN=$1
    if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
        echo "usage: sh $0 path/to/attend" >&2
        exit 2
    fi
    ROOT=$(pwd)
    case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
}

# test_scratch NAME [TRAP]: T, a scratch folder $ATTEND_TMP/NAME.PID
# (default /tmp), made the working directory and removed on exit (or
# TRAP, a command, run on exit instead).
test_scratch() {
    T=${ATTEND_TMP:-/tmp}/$1.$$
    mkdir -p "$T" || exit 1
    T=$(cd "$T" && pwd)
    if [ -n "$2" ]; then trap "$2" EXIT; else trap 'rm -rf "$T"' EXIT; fi
    cd "$T" || exit 1
}

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# show FILE: its first 20 lines, indented, on stderr
show() { sed 's/^/    /' "$1" | head -20 >&2; }
# check NAME COMMAND...: COMMAND succeeds
check() {
    cname=$1
    shift
    if "$@"; then ok; else bad "$cname"; fi
}
# has NAME FILE STRING / hasnt NAME FILE STRING: FILE holds (or not) STRING
has() {
    if grep -F -q -- "$3" "$2"; then ok; else bad "$1: '$3' not in $2"; show "$2"; fi
}
hasnt() {
    if grep -F -q -- "$3" "$2"; then bad "$1: '$3' should not be in $2"; else ok; fi
}
# run NAME CODE ARGS...: attend ARGS exits with CODE (stdout in out, stderr
# in err), never crashes, and says "attend: <message>" when CODE is not 0.
# (test_cli_classifier.sh and test_cli_bert.sh check codes with their own
# expect and define their own run.)
run() {
    rname=$1 code=$2
    shift 2
    "$BIN" "$@" >out 2>err
    rc=$?
    if [ $rc -ge 128 ]; then bad "$rname: crashed (exit $rc)"; show err; return; fi
    if [ "$rc" = "$code" ]; then ok; else bad "$rname: exit $rc, expected $code"; show err; fi
    if [ "$code" != 0 ]; then
        if grep -q '^attend: ' err; then ok; else bad "$rname: no 'attend: <message>' on stderr"; show err; fi
    fi
}
# count FILE STRING: occurrences of STRING in FILE
count() { grep -o -F -- "$2" "$1" | wc -l | tr -d ' '; }

# test_done NAME: the tally; succeeds when nothing failed
test_done() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
