/* Hugging Face folders that are not what they should be: each is made in
 * $ATTEND_TMP from a fixture of tests/hf_fixtures/bert, broken in one way,
 * and loaded; the load must fail with the status and a message naming what
 * is wrong (never crash), or, for the variations attend accepts, load with
 * the settings the folder implies. */
#define _POSIX_C_SOURCE 200809L
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"
#include "test.h"
#include "test_tmp.h"

#define SRC "tests/hf_fixtures/bert/e24_h2_l1_no_token_types"
#define SRC_HEAD "tests/hf_fixtures/bert/e12_h3_l2_pairs"

static char tmp_root[600];

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

static void write_text(const char *dir, const char *name, const char *text) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL, "cannot write %s", p);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A fresh copy of src named name (returned in a static buffer). */
static const char *fresh(const char *name, const char *src) {
    static char dir[900];
    char a[1200], b[1200];
    snprintf(dir, sizeof dir, "%s/%s", tmp_root, name);
    mkdir(dir, 0777);
    const char *files[] = {"config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
                           "model.safetensors"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(a, sizeof a, "%s/%s", src, files[i]);
        snprintf(b, sizeof b, "%s/%s", dir, files[i]);
        CHECK(copy_file(a, b), "copy %s", a);
    }
    return dir;
}

/* Rewrites dir/model.safetensors with tensor `name` replaced by (dtype,
 * data) of the same shape, or dropped when data is NULL. */
