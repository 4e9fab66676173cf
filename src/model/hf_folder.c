/* Hugging Face model folders of BERT-family encoders, loaded as they are
 * (no conversion step):
 *
 *   config.json          the architecture (hf_config.c), checked first
 *   model.safetensors    the weights, F32, F16 or BF16; with or without the
 *                        "bert." prefix of task checkpoints, LayerNorm.weight/
 *                        bias or the old LayerNorm.gamma/beta; the pooler and
 *                        a classifier (BertForSequenceClassification) when there
 *   vocab.txt            WordPiece vocabulary (else tokenizer.json's model.vocab,
 *                        as transformers 5 saves it); tokenizer_config.json,
 *                        tokenizer.json and special_tokens_map.json give its
 *                        settings (attend_wordpiece_options_from_dir)
 * and sentence-transformers' files when present:
 *   modules.json         Transformer -> Pooling -> Normalize (the Normalize
 *                        module needs no folder: all-MiniLM-L6-v2 names a
 *                        2_Normalize that does not exist)
 *   1_Pooling/config.json  mean | cls | max
 *   sentence_bert_config.json  max_seq_length (the tokens per text)
 *
 * pytorch_model.bin is refused: it is a Python pickle, which can run code
 * when it is read. Every tensor is checked against config.json (present,
 * float, the exact shape) before anything is allocated, so a hostile
 * folder gets a message, never a crash or a huge allocation.
 *
 * The weights are copied into the model's own block (converted to float32):
 * the attention reads the query/key/value biases as one (3E) vector, which
 * the folder's three tensors are not, and F16/BF16 need converting anyway.
 * For all-MiniLM-L6-v2 that is 90 MB, once, at load. */
#define _POSIX_C_SOURCE 200809L /* stat */
#include "model/model.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/util.h"
#include "text/wordpiece.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SMALL_JSON ((size_t)1 << 20) /* config.json, modules.json, ... */

/* What the folder says beyond config.json. */
typedef struct {
    const char *dir;        /* the folder given */
    char *model_dir;        /* where config.json and the weights are */
    int modules;            /* modules.json present */
    int has_pool;           /* a Pooling module */
    attend_pool_kind pool;
    int normalize;          /* a Normalize module */
    size_t max_seq_length;  /* sentence_bert_config.json; 0 = not given */
    int st_lower;           /* its do_lower_case */
    attend_hf_config hc;
    attend_st_file *f;
    const char *prefix;     /* "bert." or "" */
    int legacy_ln;          /* LayerNorm.gamma / beta */
} hf_load;

/* dir + "/" + name, malloc'ed (NULL when out of memory). */
static char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) snprintf(p, a + b + 2, "%s%s%s", dir, b ? "/" : "", name);
    return p;
}

static int is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The file name in dir exists (a regular file). */
static int has_file(const char *dir, const char *name) {
    char *p = path_join(dir, name);
    int yes = p && is_file(p);
    free(p);
    return yes;
}

/* Reads dir/name as a JSON object (NULL when absent). */
static attend_status read_json(const char *dir, const char *name, cJSON **out, attend_error *err) {
    char *p = path_join(dir, name);
    if (!p) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    attend_status st = attend_json_read_object(p, MAX_SMALL_JSON, out, err);
    free(p);
    return st;
}

/* ---- sentence-transformers ---- */

/* A module's folder, relative to the model folder: no "..", not absolute. */
static int safe_subpath(const char *s) {
    if (s[0] == '/' || strlen(s) > 200) return 0;
    for (const char *p = s; *p; p++)
        if (p[0] == '.' && p[1] == '.' && (p == s || p[-1] == '/') && (p[2] == 0 || p[2] == '/'))
            return 0;
    return 1;
}

/* 1_Pooling/config.json: "pooling_mode" (sentence-transformers 5+: a name,
 * or a list of one), or the older pooling_mode_*_token(s) switches, exactly
 * one of them on. */
