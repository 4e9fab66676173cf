/* A BERT classifier as a Hugging Face folder that transformers'
 * AutoModelForSequenceClassification / AutoTokenizer load as they are
 * (BertForSequenceClassification, BertTokenizer):
 *   config.json              BertConfig, id2label in attend's label order
 *   model.safetensors        bert.* and classifier.*, float32, {"format": "pt"}
 *   vocab.txt                one token a line (id = line)
 *   tokenizer_config.json    do_lower_case, strip_accents, tokenize_chinese_chars,
 *   special_tokens_map.json  the special tokens, model_max_length = max_len
 * Only what transformers computes the same way is exported: a head on
 * BERT's pooler (BertForSequenceClassification reads nothing else). Any
 * other model is ATTEND_ERR_ARG naming what has no transformers
 * equivalent. Every file is written atomically. */
#include "model/model.h"
#include "attend_viz.h" /* attend_mkdir */
#include "base/buf.h"
#include "base/util.h"
#include "text/wordpiece.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What has no transformers equivalent, or NULL when the model exports. */
static const char *not_exportable(const attend_model *m, char *why, size_t cap) {
    const attend_model_config *c = &m->cfg;
    static const char *const pools[] = {"mean", "cls", "max"};
    const attend_wordpiece *wp = attend_tokenizer_wordpiece(m->tok);
    const attend_wordpiece_options *o = wp ? attend_wordpiece_get_options(wp) : NULL;
    if (c->arch != ATTEND_ARCH_BERT)
        snprintf(why, cap, "an attend classifier (attend's own tokenizer and layer stack) has no transformers "
                           "equivalent; export takes a BERT model fine-tuned with attend train --init --pool pooler");
    else if (!c->num_classes)
        snprintf(why, cap, "an encoder without a classification head is no AutoModelForSequenceClassification");
    else if (c->pool != ATTEND_POOL_POOLER)
        snprintf(why, cap, "the head reads %s pooling, which BertForSequenceClassification has no equivalent "
                           "of (it reads the pooler); fine-tune with --pool pooler to export",
                 pools[c->pool]);
    else if (!o || !o->match_special_tokens || strcmp(o->continuing_subword_prefix, "##") != 0 ||
             o->max_input_chars_per_word != 100 || !o->clean_text)
        snprintf(why, cap, "the WordPiece settings (special-token matching, \"##\", 100 characters a word, clean-up) "
                           "differ from BertTokenizer's, which has no setting for them");
    else
        return NULL;
    return why;
}

static attend_status write_buf(const char *dir, const char *name, attend_buf *b, attend_error *err) {
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    if (!p) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    sprintf(p, "%s/%s", dir, name);
    attend_status st = attend_buf_write_file(b, p, err);
    free(p);
    attend_buf_free(b);
    return st;
}

static attend_status write_config(const attend_model *m, const char *dir, attend_error *err) {
    const attend_model_config *c = &m->cfg;
    static const char *const acts[] = {"relu", "gelu", "gelu_new"};
    attend_buf b;
    attend_buf_init(&b);
    attend_buf_printf(&b,
                      "{\n  \"architectures\": [\"BertForSequenceClassification\"],\n"
                      "  \"model_type\": \"bert\",\n  \"hidden_size\": %zu,\n  \"num_hidden_layers\": %zu,\n"
                      "  \"num_attention_heads\": %zu,\n  \"intermediate_size\": %zu,\n  \"hidden_act\": \"%s\",\n"
                      "  \"hidden_dropout_prob\": %.9g,\n  \"attention_probs_dropout_prob\": %.9g,\n"
                      "  \"max_position_embeddings\": %zu,\n  \"type_vocab_size\": %zu,\n  \"vocab_size\": %zu,\n"
                      "  \"layer_norm_eps\": %.9g,\n  \"pad_token_id\": %d,\n"
                      "  \"position_embedding_type\": \"absolute\",\n  \"initializer_range\": 0.02,\n"
                      "  \"classifier_dropout\": null,\n  \"problem_type\": \"single_label_classification\",\n"
                      "  \"id2label\": {",
                      c->d_model, c->num_layers, c->nhead, c->dim_feedforward, acts[c->activation],
                      (double)c->dropout, (double)c->attn_dropout, c->max_positions, c->type_vocab_size,
                      c->vocab_size, (double)c->layer_norm_eps, (int)m->tok->pad_id);
    for (size_t k = 0; k < c->num_classes; k++) {
        attend_buf_printf(&b, "%s\"%zu\": ", k ? ", " : "", k);
        attend_buf_json_string(&b, m->labels.names[k]);
    }
    attend_buf_puts(&b, "},\n  \"label2id\": {");
    for (size_t k = 0; k < c->num_classes; k++) {
        attend_buf_puts(&b, k ? ", " : "");
        attend_buf_json_string(&b, m->labels.names[k]);
        attend_buf_printf(&b, ": %zu", k);
    }
    attend_buf_puts(&b, "}\n}\n");
    return write_buf(dir, "config.json", &b, err);
}

