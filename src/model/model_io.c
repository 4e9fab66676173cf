#define _POSIX_C_SOURCE 200809L /* stat */
/* Model files: safetensors with every weight under its PyTorch-style name and,
 * in __metadata__, the configuration, vocabulary, labels and provenance as
 * JSON strings. Loading trusts nothing: every tensor must be present with
 * exactly the shape the configuration implies, and nothing else may be. */
#include "base/json.h"
#include "model/model.h"
#include "base/util.h"
#include "nn/layout.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_FORMAT "attend.classifier.v1"

static const char *pos_names[] = {"learned", "sinusoidal", "none"};
static const char *pool_names[] = {"mean", "cls", "max"};
static const char *act_names[] = {"relu", "gelu"};

/* BERT's configuration: its own keys, "arch": "bert" first. */
static const char *bert_pool_names[] = {"mean", "cls", "max", "pooler"};
static const char *bert_act_names[] = {"relu", "gelu", "gelu_tanh"};

static char *bert_config_to_json(const attend_model_config *c) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "arch", "bert") &&
             cJSON_AddNumberToObject(o, "vocab_size", (double)c->vocab_size) &&
             cJSON_AddNumberToObject(o, "num_classes", (double)c->num_classes) &&
             cJSON_AddNumberToObject(o, "d_model", (double)c->d_model) &&
             cJSON_AddNumberToObject(o, "nhead", (double)c->nhead) &&
             cJSON_AddNumberToObject(o, "num_layers", (double)c->num_layers) &&
             cJSON_AddNumberToObject(o, "dim_feedforward", (double)c->dim_feedforward) &&
             cJSON_AddNumberToObject(o, "max_len", (double)c->max_len) &&
             cJSON_AddNumberToObject(o, "max_positions", (double)c->max_positions) &&
             cJSON_AddNumberToObject(o, "type_vocab_size", (double)c->type_vocab_size) &&
             cJSON_AddBoolToObject(o, "pooler", c->pooler) &&
             cJSON_AddStringToObject(o, "pool", bert_pool_names[c->pool]) &&
             cJSON_AddStringToObject(o, "activation", bert_act_names[c->activation]) &&
             cJSON_AddNumberToObject(o, "layer_norm_eps", (double)c->layer_norm_eps) &&
             cJSON_AddNumberToObject(o, "dropout", (double)c->dropout) &&
             cJSON_AddNumberToObject(o, "attn_dropout", (double)c->attn_dropout);
    char *txt = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    char *str = txt ? attend_strdup(txt) : NULL;
    cJSON_free(txt);
    return str;
}

char *attend_model_config_to_json(const attend_model_config *c) {
    if (c->arch == ATTEND_ARCH_BERT) return bert_config_to_json(c);
    /* Any cJSON_Add* can fail for memory. A config missing a field would be
     * saved as a model file that does not load, so one failure is NULL. */
    cJSON *o = cJSON_CreateObject(), *h = NULL;
    int ok = o && cJSON_AddNumberToObject(o, "vocab_size", (double)c->vocab_size) &&
             cJSON_AddNumberToObject(o, "num_classes", (double)c->num_classes) &&
             cJSON_AddNumberToObject(o, "d_model", (double)c->d_model) &&
             cJSON_AddNumberToObject(o, "nhead", (double)c->nhead) &&
             cJSON_AddNumberToObject(o, "num_layers", (double)c->num_layers) &&
             cJSON_AddNumberToObject(o, "dim_feedforward", (double)c->dim_feedforward) &&
             cJSON_AddNumberToObject(o, "max_len", (double)c->max_len) &&
             cJSON_AddStringToObject(o, "pos", pos_names[c->pos]) &&
             cJSON_AddStringToObject(o, "pool", pool_names[c->pool]) &&
             (h = cJSON_AddArrayToObject(o, "head_hidden"));
    for (size_t j = 0; ok && j < c->n_hidden; j++) {
        cJSON *x = cJSON_CreateNumber((double)c->hidden[j]);
        if (!x || !cJSON_AddItemToArray(h, x)) {
            cJSON_Delete(x);
            ok = 0;
        }
    }
    ok = ok && cJSON_AddStringToObject(o, "activation", act_names[c->activation]) &&
         cJSON_AddBoolToObject(o, "norm_first", c->norm_first) &&
         cJSON_AddNumberToObject(o, "layer_norm_eps", (double)c->layer_norm_eps) &&
         cJSON_AddNumberToObject(o, "dropout", (double)c->dropout);
    char *txt = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    /* Plain malloc memory, as model.h promises, whatever hooks cJSON has. */
    char *s = txt ? attend_strdup(txt) : NULL;
    cJSON_free(txt);
    return s;
}