static void rewrite_weights(const char *dir, const char *name, attend_dtype dtype, const void *data) {
    char p[1200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    attend_st_file *f = NULL;
    attend_error err = {0};
    CHECK(attend_st_open(&f, p, &err) == ATTEND_OK, "%s", err.msg);
    attend_st_writer *w = attend_st_writer_new();
    for (size_t i = 0; f && i < attend_st_count(f); i++) {
        const attend_st_tensor *t = attend_st_at(f, i);
        int it = strcmp(t->name, name) == 0;
        if (it && !data) continue;
        attend_st_writer_add(w, t->name, it ? dtype : t->dtype, t->ndim, t->shape, it ? data : t->data, &err);
    }
    CHECK(attend_st_writer_save(w, p, &err) == ATTEND_OK, "%s", err.msg);
    attend_st_writer_free(w);
    attend_st_close(f);
}

/* Loading dir fails with status st and a message holding want. */
static void expect_fail(const char *what, const char *dir, attend_status st, const char *want) {
    attend_model *m = NULL;
    attend_error err = {0};
    attend_status got = attend_model_load(&m, dir, &err);
    CHECK(got == st && m == NULL && strstr(err.msg, want) != NULL,
          "%s: status %s, message \"%s\" (expected %s with \"%s\")", what, attend_status_name(got),
          err.msg, attend_status_name(st), want);
    attend_model_free(m);
}

static attend_model *expect_load(const char *what, const char *dir) {
    attend_model *m = NULL;
    attend_error err = {0};
    CHECK(attend_model_load(&m, dir, &err) == ATTEND_OK, "%s: %s", what, err.msg);
    return m;
}

static void config_edit(const char *dir, const char *from, const char *to) {
    char p[1200], buf[8192];
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    char *at = strstr(buf, from);
    CHECK(at != NULL, "config.json lacks %s", from);
    if (!at) return;
    char out[9000];
    snprintf(out, sizeof out, "%.*s%s%s", (int)(at - buf), buf, to, at + strlen(from));
    write_text(dir, "config.json", out);
}

static void weights_cases(void) {
    const char *d = fresh("pickle", SRC);
    char p[1200];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    remove(p);
    write_text(d, "pytorch_model.bin", "PK\003\004 a pickle");
    expect_fail("pytorch_model.bin only", d, ATTEND_ERR_FORMAT, "pickle");
    d = fresh("shards", SRC);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    remove(p);
    write_text(d, "model.safetensors.index.json", "{}");
    expect_fail("sharded", d, ATTEND_ERR_FORMAT, "shards");
    d = fresh("empty", SRC);
    snprintf(p, sizeof p, "%s/config.json", d);
    remove(p);
    expect_fail("no config.json", d, ATTEND_ERR_FORMAT, "no config.json");

    d = fresh("missing_tensor", SRC);
    rewrite_weights(d, "bert.encoder.layer.0.output.dense.bias", ATTEND_DTYPE_F32, NULL);
    expect_fail("missing tensor", d, ATTEND_ERR_SHAPE, "encoder.layer.0.output.dense.bias");
    double f64[24] = {0};
    d = fresh("f64", SRC);
    rewrite_weights(d, "bert.embeddings.LayerNorm.bias", ATTEND_DTYPE_F64, f64);
    expect_fail("F64 tensor", d, ATTEND_ERR_SHAPE, "F64");
    float nan_bias[24] = {0};
    nan_bias[7] = NAN;
    d = fresh("nan", SRC);
    rewrite_weights(d, "bert.embeddings.LayerNorm.bias", ATTEND_DTYPE_F32, nan_bias);
    expect_fail("NaN weight", d, ATTEND_ERR_NUMERIC, "index 7");
    d = fresh("truncated", SRC);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    CHECK(truncate(p, 1000) == 0, "truncate");
    expect_fail("truncated weights", d, ATTEND_ERR_FORMAT, "model.safetensors");
    d = fresh("not_bert", SRC);
    rewrite_weights(d, "bert.embeddings.word_embeddings.weight", ATTEND_DTYPE_F32, NULL);
    expect_fail("no word embeddings", d, ATTEND_ERR_FORMAT, "not a BERT checkpoint");
}

static void config_cases(void) {
    const char *d = fresh("hidden_mismatch", SRC);
    config_edit(d, "\"hidden_size\": 24", "\"hidden_size\": 48");
    expect_fail("hidden_size against the tensors", d, ATTEND_ERR_SHAPE, "(from config.json)");
    d = fresh("layers_more", SRC);
    config_edit(d, "\"num_hidden_layers\": 1", "\"num_hidden_layers\": 2");
    expect_fail("more layers than tensors", d, ATTEND_ERR_SHAPE, "encoder.layer.1.");
    d = fresh("roberta", SRC);
    config_edit(d, "\"model_type\": \"bert\"", "\"model_type\": \"roberta\"");
    expect_fail("model_type roberta", d, ATTEND_ERR_FORMAT, "roberta");
    d = fresh("swish", SRC);
    config_edit(d, "\"hidden_act\": \"gelu\"", "\"hidden_act\": \"swish\"");
    expect_fail("hidden_act swish", d, ATTEND_ERR_FORMAT, "swish");
    d = fresh("huge", SRC);
    config_edit(d, "\"vocab_size\": 100", "\"vocab_size\": 1e300");
    expect_fail("vocab_size 1e300", d, ATTEND_ERR_FORMAT, "vocab_size");
    d = fresh("bad_json", SRC);
    config_edit(d, "\"hidden_size\": 24", "\"hidden_size\": 24,,");
    expect_fail("invalid JSON", d, ATTEND_ERR_FORMAT, "invalid JSON");
    d = fresh("vocab_small", SRC);
    config_edit(d, "\"vocab_size\": 100", "\"vocab_size\": 10");
    expect_fail("vocab_size against the embeddings", d, ATTEND_ERR_SHAPE, "word_embeddings");
    d = fresh("vocab_long", SRC);
    char p[1200];
    snprintf(p, sizeof p, "%s/vocab.txt", d);
    FILE *f = fopen(p, "ab");
    if (f) {
        fputs("extra\n", f);
        fclose(f);
    }
    expect_fail("vocab.txt longer than vocab_size", d, ATTEND_ERR_FORMAT, "101 tokens");
}

/* transformers 5 saves no vocab.txt: tokenizer.json's vocabulary serves */
static void vocab_cases(void) {
    const char *d = fresh("no_vocab_txt", SRC);
    char p[1200];
    snprintf(p, sizeof p, "%s/vocab.txt", d);
    remove(p);
    attend_model *a = expect_load("vocab.txt", SRC), *b = expect_load("tokenizer.json's vocabulary", d);
    if (a && b) {
        CHECK(attend_model_vocab_size(a) == attend_model_vocab_size(b), "vocabulary sizes differ");
        size_t same = 0;
        for (size_t i = 0; i < attend_model_vocab_size(a); i++)
            same += !strcmp(attend_model_token(a, (int32_t)i), attend_model_token(b, (int32_t)i));
        CHECK(same == attend_model_vocab_size(a), "%zu of %zu tokens equal", same, attend_model_vocab_size(a));
    }
    attend_model_free(a);
    attend_model_free(b);
    write_text(d, "tokenizer.json", "{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": "
                                    "{\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", "
                                    "\"vocab\": {\"[UNK]\": 0, \"[CLS]\": 2}}}");
    expect_fail("tokenizer.json's ids with a gap", d, ATTEND_ERR_FORMAT, "ids 0 .. 1 once each");
    snprintf(p, sizeof p, "%s/tokenizer.json", d);
    remove(p);
    expect_fail("no vocabulary at all", d, ATTEND_ERR_FORMAT, "no vocab.txt nor tokenizer.json");
}

static void st_cases(void) {
    const char *d = fresh("st_dense", SRC);
    write_text(d, "modules.json",
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
               "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
               "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"}]");
    char p[1200];
    snprintf(p, sizeof p, "%s/1_Pooling", d);
    mkdir(p, 0777);
    write_text(p, "config.json", "{\"word_embedding_dimension\":24,\"pooling_mode_cls_token\":true}");
    expect_fail("Dense module", d, ATTEND_ERR_FORMAT, "Dense");
    write_text(d, "modules.json",
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"..\",\"type\":\"sentence_transformers.models.Transformer\"}]");
    expect_fail("module path ..", d, ATTEND_ERR_FORMAT, "relative");
    /* Transformer -> Pooling (cls) -> Normalize without its folder, 8 tokens */
    write_text(d, "modules.json",
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
               "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
               "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":\"sentence_transformers.models.Normalize\"}]");
    write_text(d, "sentence_bert_config.json", "{\"max_seq_length\": 8, \"do_lower_case\": false}");
    attend_model *m = expect_load("sentence-transformers cls + Normalize", d);
    CHECK(m && attend_model_embed_pool(m) == ATTEND_POOL_CLS && attend_model_embed_normalize(m) == 1 &&
              attend_model_max_len(m) == 8,
          "folder settings: pool %d normalize %d max_len %zu", m ? (int)attend_model_embed_pool(m) : -1,
          m ? attend_model_embed_normalize(m) : -1, m ? attend_model_max_len(m) : 0);
    attend_error err = {0};
    CHECK(m && attend_model_set_max_len(m, 21, &err) == ATTEND_ERR_ARG && strstr(err.msg, "[2, 20]"),
          "max_len past the position table: %s", err.msg);
    CHECK(m && attend_model_set_max_len(m, 20, &err) == ATTEND_OK && attend_model_max_len(m) == 20, "max_len 20");
    CHECK(m && attend_model_set_embed_pool(m, ATTEND_POOL_POOLER, &err) == ATTEND_OK, "pooler: %s", err.msg);
    attend_model_free(m);
    write_text(p, "config.json", "{\"pooling_mode\": \"weightedmean\"}");
    expect_fail("weightedmean pooling", d, ATTEND_ERR_FORMAT, "weightedmean");
    write_text(p, "config.json", "{\"pooling_mode\": [\"max\"]}");
    m = expect_load("pooling_mode [max]", d);
    CHECK(m && attend_model_embed_pool(m) == ATTEND_POOL_MAX, "pooling_mode [max]");
    attend_model_free(m);
    write_text(d, "sentence_bert_config.json", "{\"max_seq_length\": 64}");
    expect_fail("max_seq_length past the positions", d, ATTEND_ERR_FORMAT, "max_position_embeddings");
}

