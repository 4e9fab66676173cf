/* Threads and build information. */
#include "attend.h"
#include "base/parallel.h"

#include <cblas.h>
#include <stdio.h>

static int attend_threads_ = 0; /* 0 = not set: use all cores */

void attend_set_threads(int n) {
    attend_threads_ = n > 0 ? n : 0;
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
    return attend_threads_ > 0 ? attend_threads_ : omp_get_max_threads();
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
