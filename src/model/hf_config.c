/* config.json of a Hugging Face BERT-family folder -> attend_model_config.
 *
 * The file is untrusted: it must be strict JSON, every number is checked
 * for type and range here (the tensors are then checked against these
 * numbers before anything is allocated, hf_folder.c), and every setting
 * that would make transformers compute something attend does not (another
 * model_type, relative positions, a decoder, an unknown activation) is
 * refused by name instead of being ignored. Keys attend does not need
 * (initializer_range, use_cache, dtype or torch_dtype, ...) are ignored. */
#include "model/model.h"
#include "base/json.h"
#include "base/utf8.h"
#include "base/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

/* A whole number in [lo, hi] under key, or def when the key is absent (or
 * null); required keys have no default. */
static attend_status get_size(const cJSON *o, const char *key, int required, size_t def,
                              size_t lo, size_t hi, size_t *out, const char *name,
                              attend_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: '%s' is missing", name, key);
        *out = def;
        return ATTEND_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
    if (!cJSON_IsNumber(v) || !(d >= (double)lo && d <= (double)hi) || d != floor(d))
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: '%s' must be a whole number in [%zu, %zu]", name, key, lo, hi);
    *out = (size_t)d;
    return ATTEND_OK;
}

/* A number in [lo, hi) under key, or def when absent or null. */
static attend_status get_float(const cJSON *o, const char *key, double def, double lo, double hi,
                               float *out, const char *name, attend_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = (float)def;
        return ATTEND_OK;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble < hi))
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: '%s' must be a number in [%g, %g)",
                             name, key, lo, hi);
    *out = (float)v->valuedouble;
    return ATTEND_OK;
}

/* The string under key, or NULL when absent or null; a non-string is an error. */
static attend_status get_string(const cJSON *o, const char *key, const char **out,
                                const char *name, attend_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return ATTEND_OK;
    if (!cJSON_IsString(v) || !v->valuestring)
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: '%s' must be a string", name, key);
    *out = v->valuestring;
    return ATTEND_OK;
}

/* hidden_act -> activation. transformers' "gelu" and "gelu_python" are the
 * exact erf form; "gelu_new", "gelu_pytorch_tanh" and "gelu_fast" are the
 * same tanh formula written three ways. */
static attend_status parse_act(const char *act, attend_activation *out, const char *name,
                               attend_error *err) {
    static const struct {
        const char *name;
        attend_activation act;
    } acts[] = {{"gelu", ATTEND_ACT_GELU},
                {"gelu_python", ATTEND_ACT_GELU},
                {"gelu_new", ATTEND_ACT_GELU_TANH},
                {"gelu_pytorch_tanh", ATTEND_ACT_GELU_TANH},
                {"gelu_fast", ATTEND_ACT_GELU_TANH},
                {"relu", ATTEND_ACT_RELU}};
    if (!act) act = "gelu"; /* BertConfig's default */
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (strcmp(act, acts[i].name) == 0) {
            *out = acts[i].act;
            return ATTEND_OK;
        }
    return attend_errorf(err, ATTEND_ERR_FORMAT,
                         "%s: hidden_act \"%.40s\" is not one attend computes (gelu, gelu_new, relu)",
                         name, act);
}

/* Settings that change what transformers computes and that attend does not
 * do: refused, naming them. */
static attend_status refuse_unsupported(const cJSON *o, const char *name, attend_error *err) {
    const char *mt, *pet;
    attend_status st;
    if ((st = get_string(o, "model_type", &mt, name, err))) return st;
    if (mt && strcmp(mt, "bert") != 0)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: model_type \"%.40s\" is not a BERT-family layout attend loads (\"bert\": "
                             "BertModel, MiniLM, BGE, E5, bert-base)",
                             name, mt);
    if ((st = get_string(o, "position_embedding_type", &pet, name, err))) return st;
    if (pet && strcmp(pet, "absolute") != 0)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: position_embedding_type \"%.40s\" is not supported (only \"absolute\")",
                             name, pet);
    static const char *const must_be_false[] = {"is_decoder", "add_cross_attention"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, must_be_false[i]);
        if (v && !cJSON_IsFalse(v) && !cJSON_IsNull(v))
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: '%s' is set: attend loads encoders only", name, must_be_false[i]);
    }
    const char *pt;
    if ((st = get_string(o, "problem_type", &pt, name, err))) return st;
    if (pt && strcmp(pt, "single_label_classification") != 0)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: problem_type \"%.40s\": attend's heads are single-label classifiers",
                             name, pt);
    return ATTEND_OK;
}

/* id2label: {"0": "NEG", "1": "POS", ...} with keys exactly 0 .. n-1 and
 * distinct, non-empty UTF-8 names. Absent: no names (c->id2label NULL). */
