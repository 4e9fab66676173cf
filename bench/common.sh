# What the bench scripts share; each sources it first:
#     . "$(dirname "$0")/common.sh"
#
# bench_args "$@"   "BUILD_DIR [--quick]" -> BUILD (default build) and QUICK
#                   (--quick or empty); a usage error (exit 2) otherwise. Then
#                   the working directory is the repository root.
# bench_machine     describes this machine: CPU CORES FLAGS AMX AVX512
#                   OPENBLAS_PKG MEM LOAD0 DATE

bench_usage() {
    echo "usage: sh bench/$(basename "$0") BUILD_DIR [--quick]" >&2
    exit 2
}

bench_args() {
    BUILD=
    QUICK=
    for a in "$@"; do
        case "$a" in
            --quick) QUICK=--quick ;;
            -h|--help) bench_usage ;;
            -*) echo "bench/$(basename "$0"): unknown option $a" >&2; bench_usage ;;
            *) [ -z "$BUILD" ] && BUILD=$a || bench_usage ;;
        esac
    done
    [ -n "$BUILD" ] || BUILD=build
    cd "$(dirname "$0")/.." || exit 1
}

bench_machine() {
    CPU=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')
    CORES=$(nproc 2>/dev/null || echo "?")
    FLAGS=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' | grep -E '^(avx2|fma|avx512|amx)' | sort -u | tr '\n' ' ' | sed 's/ $//')
    case "$FLAGS" in *amx*) AMX=yes ;; *) AMX=no ;; esac
    case "$FLAGS" in *avx512f*) AVX512=yes ;; *) AVX512=no ;; esac
    OPENBLAS_PKG=$(dpkg-query -W -f '${Package} ${Version}' libopenblas0-pthread 2>/dev/null || true)
    MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)
    LOAD0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
    DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
}
