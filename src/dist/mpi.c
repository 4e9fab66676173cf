/* Data-parallel training over MPI (compiled only with ATTEND_HAVE_MPI).
 *
 * The reduce hook continues the sum of the pieces' gradients across
 * processes in piece order. Process r computes pieces [lo_r, hi_r) of the
 * batch (contiguous, the first processes taking any extra); process 0 adds
 * its pieces up as one process would, g0 + g1 + ..., and passes the partial
 * sum on; process r adds its pieces to it one at a time, in order, and
 * passes it on; the last process holding pieces has the batch's gradient,
 * which it broadcasts. Each element thus goes through exactly the additions
 * one process makes, so the result is the same bits whatever the number of
 * processes. The sum travels in chunks so that the chain is a pipeline: a
 * process adds and forwards chunk c while chunk c + 1 is on its way, and a
 * step costs about two transfers of the packed gradient (the dense part and
 * the batch's touched embedding rows), as a ring all-reduce does, plus one
 * chunk per process in the chain while the pipeline fills.
 *
 * Errors: MPI's default handler aborts the whole job on a communication
 * failure, and mpirun ends the job when a process dies, so no process is
 * left waiting for one that is gone. */
#if ATTEND_HAVE_MPI
#include "dist/dist.h"
#include "kernels/kernels.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Floats per message of the chain: an eighth of the vector, so that the
 * pipeline fills quickly also for a small model, within 16 and 256 KiB. */
#define CHAIN_CHUNK_MIN ((size_t)1 << 12)
#define CHAIN_CHUNK_MAX ((size_t)1 << 16)
/* Largest count handed to one MPI call (counts are int). */
#define MPI_MAX_COUNT ((size_t)1 << 30)
#define TAG_CHAIN 1

typedef struct {
    MPI_Comm comm;
    int initialised; /* MPI_Init was called here (so finalised here) */
    float *acc;      /* the running sum, packed */
    size_t acc_cap;
    MPI_Request *req; /* (2 x chunks) */
    size_t req_cap;
} mpi_state;

static MPI_Comm comm_of(const attend_world *w) { return ((const mpi_state *)w->mpi)->comm; }

attend_status attend_mpi_init(attend_world *w, attend_error *err) {
    mpi_state *m = calloc(1, sizeof *m);
    if (!m) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    int done = 0;
    MPI_Initialized(&done);
    if (!done) {
        /* Only the main thread calls MPI; OpenMP threads never do. */
        int provided = 0;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            free(m);
            return attend_errorf(err, ATTEND_ERR_IO, "MPI_Init failed");
        }
        m->initialised = 1;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &m->comm);
    MPI_Comm_rank(m->comm, &w->rank);
    MPI_Comm_size(m->comm, &w->size);
    w->mpi = m;
    return ATTEND_OK;
}

void attend_mpi_finalize(attend_world *w) {
    mpi_state *m = w->mpi;
    MPI_Comm_free(&m->comm);
    if (m->initialised) MPI_Finalize();
    free(m->acc);
    free(m->req);
    free(m);
    w->mpi = NULL;
}

void attend_mpi_abort(attend_world *w, int code) { MPI_Abort(comm_of(w), code); }

const char *attend_mpi_library(void) {
    static char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (!version[0]) {
        MPI_Get_library_version(version, &len);
        // the first line only ("Open MPI v4.1.4, package: ...")
        for (char *p = version; *p; p++)
            if (*p == '\n' || *p == ',') {
                *p = '\0';
                break;
            }
    }
    return version;
}

/* ---- agreement, broadcast, sums ---- */

attend_status attend_mpi_agree(const attend_world *w, attend_status st, int *stop,
                               attend_error *err) {
    /* one all-reduce (max) of {stop flag, size - rank of a failing
     * process}: the lowest failing process has the largest */
    int in[2] = {stop ? *stop : 0, st != ATTEND_OK ? w->size - w->rank : 0}, out[2];
    MPI_Allreduce(in, out, 2, MPI_INT, MPI_MAX, comm_of(w));
    if (stop) *stop = out[0];
    if (!out[1]) return ATTEND_OK;
    const int root = w->size - out[1];
    struct {
        int status;
        char msg[sizeof err->msg];
    } why;
    memset(&why, 0, sizeof why);
    if (w->rank == root) {
        why.status = (int)st;
        snprintf(why.msg, sizeof why.msg, "%s", err ? err->msg : attend_status_name(st));
    }
    MPI_Bcast(&why, (int)sizeof why, MPI_BYTE, root, comm_of(w));
    return attend_errorf(err, (attend_status)why.status, "process %d of %d: %s", root, w->size,
                         why.msg);
}

attend_status attend_mpi_bcast(const attend_world *w, void *buf, size_t bytes, attend_error *err) {
    (void)err;
    for (size_t o = 0; o < bytes; o += MPI_MAX_COUNT) {
        size_t n = bytes - o < MPI_MAX_COUNT ? bytes - o : MPI_MAX_COUNT;
        MPI_Bcast((char *)buf + o, (int)n, MPI_BYTE, 0, comm_of(w));
    }
    return ATTEND_OK;
}

