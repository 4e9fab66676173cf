/* Running jobs: the texts of every job of a batch are counted, sorted by
 * length and run in groups of similar length, each one
 * attend_classify_batch / attend_embed_batch call on the worker's own
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

/* The batch budget counts each text as at most one token per byte (every
 * token of either tokenizer takes at least one byte) plus the specials,
 * never more than the model reads: an upper bound, so a batch never holds
 * more tokens than the budget. */
static size_t text_tokens(const serve_model *m, size_t bytes) {
    size_t t = bytes + m->n_special;
    return t < m->max_len ? t : m->max_len;
}

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
    for (size_t i = 0; i < j->req.n; i++) j->est_tokens += text_tokens(m, j->req.lens[i]);
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
    free(w->items);
    free(w->owner);
    free(w->index);
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

/* Room for count texts (and their rows of W) in the worker's buffers. */
static int worker_reserve(serve_worker_state *w, size_t count, size_t W) {
    size_t rows;
    if (attend_mul_overflow(count, W, &rows)) return 0;
    if (count > w->cap_texts) {
        size_t cap = count + count / 2;
        void *p[7] = {realloc(w->texts, cap * sizeof *w->texts), realloc(w->lens, cap * sizeof *w->lens),
                      realloc(w->n_tokens, cap * sizeof *w->n_tokens), realloc(w->items, cap * sizeof *w->items),
                      realloc(w->owner, cap * sizeof *w->owner), realloc(w->index, cap * sizeof *w->index), NULL};
        /* keep whatever was reallocated, so nothing leaks on failure */
        if (p[0]) w->texts = p[0];
        if (p[1]) w->lens = p[1];
        if (p[2]) w->n_tokens = p[2];
        if (p[3]) w->items = p[3];
        if (p[4]) w->owner = p[4];
        if (p[5]) w->index = p[5];
        for (int k = 0; k < 6; k++)
            if (!p[k]) return 0;
        w->cap_texts = cap;
    }
    return attend_grow((void **)&w->rows, &w->cap_rows, rows, sizeof *w->rows);
}

