/* The processes a training run spans (attend_world) and the few collective
 * operations attend_train needs from them. For a world of one process (no
 * MPI, or not started by mpirun) every operation is the obvious no-op, so
 * train.c reads the same either way. The MPI side is dist/mpi.c, compiled
 * only in builds with MPI (ATTEND_HAVE_MPI). */
#ifndef ATTEND_DIST_H
#define ATTEND_DIST_H

#include "attend_train.h"
#include "train/train.h"

struct attend_world {
    int rank, size;
    void *mpi; /* dist/mpi.c's state (communicator, buffers); NULL without MPI */
    /* what the reduce hook did: calls, seconds in it (waiting for the
     * other processes included) and floats of packed gradient exchanged */
    size_t reduces;
    double reduce_s, reduce_floats;
};

/* Every process calls this at the same point with its own status st and
 * (may be NULL) stop flag. Returns ATTEND_OK on all processes when all are
 * OK; otherwise, on all of them, the status and message of the lowest
 * failing process, prefixed with its number. *stop becomes the largest of
 * the flags. */
attend_status attend_dist_agree(const attend_world *w, attend_status st, int *stop,
                                attend_error *err);

/* Process 0's `bytes` bytes at buf, copied to every process. */
attend_status attend_dist_bcast(const attend_world *w, void *buf, size_t bytes, attend_error *err);

/* x (n) summed elementwise across processes, on every process. Exact (any
 * order) when each element is nonzero on at most one process. */
attend_status attend_dist_sum_f64(const attend_world *w, double *x, size_t n, attend_error *err);

/* Makes the stepper this process's share of a data-parallel step
 * (attend_stepper_share) and installs the reduce hook that continues the
 * sum of the pieces' gradients across processes. Nothing for one process. */
attend_status attend_dist_attach(attend_world *w, attend_stepper *s, attend_error *err);

#if ATTEND_HAVE_MPI
/* dist/mpi.c: the same operations for a world of several processes. */
attend_status attend_mpi_init(attend_world *w, attend_error *err);
void attend_mpi_finalize(attend_world *w);
void attend_mpi_abort(attend_world *w, int code);
const char *attend_mpi_library(void);
attend_status attend_mpi_agree(const attend_world *w, attend_status st, int *stop,
                               attend_error *err);
attend_status attend_mpi_bcast(const attend_world *w, void *buf, size_t bytes, attend_error *err);
attend_status attend_mpi_sum_f64(const attend_world *w, double *x, size_t n, attend_error *err);
attend_status attend_mpi_attach(attend_world *w, attend_stepper *s, attend_error *err);
#endif

#endif
