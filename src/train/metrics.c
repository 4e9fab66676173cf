/* Accuracy, per-class precision / recall / F1 and macro-F1 from a confusion
 * matrix, plus the mean loss. */
#include "attend_train.h"

#include <stdlib.h>
#include <string.h>

int attend_metrics_init(attend_metrics *mt, size_t K) {
    memset(mt, 0, sizeof *mt);
    mt->K = K;
    mt->confusion = calloc(K * K, sizeof(size_t));
    mt->support = calloc(K, sizeof(size_t));
    mt->precision = calloc(K, sizeof(double));
    mt->recall = calloc(K, sizeof(double));
    mt->f1 = calloc(K, sizeof(double));
    if (!mt->confusion || !mt->support || !mt->precision || !mt->recall || !mt->f1) {
        attend_metrics_free(mt);
        return -1;
    }
    return 0;
}

void attend_metrics_free(attend_metrics *mt) {
    free(mt->confusion);
    free(mt->support);
    free(mt->precision);
    free(mt->recall);
    free(mt->f1);
    memset(mt, 0, sizeof *mt);
}

void attend_metrics_reset(attend_metrics *mt) {
    memset(mt->confusion, 0, mt->K * mt->K * sizeof(size_t));
    mt->n = 0;
    mt->loss_sum = 0.0;
}

void attend_metrics_add(attend_metrics *mt, int32_t truth, int32_t predicted, double loss) {
    mt->confusion[(size_t)truth * mt->K + (size_t)predicted]++;
    mt->n++;
    mt->loss_sum += loss;
}

void attend_metrics_finish(attend_metrics *mt) {
    const size_t K = mt->K;
    size_t correct = 0, counted = 0;
    double f1_sum = 0.0;
    for (size_t k = 0; k < K; k++) {
        size_t tp = mt->confusion[k * K + k], row = 0, col = 0;
        for (size_t j = 0; j < K; j++) {
            row += mt->confusion[k * K + j];
            col += mt->confusion[j * K + k];
        }
        correct += tp;
        mt->support[k] = row;
        mt->precision[k] = col ? (double)tp / (double)col : 0.0;
        mt->recall[k] = row ? (double)tp / (double)row : 0.0;
        double pr = mt->precision[k] + mt->recall[k];
        mt->f1[k] = pr > 0.0 ? 2.0 * mt->precision[k] * mt->recall[k] / pr : 0.0;
        /* A class absent from both truth and predictions says nothing. */
        if (row || col) {
            f1_sum += mt->f1[k];
            counted++;
        }
    }
    mt->accuracy = mt->n ? (double)correct / (double)mt->n : 0.0;
    mt->loss = mt->n ? mt->loss_sum / (double)mt->n : 0.0;
    mt->macro_f1 = counted ? f1_sum / (double)counted : 0.0;
}
