/* Parity with Hugging Face transformers on the small random BERT folders of
 * tests/hf_fixtures/bert (README there): each folder is loaded as a user
 * would (attend_model_load on the directory), its inputs run, and every
 * tensor of expected.safetensors compared: hidden states of every layer,
 * attention weights, pooler output, mean / cls / max pooling, logits of
 * BertForSequenceClassification, the loss and the gradient of every
 * parameter. Rule (README): max|got - exp| / max(max|exp|, 1e-6) <= 1e-4;
 * key-bias gradients (exactly 0 in theory) against their layer's key-weight
 * gradient. Folders whose classifier is in head.safetensors are rebuilt in
 * $ATTEND_TMP with the head added to model.safetensors, so the loader's
 * plain-name path with a head is covered too. Single-text cases also go
 * through the public API: attend_tokenize gives the fixture's ids and
 * attend_embed_batch the mean pooling. Prints the worst error per case. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "model/model.h"
#include "test.h"
#include "test_tmp.h"

#define FIXTURES "tests/hf_fixtures/bert"
#define MIN_CASES 8
#define TOL 1e-4

typedef struct {
    const char *name;
    double worst[2];         /* outputs, gradients */
    char worst_what[2][160];
} case_stats;

/* Relative error of got against the expected tensor name (README's rule). */
static void compare(case_stats *cs, const attend_st_file *ex, const char *name, const float *got,
                    size_t n) {
    const attend_st_tensor *e = attend_st_find(ex, name);
    CHECK(e && e->dtype == ATTEND_DTYPE_F32 && e->numel == n, "%s: expected tensor %s missing or of %zu values, not %zu",
          cs->name, name, e ? e->numel : 0, n);
    if (!e || e->numel != n) return;
    const float *x = e->data;
    double maxe = 0.0, maxd = 0.0;
    for (size_t i = 0; i < n; i++) {
        maxe = fmax(maxe, fabs(x[i]));
        double d = fabs((double)got[i] - x[i]);
        maxd = isfinite(got[i]) ? fmax(maxd, d) : INFINITY;
    }
    double rel = maxd / fmax(maxe, 1e-6);
    CHECK(rel <= TOL, "%s: %s relative error %.3g > %g", cs->name, name, rel, TOL);
    const int k = strncmp(name, "grad.", 5) == 0;
    if (rel >= cs->worst[k]) {
        cs->worst[k] = rel;
        snprintf(cs->worst_what[k], sizeof cs->worst_what[k], "%s", name);
    }
}

/* An I64 (B,T) or (B) tensor as int32, or NULL when absent. */
static int32_t *read_ids(const attend_st_file *f, const char *name, size_t n) {
    const attend_st_tensor *t = attend_st_find(f, name);
    if (!t) return NULL;
    CHECK(t->dtype == ATTEND_DTYPE_I64 && t->numel == n, "%s: I64 of %zu values expected", name, n);
    int32_t *o = malloc(n * sizeof *o);
    const int64_t *v = t->data;
    for (size_t i = 0; i < n; i++) o[i] = (int32_t)v[i];
    return o;
}

/* dir/name into buf. */
static const char *pjoin(char *buf, size_t cap, const char *dir, const char *name) {
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap) buf[0] = 0;
    return buf;
}

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b && fclose(b) != 0) ok = 0;
    return ok;
}

/* A copy of folder dir in tmp with head.safetensors' classifier added to
 * model.safetensors; returns the new folder's path (static buffer). */
