/* Threads and CPU dispatch for the hot loops. */
#ifndef ATTEND_BASE_PARALLEL_H
#define ATTEND_BASE_PARALLEL_H

#include <stddef.h>

/* Runtime CPU dispatch for the hot loops: GCC compiles a function marked
 * ATTEND_DISPATCH three times (AVX-512, AVX2, portable x86-64) and picks one
 * at load time from the CPU's flags. Build with -DATTEND_NO_DISPATCH (cmake
 * -DATTEND_DISPATCH=OFF) to get only the portable code; CI tests both. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(ATTEND_NO_DISPATCH)
#define ATTEND_DISPATCH __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ATTEND_DISPATCH
#endif

#if ATTEND_HAVE_OPENMP
#include <omp.h>
#define ATTEND_PRAGMA(x) _Pragma(#x)
#define ATTEND_OMP(x) ATTEND_PRAGMA(omp x)
#else
#define ATTEND_OMP(x)
#endif

/* Elementwise work is cut into chunks of this many values; each chunk is one
 * call of a dispatched kernel (OpenMP's outlined loop bodies would not be
 * multi-versioned themselves). */
#define ATTEND_CHUNK ((size_t)8192)
#define ATTEND_FOR_CHUNKS(n, s, len, body)                                               \
    do {                                                                                \
        const size_t n_ = (n), nc_ = (n_ + ATTEND_CHUNK - 1) / ATTEND_CHUNK;              \
        ATTEND_OMP(parallel for schedule(static) if (nc_ > 1))                          \
        for (size_t c_ = 0; c_ < nc_; c_++) {                                           \
            const size_t s = c_ * ATTEND_CHUNK;                                         \
            const size_t len = n_ - s < ATTEND_CHUNK ? n_ - s : ATTEND_CHUNK;           \
            body;                                                                       \
        }                                                                               \
    } while (0)

#endif