/* A whole number field in [0, 2^53). */
static attend_status json_size(const cJSON *o, const char *key, size_t *out, attend_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return attend_errorf(err, ATTEND_ERR_FORMAT, "config: '%s' is missing or not a number", key);
    double d = v->valuedouble;
    if (!(d >= 0.0 && d < 9007199254740992.0) || d != (double)(size_t)d)
        return attend_errorf(err, ATTEND_ERR_FORMAT, "config: '%s' = %g is not a whole number >= 0", key, d);
    *out = (size_t)d;
    return ATTEND_OK;
}

static attend_status json_enum(const cJSON *o, const char *key, const char *const *names,
                               int n, int *out, attend_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v))
        return attend_errorf(err, ATTEND_ERR_FORMAT, "config: '%s' is missing or not a string", key);
    for (int i = 0; i < n; i++)
        if (strcmp(v->valuestring, names[i]) == 0) {
            *out = i;
            return ATTEND_OK;
        }
    return attend_errorf(err, ATTEND_ERR_FORMAT, "config: '%s' has unknown value '%.40s'", key, v->valuestring);
}

static attend_status json_float(const cJSON *o, const char *key, float *out, attend_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return attend_errorf(err, ATTEND_ERR_FORMAT, "config: '%s' is missing or not a number", key);
    *out = (float)v->valuedouble;
    return ATTEND_OK;
}

/* The sizes both kinds of config (classifier, BERT) begin with, in the
 * order they are checked. */
static attend_status json_encoder_sizes(const cJSON *o, attend_model_config *c, attend_error *err) {
    attend_status st;
    if ((st = json_size(o, "vocab_size", &c->vocab_size, err)) ||
        (st = json_size(o, "num_classes", &c->num_classes, err)) ||
        (st = json_size(o, "d_model", &c->d_model, err)) ||
        (st = json_size(o, "nhead", &c->nhead, err)) ||
        (st = json_size(o, "num_layers", &c->num_layers, err)) ||
        (st = json_size(o, "dim_feedforward", &c->dim_feedforward, err)) ||
        (st = json_size(o, "max_len", &c->max_len, err)))
        return st;
    return ATTEND_OK;
}

static attend_status bert_config_from_json(attend_model_config *c, const cJSON *o,
                                           attend_error *err) {
    attend_status st;
    int pool = 0, act = 0;
    const cJSON *pooler = cJSON_GetObjectItemCaseSensitive(o, "pooler");
    c->arch = ATTEND_ARCH_BERT;
    c->pos = ATTEND_POS_LEARNED;
    if ((st = json_encoder_sizes(o, c, err)) ||
        (st = json_size(o, "max_positions", &c->max_positions, err)) ||
        (st = json_size(o, "type_vocab_size", &c->type_vocab_size, err)) ||
        (st = json_enum(o, "pool", bert_pool_names, 4, &pool, err)) ||
        (st = json_enum(o, "activation", bert_act_names, 3, &act, err)) ||
        (st = json_float(o, "layer_norm_eps", &c->layer_norm_eps, err)) ||
        (st = json_float(o, "dropout", &c->dropout, err)) ||
        (st = json_float(o, "attn_dropout", &c->attn_dropout, err)))
        return st;
    if (!cJSON_IsBool(pooler))
        return attend_errorf(err, ATTEND_ERR_FORMAT, "config: 'pooler' is missing or not true/false");
    c->pooler = cJSON_IsTrue(pooler);
    c->pool = (attend_pool_kind)pool;
    c->activation = (attend_activation)act;
    return attend_model_config_check(c, err);
}

