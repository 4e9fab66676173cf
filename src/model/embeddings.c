/* Token + position embeddings, then dropout: the input of the encoder. */
#include "model/model.h"
#include "base/parallel.h"

// x (B,T,E) = dropout(tok_emb[tokens[b,t]] + pos[t]); tok_emb (V,E), pos (>=T,E)
void attend_embeddings_forward(float *x, const int32_t *tokens, const float *tok_emb,
                               const float *pos, size_t B, size_t T, size_t E, float p_drop,
                               uint64_t seed) {
    const size_t BT = B * T;
    ATTEND_OMP(parallel for if (BT * E > 65536))
    for (size_t bt = 0; bt < BT; bt++) {
        const float *e = tok_emb + (size_t)tokens[bt] * E;
        const float *pe = pos ? pos + (bt % T) * E : NULL;
        float *xr = x + bt * E;
        for (size_t i = 0; i < E; i++) xr[i] = e[i] + (pe ? pe[i] : 0.0f);
    }
    attend_dropout_forward(x, x, BT * E, p_drop, seed);
}

// dx (B,T,E) -> dropout backward (in place) -> scattered into the rows of
// dtok_emb (V,E) and dpos (>=T,E) that the real tokens used
void attend_embeddings_backward(float *dtok_emb, float *dpos, float *dx, const int32_t *tokens,
                                const uint8_t *pad, size_t B, size_t T, size_t E, float p_drop,
                                uint64_t seed) {
    const size_t BT = B * T;
    /* dropout's backward is the same mask and scale as its forward */
    attend_dropout_forward(dx, dx, BT * E, p_drop, seed);
    for (size_t bt = 0; bt < BT; bt++) {
        if (pad[bt]) continue;
        const float *d = dx + bt * E;
        float *ge = dtok_emb + (size_t)tokens[bt] * E;
        for (size_t i = 0; i < E; i++) ge[i] += d[i];
        if (dpos) {
            float *gp = dpos + (bt % T) * E;
            for (size_t i = 0; i < E; i++) gp[i] += d[i];
        }
    }
}
