/* attend_world: this process alone, or the processes of an MPI job. The
 * operations of dist.h are no-ops for one process and go to dist/mpi.c for
 * several. */
#include "dist/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many processes the launcher started, from the environment it gives
 * them (Open MPI's mpirun; PMI_SIZE: MPICH's and Intel MPI's); 0 when this
 * process was not started by an MPI launcher. */
static int launched_size(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v) > 0 ? atoi(v) : 1;
    }
    return 0;
}

attend_status attend_world_init(attend_world **out, attend_error *err) {
    *out = NULL;
    const int launched = launched_size();
#if !ATTEND_HAVE_MPI
    if (launched > 1)
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "started as one of %d processes (mpirun), but this attend was built without MPI: each would train alone and all would write the same files; build with make MPI=1 (Open MPI) and run build-mpi/attend",
                             launched);
#endif
    attend_world *w = calloc(1, sizeof *w);
    if (!w) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    w->size = 1;
#if ATTEND_HAVE_MPI
    if (launched >= 1) {
        attend_status st = attend_mpi_init(w, err);
        if (st) {
            free(w);
            return st;
        }
    }
#else
    (void)launched;
#endif
    *out = w;
    return ATTEND_OK;
}

int attend_world_rank(const attend_world *w) { return w ? w->rank : 0; }
int attend_world_size(const attend_world *w) { return w ? w->size : 1; }

const char *attend_world_library(void) {
#if ATTEND_HAVE_MPI
    return attend_mpi_library();
#else
    return NULL;
#endif
}

void attend_world_abort(attend_world *w, int code) {
#if ATTEND_HAVE_MPI
    if (w && w->mpi) attend_mpi_abort(w, code);
#else
    (void)w;
    (void)code;
#endif
}

void attend_world_free(attend_world *w) {
    if (!w) return;
#if ATTEND_HAVE_MPI
    if (w->mpi) attend_mpi_finalize(w);
#endif
    free(w);
}

/* ---- collectives ---- */

attend_status attend_dist_agree(const attend_world *w, attend_status st, int *stop,
                                attend_error *err) {
#if ATTEND_HAVE_MPI
    if (w && w->mpi) return attend_mpi_agree(w, st, stop, err);
#endif
    (void)w;
    (void)stop;
    (void)err;
    return st;
}

attend_status attend_dist_bcast(const attend_world *w, void *buf, size_t bytes, attend_error *err) {
#if ATTEND_HAVE_MPI
    if (w && w->mpi) return attend_mpi_bcast(w, buf, bytes, err);
#endif
    (void)w;
    (void)buf;
    (void)bytes;
    (void)err;
    return ATTEND_OK;
}

attend_status attend_dist_sum_f64(const attend_world *w, double *x, size_t n, attend_error *err) {
#if ATTEND_HAVE_MPI
    if (w && w->mpi) return attend_mpi_sum_f64(w, x, n, err);
#endif
    (void)w;
    (void)x;
    (void)n;
    (void)err;
    return ATTEND_OK;
}

attend_status attend_dist_attach(attend_world *w, attend_stepper *s, attend_error *err) {
#if ATTEND_HAVE_MPI
    if (w && w->mpi && w->size > 1) return attend_mpi_attach(w, s, err);
#endif
    (void)w;
    (void)s;
    (void)err;
    return ATTEND_OK;
}
