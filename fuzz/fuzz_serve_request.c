/* libFuzzer target: the server's request path without the network, from a
 * body to its answer: serve_request_parse (JSON -> texts and options),
 * serve_job_new, serve_run_jobs (the batch a worker runs, on a tiny model
 * made here: 3 labels, d_model 8, max_len 6, cls pooling), and
 * serve_response_job (the JSON answer).
 * Input: the first byte picks the endpoint (predict, embed, /v1/embeddings,
 * tokenize), the rest is the body. Properties:
 *   - a refused body gets a status of 400, 413, 422 or 500, a type and a
 *     message, and its error body is JSON {"error", "error_type"};
 *   - an accepted one has 1..max_inputs texts, each non-empty, valid UTF-8
 *     (checked by an independent decoder), NUL-free, of its stated length;
 *   - the answer of an accepted request is strict JSON of the endpoint's
 *     shape with one entry per text (or 413 when truncate: false meets a
 *     text the model would cut);
 *   - the same request run as two jobs in one batch gives each job the
 *     shape of the first, and the answer of a job alone. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_common.h"

#include "base/json.h"
#include "model/model.h"
#include "serve/serve.h"
#include "text/splitter.h"
#include "text/vocab.h"

static serve_model *fuzz_serve_model = NULL;
static serve_worker_state fuzz_serve_worker;

/* The tiny model, from a vocabulary of a few words. */
static void fuzz_serve_setup(void) {
    if (fuzz_serve_model) return;
    static const char words[] = "cat dog horse cow bread cheese apple hammer saw drill a the of , . ! 猫";
    attend_error err;
    attend_splitter sp;
    attend_vocab_counter c;
    attend_vocab v;
    attend_tokenizer *tok = NULL;
    FUZZ_CHECK(attend_splitter_init(&sp, &err) == ATTEND_OK, "splitter: %s", err.msg);
    FUZZ_CHECK(attend_vocab_counter_init(&c, &err) == ATTEND_OK, "counter: %s", err.msg);
    FUZZ_CHECK(attend_vocab_counter_add_text(&c, &sp, words, sizeof words - 1, &err) == ATTEND_OK, "count: %s", err.msg);
    FUZZ_CHECK(attend_vocab_build(&v, &c, 1, 0, &err) == ATTEND_OK, "vocab: %s", err.msg);
    attend_model_config cfg;
    attend_model_config_default(&cfg);
    cfg.vocab_size = attend_vocab_size(&v);
    cfg.num_classes = 3;
    cfg.d_model = 8;
    cfg.nhead = 2;
    cfg.num_layers = 1;
    cfg.dim_feedforward = 16;
    cfg.max_len = 6;
    cfg.pool = ATTEND_POOL_CLS;
    FUZZ_CHECK(attend_tokenizer_words_new(&tok, &v, &err) == ATTEND_OK, "tokenizer: %s", err.msg);
    char *labels[3] = {"animal", "food", "tool"};
    attend_model *m = NULL;
    FUZZ_CHECK(attend_model_create(&m, &cfg, tok, labels, &err) == ATTEND_OK, "model: %s", err.msg);
    attend_model_init_weights(m, 7);
    fuzz_serve_model = serve_model_new(m, 1);
    FUZZ_CHECK(fuzz_serve_model != NULL, "handle");
    attend_vocab_counter_free(&c);
    attend_splitter_free(&sp);
    memset(&fuzz_serve_worker, 0, sizeof fuzz_serve_worker);
    fuzz_serve_worker.max_tokens = 10; /* slices of one or two texts */
}

