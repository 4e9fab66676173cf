/* Pooling: the token states of a text -> one vector. Padding never counts.
 * mean / cls / max, and BERT's pooler (a dense layer with tanh on [CLS]). */
#include "model/model.h"
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

// u (B,E) = mean | max over the real tokens of h (B,T,E), or h[b,0] (cls)
void attend_pool_forward(float *u, const float *h, const uint8_t *pad, size_t B, size_t T,
                         size_t E, attend_pool_kind kind) {
    for (size_t b = 0; b < B; b++) {
        float *ub = u + b * E;
        const float *hb = h + b * T * E;
        const uint8_t *pb = pad + b * T;
        if (kind == ATTEND_POOL_CLS) {
            memcpy(ub, hb, E * sizeof(float));
            continue;
        }
        size_t n = 0;
        for (size_t i = 0; i < E; i++) ub[i] = kind == ATTEND_POOL_MAX ? -INFINITY : 0.0f;
        for (size_t t = 0; t < T; t++) {
            if (pb[t]) continue;
            n++;
            for (size_t i = 0; i < E; i++) {
                float x = hb[t * E + i];
                if (kind == ATTEND_POOL_MAX) ub[i] = x > ub[i] ? x : ub[i];
                else ub[i] += x;
            }
        }
        for (size_t i = 0; i < E; i++) {
            if (n == 0) ub[i] = 0.0f;
            else if (kind == ATTEND_POOL_MEAN) ub[i] /= (float)n;
        }
    }
}

// dh (B,T,E) overwritten from du (B,E)
void attend_pool_backward(float *dh, const float *du, const float *h, const float *u,
                          const uint8_t *pad, size_t B, size_t T, size_t E,
                          attend_pool_kind kind) {
    memset(dh, 0, B * T * E * sizeof(float));
    for (size_t b = 0; b < B; b++) {
        const float *dub = du + b * E;
        const uint8_t *pb = pad + b * T;
        float *dhb = dh + b * T * E;
        if (kind == ATTEND_POOL_CLS) {
            memcpy(dhb, dub, E * sizeof(float));
            continue;
        }
        size_t n = 0;
        for (size_t t = 0; t < T; t++) n += !pb[t];
        if (n == 0) continue;
        if (kind == ATTEND_POOL_MEAN) {
            for (size_t t = 0; t < T; t++)
                if (!pb[t])
                    for (size_t i = 0; i < E; i++) dhb[t * E + i] = dub[i] / (float)n;
        } else {
            // max: the gradient goes to the first real token holding the max
            const float *ub = u + b * E, *hb = h + b * T * E;
            for (size_t i = 0; i < E; i++)
                for (size_t t = 0; t < T; t++)
                    if (!pb[t] && hb[t * E + i] == ub[i]) {
                        dhb[t * E + i] = dub[i];
                        break;
                    }
        }
    }
}

/* ---- BERT's pooler: a dense layer and tanh on the first token ---- */

// u (B,E) = tanh(h[b,0] w^T + bias); h (B,T,E) read with row stride T*E
void attend_pooler_forward(float *u, const float *h, const float *w, const float *bias,
                           size_t B, size_t T, size_t E) {
    for (size_t b = 0; b < B; b++) memcpy(u + b * E, bias, E * sizeof(float));
    attend_gemm(0, 1, B, E, E, 1.0f, h, T * E, w, E, 1.0f, u, E);
    for (size_t i = 0; i < B * E; i++) u[i] = tanhf(u[i]);
}

void attend_pooler_backward(float *dh, float *dw, float *dbias, float *du, const float *h,
                            const float *u, const float *w, size_t B, size_t T, size_t E) {
    // u = tanh(z): dz = du (1 - u^2), in place
    for (size_t i = 0; i < B * E; i++) du[i] *= 1.0f - u[i] * u[i];
    // z = h0 w^T + bias: dw += dz^T h0, dbias += sum_b dz, dh0 = dz w
    if (dw) attend_gemm(1, 0, E, E, B, 1.0f, du, E, h, T * E, 1.0f, dw, E);
    if (dbias)
        for (size_t b = 0; b < B; b++)
            for (size_t i = 0; i < E; i++) dbias[i] += du[b * E + i];
    memset(dh, 0, B * T * E * sizeof(float));
    attend_gemm(0, 0, B, E, E, 1.0f, du, E, w, E, 0.0f, dh, T * E);
}
