/* libFuzzer target: the JSON strings of a model file's metadata, parsed
 * before any weight is read: the vocabulary (attend_vocab_from_json), the
 * label list (attend_labels_from_json) and the configuration
 * (attend_model_config_from_json). Input: one JSON text (the C API takes a
 * string, so it ends at the first NUL byte, as the metadata would).
 * Properties: failures fill the error; an accepted vocabulary has the
 * special tokens at 0..2, maps every token back to its id and round-trips
 * through attend_vocab_to_json; accepted labels round-trip too; an accepted
 * configuration passes attend_model_config_check and round-trips through
 * attend_model_config_to_json. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_common.h"
#include "model/model.h"
#include "text/vocab.h"

#include <cjson/cJSON.h>

static void fuzz_vocab_json(const char *json) {
    attend_vocab v, back;
    attend_error err;
    memset(&err, 0, sizeof err);
    attend_status st = attend_vocab_from_json(&v, json, &err);
    if (st != ATTEND_OK) {
        fuzz_check_error(st, &err, "attend_vocab_from_json");
        return;
    }
    size_t n = attend_vocab_size(&v);
    FUZZ_CHECK(n >= ATTEND_VOCAB_NSPECIAL, "vocabulary of %zu", n);
    FUZZ_CHECK(strcmp(attend_vocab_token(&v, 0), "<pad>") == 0 &&
                   strcmp(attend_vocab_token(&v, 1), "<unk>") == 0 &&
                   strcmp(attend_vocab_token(&v, 2), "<cls>") == 0,
               "special tokens misplaced");
    for (size_t id = 0; id < n; id++) {
        const char *t = attend_vocab_token(&v, id);
        FUZZ_CHECK(t && *t, "id %zu empty", id);
        FUZZ_CHECK(fuzz_utf8_ok((const unsigned char *)t, strlen(t)), "id %zu not UTF-8", id);
        FUZZ_CHECK(attend_vocab_id(&v, t, strlen(t)) == (int32_t)id, "id %zu not found again", id);
    }
    FUZZ_CHECK(attend_vocab_token(&v, n) == NULL, "token past the end");
    char *out = NULL;
    FUZZ_CHECK(attend_vocab_to_json(&v, &out, &err) == ATTEND_OK, "to_json: %s", err.msg);
    st = attend_vocab_from_json(&back, out, &err);
    FUZZ_CHECK(st == ATTEND_OK, "from_json(to_json): %s", err.msg);
    FUZZ_CHECK(attend_vocab_size(&back) == n, "size changed");
    for (size_t id = 0; id < n; id++)
        FUZZ_CHECK(strcmp(attend_vocab_token(&back, id), attend_vocab_token(&v, id)) == 0,
                   "id %zu changed", id);
    free(out);
    attend_vocab_free(&back);
    attend_vocab_free(&v);
}

static void fuzz_labels_json(const char *json) {
    attend_labels lt, back;
    attend_error err;
    memset(&err, 0, sizeof err);
    attend_status st = attend_labels_from_json(&lt, json, &err);
    if (st != ATTEND_OK) {
        fuzz_check_error(st, &err, "attend_labels_from_json");
        return;
    }
    for (size_t k = 0; k < lt.count; k++) {
        FUZZ_CHECK(lt.names[k] && lt.names[k][0], "label %zu empty", k);
        if (k) FUZZ_CHECK(strcmp(lt.names[k - 1], lt.names[k]) < 0, "labels not ascending");
        FUZZ_CHECK(attend_labels_find(&lt, lt.names[k]) == (long)k, "label %zu not found", k);
    }
    char *out = NULL;
    FUZZ_CHECK(attend_labels_to_json(&lt, &out, &err) == ATTEND_OK, "to_json: %s", err.msg);
    st = attend_labels_from_json(&back, out, &err);
    FUZZ_CHECK(st == ATTEND_OK, "from_json(to_json): %s", err.msg);
    FUZZ_CHECK(back.count == lt.count, "count changed");
    for (size_t k = 0; k < lt.count; k++)
        FUZZ_CHECK(strcmp(back.names[k], lt.names[k]) == 0, "label %zu changed", k);
    free(out);
    attend_labels_free(&back);
    attend_labels_free(&lt);
}

static void fuzz_config_json(const char *json) {
    attend_model_config c, back;
    attend_error err;
    memset(&err, 0, sizeof err);
    attend_status st = attend_model_config_from_json(&c, json, &err);
    if (st != ATTEND_OK) {
        fuzz_check_error(st, &err, "attend_model_config_from_json");
        return;
    }
    FUZZ_CHECK(attend_model_config_check(&c, &err) == ATTEND_OK, "check: %s", err.msg);
    char *out = attend_model_config_to_json(&c);
    FUZZ_CHECK(out != NULL, "config_to_json failed");
    st = attend_model_config_from_json(&back, out, &err);
    FUZZ_CHECK(st == ATTEND_OK, "from_json(to_json) of %s: %s", out, err.msg);
    FUZZ_CHECK(back.vocab_size == c.vocab_size && back.num_classes == c.num_classes &&
                   back.d_model == c.d_model && back.nhead == c.nhead &&
                   back.num_layers == c.num_layers && back.dim_feedforward == c.dim_feedforward &&
                   back.max_len == c.max_len && back.pos == c.pos && back.pool == c.pool &&
                   back.n_hidden == c.n_hidden && back.activation == c.activation &&
                   back.norm_first == c.norm_first && back.layer_norm_eps == c.layer_norm_eps &&
                   back.dropout == c.dropout,
               "config changed through JSON: %s", out);
    for (size_t j = 0; j < c.n_hidden; j++)
        FUZZ_CHECK(back.hidden[j] == c.hidden[j], "hidden %zu changed", j);
    cJSON_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    char *json = fuzz_cstring(data, size);
    if (!json) return 0;
    fuzz_vocab_json(json);
    fuzz_labels_json(json);
    fuzz_config_json(json);
    free(json);
    return 0;
}