attend_status attend_model_config_from_json(attend_model_config *c, const char *json,
                                            attend_error *err) {
    memset(c, 0, sizeof *c);
    int oom = 0;
    cJSON *o = attend_json_parse(json, NULL, &oom);
    if (!o && oom) return attend_errorf(err, ATTEND_ERR_NOMEM, "config: out of memory parsing the JSON");
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return attend_errorf(err, ATTEND_ERR_FORMAT, "config is not a JSON object");
    }
    attend_status st = ATTEND_OK;
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(o, "arch");
    if (arch) {
        st = cJSON_IsString(arch) && strcmp(arch->valuestring, "bert") == 0
                 ? bert_config_from_json(c, o, err)
                 : attend_errorf(err, ATTEND_ERR_FORMAT, "config: unknown 'arch'");
        cJSON_Delete(o);
        return st;
    }
    int pos = 0, pool = 0, act = 0;
    const cJSON *nf = cJSON_GetObjectItemCaseSensitive(o, "norm_first");
    const cJSON *hh = cJSON_GetObjectItemCaseSensitive(o, "head_hidden");
    if ((st = json_encoder_sizes(o, c, err)) ||
        (st = json_enum(o, "pos", pos_names, 3, &pos, err)) ||
        (st = json_enum(o, "pool", pool_names, 3, &pool, err)) ||
        (st = json_enum(o, "activation", act_names, 2, &act, err)) ||
        (st = json_float(o, "layer_norm_eps", &c->layer_norm_eps, err)) ||
        (st = json_float(o, "dropout", &c->dropout, err)))
        goto done;
    if (!cJSON_IsBool(nf)) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "config: 'norm_first' is missing or not true/false");
        goto done;
    }
    c->norm_first = cJSON_IsTrue(nf);
    c->pos = (attend_pos_kind)pos;
    c->pool = (attend_pool_kind)pool;
    c->activation = (attend_activation)act;
    if (!cJSON_IsArray(hh) || cJSON_GetArraySize(hh) > ATTEND_MAX_HEAD_HIDDEN) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "config: 'head_hidden' must be an array of at most %d sizes",
                           ATTEND_MAX_HEAD_HIDDEN);
        goto done;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, hh) {
        double d = cJSON_IsNumber(it) ? it->valuedouble : -1.0;
        if (!(d >= 1.0 && d <= 1e9) || d != (double)(size_t)d) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "config: 'head_hidden' holds something other than a positive whole number");
            goto done;
        }
        c->hidden[c->n_hidden++] = (size_t)d;
    }
    st = attend_model_config_check(c, err);
done:
    cJSON_Delete(o);
    return st;
}

attend_status attend_model_save(const attend_model *m, const char *path, attend_error *err) {
    if (m->cfg.arch == ATTEND_ARCH_BERT) return attend_bert_save(m, path, err);
    attend_status st = ATTEND_OK;
    char *config = attend_model_config_to_json(&m->cfg), *vocab = NULL, *labels = NULL;
    attend_st_writer *w = attend_st_writer_new();
    if (!config || !w) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory saving %s", path);
        goto done;
    }
    if ((st = m->tok->ops->vocab_json(m->tok, &vocab, err))) goto done;
    if ((st = attend_labels_to_json(&m->labels, &labels, err))) goto done;
    for (size_t i = 0; i < m->layout.count; i++) {
        const attend_param_info *it = &m->layout.items[i];
        if ((st = attend_st_writer_add(w, it->name, ATTEND_DTYPE_F32, it->ndim, it->shape,
                                       attend_model_view(m, i), err)))
            goto done;
    }
    if ((st = attend_st_writer_meta(w, "format", MODEL_FORMAT, err)) ||
        (st = attend_st_writer_meta(w, "attend_version", ATTEND_VERSION, err)) ||
        (st = attend_st_writer_meta(w, "config", config, err)) ||
        (st = attend_st_writer_meta(w, "vocab", vocab, err)) ||
        (st = attend_st_writer_meta(w, "labels", labels, err)))
        goto done;
    if (m->meta_provenance && (st = attend_st_writer_meta(w, "provenance", m->meta_provenance, err)))
        goto done;
    if (m->meta_training && (st = attend_st_writer_meta(w, "training", m->meta_training, err)))
        goto done;
    st = attend_st_writer_save(w, path, err);
done:
    attend_st_writer_free(w);
    free(config);
    free(labels);
    free(vocab);
    return st;
}

/* Prefixes err's message with the file name. */
static attend_status in_file(attend_status st, const char *path, attend_error *err) {
    if (st != ATTEND_OK && err) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%.200s: %.300s", path, err->msg);
        memcpy(err->msg, msg, sizeof msg);
    }
    return st;
}

/* Checks every tensor against the layout the config implies before
 * allocating anything: the weights must be in the file (F32, finite), so
 * the model's size is bounded by the file's, whatever the config claims. */