static attend_status read_pooling(hf_load *ld, const char *dir, attend_error *err) {
    cJSON *o = NULL;
    attend_status st = read_json(dir, "config.json", &o, err);
    if (st) return st;
    if (!o)
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: the Pooling module has no config.json", dir);
    static const struct { const char *key, *name; attend_pool_kind kind; } modes[] = {
        {"pooling_mode_mean_tokens", "mean", ATTEND_POOL_MEAN},
        {"pooling_mode_cls_token", "cls", ATTEND_POOL_CLS},
        {"pooling_mode_max_tokens", "max", ATTEND_POOL_MAX},
        {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens", ATTEND_POOL_MEAN},
        {"pooling_mode_weightedmean_tokens", "weightedmean", ATTEND_POOL_MEAN},
        {"pooling_mode_lasttoken", "lasttoken", ATTEND_POOL_MEAN}};
    const cJSON *pm = cJSON_GetObjectItemCaseSensitive(o, "pooling_mode");
    if (cJSON_IsArray(pm) && cJSON_GetArraySize(pm) == 1) pm = cJSON_GetArrayItem(pm, 0);
    int found = -1, n_on = 0;
    for (int i = 0; i < 6; i++) {
        int on = pm ? cJSON_IsString(pm) && strcmp(pm->valuestring, modes[i].name) == 0
                    : cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, modes[i].key));
        if (on) found = i, n_on++;
    }
    if (n_on != 1 || found > 2)
        st = attend_errorf(err, ATTEND_ERR_FORMAT,
                           "%s/config.json: pooling %s%s; attend pools by one of mean, cls, max", dir,
                           n_on == 0 ? "names no mode it knows" : n_on > 1 ? "combines several modes" : "is ",
                           n_on == 1 ? modes[found].name : "");
    else {
        ld->has_pool = 1;
        ld->pool = modes[found].kind;
    }
    cJSON_Delete(o);
    return st;
}

/* modules.json: [{"type": "...Transformer", "path": ""}, {"...Pooling",
 * "1_Pooling"}, {"...Normalize", ...}] in that order; any other module would
 * change the vector, so it is refused by name. */
static attend_status read_modules(hf_load *ld, attend_error *err) {
    char *p = path_join(ld->dir, "modules.json"), *buf = NULL;
    size_t len;
    int absent = 0;
    attend_status st = p ? attend_read_file(p, MAX_SMALL_JSON, &buf, &len, &absent, err)
                         : attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    cJSON *arr = NULL;
    if (st || absent) goto done;
    ld->modules = 1;
    int oom = 0;
    if (!(arr = attend_json_parse(buf, NULL, &oom)) || !cJSON_IsArray(arr)) {
        st = attend_errorf(err, oom ? ATTEND_ERR_NOMEM : ATTEND_ERR_FORMAT, "%s: %s", p,
                           oom ? "out of memory" : "not a JSON array of modules");
        goto done;
    }
    int i = 0;
    for (const cJSON *m = arr->child; m && !st; m = m->next, i++) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(m, "type");
        const cJSON *pa = cJSON_GetObjectItemCaseSensitive(m, "path");
        if (!cJSON_IsString(ty) || !cJSON_IsString(pa) || !safe_subpath(pa->valuestring)) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: module %d needs a \"type\" and a relative \"path\"", p, i);
            break;
        }
        const char *dot = strrchr(ty->valuestring, '.'), *kind = dot ? dot + 1 : ty->valuestring;
        if (i == 0 && strcmp(kind, "Transformer") == 0) {
            if (!(ld->model_dir = path_join(ld->dir, pa->valuestring)))
                st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
        } else if (i == 1 && strcmp(kind, "Pooling") == 0) {
            char *pd = path_join(ld->dir, pa->valuestring);
            st = pd ? read_pooling(ld, pd, err) : attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
            free(pd);
        } else if (i == 2 && ld->has_pool && strcmp(kind, "Normalize") == 0) {
            ld->normalize = 1;
        } else {
            st = attend_errorf(err, ATTEND_ERR_FORMAT,
                               "%s: module %d is %.80s; attend runs Transformer, Pooling, Normalize in that order",
                               p, i, ty->valuestring);
        }
    }
    if (!st && !ld->model_dir)
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: no Transformer module", p);
done:
    cJSON_Delete(arr);
    free(buf);
    free(p);
    return st;
}