/* By token count, then position: the order texts are grouped in. */
static int by_tokens(const void *a, const void *b) {
    const serve_text *x = a, *y = b;
    if (x->tokens != y->tokens) return x->tokens < y->tokens ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Every text of the live jobs, with its token count (the one tokenization
 * the batch needs beyond the model call's own); a job with truncate: false
 * and a text the model would cut is refused with the count. Returns the
 * number of texts listed in w->items / owner / index. */
static size_t list_texts(serve_worker_state *w, serve_job **jobs, size_t n) {
    size_t c = 0;
    for (size_t k = 0; k < n; k++) {
        serve_job *j = jobs[k];
        const serve_model *m = j->model;
        const size_t start = c;
        for (size_t i = 0; i < j->req.n; i++) {
            int32_t none;
            size_t got = 0, total = 0;
            attend_error err = {0};
            attend_status st = attend_tokenize(m->model, w->ctx, j->req.texts[i], j->req.lens[i], &none, 0,
                                               &got, &total, &err);
            if (st) job_fail_status(j, st, &err);
            else if (!j->req.truncate && total > m->max_len)
                serve_fail(&j->fail, 413, "validation",
                           "inputs[%zu] has %zu tokens; the model reads at most %zu (send \"truncate\": true to cut it)",
                           i, total, m->max_len);
            if (j->fail.http) {
                c = start;
                break;
            }
            w->items[c].tokens = total < m->max_len ? total : m->max_len;
            w->items[c].pos = c;
            w->owner[c] = j;
            w->index[c] = i;
            c++;
        }
    }
    return c;
}

/* One model call over the sorted texts [s, s+k): rows and token counts at
 * the same places. */
static attend_status model_call(serve_worker_state *w, const serve_job *j, size_t s, size_t k, size_t W,
                                attend_error *err) {
    const attend_model *m = j->model->model;
    if (j->req.ep == SERVE_EP_PREDICT)
        return attend_classify_batch(m, w->ctx, w->texts + s, w->lens + s, k, w->rows + s * W, w->n_tokens + s, err);
    return attend_embed_batch(m, w->ctx, w->texts + s, w->lens + s, k, j->req.normalize, w->rows + s * W,
                              w->n_tokens + s, err);
}

/* The texts, sorted by length, in groups of similar length within the
 * token budget: a group is cut where its padding (each text padded to the
 * group's longest) would pass a quarter of its tokens, or its padded size
 * the budget. A library call pads the texts it is given to their longest,
 * so mixing lengths would cost more than batching saves. exact: one text a
 * call. A group that fails is run one text at a time, so only the jobs of
 * the texts that fail fail. */
static void run_groups(serve_worker_state *w, size_t c, size_t W) {
    for (size_t s = 0, g; s < c; s += g) {
        size_t sum = w->items[s].tokens;
        for (g = 1; !w->exact && s + g < c; g++) {
            const size_t t = w->items[s + g].tokens; /* the longest so far */
            if ((g + 1) * t > w->max_tokens || 4 * (g + 1) * t > 5 * (sum + t)) break;
            sum += t;
        }
        attend_error err = {0};
        const serve_job *j = w->owner[w->items[s].pos];
        if (model_call(w, j, s, g, W, &err) == ATTEND_OK) continue;
        for (size_t i = s; i < s + g; i++) {
            attend_status st = model_call(w, j, i, 1, W, &err);
            if (st) job_fail_status(w->owner[w->items[i].pos], st, &err);
        }
    }
}

/* Hands each job its rows and token counts (specials included: the model
 * read them too, and usage.prompt_tokens counts them). */
static void distribute(serve_worker_state *w, serve_job **jobs, size_t n, size_t c, size_t W) {
    for (size_t k = 0; k < n; k++) {
        serve_job *j = jobs[k];
        if (j->fail.http) continue;
        j->width = W;
        j->out = malloc(j->req.n * W * sizeof *j->out);
        j->n_tokens = malloc(j->req.n * sizeof *j->n_tokens);
        if (!j->out || !j->n_tokens) serve_fail(&j->fail, 503, "overloaded", "out of memory for the answer");
    }
    for (size_t s = 0; s < c; s++) {
        const size_t pos = w->items[s].pos, i = w->index[pos];
        serve_job *j = w->owner[pos];
        if (j->fail.http) continue;
        memcpy(j->out + i * W, w->rows + s * W, W * sizeof *j->out);
        j->n_tokens[i] = w->n_tokens[s] ? w->n_tokens[s] + j->model->n_special : 0;
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
    const size_t W = jobs[0]->req.ep == SERVE_EP_PREDICT ? attend_model_num_labels(model->model)
                                                         : attend_model_embed_dim(model->model);
    size_t total = 0;
    for (size_t k = 0; k < n; k++) total += jobs[k]->req.n;
    if (!worker_reserve(w, total, W)) {
        attend_errorf(&err, ATTEND_ERR_NOMEM, "out of memory for a batch of %zu texts", total);
        for (size_t k = 0; k < n; k++) job_fail_status(jobs[k], ATTEND_ERR_NOMEM, &err);
        goto done;
    }
    size_t c = list_texts(w, jobs, n);
    qsort(w->items, c, sizeof *w->items, by_tokens);
    for (size_t s = 0; s < c; s++) {
        const size_t pos = w->items[s].pos;
        w->texts[s] = w->owner[pos]->req.texts[w->index[pos]];
        w->lens[s] = w->owner[pos]->req.lens[w->index[pos]];
    }
    run_groups(w, c, W);
    distribute(w, jobs, n, c, W);
    for (size_t s = 0; s < c; s++) texts += !w->owner[w->items[s].pos]->fail.http;
done:
    for (size_t k = 0; k < n; k++) atomic_store_explicit(&jobs[k]->done, 1, memory_order_release);
    return texts;
}
