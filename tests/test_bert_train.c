/* Fine-tuning BERT-family encoders (attend train --init):
 *   - the trainer's step (attend_step_gradients, with dropout off as in the
 *     fixtures) gives transformers' loss and gradients on the folders of
 *     tests/hf_fixtures/bert whose inputs have no second segment;
 *   - a BERT model saved by attend ("attend.bert.v1") loads back with the
 *     same weights, labels, settings, tokenizer and outputs, bit for bit;
 *   - attend_train with init_path starts from the folder's weights (a run at
 *     a vanishing learning rate leaves them where they were), puts a new head
 *     on it, records the folder in the provenance, and refuses a classifier
 *     as a starting point. */
#define _POSIX_C_SOURCE 200809L
#include "model/model.h"
#include "train/train.h"
#include "test.h"
#include "test_tmp.h"

#define FIX "tests/hf_fixtures/bert/"

static int32_t *read_ids(const attend_st_file *f, const char *name, size_t n) {
    const attend_st_tensor *t = attend_st_find(f, name);
    if (!t || t->dtype != ATTEND_DTYPE_I64 || t->numel != n) return NULL;
    int32_t *o = malloc(n * sizeof *o);
    for (size_t i = 0; i < n; i++) o[i] = (int32_t)((const int64_t *)t->data)[i];
    return o;
}

static double rel_err(const float *got, const float *exp, size_t n) {
    double me = 0, md = 0;
    for (size_t i = 0; i < n; i++) me = fmax(me, fabs(exp[i])), md = fmax(md, fabs((double)got[i] - exp[i]));
    return md / fmax(me, 1e-6);
}

/* The stepper's gradients against grad.* (the key biases against their
 * layer's key weights: exactly 0 in theory). */
static void step_parity(const char *cname) {
    char dir[256], p[300];
    snprintf(dir, sizeof dir, FIX "%s", cname);
    attend_model *m = NULL;
    attend_st_file *in = NULL, *ex = NULL;
    attend_error err = {0};
    snprintf(p, sizeof p, "%s/inputs.safetensors", dir);
    attend_st_open(&in, p, &err);
    snprintf(p, sizeof p, "%s/expected.safetensors", dir);
    attend_st_open(&ex, p, &err);
    CHECK(attend_model_load(&m, dir, &err) == ATTEND_OK && in && ex, "%s: %s", cname, err.msg);
    if (!m || !in || !ex) goto done;
    /* dropout off, as the fixtures' gradients were taken in eval mode */
    m->cfg.dropout = m->cfg.attn_dropout = 0.0f;
    m->enc = attend_model_encoder_config(&m->cfg);
    const attend_st_tensor *it = attend_st_find(in, "input_ids");
    const size_t B = it->shape[0], T = it->shape[1];
    int32_t *ids = read_ids(in, "input_ids", B * T), *mask = read_ids(in, "attention_mask", B * T);
    int32_t *labels = read_ids(in, "labels", B);
    uint8_t *pad = malloc(B * T);
    for (size_t i = 0; i < B * T; i++) pad[i] = mask[i] == 0;
    attend_stepper s;
    CHECK(attend_stepper_init(&s, m, B, B, T, attend_train_acts_flags(&m->cfg, B, T), &err) == ATTEND_OK,
          "%s: %s", cname, err.msg);
    attend_step_gradients(&s, ids, pad, labels, B, T, 7);
    CHECK(attend_step_reduce(&s, &err) == ATTEND_OK, "%s: %s", cname, err.msg); /* the loss */
    const attend_st_tensor *lt = attend_st_find(ex, "loss");
    CHECK(lt && fabs(s.loss - *(const float *)lt->data) <= 1e-5 * fabs(*(const float *)lt->data),
          "%s: loss %g, transformers %g", cname, (double)s.loss, lt ? (double)*(const float *)lt->data : 0.0);
    double worst = 0.0;
    for (size_t i = 0; i < m->layout.count; i++) {
        const attend_param_info *pi = &m->layout.items[i];
        char name[200];
        snprintf(name, sizeof name, "grad.%s%s", strncmp(pi->name, "classifier.", 11) ? "bert." : "", pi->name);
        const attend_st_tensor *g = attend_st_find(ex, name);
        CHECK(g && g->numel == pi->numel, "%s: %s missing", cname, name);
        if (!g || strstr(pi->name, "key.bias")) continue; /* test_hf_bert checks those */
        double r = rel_err(s.grads + pi->offset, g->data, pi->numel);
        CHECK(r <= 1e-4, "%s: %s relative error %.3g", cname, name, r);
        worst = fmax(worst, r);
    }
    printf("%-26s trainer's step: loss and every gradient within %.1e\n", cname, worst);
    attend_stepper_free(&s);
    free(ids);
    free(mask);
    free(labels);
    free(pad);
done:
    attend_model_free(m);
    attend_st_close(in);
    attend_st_close(ex);
}

