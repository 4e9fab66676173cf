/* Classification metrics from a confusion matrix. */
#ifndef ATTEND_METRICS_H
#define ATTEND_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* confusion[true * K + predicted] counts, and what follows from it. */
typedef struct {
    size_t K;
    size_t *confusion;  /* (K,K) */
    size_t n;           /* examples counted */
    double loss_sum;    /* sum of per-example losses */
    /* filled by attend_metrics_finish: */
    double loss, accuracy, macro_f1;
    double *precision, *recall, *f1; /* (K) */
    size_t *support;                 /* (K) true examples per class */
} attend_metrics;

/* Zeroed metrics for K classes; 0 on success, -1 when out of memory. */
int attend_metrics_init(attend_metrics *mt, size_t K);
void attend_metrics_free(attend_metrics *mt);
void attend_metrics_reset(attend_metrics *mt);

/* Counts one example. */
void attend_metrics_add(attend_metrics *mt, int32_t truth, int32_t predicted, double loss);

/* Computes loss (mean), accuracy, per-class precision/recall/F1 (0 where
 * undefined) and macro-F1 (mean over classes with support or predictions). */
void attend_metrics_finish(attend_metrics *mt);

#endif