static const char *with_head(const char *dir, const char *cname) {
    static char out[1024];
    char a[1024], b[1024], base[600];
    test_tmp_dir(base, sizeof base, "hf_bert");
    snprintf(out, sizeof out, "%s/%s", base, cname);
    mkdir(out, 0777);
    const char *files[] = {"config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json"};
    for (size_t i = 0; i < 4; i++)
        CHECK(copy_file(pjoin(a, sizeof a, dir, files[i]), pjoin(b, sizeof b, out, files[i])),
              "%s: copying %s", cname, files[i]);
    attend_st_file *w = NULL, *h = NULL;
    attend_error err = {0};
    CHECK(attend_st_open(&w, pjoin(a, sizeof a, dir, "model.safetensors"), &err) == ATTEND_OK &&
              attend_st_open(&h, pjoin(b, sizeof b, dir, "head.safetensors"), &err) == ATTEND_OK,
          "%s: %s", cname, err.msg);
    attend_st_writer *wr = attend_st_writer_new();
    for (size_t k = 0; w && h && k < 2; k++) {
        attend_st_file *f = k ? h : w;
        for (size_t i = 0; i < attend_st_count(f); i++) {
            const attend_st_tensor *t = attend_st_at(f, i);
            CHECK(attend_st_writer_add(wr, t->name, t->dtype, t->ndim, t->shape, t->data, &err) == ATTEND_OK,
                  "%s: %s", cname, err.msg);
        }
    }
    CHECK(attend_st_writer_save(wr, pjoin(b, sizeof b, out, "model.safetensors"), &err) == ATTEND_OK,
          "%s: %s", cname, err.msg);
    attend_st_writer_free(wr);
    attend_st_close(w);
    attend_st_close(h);
    return out;
}

/* The forward outputs of expected.safetensors. */
static void check_forward(case_stats *cs, const attend_model *m, attend_model_acts *a,
                          const attend_st_file *ex, const uint8_t *pad, size_t B, size_t T,
                          int with_probs) {
    const attend_model_config *c = &m->cfg;
    const size_t E = c->d_model, BTE = B * T * E, H = c->nhead;
    char name[64];
    compare(cs, ex, "hidden_states.0", a->x0, BTE);
    for (size_t l = 0; l < c->num_layers; l++) {
        snprintf(name, sizeof name, "hidden_states.%zu", l + 1);
        compare(cs, ex, name, a->outs[l], BTE);
        snprintf(name, sizeof name, "attentions.%zu", l);
        if (with_probs) compare(cs, ex, name, a->layers[l].attn.probs, B * H * T * T);
    }
    const float *h = a->outs[c->num_layers - 1];
    compare(cs, ex, "last_hidden_state", h, BTE);
    float *u = malloc(B * E * sizeof(float));
    static const struct { const char *name; attend_pool_kind kind; } pools[] = {
        {"pooler_output", ATTEND_POOL_POOLER}, {"mean_pooled", ATTEND_POOL_MEAN},
        {"cls_pooled", ATTEND_POOL_CLS}, {"max_pooled", ATTEND_POOL_MAX}};
    for (size_t k = 0; k < 4; k++) {
        attend_model_pool(m, u, h, pad, B, T, pools[k].kind);
        compare(cs, ex, pools[k].name, u, B * E);
    }
    free(u);
    compare(cs, ex, "logits", a->logits, B * c->num_classes);
}

/* The loss and every gradient (eval mode, as the fixtures). */
static void check_grads(case_stats *cs, const attend_model *m, attend_model_acts *a,
                        const attend_st_file *ex, const int32_t *ids, const int32_t *types,
                        const uint8_t *pad, const int32_t *labels, size_t B, size_t T) {
    const attend_model_config *c = &m->cfg;
    const size_t K = c->num_classes;
    float loss = attend_crossentropy_forward(a->probs, a->logits, labels, NULL, 0.0f, B, K);
    compare(cs, ex, "loss", &loss, 1);
    memset(a->dlogits, 0, B * K * sizeof(float));
    attend_crossentropy_backward(a->dlogits, a->probs, labels, NULL, 0.0f, 1.0f, B, K);
    float *gmem = calloc(m->layout.total, sizeof(float));
    attend_model_params g;
    attend_layout bind = m->layout;
    bind.base = gmem;
    bind.total = 0;
    attend_model_layout(&bind, c, &g);
    attend_bert_backward(m, &g, a, ids, types, pad, B, T, 0, 0);
    for (size_t i = 0; i < m->layout.count; i++) {
        const attend_param_info *it = &m->layout.items[i];
        char name[200];
        int cls = strncmp(it->name, "classifier.", 11) == 0;
        snprintf(name, sizeof name, "grad.%s%s", cls ? "" : "bert.", it->name);
        const float *got = gmem + it->offset;
        const char *kb = strstr(it->name, "attention.self.key.bias");
        if (!kb) {
            compare(cs, ex, name, got, it->numel);
            continue;
        }
        /* exactly 0 in theory: rounding noise against the key weights' gradient */
        char wname[200];
        snprintf(wname, sizeof wname, "%.*skey.weight", (int)(kb - it->name + 15), it->name);
        long wi = attend_layout_find(&m->layout, wname);
        double gb = 0.0, gw = 0.0;
        for (size_t j = 0; j < it->numel; j++) gb = fmax(gb, fabs(got[j]));
        for (size_t j = 0; wi >= 0 && j < m->layout.items[wi].numel; j++)
            gw = fmax(gw, fabs(gmem[m->layout.items[wi].offset + j]));
        CHECK(wi >= 0 && gb / fmax(gw, 1e-6) <= TOL, "%s: %s is %.3g of the key weights' gradient",
              cs->name, name, gb / fmax(gw, 1e-6));
    }
    free(gmem);
}