/* Saved and loaded back: the same model. */
static void round_trip(const char *tmp) {
    attend_model *a = NULL, *b = NULL;
    attend_error err = {0};
    char path[800];
    snprintf(path, sizeof path, "%s/roundtrip.safetensors", tmp);
    CHECK(attend_model_load(&a, FIX "gelu_new_act", &err) == ATTEND_OK, "%s", err.msg);
    if (!a) return;
    a->embed_normalize = 1;
    attend_model_set_embed_pool(a, ATTEND_POOL_MAX, &err);
    CHECK(attend_model_save(a, path, &err) == ATTEND_OK, "save: %s", err.msg);
    CHECK(attend_model_load(&b, path, &err) == ATTEND_OK, "load back: %s", err.msg);
    if (!b) goto done;
    CHECK(memcmp(&a->cfg, &b->cfg, sizeof a->cfg) == 0, "the configuration differs");
    CHECK(a->layout.count == b->layout.count && a->layout.total == b->layout.total &&
              memcmp(a->params, b->params, a->layout.total * sizeof(float)) == 0,
          "the weights differ");
    CHECK(attend_model_embed_pool(b) == ATTEND_POOL_MAX && attend_model_embed_normalize(b) == 1,
          "embedding settings lost");
    CHECK(!strcmp(attend_model_label(b, 1), attend_model_label(a, 1)), "labels differ");
    CHECK(attend_model_meta(b, "provenance") && strstr(attend_model_meta(b, "provenance"), "gelu_new_act"),
          "provenance lost");
    attend_context *ca = NULL, *cb = NULL;
    attend_context_new(&ca, a, &err);
    attend_context_new(&cb, b, &err);
    const char *text = "Café walking RÉSUMÉ 山水 xylophone!";
    int32_t ia[32], ib[32];
    size_t na = 0, nb = 0;
    float pa[2], pb[2], ea[12], eb[12];
    attend_tokenize(a, ca, text, strlen(text), ia, 32, &na, NULL, &err);
    attend_tokenize(b, cb, text, strlen(text), ib, 32, &nb, NULL, &err);
    CHECK(na == nb && na > 4 && memcmp(ia, ib, na * sizeof *ia) == 0, "the tokenizer differs");
    attend_classify(a, ca, text, strlen(text), pa, NULL, &err);
    attend_classify(b, cb, text, strlen(text), pb, NULL, &err);
    attend_embed(a, ca, text, strlen(text), 1, ea, NULL, &err);
    attend_embed(b, cb, text, strlen(text), 1, eb, NULL, &err);
    CHECK(memcmp(pa, pb, sizeof pa) == 0 && memcmp(ea, eb, sizeof ea) == 0, "outputs differ");
    attend_context_free(ca);
    attend_context_free(cb);
done:
    attend_model_free(a);
    attend_model_free(b);
}

