/* Token + position embeddings, then dropout: the input of the encoder; and
 * BERT's, which add token types and normalise before the dropout. */
#include "model/model.h"
#include "base/parallel.h"

#include <string.h>

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

/* ---- BERT's embeddings: three tables, then LayerNorm, then dropout ---- */

// emb (B,T,E) = word[tokens] + pos[t] + type[types]; x = dropout(LN(emb))
void attend_bert_embeddings_forward(float *x, float *emb, float *mean, float *rstd,
                                    const int32_t *tokens, const int32_t *types,
                                    const attend_model_params *p, size_t B, size_t T, size_t E,
                                    float eps, float p_drop, uint64_t seed) {
    const size_t BT = B * T;
    ATTEND_OMP(parallel for if (BT * E > 65536))
    for (size_t bt = 0; bt < BT; bt++) {
        const float *w = p->tok_emb + (size_t)tokens[bt] * E;
        const float *pe = p->pos_emb + (bt % T) * E;
        const float *te = p->type_emb + (size_t)(types ? types[bt] : 0) * E;
        float *er = emb + bt * E;
        /* (word + position) + type, in the order transformers adds them */
        for (size_t i = 0; i < E; i++) er[i] = (w[i] + te[i]) + pe[i];
    }
    attend_layernorm_forward(x, mean, rstd, emb, p->emb_norm_w, p->emb_norm_b, BT, E, eps);
    attend_dropout_forward(x, x, BT * E, p_drop, seed);
}

void attend_bert_embeddings_backward(attend_model_params *g, float *dx, float *demb,
                                     const int32_t *tokens, const int32_t *types,
                                     const uint8_t *pad, const attend_model_params *p,
                                     const float *emb, const float *mean, const float *rstd,
                                     size_t B, size_t T, size_t E, float p_drop, uint64_t seed) {
    const size_t BT = B * T;
    // x = dropout(xn): the same mask and scale, in place
    attend_dropout_forward(dx, dx, BT * E, p_drop, seed);
    // xn = LN(emb): demb
    memset(demb, 0, BT * E * sizeof(float));
    attend_layernorm_backward(demb, g->emb_norm_w, g->emb_norm_b, dx, emb, p->emb_norm_w, mean,
                              rstd, BT, E);
    // emb = word + pos + type: each real token's row into the three tables
    for (size_t bt = 0; bt < BT; bt++) {
        if (pad[bt]) continue;
        const float *d = demb + bt * E;
        float *gw = g->tok_emb + (size_t)tokens[bt] * E;
        float *gp = g->pos_emb + (bt % T) * E;
        float *gt = g->type_emb + (size_t)(types ? types[bt] : 0) * E;
        for (size_t i = 0; i < E; i++) {
            gw[i] += d[i];
            gp[i] += d[i];
            gt[i] += d[i];
        }
    }
}