attend_status attend_mpi_sum_f64(const attend_world *w, double *x, size_t n, attend_error *err) {
    (void)err;
    for (size_t o = 0; o < n; o += MPI_MAX_COUNT) {
        size_t k = n - o < MPI_MAX_COUNT ? n - o : MPI_MAX_COUNT;
        MPI_Allreduce(MPI_IN_PLACE, x + o, (int)k, MPI_DOUBLE, MPI_SUM, comm_of(w));
    }
    return ATTEND_OK;
}

/* ---- the reduce hook ---- */

/* Passes the partial sum acc (n floats) down the chain 0 .. last, each
 * process adding its held pieces, in order, to every chunk on the way. */
static void chain_sum(const attend_world *w, attend_stepper *s, float *acc, size_t n, int last,
                      MPI_Request *req) {
    const int r = w->rank;
    size_t ch = (n + 7) / 8;
    ch = ch < CHAIN_CHUNK_MIN ? CHAIN_CHUNK_MIN : ch > CHAIN_CHUNK_MAX ? CHAIN_CHUNK_MAX : ch;
    const size_t nc = (n + ch - 1) / ch, mine = s->hi - s->lo;
    MPI_Request *recv = req, *send = req + nc;
    if (r > 0)
        for (size_t c = 0; c < nc; c++) {
            const size_t o = c * ch, len = n - o < ch ? n - o : ch;
            MPI_Irecv(acc + o, (int)len, MPI_FLOAT, r - 1, TAG_CHAIN, comm_of(w), &recv[c]);
        }
    for (size_t c = 0; c < nc; c++) {
        const size_t o = c * ch, len = n - o < ch ? n - o : ch;
        if (r > 0) {
            MPI_Wait(&recv[c], MPI_STATUS_IGNORE);
            // acc += each held piece, in piece order (the residual's accumulation)
            for (size_t k = 0; k < mine; k++)
                attend_residual_backward(acc + o, NULL, s->held + k * n + o, len);
        }
        if (r < last) MPI_Isend(acc + o, (int)len, MPI_FLOAT, r + 1, TAG_CHAIN, comm_of(w), &send[c]);
    }
    if (r < last) MPI_Waitall((int)nc, send, MPI_STATUSES_IGNORE);
}

static attend_status mpi_reduce(void *ctx, attend_stepper *s, attend_error *err) {
    (void)err;
    attend_world *w = ctx;
    mpi_state *m = w->mpi;
    const double t0 = MPI_Wtime();
    const size_t n = attend_step_packed_size(s, s->n_rows);
    // the processes holding pieces are 0 .. last (attend_step_gradients' split)
    const size_t each = (s->n_pieces + s->ranks - 1) / s->ranks;
    const int last = (int)((s->n_pieces + each - 1) / each) - 1;
    if (w->rank == 0) attend_step_pack(s, s->grads, m->acc);
    if (w->rank <= last && last > 0) chain_sum(w, s, m->acc, n, last, m->req);
    for (size_t o = 0; o < n; o += MPI_MAX_COUNT) {
        size_t k = n - o < MPI_MAX_COUNT ? n - o : MPI_MAX_COUNT;
        MPI_Bcast(m->acc + o, (int)k, MPI_FLOAT, last, m->comm);
    }
    attend_step_unpack(s, m->acc);
    /* per-example losses: each is nonzero on the one process that computed
     * it, so the sum is exact */
    MPI_Allreduce(MPI_IN_PLACE, s->ex_loss, (int)s->B, MPI_DOUBLE, MPI_SUM, m->comm);
    w->reduces++;
    w->reduce_s += MPI_Wtime() - t0;
    w->reduce_floats += (double)n;
    return ATTEND_OK;
}

attend_status attend_mpi_attach(attend_world *w, attend_stepper *s, attend_error *err) {
    mpi_state *m = w->mpi;
    attend_status st = attend_stepper_share(s, (size_t)w->rank, (size_t)w->size, err);
    if (st) return st;
    const size_t V = s->m->cfg.vocab_size, BT = s->Bmax * s->Tmax;
    const size_t cap = attend_step_packed_size(s, BT < V ? BT : V);
    const size_t chunks = (cap + CHAIN_CHUNK_MIN - 1) / CHAIN_CHUNK_MIN;
    if (cap > m->acc_cap) {
        free(m->acc);
        m->acc_cap = 0;
        if (!(m->acc = malloc(cap * sizeof(float))))
            return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for the gradient exchange (%zu MiB)",
                                 cap * sizeof(float) >> 20);
        m->acc_cap = cap;
    }
    if (2 * chunks > m->req_cap) {
        free(m->req);
        m->req_cap = 0;
        if (!(m->req = malloc(2 * chunks * sizeof(MPI_Request))))
            return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
        m->req_cap = 2 * chunks;
    }
    s->reduce = mpi_reduce;
    s->reduce_ctx = w;
    return ATTEND_OK;
}
#endif