/* attend_train from a folder at a vanishing learning rate. */
static void train_init(const char *tmp) {
    char data[800], out[800];
    snprintf(data, sizeof data, "%s/ft.tsv", tmp);
    snprintf(out, sizeof out, "%s/ft.safetensors", tmp);
    FILE *f = fopen(data, "wb");
    for (int i = 0; f && i < 60; i++)
        fprintf(f, "%s\tthe %s %s lazy\n", i % 2 ? "verb" : "noun", i % 2 ? "walking" : "dog",
                i % 3 ? "river" : "read");
    if (f) fclose(f);
    attend_train_options o;
    attend_train_options_default(&o);
    o.data_path = data;
    o.out_path = out;
    o.init_path = FIX "e20_h4_l3_base";
    o.epochs = 1;
    o.batch = 8;
    o.lr = 1e-12f;
    o.model.max_len = 0;
    o.model.dropout = -1.0f;
    attend_train_result res;
    attend_error err = {0};
    CHECK(attend_train(&o, &res, &err) == ATTEND_OK, "train --init: %s", err.msg);
    attend_model *src = NULL, *m = NULL;
    attend_model_load(&src, o.init_path, &err);
    CHECK(attend_model_load(&m, out, &err) == ATTEND_OK, "load the fine-tuned model: %s", err.msg);
    if (src && m) {
        CHECK(m->cfg.arch == ATTEND_ARCH_BERT && m->cfg.num_classes == 2 && m->cfg.pool == ATTEND_POOL_POOLER &&
                  m->cfg.max_len == src->cfg.max_len && m->cfg.dropout == src->cfg.dropout,
              "fine-tuned config: classes %zu pool %d max_len %zu", m->cfg.num_classes, (int)m->cfg.pool,
              m->cfg.max_len);
        double d = 0.0;
        size_t same = 0;
        for (size_t i = 0; i < src->layout.count; i++) {
            const attend_param_info *it = &src->layout.items[i];
            long j = attend_layout_find(&m->layout, it->name);
            if (j < 0) continue;
            same++;
            for (size_t k = 0; k < it->numel; k++)
                d = fmax(d, fabs(src->params[it->offset + k] - m->params[m->layout.items[j].offset + k]));
        }
        CHECK(same == src->layout.count && d <= 1e-6, "%zu of %zu tensors kept, moved by %.3g", same,
              src->layout.count, d);
        const char *prov = attend_model_meta(m, "provenance");
        CHECK(prov && strstr(prov, "\"init\":\"" FIX "e20_h4_l3_base\"") && strstr(prov, "huggingface-folder"),
              "provenance: %s", prov ? prov : "(none)");
        long h = attend_layout_find(&m->layout, "classifier.weight");
        double hs = 0.0;
        for (size_t k = 0; h >= 0 && k < m->layout.items[h].numel; k++) hs += fabs(m->params[m->layout.items[h].offset + k]);
        CHECK(h >= 0 && hs > 0.0, "no new head");
    }
    attend_model_free(src);
    attend_model_free(m);
    /* an attend classifier is no encoder to start from */
    o.init_path = out;
    attend_model *cls = NULL;
    char cls_path[800];
    snprintf(cls_path, sizeof cls_path, "%s/scratch.safetensors", tmp);
    attend_train_options s;
    attend_train_options_default(&s);
    s.data_path = data;
    s.out_path = cls_path;
    s.epochs = 1;
    s.model.d_model = 8;
    s.model.nhead = 2;
    s.model.num_layers = 1;
    s.model.dim_feedforward = 8;
    CHECK(attend_train(&s, &res, &err) == ATTEND_OK, "train from scratch: %s", err.msg);
    o.init_path = cls_path;
    CHECK(attend_train(&o, &res, &err) == ATTEND_ERR_ARG && strstr(err.msg, "attend classifier"),
          "--init with a classifier: %s", err.msg);
    attend_model_free(cls);
}

int main(void) {
    char tmp[600];
    test_tmp_dir(tmp, sizeof tmp, "bert_train");
    attend_set_threads(2);
    /* folders whose inputs are single texts (token type 0 everywhere): the
     * trainer gives no token types, as attend's inputs have no pairs */
    step_parity("e24_h2_l1_no_token_types");
    step_parity("f16_weights");
    step_parity("gelu_new_act");
    round_trip(tmp);
    train_init(tmp);
    return test_summary("test_bert_train");
}
