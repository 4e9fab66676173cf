/* The training log (attend train --log): one JSON object per epoch, and
 * its reader (attend report --log draws the curves from it). */
#include "attend_train.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

void attend_train_log_line(const attend_epoch_report *r, char *out, size_t cap) {
    char val[160] = "\"val_loss\":null,\"val_accuracy\":null,\"val_macro_f1\":null";
    if (r->has_val)
        snprintf(val, sizeof val, "\"val_loss\":%.6g,\"val_accuracy\":%.6g,\"val_macro_f1\":%.6g",
                 r->val_loss, r->val_accuracy, r->val_macro_f1);
    snprintf(out, cap,
             "{\"epoch\":%zu,\"step\":%zu,\"train_loss\":%.6g,%s,\"lr\":%.6g,\"seconds\":%.3f,"
             "\"tokens_per_s\":%.1f,\"saved\":%s}\n",
             r->epoch, r->step, r->train_loss, val, r->lr, r->seconds, r->tokens_per_s,
             r->improved ? "true" : "false");
}

attend_status attend_train_log_read(const char *path, attend_epoch_report **out, size_t *n,
                                    attend_error *err) {
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return attend_errorf(err, ATTEND_ERR_IO, "cannot open the training log %s", path);
    attend_line_reader lr;
    attend_status st = attend_line_reader_init(&lr, f, path, 0, err);
    if (st) {
        fclose(f);
        return st;
    }
    size_t cap = 0;
    for (;;) {
        const char *line;
        size_t len;
        int too_long;
        if ((st = attend_line_reader_next(&lr, &line, &len, &too_long, err))) break;
        if (!line) break;
        if (len == 0) continue;
        cJSON *o = cJSON_ParseWithLength(line, len);
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(o, "epoch");
        if (!cJSON_IsNumber(ep)) {
            cJSON_Delete(o);
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s:%zu: not a line of attend train --log (no \"epoch\")",
                               path, lr.line_no);
            break;
        }
        attend_epoch_report r = {0};
        r.epoch = (size_t)ep->valuedouble;
        if (*n && r.epoch <= (*out)[*n - 1].epoch) *n = 0; /* a new run starts */
#define NUM(key, field)                                                   \
    do {                                                                  \
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);        \
        if (cJSON_IsNumber(x)) field = x->valuedouble;                    \
    } while (0)
        double step = 0;
        NUM("train_loss", r.train_loss);
        NUM("lr", r.lr);
        NUM("seconds", r.seconds);
        NUM("tokens_per_s", r.tokens_per_s);
        NUM("step", step);
        r.step = (size_t)step;
        const cJSON *vl = cJSON_GetObjectItemCaseSensitive(o, "val_loss");
        if (cJSON_IsNumber(vl)) {
            r.has_val = 1;
            NUM("val_loss", r.val_loss);
            NUM("val_accuracy", r.val_accuracy);
            NUM("val_macro_f1", r.val_macro_f1);
        }
#undef NUM
        cJSON_Delete(o);
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            attend_epoch_report *p = realloc(*out, cap * sizeof *p);
            if (!p) {
                st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
                break;
            }
            *out = p;
        }
        (*out)[(*n)++] = r;
    }
    attend_line_reader_free(&lr);
    fclose(f);
    for (size_t i = 0; i < *n; i++) (*out)[i].epochs = *n;
    return st;
}