/* Single texts: the public API's ids and embeddings. */
static void check_api(case_stats *cs, const attend_model *m, const char *dir,
                      const attend_st_file *ex, const int32_t *ids, const uint8_t *pad, size_t B,
                      size_t T) {
    char p[1024], *buf = NULL;
    FILE *f = fopen(pjoin(p, sizeof p, dir, "texts.json"), "rb");
    size_t n = 0, cap = 0;
    int ch;
    while (f && (ch = fgetc(f)) != EOF) {
        if (n + 2 > cap) buf = realloc(buf, cap = cap ? 2 * cap : 4096);
        buf[n++] = (char)ch;
    }
    if (f) fclose(f);
    if (buf) buf[n] = 0;
    cJSON *j = buf ? cJSON_Parse(buf) : NULL;
    free(buf);
    const cJSON *texts = cJSON_GetObjectItem(j, "texts"), *pairs = cJSON_GetObjectItem(j, "text_pairs");
    CHECK(cJSON_GetArraySize(texts) == (int)B, "%s: texts.json", cs->name);
    if (!cJSON_IsNull(pairs) || cJSON_GetArraySize(texts) != (int)B) {
        cJSON_Delete(j);
        return;
    }
    const size_t E = m->cfg.d_model;
    attend_context *ctx = NULL;
    attend_error err = {0};
    CHECK(attend_context_new(&ctx, m, &err) == ATTEND_OK, "%s", err.msg);
    const char *tx[64];
    size_t lens[64];
    for (size_t b = 0; b < B; b++) {
        tx[b] = cJSON_GetArrayItem(texts, (int)b)->valuestring;
        lens[b] = strlen(tx[b]);
        int32_t got[256];
        size_t k = 0, total = 0, real = 0;
        CHECK(attend_tokenize(m, ctx, tx[b], lens[b], got, 256, &k, &total, &err) == ATTEND_OK, "%s", err.msg);
        for (size_t t = 0; t < T; t++) real += !pad[b * T + t];
        int same = k == real;
        for (size_t t = 0; same && t < k; t++) same = got[t] == ids[b * T + t];
        CHECK(same, "%s: text %zu: attend_tokenize gives %zu ids, not the fixture's %zu", cs->name, b, k, real);
    }
    float *emb = malloc(B * E * sizeof(float));
    CHECK(attend_embed_batch(m, ctx, tx, lens, B, 0, emb, NULL, &err) == ATTEND_OK, "%s", err.msg);
    compare(cs, ex, "mean_pooled", emb, B * E);
    CHECK(attend_embed_batch(m, ctx, tx, lens, B, 1, emb, NULL, &err) == ATTEND_OK, "%s", err.msg);
    compare(cs, ex, "mean_pooled_normalized", emb, B * E);
    /* attend_classify_batch: the softmax of BertForSequenceClassification's logits */
    const size_t K = m->cfg.num_classes;
    const attend_st_tensor *lg = attend_st_find(ex, "logits");
    float *probs = malloc(B * K * sizeof(float)), *want = malloc(B * K * sizeof(float));
    CHECK(lg && lg->numel == B * K, "%s: logits", cs->name);
    CHECK(attend_classify_batch(m, ctx, tx, lens, B, probs, NULL, &err) == ATTEND_OK, "%s", err.msg);
    if (lg && lg->numel == B * K) {
        attend_softmax_forward(want, lg->data, B, K);
        double d = 0.0;
        for (size_t i = 0; i < B * K; i++) d = fmax(d, fabs((double)probs[i] - want[i]));
        CHECK(d <= 1e-5, "%s: attend_classify_batch is %.3g off softmax(logits)", cs->name, d);
    }
    free(probs);
    free(want);
    free(emb);
    attend_context_free(ctx);
    cJSON_Delete(j);
}

