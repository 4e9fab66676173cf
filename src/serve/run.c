/* Running jobs: the texts of every job of a batch go to the model in one
 * attend_classify_batch / attend_embed_batch call (which orders them by
 * length and runs them in batches of similar length), on the worker's own
 * context; the rows are handed back to each job.
 *
 * A batch's numbers can differ from one text's in the last bits: the
 * BLAS's sums for a row depend on how many rows the product has (OpenBLAS
 * picks other kernels for small ones), so a text run with others gets
 * probabilities within about 1e-6 of attend_classify's on that text alone.
 * With the server's exact option every text is its own call and the
 * answers are attend_classify's / attend_embed's bit for bit (a request of
 * one text arriving alone is that case anyway). tests/test_serve.sh checks
 * both. */
#include "serve/serve.h"

#include "base/util.h"

#include <stdlib.h>
#include <string.h>

serve_job *serve_job_new(serve_request *r, serve_model *m, double now) {
    serve_job *j = calloc(1, sizeof *j);
    if (!j) {
        serve_request_free(r);
        serve_model_unref(m);
        return NULL;
    }
    j->req = *r;
    memset(r, 0, sizeof *r);
    j->model = m;
    j->t_arrival = now;
    j->deadline = now;
    /* The batch budget counts each text as at most one token per byte
     * (every token of either tokenizer takes at least one byte) plus the
     * specials, never more than the model reads: a batch never holds more
     * tokens than max_batch_tokens. */
    for (size_t i = 0; i < j->req.n; i++) {
        size_t t = j->req.lens[i] + m->n_special;
        j->est_tokens += t < m->max_len ? t : m->max_len;
    }
    return j;
}

void serve_job_free(serve_job *j) {
    if (!j) return;
    serve_request_free(&j->req);
    serve_model_unref(j->model);
    free(j->out);
    free(j->n_tokens);
    free(j->ids);
    free(j->id_off);
    free(j);
}

void serve_worker_state_free(serve_worker_state *w) {
    attend_context_free(w->ctx);
    serve_model_unref(w->ctx_model);
    free(w->texts);
    free(w->lens);
    free(w->n_tokens);
    free(w->rows);
    free(w->live);
    memset(w, 0, sizeof *w);
}

int serve_jobs_compatible(const serve_job *a, const serve_job *b) {
    if (a->model != b->model) return 0;
    int ea = a->req.ep == SERVE_EP_OPENAI ? SERVE_EP_EMBED : (int)a->req.ep;
    int eb = b->req.ep == SERVE_EP_OPENAI ? SERVE_EP_EMBED : (int)b->req.ep;
    if (ea != eb) return 0;
    return ea != SERVE_EP_EMBED || a->req.normalize == b->req.normalize;
}

/* A failed call -> the job's failure. */
static void job_fail_status(serve_job *j, attend_status st, const attend_error *err) {
    if (st == ATTEND_ERR_FORMAT || st == ATTEND_ERR_ARG)
        serve_fail(&j->fail, 422, "validation", "%s", err->msg);
    else if (st == ATTEND_ERR_NOMEM)
        serve_fail(&j->fail, 503, "overloaded", "out of memory: %s", err->msg);
    else serve_fail(&j->fail, 500, "backend", "%s", err->msg);
}

/* A context for the job's model (a reload may have swapped it). */
static attend_status worker_context(serve_worker_state *w, serve_model *m, attend_error *err) {
    if (w->ctx && w->ctx_model == m) return ATTEND_OK;
    attend_context_free(w->ctx);
    w->ctx = NULL;
    serve_model_unref(w->ctx_model);
    w->ctx_model = serve_model_ref(m);
    return attend_context_new(&w->ctx, m->model, err);
}

/* truncate: false: a text the model would cut is refused, with its count. */
static int job_check_lengths(serve_worker_state *w, serve_job *j) {
    const serve_model *m = j->model;
    for (size_t i = 0; i < j->req.n; i++) {
        int32_t none;
        size_t n = 0, total = 0;
        attend_error err = {0};
        attend_status st = attend_tokenize(m->model, w->ctx, j->req.texts[i], j->req.lens[i], &none,
                                           0, &n, &total, &err);
        if (st) {
            job_fail_status(j, st, &err);
            return 0;
        }
        if (total > m->max_len) {
            serve_fail(&j->fail, 413, "validation",
                       "inputs[%zu] has %zu tokens; the model reads at most %zu (send \"truncate\": true to cut it)",
                       i, total, m->max_len);
            return 0;
        }
    }
    return 1;
}

static void job_tokenize(serve_worker_state *w, serve_job *j) {
    const serve_model *m = j->model;
    const size_t n = j->req.n, T = m->max_len;
    size_t cap;
    j->id_off = malloc((n + 1) * sizeof *j->id_off);
    if (attend_mul_overflow(n, T, &cap) || !j->id_off || !(j->ids = malloc(cap * sizeof *j->ids))) {
        serve_fail(&j->fail, 503, "overloaded", "out of memory for the ids of %zu texts", n);
        return;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        attend_error err = {0};
        attend_status st = attend_tokenize(m->model, w->ctx, j->req.texts[i], j->req.lens[i],
                                           j->ids + at, T, &k, NULL, &err);
        if (st) {
            job_fail_status(j, st, &err);
            return;
        }
        j->id_off[i] = at;
        at += k;
    }
    j->id_off[n] = at;
}

