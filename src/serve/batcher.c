/* The batcher: one queue of admitted jobs, a fixed set of inference
 * workers and a reaper for timeouts.
 *
 * A worker that becomes free takes the job at the head of the queue and,
 * with it, every waiting job that can share its batch (same model, same
 * kind of output) while the batch stays within max_batch_tokens; it never
 * waits for more to arrive, so a request alone is run at once and requests
 * that arrive together (while the workers are busy) are run together.
 *
 * Workers run their batch on one thread each: the server's parallelism is
 * its workers, and OpenMP teams inside each would oversubscribe the cores.
 * OpenMP's thread count is a per-thread setting (the nthreads-var ICV), so
 * each worker sets its own to 1 here; attend_serve_start has set attend's
 * process-wide count (attend_set_threads(1), which the matrix multiplies
 * read) before any worker starts.
 *
 * A job's deadline is its admission time plus the timeout; jobs are queued
 * in admission order, so the head always has the earliest deadline and the
 * reaper sleeps until it. Expired jobs are answered 503 without running. */
#define _POSIX_C_SOURCE 200809L
#include "serve/serve.h"

#include "base/parallel.h"
#include "base/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A worker's lists: the jobs taken, and those of them still in time. */
struct serve_worker {
    serve_batcher *b;
    pthread_t thread;
    serve_job **batch, **run;
};

/* Absolute CLOCK_MONOTONIC time of t (attend_now_s seconds). */
static struct timespec abs_time(double t) {
    struct timespec ts;
    if (t < 0) t = 0;
    if (t > 1e9) t = 1e9;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    return ts;
}

static serve_job *pop_after(serve_batcher *b, serve_job *prev) {
    serve_job *j = prev ? prev->next : b->head;
    if (prev) prev->next = j->next;
    else b->head = j->next;
    if (b->tail == j) b->tail = prev;
    j->next = NULL;
    b->queued--;
    return j;
}

/* Under the lock: the head job and the waiting jobs that fit its batch.
 * Returns how many went into batch (cap places). */
static size_t take_batch(serve_batcher *b, serve_job **batch, size_t cap) {
    serve_job *first = pop_after(b, NULL);
    size_t n = 0, tokens = first->est_tokens;
    batch[n++] = first;
    serve_job *prev = NULL, *j = b->head;
    while (j && n < cap) {
        if (serve_jobs_compatible(first, j) && tokens + j->est_tokens <= b->max_batch_tokens) {
            tokens += j->est_tokens;
            batch[n++] = pop_after(b, prev);
            j = prev ? prev->next : b->head;
        } else {
            prev = j;
            j = j->next;
        }
    }
    return n;
}

/* Outside the lock: answers each job (resumes its connection), then gives
 * their places back. */
static void finish(serve_batcher *b, serve_job **jobs, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (b->on_done) b->on_done(jobs[k]);
    pthread_mutex_lock(&b->lock);
    b->admitted -= n;
    if (b->closing && b->admitted == 0) pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->lock);
}

static void fail_expired(serve_batcher *b, serve_job *j, double now) {
    serve_fail(&j->fail, 503, "timeout",
               "the request waited %.0f ms in the queue without starting (the server is overloaded; retry later)",
               (now - j->t_arrival) * 1e3);
    atomic_store_explicit(&j->done, 1, memory_order_release);
    atomic_fetch_add_explicit(&b->metrics->timeouts, 1, memory_order_relaxed);
}

static void *worker_main(void *arg) {
    struct serve_worker *me = arg;
    serve_batcher *b = me->b;
#if ATTEND_HAVE_OPENMP
    omp_set_num_threads(1); /* this thread's OpenMP teams: itself only */
#endif
    serve_worker_state w;
    memset(&w, 0, sizeof w);
    w.exact = b->exact;
    w.max_tokens = b->max_batch_tokens;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (!b->head && !(b->closing && b->admitted == 0)) pthread_cond_wait(&b->work, &b->lock);
        if (!b->head) break;
        size_t n = take_batch(b, me->batch, b->max_admitted);
        pthread_mutex_unlock(&b->lock);
        double now = attend_now_s();
        size_t nr = 0;
        for (size_t k = 0; k < n; k++) {
            if (now > me->batch[k]->deadline) fail_expired(b, me->batch[k], now);
            else me->run[nr++] = me->batch[k];
        }
        size_t texts = serve_run_jobs(&w, me->run, nr), tokens = 0;
        for (size_t k = 0; k < nr; k++) {
            const serve_job *j = me->run[k];
            if (j->n_tokens && !j->fail.http)
                for (size_t i = 0; i < j->req.n; i++) tokens += j->n_tokens[i];
        }
        if (texts) serve_metrics_batch(b->metrics, texts, tokens);
        finish(b, me->batch, n);
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    serve_worker_state_free(&w);
    return NULL;
}

