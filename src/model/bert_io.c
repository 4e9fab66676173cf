/* Model files of BERT-family models ("attend.bert.v1"): what attend train
 * --init saves, one file that predict, eval, show and the C API load
 * without the folder it came from. Safetensors with every weight under its
 * Hugging Face name (embeddings.*, encoder.layer.N.*, pooler.dense.*,
 * classifier.*; float32) and in __metadata__:
 *   format        "attend.bert.v1"
 *   config        the configuration (attend_model_config_to_json, "arch": "bert")
 *   vocab         the WordPiece vocabulary, a JSON array in id order
 *   tokenizer     the WordPiece settings (lower-casing, accents, specials, ...)
 *   labels        the class names (a model with a head)
 *   embedding     {"pool": ..., "normalize": ...}: how attend embed pools
 *   provenance, training   as the classifier's, naming the source folder
 * Loading trusts nothing: every tensor must be there with the shape the
 * configuration implies, and nothing else may be. The weights are copied
 * into the model's block (the attention reads the query/key/value biases
 * as one vector, which three tensors of a file need not be). */
#include "model/model.h"
#include "base/util.h"
#include "nn/layout.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const pool_names[] = {"mean", "cls", "max", "pooler"};

attend_status attend_bert_save(const attend_model *m, const char *path, attend_error *err) {
    attend_status st = ATTEND_OK;
    char *config = attend_model_config_to_json(&m->cfg), *vocab = NULL, *labels = NULL, *tok = NULL;
    char embedding[96];
    snprintf(embedding, sizeof embedding, "{\"pool\":\"%s\",\"normalize\":%s}",
             pool_names[m->embed_pool], m->embed_normalize ? "true" : "false");
    attend_st_writer *w = attend_st_writer_new();
    if (!config || !w) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory saving %s", path);
        goto done;
    }
    if ((st = m->tok->ops->vocab_json(m->tok, &vocab, err)) ||
        (st = attend_tokenizer_wordpiece_settings(m->tok, &tok, err)) ||
        (m->cfg.num_classes && (st = attend_labels_to_json(&m->labels, &labels, err))))
        goto done;
    for (size_t i = 0; i < m->layout.count; i++) {
        const attend_param_info *it = &m->layout.items[i];
        if ((st = attend_st_writer_add(w, it->name, ATTEND_DTYPE_F32, it->ndim, it->shape,
                                       attend_model_view(m, i), err)))
            goto done;
    }
    if ((st = attend_st_writer_meta(w, "format", ATTEND_BERT_FORMAT, err)) ||
        (st = attend_st_writer_meta(w, "attend_version", ATTEND_VERSION, err)) ||
        (st = attend_st_writer_meta(w, "config", config, err)) ||
        (st = attend_st_writer_meta(w, "vocab", vocab, err)) ||
        (st = attend_st_writer_meta(w, "tokenizer", tok, err)) ||
        (st = attend_st_writer_meta(w, "embedding", embedding, err)) ||
        (labels && (st = attend_st_writer_meta(w, "labels", labels, err))) ||
        (m->meta_provenance && (st = attend_st_writer_meta(w, "provenance", m->meta_provenance, err))) ||
        (m->meta_training && (st = attend_st_writer_meta(w, "training", m->meta_training, err))))
        goto done;
    st = attend_st_writer_save(w, path, err);
done:
    attend_st_writer_free(w);
    free(config);
    free(vocab);
    free(labels);
    free(tok);
    return st;
}

/* Every tensor of the layout present as F32 with its shape, none other. */
static attend_status check_tensors(const attend_st_file *f, const attend_model_config *c,
                                   attend_error *err) {
    attend_layout L = {0};
    attend_model_layout(&L, c, NULL);
    attend_status st = L.failed ? attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory") : ATTEND_OK;
    for (size_t i = 0; i < L.count && !st; i++)
        st = attend_st_get_f32(f, L.items[i].name, L.items[i].ndim, L.items[i].shape, NULL, err);
    for (size_t i = 0; i < attend_st_count(f) && !st; i++)
        if (attend_layout_find(&L, attend_st_at(f, i)->name) < 0)
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "unexpected tensor '%.200s' for this configuration",
                               attend_st_at(f, i)->name);
    attend_layout_free(&L);
    return st;
}

/* "embedding": {"pool": NAME, "normalize": BOOL}. */
static attend_status read_embedding(attend_model *m, const char *json, attend_error *err) {
    cJSON *o = cJSON_Parse(json);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pool");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "normalize");
    attend_status st = attend_errorf(err, ATTEND_ERR_FORMAT, "metadata 'embedding' is not {\"pool\": NAME, \"normalize\": BOOL}");
    for (int k = 0; k < 4 && cJSON_IsString(p) && cJSON_IsBool(n); k++)
        if (strcmp(p->valuestring, pool_names[k]) == 0) {
            st = attend_model_set_embed_pool(m, (attend_pool_kind)k, err);
            m->embed_normalize = cJSON_IsTrue(n);
            break;
        }
    cJSON_Delete(o);
    return st;
}

attend_status attend_bert_load_file(attend_model **out, attend_st_file *f, const char *path,
                                    attend_error *err) {
    *out = NULL;
    attend_model_config cfg;
    attend_labels labels = {0};
    attend_tokenizer *tok = NULL;
    attend_model *m = NULL;
    const char *jc = attend_st_meta(f, "config"), *jv = attend_st_meta(f, "vocab"),
               *jt = attend_st_meta(f, "tokenizer"), *jl = attend_st_meta(f, "labels"),
               *je = attend_st_meta(f, "embedding");
    attend_status st = ATTEND_OK;
    if (!jc || !jv || !jt || !je) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "metadata lacks '%s'",
                           !jc ? "config" : !jv ? "vocab" : !jt ? "tokenizer" : "embedding");
        goto done;
    }
    if ((st = attend_model_config_from_json(&cfg, jc, err))) goto done;
    if (cfg.arch != ATTEND_ARCH_BERT) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "config is not a BERT model's");
        goto done;
    }
    if (cfg.num_classes) {
        if (!jl) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "metadata lacks 'labels'");
            goto done;
        }
        if ((st = attend_labels_from_json(&labels, jl, err))) goto done;
        if (labels.count != cfg.num_classes) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "%zu labels but num_classes is %zu", labels.count,
                               cfg.num_classes);
            goto done;
        }
    }
    if ((st = check_tensors(f, &cfg, err)) ||
        (st = attend_tokenizer_wordpiece_from_json(&tok, jv, jt, err)) ||
        (st = attend_model_create(&m, &cfg, tok, labels.names, err)))
        goto done;
    for (size_t i = 0; i < m->layout.count && !st; i++) {
        const attend_param_info *it = &m->layout.items[i];
        st = attend_st_copy_f32(attend_st_find(f, it->name), m->params + it->offset, err);
    }
    if (!st) st = read_embedding(m, je, err);
    const char *prov = attend_st_meta(f, "provenance"), *train = attend_st_meta(f, "training");
    if (!st && ((prov && !(m->meta_provenance = attend_strdup(prov))) ||
                (train && !(m->meta_training = attend_strdup(train)))))
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
done:
    if (st && err && strncmp(err->msg, path, strlen(path)) != 0) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%.200s: %.300s", path, err->msg);
        memcpy(err->msg, msg, sizeof msg);
    }
    if (st) {
        attend_model_free(m);
        m = NULL;
    }
    attend_labels_free(&labels);
    *out = m;
    return st;
}