/* sentence_bert_config.json beside the weights: max_seq_length, do_lower_case. */
static attend_status read_st_config(hf_load *ld, attend_error *err) {
    cJSON *o = NULL;
    attend_status st = read_json(ld->model_dir, "sentence_bert_config.json", &o, err);
    if (st || !o) return st;
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(o, "max_seq_length");
    const cJSON *lc = cJSON_GetObjectItemCaseSensitive(o, "do_lower_case");
    if (ml && !cJSON_IsNull(ml)) {
        double d = cJSON_IsNumber(ml) ? ml->valuedouble : 0.0;
        if (!(d >= 2.0 && d <= 65536.0) || d != (double)(size_t)d)
            st = attend_errorf(err, ATTEND_ERR_FORMAT,
                               "%s/sentence_bert_config.json: max_seq_length must be a whole number in [2, 65536]",
                               ld->model_dir);
        else
            ld->max_seq_length = (size_t)d;
    }
    if (lc && !cJSON_IsNull(lc) && !cJSON_IsBool(lc))
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s/sentence_bert_config.json: do_lower_case must be true or false",
                           ld->model_dir);
    ld->st_lower = cJSON_IsTrue(lc);
    cJSON_Delete(o);
    return st;
}

/* ---- config.json and the weights file ---- */

static attend_status read_config(hf_load *ld, attend_error *err) {
    char *p = path_join(ld->model_dir, "config.json"), *buf = NULL;
    size_t len;
    int absent = 0;
    if (!p) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    attend_status st = attend_read_file(p, MAX_SMALL_JSON, &buf, &len, &absent, err);
    if (!st && absent)
        st = attend_errorf(err, ATTEND_ERR_FORMAT,
                           "%s: no config.json (a Hugging Face model folder, or an attend model file, was expected)",
                           ld->model_dir);
    if (!st) st = attend_hf_config_parse(&ld->hc, buf, len, p, err);
    free(buf);
    free(p);
    return st;
}

/* model.safetensors, or a message saying why the folder's weights are not read. */
static attend_status open_weights(hf_load *ld, attend_error *err) {
    char *p = path_join(ld->model_dir, "model.safetensors");
    if (!p) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    attend_status st;
    if (is_file(p))
        st = attend_st_open(&ld->f, p, err);
    else if (has_file(ld->model_dir, "pytorch_model.bin"))
        st = attend_errorf(err, ATTEND_ERR_FORMAT,
                           "%s: only pytorch_model.bin, which attend does not read: it is a Python pickle, and "
                           "reading a pickle can run any code it holds. Save the model as model.safetensors "
                           "(transformers: model.save_pretrained(dir, safe_serialization=True))",
                           ld->model_dir);
    else if (has_file(ld->model_dir, "model.safetensors.index.json"))
        st = attend_errorf(err, ATTEND_ERR_FORMAT,
                           "%s: the weights are split into shards (model.safetensors.index.json); attend reads one model.safetensors",
                           ld->model_dir);
    else
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: no model.safetensors", ld->model_dir);
    free(p);
    return st;
}

/* The file's name for layout name (HF names without a prefix): with the
 * folder's prefix ("bert." for task checkpoints; the classifier has none)
 * and LayerNorm.gamma/beta in old checkpoints. */
static void file_name(const hf_load *ld, const char *name, char *out, size_t cap) {
    const char *pre = strncmp(name, "classifier.", 11) == 0 ? "" : ld->prefix;
    const char *ln = strstr(name, "LayerNorm.");
    if (ld->legacy_ln && ln) {
        const char *leaf = ln + 10;
        snprintf(out, cap, "%s%.*s%s", pre, (int)(leaf - name), name,
                 strcmp(leaf, "weight") == 0 ? "gamma" : strcmp(leaf, "bias") == 0 ? "beta" : leaf);
    } else {
        snprintf(out, cap, "%s%s", pre, name);
    }
}

static int has_tensor(const hf_load *ld, const char *name) {
    char full[ATTEND_NAME_MAX + 16];
    file_name(ld, name, full, sizeof full);
    return attend_st_find(ld->f, full) != NULL;
}