static attend_status check_file_tensors(const attend_st_file *f, const attend_model_config *cfg,
                                        const char *path, attend_error *err) {
    attend_layout L = {0};
    attend_model_layout(&L, cfg, NULL);
    if (L.failed) {
        attend_layout_free(&L);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory reading the model layout", path);
    }
    attend_status st = ATTEND_OK;
    for (size_t i = 0; i < L.count && st == ATTEND_OK; i++) {
        const attend_param_info *it = &L.items[i];
        const float *data;
        st = attend_st_get_f32(f, it->name, it->ndim, it->shape, &data, err);
        for (size_t j = 0; st == ATTEND_OK && j < it->numel; j++)
            if (!isfinite(data[j]))
                st = attend_errorf(err, ATTEND_ERR_NUMERIC, "%s: tensor '%s' holds a non-finite value at index %zu",
                                   path, it->name, j);
    }
    for (size_t i = 0; i < attend_st_count(f) && st == ATTEND_OK; i++) {
        const char *name = attend_st_at(f, i)->name;
        if (attend_layout_find(&L, name) < 0)
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: unexpected tensor '%s' for this configuration",
                               path, name);
    }
    attend_layout_free(&L);
    return st;
}

attend_status attend_model_load(attend_model **out, const char *path, attend_error *err) {
    *out = NULL;
    struct stat sb;
    if (path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return attend_hf_folder_load(out, path, err);
    attend_st_file *f = NULL;
    attend_model *m = NULL;
    attend_labels labels = {0};
    attend_model_config cfg;
    attend_vocab vocab;
    int have_vocab = 0;
    attend_status st = attend_st_open(&f, path, err);
    if (st != ATTEND_OK) return st;

    const char *fmt = attend_st_meta(f, "format");
    if (fmt && strcmp(fmt, ATTEND_BERT_FORMAT) == 0) {
        st = attend_bert_load_file(out, f, path, err);
        attend_st_close(f);
        return st;
    }
    const char *jc = attend_st_meta(f, "config"), *jv = attend_st_meta(f, "vocab"),
               *jl = attend_st_meta(f, "labels");
    if (!fmt || strcmp(fmt, MODEL_FORMAT) != 0) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT,
                           "%s: not an attend classifier (metadata 'format' is %s%s%s, expected '%s')",
                           path, fmt ? "'" : "", fmt ? fmt : "missing", fmt ? "'" : "", MODEL_FORMAT);
        goto fail;
    }
    if (!jc || !jv || !jl) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: metadata lacks '%s'", path,
                           !jc ? "config" : !jv ? "vocab" : "labels");
        goto fail;
    }
    if ((st = in_file(attend_model_config_from_json(&cfg, jc, err), path, err))) goto fail;
    if ((st = in_file(attend_vocab_from_json(&vocab, jv, err), path, err))) goto fail;
    have_vocab = 1;
    if (attend_vocab_size(&vocab) != cfg.vocab_size) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: vocabulary has %zu tokens but config vocab_size is %zu",
                           path, attend_vocab_size(&vocab), cfg.vocab_size);
        goto fail;
    }
    if ((st = in_file(attend_labels_from_json(&labels, jl, err), path, err))) goto fail;
    if (labels.count != cfg.num_classes) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: metadata has %zu labels but config num_classes is %zu",
                           path, labels.count, cfg.num_classes);
        goto fail;
    }
    if ((st = check_file_tensors(f, &cfg, path, err))) goto fail;
    attend_tokenizer *tok = NULL;
    st = attend_tokenizer_words_new(&tok, &vocab, err); /* takes vocab */
    have_vocab = 0;
    if (st || (st = attend_model_create_mapped(&m, &cfg, tok, labels.names, f, err))) {
        in_file(st, path, err);
        goto fail;
    }
    f = NULL; /* the model's now: its views point into the mapping */
    const char *prov = attend_st_meta(m->file, "provenance"), *train = attend_st_meta(m->file, "training");
    if ((prov && !(m->meta_provenance = attend_strdup(prov))) ||
        (train && !(m->meta_training = attend_strdup(train)))) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory loading %s", path);
        goto fail;
    }
    attend_labels_free(&labels);
    attend_st_close(f);
    *out = m;
    return ATTEND_OK;
fail:
    if (have_vocab) attend_vocab_free(&vocab);
    attend_labels_free(&labels);
    attend_model_free(m);
    attend_st_close(f);
    return st;
}

/* ---- accessors ---- */

const float *attend_model_view(const attend_model *m, size_t i) {
    const attend_param_info *it = &m->layout.items[i];
    if (m->params) return m->params + it->offset;
    const attend_st_tensor *t = attend_st_find(m->file, it->name);
    return t ? t->data : NULL;
}