static attend_status parse_labels(attend_hf_config *c, const cJSON *o, const char *name,
                                  attend_error *err) {
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(o, "id2label");
    if (!map || cJSON_IsNull(map)) return ATTEND_OK;
    if (!cJSON_IsObject(map))
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: 'id2label' must be an object", name);
    size_t n = (size_t)cJSON_GetArraySize(map);
    if (n > ((size_t)1 << 16))
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: 'id2label' has %zu entries", name, n);
    if (n == 0) return ATTEND_OK;
    if (!(c->id2label = calloc(n, sizeof(char *))))
        return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory", name);
    c->cfg.num_classes = n;
    const cJSON *it;
    cJSON_ArrayForEach(it, map) {
        char *end = NULL;
        unsigned long k = it->string && it->string[0] >= '0' && it->string[0] <= '9'
                              ? strtoul(it->string, &end, 10) : n;
        size_t bad;
        if (!end || *end || k >= n || c->id2label[k])
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: id2label keys must be the class ids 0 .. %zu, each once (found \"%.20s\")",
                                 name, n - 1, it->string ? it->string : "");
        if (!cJSON_IsString(it) || !it->valuestring || !it->valuestring[0] ||
            !attend_utf8_valid(it->valuestring, strlen(it->valuestring), &bad))
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: id2label[%lu] is not a non-empty UTF-8 string", name, k);
        for (size_t j = 0; j < n; j++)
            if (c->id2label[j] && strcmp(c->id2label[j], it->valuestring) == 0)
                return attend_errorf(err, ATTEND_ERR_FORMAT,
                                     "%s: id2label names \"%.40s\" twice", name, it->valuestring);
        if (!(c->id2label[k] = attend_strdup(it->valuestring)))
            return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory", name);
    }
    return ATTEND_OK;
}

/* The numbers of the architecture. */
static attend_status parse_sizes(attend_model_config *m, const cJSON *o, const char *name,
                                 attend_error *err) {
    attend_status st;
    const char *act;
    if ((st = get_size(o, "hidden_size", 1, 0, 1, (size_t)1 << 14, &m->d_model, name, err)) ||
        (st = get_size(o, "num_hidden_layers", 1, 0, 1, ATTEND_MAX_LAYERS, &m->num_layers, name, err)) ||
        (st = get_size(o, "num_attention_heads", 1, 0, 1, (size_t)1 << 14, &m->nhead, name, err)) ||
        (st = get_size(o, "intermediate_size", 1, 0, 1, (size_t)1 << 16, &m->dim_feedforward, name, err)) ||
        (st = get_size(o, "vocab_size", 1, 0, 1, (size_t)1 << 24, &m->vocab_size, name, err)) ||
        (st = get_size(o, "max_position_embeddings", 0, 512, 2, (size_t)1 << 16, &m->max_positions,
                       name, err)) ||
        (st = get_size(o, "type_vocab_size", 0, 2, 1, (size_t)1 << 16, &m->type_vocab_size, name, err)) ||
        (st = get_float(o, "layer_norm_eps", 1e-12, 1e-30, 1.0, &m->layer_norm_eps, name, err)) ||
        (st = get_float(o, "hidden_dropout_prob", 0.1, 0.0, 1.0, &m->dropout, name, err)) ||
        (st = get_float(o, "attention_probs_dropout_prob", 0.1, 0.0, 1.0, &m->attn_dropout, name, err)) ||
        (st = get_string(o, "hidden_act", &act, name, err)) ||
        (st = parse_act(act, &m->activation, name, err)))
        return st;
    if (m->d_model % m->nhead)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: hidden_size %zu is not divisible by num_attention_heads %zu", name,
                             m->d_model, m->nhead);
    return ATTEND_OK;
}

attend_status attend_hf_config_parse(attend_hf_config *c, const char *json, size_t len,
                                     const char *name, attend_error *err) {
    memset(c, 0, sizeof *c);
    c->pad_token_id = -1;
    attend_json_syntax syn;
    if (!json || !attend_json_check(json, len, MAX_DEPTH, &syn))
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: invalid JSON at byte %zu (%s)", name,
                             json ? syn.err_at : 0, json ? syn.why : "no text");
    if (syn.nul_at != ATTEND_JSON_NONE)
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: a string holds \\u0000 (byte %zu)", name,
                             syn.nul_at);
    int oom = 0;
    cJSON *o = attend_json_parse(json, NULL, &oom);
    if (!o) return attend_errorf(err, oom ? ATTEND_ERR_NOMEM : ATTEND_ERR_FORMAT, "%s: %s", name,
                                 oom ? "out of memory" : "invalid JSON");
    attend_status st = ATTEND_OK;
    attend_model_config *m = &c->cfg;
    attend_model_config_default(m);
    m->arch = ATTEND_ARCH_BERT;
    m->num_classes = 0;
    m->activation = ATTEND_ACT_GELU;
    size_t pad = 0;
    const cJSON *pv = NULL;
    if (!cJSON_IsObject(o)) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: not a JSON object", name);
        goto done;
    }
    pv = cJSON_GetObjectItemCaseSensitive(o, "pad_token_id");
    if ((st = refuse_unsupported(o, name, err)) || (st = parse_sizes(m, o, name, err)) ||
        (st = parse_labels(c, o, name, err)))
        goto done;
    if (pv && !cJSON_IsNull(pv)) {
        if ((st = get_size(o, "pad_token_id", 1, 0, 0, m->vocab_size - 1, &pad, name, err))) goto done;
        c->pad_token_id = (int32_t)pad;
    }
    m->max_len = m->max_positions < ((size_t)1 << 14) ? m->max_positions : (size_t)1 << 14;
    if (m->num_classes == 1) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT,
                           "%s: one label is a regression head; attend's heads classify (2 or more labels)",
                           name);
        goto done;
    }
done:
    cJSON_Delete(o);
    if (st) attend_hf_config_free(c);
    return st;
}

void attend_hf_config_free(attend_hf_config *c) {
    if (!c) return;
    if (c->id2label)
        for (size_t i = 0; i < c->cfg.num_classes; i++) free(c->id2label[i]);
    free(c->id2label);
    memset(c, 0, sizeof *c);
    c->pad_token_id = -1;
}