/* A classifier whose id2label is not in attend's (sorted) order: the head's
 * rows follow the names, so each label keeps its probability. */
static void label_order_case(void) {
    attend_model *a = expect_load("e12 as given", SRC_HEAD);
    const char *d = fresh("labels_unsorted", SRC_HEAD);
    config_edit(d, "\"0\": \"LABEL_0\",\n    \"1\": \"LABEL_1\",\n    \"2\": \"LABEL_2\"",
                "\"0\": \"cherry\", \"1\": \"banana\", \"2\": \"apple\"");
    attend_model *b = expect_load("id2label not sorted", d);
    if (!a || !b) goto done;
    CHECK(!strcmp(attend_model_label(b, 0), "apple") && !strcmp(attend_model_label(b, 2), "cherry"),
          "labels %s %s %s", attend_model_label(b, 0), attend_model_label(b, 1), attend_model_label(b, 2));
    attend_context *ca = NULL, *cb = NULL;
    attend_error err = {0};
    attend_context_new(&ca, a, &err);
    attend_context_new(&cb, b, &err);
    float pa[3], pb[3];
    const char *text = "the lazy dog walked";
    CHECK(attend_classify(a, ca, text, strlen(text), pa, NULL, &err) == ATTEND_OK &&
              attend_classify(b, cb, text, strlen(text), pb, NULL, &err) == ATTEND_OK, "%s", err.msg);
    /* apple was class 2, banana 1, cherry 0. The same logits, permuted; the
     * softmax sums them in another order, so allow a rounding (2 ulp). */
    for (int i = 0; i < 3; i++)
        CHECK(fabsf(pb[i] - pa[2 - i]) <= 2.5e-7f * pa[2 - i], "class %d: %.9g, was %.9g: probabilities not "
              "carried with their labels", i, pb[i], pa[2 - i]);
    CHECK(fabsf(pa[0] + pa[1] + pa[2] - 1.0f) < 1e-5f && pa[0] != pa[2], "probabilities %g %g %g", pa[0], pa[1], pa[2]);
    attend_context_free(ca);
    attend_context_free(cb);
    /* an encoder without a head has no classes to give */
    attend_model *enc = expect_load("encoder", "tests/hf_fixtures/bert/e20_h4_l3_base");
    attend_context *ce = NULL;
    if (enc && attend_context_new(&ce, enc, &err) == ATTEND_OK)
        CHECK(attend_classify(enc, ce, text, strlen(text), pa, NULL, &err) == ATTEND_ERR_ARG &&
                  strstr(err.msg, "without a classification head"), "classify on an encoder: %s", err.msg);
    CHECK(enc && attend_model_set_embed_pool(enc, ATTEND_POOL_POOLER, &err) == ATTEND_OK, "pooler pooling: %s", err.msg);
    attend_context_free(ce);
    attend_model_free(enc);
done:
    attend_model_free(a);
    attend_model_free(b);
}

int main(void) {
    test_tmp_dir(tmp_root, sizeof tmp_root, "hf_folder");
    weights_cases();
    config_cases();
    vocab_cases();
    st_cases();
    label_order_case();
    return test_summary("test_hf_folder");
}
