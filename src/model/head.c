/* The classification head: optional hidden layers, then the output layer.
 *   z_0 = u (the pooled vector, (B,E))
 *   z_j = dropout(relu(fc_j(z_{j-1})))      j = 1 .. n_hidden
 *   logits = out(z_last)                    (B,K)                           */
#include "model/model.h"
#include "base/rng.h"

#include <string.h>

/* Width of the head's layer j input (j = 0 is the pooled vector). */
static size_t head_width(const attend_model_config *c, size_t j) {
    return j == 0 ? c->d_model : c->hidden[j - 1];
}

void attend_head_forward(const attend_model_config *c, const attend_model_params *p,
                         attend_model_acts *a, size_t B, float p_drop, uint64_t seed) {
    const float *z = a->pooled;
    for (size_t j = 0; j < c->n_hidden; j++) {
        size_t in = head_width(c, j), out = c->hidden[j];
        attend_linear_forward(a->zpre[j], z, p->head_w[j], p->head_b[j], B, in, out);
        attend_relu_forward(a->z[j], a->zpre[j], B * out);
        attend_dropout_forward(a->z[j], a->z[j], B * out, p_drop, attend_seed_child(seed, j));
        z = a->z[j];
    }
    attend_linear_forward(a->logits, z, p->head_w[c->n_hidden], p->head_b[c->n_hidden], B,
                          head_width(c, c->n_hidden), c->num_classes);
}

const float *attend_head_backward(const attend_model_config *c, const attend_model_params *p,
                                  attend_model_params *g, attend_model_acts *a, size_t B,
                                  float p_drop, uint64_t seed) {
    // last layer first: dz ping-pongs between dz0 and dz1
    const float *dcur = a->dlogits;
    float *dbufs[2] = {a->dz0, a->dz1};
    for (size_t j = c->n_hidden + 1; j-- > 0;) {
        size_t in = head_width(c, j), out = j < c->n_hidden ? c->hidden[j] : c->num_classes;
        const float *zin = j == 0 ? a->pooled : a->z[j - 1];
        float *dz = dbufs[j % 2];
        memset(dz, 0, B * in * sizeof(float));
        attend_linear_backward(dz, g->head_w[j], g->head_b[j], dcur, zin, p->head_w[j], B, in,
                               out);
        if (j > 0) {
            // z_{j-1} = dropout(relu(zpre_{j-1})): in place on dz
            size_t n = B * in;
            attend_dropout_forward(dz, dz, n, p_drop, attend_seed_child(seed, j - 1));
            for (size_t i = 0; i < n; i++)
                if (!(a->zpre[j - 1][i] > 0.0f)) dz[i] = 0.0f;
        }
        dcur = dz;
    }
    return dcur;
}