/* Answers the jobs whose deadline passed while they waited. */
static void *reaper_main(void *arg) {
    serve_batcher *b = arg;
    pthread_mutex_lock(&b->lock);
    while (!(b->closing && !b->head)) {
        if (!b->head) {
            pthread_cond_wait(&b->reaper, &b->lock);
            continue;
        }
        double now = attend_now_s();
        if (now < b->head->deadline) {
            struct timespec ts = abs_time(b->head->deadline);
            pthread_cond_timedwait(&b->reaper, &b->lock, &ts);
            continue;
        }
        serve_job *expired = NULL, **tail = &expired;
        size_t n = 0;
        while (b->head && now >= b->head->deadline) {
            *tail = pop_after(b, NULL);
            tail = &(*tail)->next;
            n++;
        }
        pthread_mutex_unlock(&b->lock);
        for (serve_job *j = expired, *next; j; j = next) {
            next = j->next; /* on_done may hand j to another thread */
            fail_expired(b, j, now);
            if (b->on_done) b->on_done(j);
        }
        pthread_mutex_lock(&b->lock);
        b->admitted -= n;
        if (b->closing && b->admitted == 0) pthread_cond_broadcast(&b->work);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

attend_status serve_batcher_start(serve_batcher *b, size_t n_workers, size_t max_admitted,
                                  size_t max_batch_tokens, int exact, serve_job_done_fn on_done,
                                  serve_metrics *metrics, attend_error *err) {
    memset(b, 0, sizeof *b);
    b->max_admitted = max_admitted;
    b->max_batch_tokens = max_batch_tokens;
    b->exact = exact;
    b->on_done = on_done;
    b->metrics = metrics;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the deadlines' clock */
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->work, NULL);
    pthread_cond_init(&b->reaper, &ca);
    pthread_condattr_destroy(&ca);
    b->workers = calloc(n_workers, sizeof *b->workers);
    if (!b->workers) goto nomem;
    b->n_workers = n_workers;
    for (size_t i = 0; i < n_workers; i++) {
        struct serve_worker *w = &b->workers[i];
        w->b = b;
        w->batch = malloc(max_admitted * sizeof *w->batch);
        w->run = malloc(max_admitted * sizeof *w->run);
        if (!w->batch || !w->run) goto nomem;
    }
    for (; b->n_started < n_workers; b->n_started++) {
        struct serve_worker *w = &b->workers[b->n_started];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) goto nothread;
    }
    if (pthread_create(&b->reaper_thread, NULL, reaper_main, b) != 0) goto nothread;
    b->reaper_started = 1;
    return ATTEND_OK;
nomem:
    serve_batcher_stop(b);
    serve_batcher_destroy(b);
    return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for %zu workers", n_workers);
nothread:
    serve_batcher_stop(b);
    serve_batcher_destroy(b);
    return attend_errorf(err, ATTEND_ERR_NOMEM, "cannot start the inference threads: %s", strerror(errno));
}

int serve_batcher_admit(serve_batcher *b) {
    pthread_mutex_lock(&b->lock);
    int ok = !b->closing && b->admitted < b->max_admitted;
    if (ok) b->admitted++;
    pthread_mutex_unlock(&b->lock);
    return ok;
}

void serve_batcher_unadmit(serve_batcher *b) {
    pthread_mutex_lock(&b->lock);
    b->admitted--;
    if (b->closing && b->admitted == 0) pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->lock);
}

void serve_batcher_push(serve_batcher *b, serve_job *j, double timeout_s) {
    pthread_mutex_lock(&b->lock);
    /* The deadline is taken under the lock, so deadlines grow along the
     * queue and the head's is the earliest. */
    j->deadline = attend_now_s() + timeout_s;
    j->next = NULL;
    if (b->tail) b->tail->next = j;
    else {
        b->head = j;
        pthread_cond_signal(&b->reaper);
    }
    b->tail = j;
    b->queued++;
    pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->lock);
}

size_t serve_batcher_depth(serve_batcher *b) {
    pthread_mutex_lock(&b->lock);
    size_t n = b->queued;
    pthread_mutex_unlock(&b->lock);
    return n;
}

void serve_batcher_stop(serve_batcher *b) {
    pthread_mutex_lock(&b->lock);
    b->closing = 1;
    pthread_cond_broadcast(&b->work);
    pthread_cond_broadcast(&b->reaper);
    pthread_mutex_unlock(&b->lock);
    for (size_t i = 0; i < b->n_started; i++) pthread_join(b->workers[i].thread, NULL);
    if (b->reaper_started) pthread_join(b->reaper_thread, NULL);
    b->n_started = 0;
    b->reaper_started = 0;
}

void serve_batcher_destroy(serve_batcher *b) {
    for (size_t i = 0; b->workers && i < b->n_workers; i++) {
        free(b->workers[i].batch);
        free(b->workers[i].run);
    }
    free(b->workers);
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->reaper);
    pthread_mutex_destroy(&b->lock);
    memset(b, 0, sizeof *b);
}
