/* Named parameter views carved from one float block. A module's layout
 * function is the single place that knows its tensors' names and shapes;
 * checkpoints, model files, weight decay and gradients all walk this list. */
#include "nn/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float *attend_layout_take(attend_layout *L, const char *prefix, const char *name,
                          size_t d0, size_t d1, int no_decay) {
    size_t numel = d1 ? d0 * d1 : d0;
    size_t offset = L->total;
    if (L->resolve) {
        char full[ATTEND_NAME_MAX];
        snprintf(full, sizeof full, "%s%s", prefix ? prefix : "", name);
        L->total += numel;
        return L->resolve(L->resolve_ctx, full);
    }
    if (!L->base) {
        /* Sizing pass: record the entry. */
        if (L->count == L->cap) {
            size_t cap = L->cap ? 2 * L->cap : 32;
            attend_param_info *items = realloc(L->items, cap * sizeof *items);
            if (!items) {
                L->failed = 1;
                L->total += numel;
                return NULL;
            }
            L->items = items;
            L->cap = cap;
        }
        attend_param_info *it = &L->items[L->count++];
        memset(it, 0, sizeof *it);
        snprintf(it->name, sizeof it->name, "%s%s", prefix ? prefix : "", name);
        it->ndim = d1 ? 2 : 1;
        it->shape[0] = d0;
        it->shape[1] = d1;
        it->offset = offset;
        it->numel = numel;
        it->no_decay = no_decay;
    }
    L->total += numel;
    return L->base ? L->base + offset : NULL;
}

void attend_layout_free(attend_layout *L) {
    free(L->items);
    memset(L, 0, sizeof *L);
}

long attend_layout_find(const attend_layout *L, const char *name) {
    for (size_t i = 0; i < L->count; i++)
        if (strcmp(L->items[i].name, name) == 0) return (long)i;
    return -1;
}