static attend_status write_tokenizer(const attend_model *m, const char *dir, attend_error *err) {
    const attend_wordpiece *wp = attend_tokenizer_wordpiece(m->tok);
    const attend_wordpiece_options *o = attend_wordpiece_get_options(wp);
    attend_buf b;
    attend_buf_init(&b);
    for (size_t i = 0; i < attend_wordpiece_vocab_size(wp); i++) {
        attend_buf_puts(&b, attend_wordpiece_token(wp, (int32_t)i));
        attend_buf_puts(&b, "\n");
    }
    attend_status st = write_buf(dir, "vocab.txt", &b, err);
    if (st) return st;
    const char *names[5] = {"unk_token", "cls_token", "sep_token", "pad_token", "mask_token"};
    const char *vals[5] = {o->unk_token, o->cls_token, o->sep_token, o->pad_token, o->mask_token};
    attend_buf_init(&b);
    attend_buf_puts(&b, "{");
    for (int k = 0; k < 5; k++) {
        attend_buf_printf(&b, "%s\n  \"%s\": ", k ? "," : "", names[k]);
        attend_buf_json_string(&b, vals[k]);
    }
    attend_buf_puts(&b, "\n}\n");
    if ((st = write_buf(dir, "special_tokens_map.json", &b, err))) return st;
    attend_buf_init(&b);
    /* strip_accents as transformers reads it: null follows do_lower_case */
    attend_buf_printf(&b,
                      "{\n  \"tokenizer_class\": \"BertTokenizer\",\n  \"do_lower_case\": %s,\n"
                      "  \"strip_accents\": %s,\n  \"tokenize_chinese_chars\": %s,\n"
                      "  \"model_max_length\": %zu",
                      o->lowercase ? "true" : "false",
                      o->strip_accents == o->lowercase ? "null" : o->strip_accents ? "true" : "false",
                      o->handle_chinese_chars ? "true" : "false", m->cfg.max_len);
    for (int k = 0; k < 5; k++) {
        attend_buf_printf(&b, ",\n  \"%s\": ", names[k]);
        attend_buf_json_string(&b, vals[k]);
    }
    attend_buf_puts(&b, "\n}\n");
    return write_buf(dir, "tokenizer_config.json", &b, err);
}

static attend_status write_weights(const attend_model *m, const char *dir, attend_error *err) {
    attend_st_writer *w = attend_st_writer_new();
    char (*names)[ATTEND_NAME_MAX + 8] = malloc(m->layout.count * sizeof *names);
    char *p = malloc(strlen(dir) + 32);
    attend_status st = w && names && p ? ATTEND_OK : attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m->layout.count && !st; i++) {
        const attend_param_info *it = &m->layout.items[i];
        /* BertForSequenceClassification's names: the encoder under "bert." */
        snprintf(names[i], sizeof names[i], "%s%s", strncmp(it->name, "classifier.", 11) ? "bert." : "",
                 it->name);
        st = attend_st_writer_add(w, names[i], ATTEND_DTYPE_F32, it->ndim, it->shape,
                                  attend_model_view(m, i), err);
    }
    if (!st) st = attend_st_writer_meta(w, "format", "pt", err);
    if (!st) {
        sprintf(p, "%s/model.safetensors", dir);
        st = attend_st_writer_save(w, p, err);
    }
    attend_st_writer_free(w);
    free(names);
    free(p);
    return st;
}

attend_status attend_model_export_hf(const attend_model *m, const char *dir, attend_error *err) {
    if (!m || !dir) return attend_errorf(err, ATTEND_ERR_ARG, "attend_model_export_hf: NULL argument");
    char why[400];
    if (not_exportable(m, why, sizeof why)) return attend_errorf(err, ATTEND_ERR_ARG, "%s", why);
    attend_status st;
    if ((st = attend_mkdir(dir, err)) || (st = write_weights(m, dir, err)) ||
        (st = write_config(m, dir, err)) || (st = write_tokenizer(m, dir, err)))
        return st;
    return ATTEND_OK;
}