/* Naming, the pooler and the head: what the file holds decides. */
static attend_status detect_layout(hf_load *ld, attend_error *err) {
    attend_model_config *c = &ld->hc.cfg;
    ld->prefix = attend_st_find(ld->f, "bert.embeddings.word_embeddings.weight") ? "bert." : "";
    if (!has_tensor(ld, "embeddings.word_embeddings.weight"))
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s/model.safetensors: no embeddings.word_embeddings.weight (nor bert.*): not a BERT checkpoint",
                             ld->model_dir);
    ld->legacy_ln = 0;
    if (!has_tensor(ld, "embeddings.LayerNorm.weight")) {
        ld->legacy_ln = 1; /* gamma/beta, or missing: the shape check says which */
        ld->legacy_ln = has_tensor(ld, "embeddings.LayerNorm.weight");
    }
    c->pooler = has_tensor(ld, "pooler.dense.weight");
    const attend_st_tensor *cw = attend_st_find(ld->f, "classifier.weight");
    if (!cw) {
        c->num_classes = 0; /* an encoder: labels config.json lists belong to no head here */
        return ATTEND_OK;
    }
    if (cw->ndim != 2 || cw->shape[0] < 2 || cw->shape[0] > ((size_t)1 << 16))
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s/model.safetensors: classifier.weight must be (labels >= 2, hidden)",
                             ld->model_dir);
    if (ld->hc.id2label && c->num_classes != cw->shape[0])
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: config.json names %zu labels but classifier.weight has %zu rows",
                             ld->model_dir, c->num_classes, cw->shape[0]);
    if (!c->pooler)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s/model.safetensors: a classifier without pooler.dense is not a "
                             "BertForSequenceClassification checkpoint",
                             ld->model_dir);
    c->num_classes = cw->shape[0];
    return ATTEND_OK;
}

/* Every tensor the configuration implies, present with its exact shape and
 * a float dtype, before anything is allocated. */
static attend_status check_tensors(const hf_load *ld, const attend_model_config *c,
                                   attend_error *err) {
    attend_layout L = {0};
    attend_model_layout(&L, c, NULL);
    attend_status st = L.failed ? attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory") : ATTEND_OK;
    for (size_t i = 0; i < L.count && !st; i++) {
        const attend_param_info *it = &L.items[i];
        char full[ATTEND_NAME_MAX + 16];
        const attend_st_tensor *t;
        file_name(ld, it->name, full, sizeof full);
        st = attend_st_get_floats(ld->f, full, it->ndim, it->shape, &t, err);
    }
    if (st && err) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%.380s (from config.json)", err->msg);
        memcpy(err->msg, msg, sizeof msg);
    }
    attend_layout_free(&L);
    return st;
}

/* vocab.txt's text from tokenizer.json's "model": {"vocab": {token: id}}
 * (transformers 5 saves no vocab.txt): ids 0 .. n-1, each once, tokens
 * without line breaks. *txt NULL when the folder has no tokenizer.json. */
static attend_status vocab_from_tokenizer_json(const char *dir, attend_buf *txt, attend_error *err) {
    cJSON *j = NULL;
    attend_status st = read_json(dir, "tokenizer.json", &j, err);
    if (st || !j) return st;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "model"), "vocab");
    size_t n = cJSON_IsObject(v) ? (size_t)cJSON_GetArraySize(v) : 0;
    const char **tok = n ? calloc(n, sizeof *tok) : NULL;
    if (!cJSON_IsObject(v) || !n)
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: no vocab.txt, and tokenizer.json has no model.vocab", dir);
    else if (!tok)
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    const cJSON *it;
    if (!st) cJSON_ArrayForEach(it, v) {
        double d = cJSON_IsNumber(it) ? it->valuedouble : -1.0;
        size_t id = (size_t)d;
        if (!(d >= 0.0 && d < (double)n) || d != (double)id || tok[id] || strpbrk(it->string, "\r\n")) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT,
                               "%s/tokenizer.json: model.vocab must give the ids 0 .. %zu once each, to tokens without line breaks",
                               dir, n - 1);
            break;
        }
        tok[id] = it->string;
    }
    for (size_t i = 0; !st && i < n; i++) {
        attend_buf_puts(txt, tok[i]);
        attend_buf_puts(txt, "\n");
    }
    if (!st && txt->failed) st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    free(tok);
    cJSON_Delete(j);
    return st;
}

