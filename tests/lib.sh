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

# toy_data SEED PER_CLASS MINLEN SPREAD KIND: labelled lines "animal|food|tool
# <TAB> words" on stdout, PER_CLASS a class, each of MINLEN + (0 .. SPREAD-1)
# words drawn from its class's ten, by a fixed linear congruential sequence
# from SEED. KIND: plain (class words only); func (a third function words);
# mix (func, and some words of the next class); the (a quarter "the").
toy_data() {
    awk -v x="$1" -v per="$2" -v minlen="$3" -v spread="$4" -v kind="$5" 'BEGIN {
    n = split("animal food tool", label, " ")
    split("cat dog horse cow sheep goat lion tiger bear wolf", w, " ")
    for (k = 1; k <= 10; k++) W[1, k] = w[k]
    split("bread cheese apple rice soup pasta butter honey salad meat", w, " ")
    for (k = 1; k <= 10; k++) W[2, k] = w[k]
    split("hammer saw drill wrench chisel pliers screw nail axe file", w, " ")
    for (k = 1; k <= 10; k++) W[3, k] = w[k]
    split("the a big small old new red my his every", f, " ")
    for (c = 1; c <= n; c++)
        for (i = 1; i <= per; i++) {
            x = (x * 75 + 74) % 65537
            len = minlen + x % spread
            line = ""
            for (j = 0; j < len; j++) {
                x = (x * 75 + 74) % 65537
                word = W[c, 1 + int(x / 7) % 10]
                if (kind == "the" && x % 4 == 0) word = "the"
                else if ((kind == "func" || kind == "mix") && x % 3 == 0) word = f[1 + int(x / 11) % 10]
                else if (kind == "mix" && x % 7 == 1) word = W[1 + (c % 3), 1 + int(x / 7) % 10]
                line = line (j ? " " : "") word
            }
            print label[c] "\t" line
        }
    }'
}
