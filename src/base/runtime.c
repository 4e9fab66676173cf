/* Threads and build information. */
#include "attend.h"
#include "base/parallel.h"

#include <cblas.h>
#include <stdio.h>


void attend_set_threads(int n) {
#if ATTEND_HAVE_OPENMP
    int t = n > 0 ? n : omp_get_num_procs();
    omp_set_num_threads(t);
#else
    int t = 1;
#endif
    (void)t;
    /* attend splits GEMMs across its own threads (matmul.c); the BLAS itself
     * stays single-threaded so the two never oversubscribe the cores. */
    openblas_set_num_threads(1);
}

int attend_get_threads(void) {
#if ATTEND_HAVE_OPENMP
    /* the calling thread's setting: a context running a small input lowers
     * it for the duration of the call (model/context.c) */
    return omp_get_max_threads();
#else
    return 1;
#endif
}

const char *attend_build_info(void) {
    static char buf[320];
    snprintf(buf, sizeof buf,
             "attend %s; OpenMP %s; BLAS: OpenBLAS (%s); threads %d; bf16 matmul: %s",
             ATTEND_VERSION, ATTEND_HAVE_OPENMP ? "on" : "off", openblas_get_config(),
             attend_get_threads(), attend_matmul_bf16_native() ? "AVX512-BF16" : "portable");
    return buf;
}