/* The WordPiece tokenizer of the folder, with sentence-transformers'
 * do_lower_case checked against it. */
static attend_status load_tokenizer(hf_load *ld, attend_tokenizer **tok, attend_error *err) {
    attend_wordpiece_options o;
    attend_wordpiece *wp = NULL;
    attend_status st = attend_wordpiece_options_from_dir(&o, ld->model_dir, err);
    if (st) return st;
    /* sentence-transformers lower-cases the text itself first: the same
     * when the tokenizer lower-cases anyway; otherwise not supported */
    if (ld->st_lower && !o.lowercase)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: sentence_bert_config.json lower-cases the text for a cased tokenizer; not supported",
                             ld->model_dir);
    char *p = path_join(ld->model_dir, "vocab.txt");
    if (!p) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    if (is_file(p)) {
        st = attend_wordpiece_load(&wp, p, &o, err);
    } else {
        attend_buf txt;
        attend_buf_init(&txt);
        st = vocab_from_tokenizer_json(ld->model_dir, &txt, err);
        if (!st && !txt.s)
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: no vocab.txt nor tokenizer.json (the WordPiece vocabulary)",
                               ld->model_dir);
        if (!st) st = attend_wordpiece_load_memory(&wp, txt.s, txt.len, "tokenizer.json", &o, err);
        attend_buf_free(&txt);
    }
    free(p);
    if (st) return st;
    if (attend_wordpiece_vocab_size(wp) > ld->hc.cfg.vocab_size) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT,
                           "%s: vocab.txt has %zu tokens but config.json's vocab_size is %zu",
                           ld->model_dir, attend_wordpiece_vocab_size(wp), ld->hc.cfg.vocab_size);
        attend_wordpiece_free(wp);
        return st;
    }
    return attend_tokenizer_wordpiece_new(tok, wp, ld->hc.pad_token_id, err);
}

/* Sort helper for the labels. */
static _Thread_local char *const *sort_names_;
static int by_name(const void *a, const void *b) {
    return strcmp(sort_names_[*(const size_t *)a], sort_names_[*(const size_t *)b]);
}

/* attend keeps labels sorted (a label's id is its index): order[k] is the
 * folder's class id of attend's class k, names[k] its name. */
static attend_status sorted_labels(const hf_load *ld, size_t K, size_t *order, char **names,
                                   char (*generic)[32], attend_error *err) {
    for (size_t k = 0; k < K; k++) {
        order[k] = k;
        if (ld->hc.id2label) names[k] = ld->hc.id2label[k];
        else {
            snprintf(generic[k], sizeof generic[k], "LABEL_%zu", k); /* transformers' default */
            names[k] = generic[k];
        }
    }
    char **tmp = malloc(K * sizeof *tmp);
    if (!tmp) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    memcpy(tmp, names, K * sizeof *tmp);
    sort_names_ = tmp;
    qsort(order, K, sizeof *order, by_name);
    sort_names_ = NULL;
    for (size_t k = 0; k < K; k++) names[k] = tmp[order[k]];
    free(tmp);
    return ATTEND_OK;
}

/* Copies (converting) every tensor into the model's block; the classifier's
 * rows in attend's label order. */
static attend_status copy_weights(const hf_load *ld, attend_model *m, const size_t *order,
                                  attend_error *err) {
    const size_t E = m->cfg.d_model;
    for (size_t i = 0; i < m->layout.count; i++) {
        const attend_param_info *it = &m->layout.items[i];
        char full[ATTEND_NAME_MAX + 16];
        file_name(ld, it->name, full, sizeof full);
        const attend_st_tensor *t = attend_st_find(ld->f, full);
        float *dst = m->params + it->offset;
        attend_status st = attend_st_copy_f32(t, dst, err);
        if (st) return st;
        if (order && (dst == m->p.head_w[0] || dst == m->p.head_b[0])) {
            const size_t w = dst == m->p.head_w[0] ? E : 1, K = m->cfg.num_classes;
            float *src = malloc(K * w * sizeof(float));
            if (!src) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
            memcpy(src, dst, K * w * sizeof(float));
            for (size_t k = 0; k < K; k++) memcpy(dst + k * w, src + order[k] * w, w * sizeof(float));
            free(src);
        }
    }
    return ATTEND_OK;
}