/* Room for count texts and count rows of W in the worker's buffers. */
static int worker_reserve(serve_worker_state *w, size_t count, size_t W) {
    size_t rows;
    if (attend_mul_overflow(count, W, &rows)) return 0;
    if (count > w->cap_texts) {
        size_t cap = w->cap_texts;
        if (!attend_grow((void **)&w->texts, &cap, count, sizeof *w->texts)) return 0;
        cap = w->cap_texts;
        if (!attend_grow((void **)&w->lens, &cap, count, sizeof *w->lens)) return 0;
        cap = w->cap_texts;
        if (!attend_grow((void **)&w->n_tokens, &cap, count, sizeof *w->n_tokens)) return 0;
        w->cap_texts = cap;
    }
    return attend_grow((void **)&w->rows, &w->cap_rows, rows, sizeof *w->rows);
}

/* One model call over the texts of jobs[0..n); 0 on failure (err says why). */
static attend_status run_call(serve_worker_state *w, serve_job **jobs, size_t n, size_t W,
                              size_t *count, attend_error *err) {
    size_t c = 0;
    for (size_t k = 0; k < n; k++) c += jobs[k]->req.n;
    *count = c;
    if (!worker_reserve(w, c, W))
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for a batch of %zu texts", c);
    c = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < jobs[k]->req.n; i++, c++) {
            w->texts[c] = jobs[k]->req.texts[i];
            w->lens[c] = jobs[k]->req.lens[i];
        }
    const serve_job *j = jobs[0];
    const attend_model *m = j->model->model;
    /* exact: one call per text, as attend_classify / attend_embed run it */
    const size_t step = w->exact ? 1 : c;
    for (size_t i = 0; i < c; i += step) {
        size_t k = c - i < step ? c - i : step;
        attend_status st =
            j->req.ep == SERVE_EP_PREDICT
                ? attend_classify_batch(m, w->ctx, w->texts + i, w->lens + i, k, w->rows + i * W,
                                        w->n_tokens + i, err)
                : attend_embed_batch(m, w->ctx, w->texts + i, w->lens + i, k, j->req.normalize,
                                     w->rows + i * W, w->n_tokens + i, err);
        if (st) return st;
    }
    return ATTEND_OK;
}

/* Hands each job its rows and token counts. */
static void distribute(serve_worker_state *w, serve_job **jobs, size_t n, size_t W) {
    size_t c = 0;
    for (size_t k = 0; k < n; k++) {
        serve_job *j = jobs[k];
        const size_t t = j->req.n;
        j->width = W;
        j->out = malloc(t * W * sizeof *j->out);
        j->n_tokens = malloc(t * sizeof *j->n_tokens);
        if (!j->out || !j->n_tokens) {
            serve_fail(&j->fail, 503, "overloaded", "out of memory for the answer");
        } else {
            memcpy(j->out, w->rows + c * W, t * W * sizeof *j->out);
            /* the library counts a text's own tokens; the model read the
             * specials too (usage.prompt_tokens) */
            for (size_t i = 0; i < t; i++)
                j->n_tokens[i] = w->n_tokens[c + i] ? w->n_tokens[c + i] + j->model->n_special : 0;
        }
        c += t;
    }
}

size_t serve_run_jobs(serve_worker_state *w, serve_job **jobs, size_t n) {
    if (n == 0) return 0;
    serve_model *model = jobs[0]->model;
    attend_error err = {0};
    attend_status st = worker_context(w, model, &err);
    size_t texts = 0;
    if (st) {
        for (size_t k = 0; k < n; k++) job_fail_status(jobs[k], st, &err);
        goto done;
    }
    if (jobs[0]->req.ep == SERVE_EP_TOKENIZE) {
        for (size_t k = 0; k < n; k++) job_tokenize(w, jobs[k]);
        goto done;
    }
    // texts the model would cut, where the request said not to
    size_t live = 0;
    if (!attend_grow((void **)&w->live, &w->cap_live, n, sizeof *w->live)) {
        attend_errorf(&err, ATTEND_ERR_NOMEM, "out of memory for a batch of %zu requests", n);
        for (size_t k = 0; k < n; k++) job_fail_status(jobs[k], ATTEND_ERR_NOMEM, &err);
        goto done;
    }
    for (size_t k = 0; k < n; k++)
        if (jobs[k]->req.truncate || job_check_lengths(w, jobs[k])) w->live[live++] = jobs[k];
    const size_t W = jobs[0]->req.ep == SERVE_EP_PREDICT ? attend_model_num_labels(model->model)
                                                         : attend_model_embed_dim(model->model);
    size_t count = 0;
    serve_job **lj = w->live;
    if (live && (st = run_call(w, lj, live, W, &count, &err)) == ATTEND_OK) {
        distribute(w, lj, live, W);
        texts = count;
    } else if (live == 1) {
        job_fail_status(lj[0], st, &err);
    } else {
        // one bad job must not fail the others: run each alone
        for (size_t k = 0; k < live; k++) {
            attend_error e1 = {0};
            if ((st = run_call(w, lj + k, 1, W, &count, &e1)) == ATTEND_OK) {
                distribute(w, lj + k, 1, W);
                texts += count;
            } else job_fail_status(lj[k], st, &e1);
        }
    }
done:
    for (size_t k = 0; k < n; k++) atomic_store_explicit(&jobs[k]->done, 1, memory_order_release);
    return texts;
}