const attend_model_config *attend_model_get_config(const attend_model *m) {
    return m ? &m->cfg : NULL;
}

const char *attend_arch_name(attend_arch arch) {
    return arch == ATTEND_ARCH_CLASSIFIER ? "classifier" : arch == ATTEND_ARCH_BERT ? "bert" : "unknown";
}

size_t attend_model_max_len(const attend_model *m) { return m ? m->cfg.max_len : 0; }

attend_status attend_model_set_max_len(attend_model *m, size_t max_len, attend_error *err) {
    if (!m) return attend_errorf(err, ATTEND_ERR_ARG, "attend_model_set_max_len: the model is NULL");
    if (m->cfg.arch != ATTEND_ARCH_BERT) {
        if (max_len == m->cfg.max_len) return ATTEND_OK;
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "this classifier reads %zu tokens per text, fixed when it was trained",
                             m->cfg.max_len);
    }
    if (max_len < 2 || max_len > m->cfg.max_positions)
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "max length %zu is outside [2, %zu] (the model's position table)",
                             max_len, m->cfg.max_positions);
    /* the layout does not depend on max_len, only the truncation does */
    attend_model_config c = m->cfg;
    c.max_len = max_len;
    attend_status st = attend_model_config_check(&c, err);
    if (st == ATTEND_OK) m->cfg.max_len = max_len;
    return st;
}

attend_pool_kind attend_model_embed_pool(const attend_model *m) {
    return m ? m->embed_pool : ATTEND_POOL_MEAN;
}

int attend_model_embed_normalize(const attend_model *m) { return m ? m->embed_normalize : 0; }

attend_status attend_model_set_embed_pool(attend_model *m, attend_pool_kind pool,
                                          attend_error *err) {
    if (!m) return attend_errorf(err, ATTEND_ERR_ARG, "attend_model_set_embed_pool: the model is NULL");
    const int bert = m->cfg.arch == ATTEND_ARCH_BERT;
    if ((int)pool < 0 || pool > ATTEND_POOL_POOLER)
        return attend_errorf(err, ATTEND_ERR_ARG, "unknown pooling %d", (int)pool);
    if (pool == ATTEND_POOL_POOLER && !(bert && m->cfg.pooler))
        return attend_errorf(err, ATTEND_ERR_ARG, "pooler pooling needs BERT's pooler weights, which this model lacks");
    /* cls reads the first token: [CLS] for BERT, <cls> only for a
     * classifier trained with cls pooling (else it is the first word) */
    if (pool == ATTEND_POOL_CLS && !bert && m->cfg.pool != ATTEND_POOL_CLS)
        return attend_errorf(err, ATTEND_ERR_ARG, "cls pooling needs a model that puts a <cls> token first (trained with --pool cls)");
    m->embed_pool = pool;
    return ATTEND_OK;
}

size_t attend_model_num_labels(const attend_model *m) { return m ? m->cfg.num_classes : 0; }

const char *attend_model_label(const attend_model *m, size_t i) {
    return m && i < m->cfg.num_classes ? m->labels.names[i] : NULL;
}

size_t attend_model_num_tensors(const attend_model *m) { return m ? m->layout.count : 0; }

attend_status attend_model_tensor(const attend_model *m, size_t i, const char **name,
                                  size_t *ndim, size_t shape[2]) {
    if (!m || i >= m->layout.count)
        return attend_errorf(NULL, ATTEND_ERR_ARG, "no tensor %zu", i);
    const attend_param_info *it = &m->layout.items[i];
    if (name) *name = it->name;
    if (ndim) *ndim = it->ndim;
    if (shape) {
        shape[0] = it->shape[0];
        shape[1] = it->shape[1];
    }
    return ATTEND_OK;
}

size_t attend_model_num_params(const attend_model *m) { return m ? m->layout.total : 0; }

size_t attend_model_vocab_size(const attend_model *m) { return m ? m->tok->vocab_size : 0; }

const char *attend_model_token(const attend_model *m, int32_t id) {
    return m ? attend_tokenizer_token(m->tok, id) : NULL;
}

const char *attend_model_meta(const attend_model *m, const char *key) {
    if (!m || !key) return NULL;
    if (!strcmp(key, "provenance")) return m->meta_provenance;
    if (!strcmp(key, "training")) return m->meta_training;
    return NULL;
}