/* The provenance record: where the weights came from. */
static attend_status provenance(const hf_load *ld, attend_model *m, attend_error *err) {
    attend_buf b;
    attend_buf_init(&b);
    attend_buf_puts(&b, "{\"source\":\"huggingface-folder\",\"folder\":");
    attend_buf_json_string(&b, ld->dir);
    const char *dt = attend_dtype_name(attend_st_at(ld->f, 0)->dtype);
    for (size_t i = 1; i < attend_st_count(ld->f); i++)
        if (strcmp(dt, attend_dtype_name(attend_st_at(ld->f, i)->dtype)) != 0) dt = "mixed";
    attend_buf_printf(&b, ",\"weights_dtype\":\"%s\",\"sentence_transformers\":%s,\"version\":\"%s\"}",
                      dt, ld->modules ? "true" : "false", ATTEND_VERSION);
    if (b.failed) {
        attend_buf_free(&b);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    }
    m->meta_provenance = b.s;
    return ATTEND_OK;
}

/* The model from what was read: configuration finished from the
 * sentence-transformers files, tokenizer, labels, weights. */
static attend_status build_model(hf_load *ld, attend_model **out, attend_error *err) {
    attend_model_config c = ld->hc.cfg;
    attend_tokenizer *tok = NULL;
    attend_status st;
    if (ld->max_seq_length > c.max_positions)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: max_seq_length %zu exceeds max_position_embeddings %zu",
                             ld->model_dir, ld->max_seq_length, c.max_positions);
    if (ld->max_seq_length) c.max_len = ld->max_seq_length;
    /* a classifier head reads the pooler (BertForSequenceClassification);
     * otherwise the folder's pooling, or mean as sentence-transformers
     * does for a plain transformers model */
    c.pool = c.num_classes ? ATTEND_POOL_POOLER : ld->has_pool ? ld->pool : ATTEND_POOL_MEAN;
    if ((st = attend_model_config_check(&c, err)) || (st = check_tensors(ld, &c, err)) ||
        (st = load_tokenizer(ld, &tok, err)))
        return st;
    const size_t K = c.num_classes;
    size_t *order = K ? malloc(K * sizeof *order) : NULL;
    char **names = K ? malloc(K * sizeof *names) : NULL;
    char (*generic)[32] = K ? malloc(K * sizeof *generic) : NULL;
    attend_model *m = NULL;
    if (K && (!order || !names || !generic)) {
        attend_tokenizer_free(tok);
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    } else if (K && (st = sorted_labels(ld, K, order, names, generic, err))) {
        attend_tokenizer_free(tok);
    } else if (!(st = attend_model_create(&m, &c, tok, names, err))) {
        m->embed_pool = ld->has_pool ? ld->pool : ATTEND_POOL_MEAN;
        m->embed_normalize = ld->normalize;
        m->embed_pool_given = ld->has_pool;
        if ((st = copy_weights(ld, m, order, err)) || (st = provenance(ld, m, err))) {
            attend_model_free(m);
            m = NULL;
        }
    }
    free(order);
    free(names);
    free(generic);
    *out = m;
    return st;
}

attend_status attend_hf_folder_load(attend_model **out, const char *dir, attend_error *err) {
    *out = NULL;
    hf_load ld;
    memset(&ld, 0, sizeof ld);
    ld.dir = dir;
    ld.hc.pad_token_id = -1;
    attend_status st = read_modules(&ld, err);
    if (!st && !ld.model_dir && !(ld.model_dir = attend_strdup(dir)))
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    if (!st) st = read_st_config(&ld, err);
    if (!st) st = read_config(&ld, err);
    if (!st) st = open_weights(&ld, err);
    if (!st) st = detect_layout(&ld, err);
    if (!st) st = build_model(&ld, out, err);
    attend_st_close(ld.f);
    attend_hf_config_free(&ld.hc);
    free(ld.model_dir);
    return st;
}
