/* Named parameter views carved from one float block. A module's layout
 * function is the single place that knows its tensors' names and shapes;
 * model files, checkpoints, weight decay and gradients all walk this list.
 * Layout functions are called twice: once with base == NULL to collect
 * names, shapes and the total size, then with base (or resolve) set to bind
 * the views. */
#ifndef ATTEND_NN_LAYOUT_H
#define ATTEND_NN_LAYOUT_H

#include "attend.h"

#include <stddef.h>

#define ATTEND_NAME_MAX 128
typedef struct {
    char name[ATTEND_NAME_MAX];
    size_t ndim;
    size_t shape[2];
    size_t offset; /* in floats from base */
    size_t numel;
    int no_decay;  /* biases, norms, embeddings: no weight decay */
} attend_param_info;

typedef struct {
    attend_param_info *items;
    size_t count, cap;
    size_t total;   /* floats so far */
    float *base;    /* NULL while sizing */
    int failed;     /* an allocation of the list failed */
    /* Binding to views that do not lie in one block (a mapped file): when
     * set, each view is resolve(resolve_ctx, full name) and nothing is
     * recorded. */
    float *(*resolve)(void *ctx, const char *name);
    void *resolve_ctx;
} attend_layout;

/* Registers prefix+name with shape (d0) or (d0,d1) (d1 = 0 for 1-D) and
 * returns its view (NULL while sizing). */
float *attend_layout_take(attend_layout *L, const char *prefix, const char *name,
                          size_t d0, size_t d1, int no_decay);
/* Frees the list. */
void attend_layout_free(attend_layout *L);
/* Index of a name, or -1. */
long attend_layout_find(const attend_layout *L, const char *name);

/* Parameter layouts of the modules, PyTorch names under prefix. */
void attend_mha_layout(attend_layout *L, const char *prefix, const attend_mha_config *cfg,
                       attend_mha_params *p);
void attend_encoder_layer_layout(attend_layout *L, const char *prefix,
                                 const attend_encoder_config *cfg,
                                 attend_encoder_layer_params *p);

#endif
