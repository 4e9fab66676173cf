/* The model handle a reload swaps: reference-counted, so a request keeps
 * the model it was admitted with (and a worker's context keeps the model it
 * was made for) until it lets go, whatever was swapped in meanwhile. */
#include "serve/serve.h"

#include "model/model.h"

#include <stdlib.h>

serve_model *serve_model_new(attend_model *m, uint64_t generation) {
    serve_model *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->model = m;
    atomic_init(&h->refs, 1);
    h->generation = generation;
    h->max_len = attend_model_get_config(m)->max_len;
    h->n_special = attend_model_n_special(m);
    return h;
}

serve_model *serve_model_ref(serve_model *m) {
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void serve_model_unref(serve_model *m) {
    if (!m) return;
    /* acq_rel: every use of the model by the other holders happens before
     * the last holder frees it */
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
    attend_model_free(m->model);
    free(m);
}

void serve_slot_init(serve_model_slot *s) {
    pthread_mutex_init(&s->lock, NULL);
    s->current = NULL;
}

serve_model *serve_slot_get(serve_model_slot *s) {
    pthread_mutex_lock(&s->lock);
    serve_model *m = s->current ? serve_model_ref(s->current) : NULL;
    pthread_mutex_unlock(&s->lock);
    return m;
}

void serve_slot_swap(serve_model_slot *s, serve_model *m) {
    pthread_mutex_lock(&s->lock);
    serve_model *old = s->current;
    s->current = m;
    pthread_mutex_unlock(&s->lock);
    serve_model_unref(old);
}

void serve_slot_destroy(serve_model_slot *s) {
    serve_slot_swap(s, NULL);
    pthread_mutex_destroy(&s->lock);
}