static void run_case(const char *cname) {
    char dir[1024], p[1024];
    snprintf(dir, sizeof dir, "%s/%s", FIXTURES, cname);
    const char *load_dir = dir;
    int has_head_file = access(pjoin(p, sizeof p, dir, "head.safetensors"), 0) == 0;
    if (has_head_file) load_dir = with_head(dir, cname);
    attend_model *m = NULL;
    attend_st_file *in = NULL, *ex = NULL;
    attend_error err = {0};
    case_stats cs = {cname, {0.0, 0.0}, {"", ""}};
    CHECK(attend_model_load(&m, load_dir, &err) == ATTEND_OK, "%s: load: %s", cname, err.msg);
    CHECK(attend_st_open(&in, pjoin(p, sizeof p, dir, "inputs.safetensors"), &err) == ATTEND_OK &&
              attend_st_open(&ex, pjoin(p, sizeof p, dir, "expected.safetensors"), &err) == ATTEND_OK,
          "%s: %s", cname, err.msg);
    if (!m || !in || !ex) goto done;
    CHECK(m->cfg.num_classes >= 2, "%s: the model has no head", cname);
    const attend_st_tensor *it = attend_st_find(in, "input_ids");
    const size_t B = it->shape[0], T = it->shape[1];
    int32_t *ids = read_ids(in, "input_ids", B * T), *mask = read_ids(in, "attention_mask", B * T);
    int32_t *types = read_ids(in, "token_type_ids", B * T), *labels = read_ids(in, "labels", B);
    uint8_t *pad = malloc(B * T);
    for (size_t i = 0; i < B * T; i++) pad[i] = mask[i] == 0;
    static const int flags[2] = {ATTEND_ACTS_GRAD, ATTEND_ACTS_GRAD | ATTEND_ACTS_FUSED};
    for (int k = 0; k < 2; k++) {
        attend_model_acts a;
        float *mem = calloc(attend_model_acts_size(&m->cfg, B, T, flags[k]), sizeof(float));
        attend_model_acts_bind(&a, &m->cfg, B, T, flags[k], mem);
        attend_bert_forward(m, &a, ids, types, pad, B, T, 0, 0);
        check_forward(&cs, m, &a, ex, pad, B, T, k == 0);
        check_grads(&cs, m, &a, ex, ids, types, pad, labels, B, T);
        free(mem);
    }
    check_api(&cs, m, dir, ex, ids, pad, B, T);
    printf("%-25s B=%zu T=%-2zu worst relative error: outputs %.1e (%s), gradients %.1e (%s)\n",
           cname, B, T, cs.worst[0], cs.worst_what[0], cs.worst[1], cs.worst_what[1] + 5);
    free(ids);
    free(mask);
    free(types);
    free(labels);
    free(pad);
done:
    attend_model_free(m);
    attend_st_close(in);
    attend_st_close(ex);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(void) {
    DIR *d = opendir(FIXTURES);
    CHECK(d != NULL, "cannot open %s (run from the repository root)", FIXTURES);
    if (!d) return test_summary("test_hf_bert");
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        char p[1024];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", FIXTURES, e->d_name);
        if (e->d_name[0] != '.' && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    CHECK(n >= MIN_CASES, "%zu cases in %s, expected at least %d", n, FIXTURES, MIN_CASES);
    for (size_t i = 0; i < n; i++) {
        run_case(names[i]);
        free(names[i]);
    }
    return test_summary("test_hf_bert");
}
