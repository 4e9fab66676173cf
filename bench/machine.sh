# Sourced by the bench scripts: describes this machine in shell variables.
#   CPU CORES FLAGS AMX AVX512 OPENBLAS_PKG MEM LOAD0 DATE
CPU=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')
CORES=$(nproc 2>/dev/null || echo "?")
FLAGS=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' | grep -E '^(avx2|fma|avx512|amx)' | sort -u | tr '\n' ' ' | sed 's/ $//')
case "$FLAGS" in *amx*) AMX=yes ;; *) AMX=no ;; esac
case "$FLAGS" in *avx512f*) AVX512=yes ;; *) AVX512=no ;; esac
OPENBLAS_PKG=$(dpkg-query -W -f '${Package} ${Version}' libopenblas0-pthread 2>/dev/null || true)
MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