/* The answer of a finished job: status and strict-JSON shape. */
static void fuzz_serve_check_answer(const serve_job *j) {
    attend_buf b;
    attend_buf_init(&b);
    int status = serve_response_job(j, "tiny", &b);
    FUZZ_CHECK(!b.failed && b.s, "answer buffer failed");
    FUZZ_CHECK(attend_json_check(b.s, b.len, 64, NULL), "answer is not strict JSON: %.200s", b.s);
    cJSON *doc = cJSON_Parse(b.s);
    FUZZ_CHECK(doc != NULL, "answer does not parse");
    if (status != 200) {
        FUZZ_CHECK(status == 413 || status == 422, "status %d: %s", status, b.s);
        FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItem(doc, "error")) &&
                       cJSON_IsString(cJSON_GetObjectItem(doc, "error_type")),
                   "error body %s", b.s);
    } else {
        const cJSON *items = j->req.ep == SERVE_EP_OPENAI ? cJSON_GetObjectItem(doc, "data") : doc;
        FUZZ_CHECK(cJSON_IsArray(items), "answer is not a list");
        size_t n = (size_t)cJSON_GetArraySize(items);
        if (j->req.ep == SERVE_EP_PREDICT && j->req.single) {
            size_t k = j->req.top_k && j->req.top_k < 3 ? j->req.top_k : 3;
            FUZZ_CHECK(n == k, "%zu labels, expected %zu", n, k);
        } else {
            FUZZ_CHECK(n == j->req.n, "%zu answers for %zu texts", n, j->req.n);
        }
        if (j->req.ep == SERVE_EP_EMBED)
            for (const cJSON *e = items->child; e; e = e->next)
                FUZZ_CHECK(cJSON_GetArraySize(e) == 8, "embedding of %d", cJSON_GetArraySize(e));
    }
    cJSON_Delete(doc);
    attend_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    fuzz_serve_setup();
    if (size == 0) return 0;
    static const serve_endpoint eps[4] = {SERVE_EP_PREDICT, SERVE_EP_EMBED, SERVE_EP_OPENAI, SERVE_EP_TOKENIZE};
    serve_endpoint ep = eps[data[0] % 4];
    char *body = fuzz_cstring(data + 1, size - 1);
    FUZZ_CHECK(body != NULL, "out of memory");
    const size_t len = size - 1;
    serve_limits lim = {.max_inputs = 16};
    serve_request r, r2;
    serve_failure f;
    memset(&f, 0, sizeof f);
    if (!serve_request_parse(&r, ep, body, len, &lim, &f)) {
        FUZZ_CHECK(f.http == 400 || f.http == 413 || f.http == 422 || f.http == 500, "status %d", f.http);
        FUZZ_CHECK(f.type && *f.type && f.msg[0], "refusal without a type or message");
        FUZZ_CHECK(r.doc == NULL && r.texts == NULL, "a refused request kept memory");
        attend_buf b;
        attend_buf_init(&b);
        serve_response_error(&b, f.type, f.msg);
        FUZZ_CHECK(!b.failed && attend_json_check(b.s, b.len, 4, NULL), "error body %s", b.s);
        attend_buf_free(&b);
        free(body);
        return 0;
    }
    FUZZ_CHECK(r.n >= 1 && r.n <= lim.max_inputs, "%zu texts", r.n);
    FUZZ_CHECK(!r.single || r.n == 1, "single with %zu texts", r.n);
    for (size_t i = 0; i < r.n; i++) {
        FUZZ_CHECK(r.lens[i] > 0 && strlen(r.texts[i]) == r.lens[i], "text %zu: length", i);
        FUZZ_CHECK(fuzz_utf8_ok((const unsigned char *)r.texts[i], r.lens[i]), "text %zu: invalid UTF-8", i);
    }
    /* the same body again, for the batch of two */
    FUZZ_CHECK(serve_request_parse(&r2, ep, body, len, &lim, &f), "second parse refused: %s", f.msg);
    free(body);
    serve_job *a = serve_job_new(&r, serve_model_ref(fuzz_serve_model), 0);
    serve_job *b = serve_job_new(&r2, serve_model_ref(fuzz_serve_model), 0);
    FUZZ_CHECK(a && b, "out of memory");
    FUZZ_CHECK(serve_jobs_compatible(a, b), "a request is not compatible with itself");
    serve_job *alone[1] = {a}, *pair[2] = {b, NULL};
    serve_run_jobs(&fuzz_serve_worker, alone, 1);
    fuzz_serve_check_answer(a);
    /* b with a fresh copy of a: both as one batch */
    serve_request r3;
    char *again = fuzz_cstring(data + 1, size - 1);
    FUZZ_CHECK(again && serve_request_parse(&r3, ep, again, len, &lim, &f), "third parse");
    free(again);
    pair[1] = serve_job_new(&r3, serve_model_ref(fuzz_serve_model), 0);
    FUZZ_CHECK(pair[1] != NULL, "out of memory");
    serve_run_jobs(&fuzz_serve_worker, pair, 2);
    for (int k = 0; k < 2; k++) {
        FUZZ_CHECK(pair[k]->fail.http == a->fail.http, "job %d of a batch: status %d, alone %d", k,
                   pair[k]->fail.http, a->fail.http);
        fuzz_serve_check_answer(pair[k]);
    }
    if (ep == SERVE_EP_TOKENIZE && !a->fail.http)
        FUZZ_CHECK(memcmp(a->id_off, pair[0]->id_off, (a->req.n + 1) * sizeof *a->id_off) == 0 &&
                       memcmp(a->ids, pair[0]->ids, a->id_off[a->req.n] * sizeof *a->ids) == 0,
                   "token ids depend on the batch");
    serve_job_free(a);
    serve_job_free(pair[0]);
    serve_job_free(pair[1]);
    return 0;
}
