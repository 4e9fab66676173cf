/* Attention internals shared with multi-head attention and training. */
#ifndef ATTEND_ATTENTION_SDPA_H
#define ATTEND_ATTENTION_SDPA_H

#include "attend.h"

/* attend_sdpa_backward_fused given also the forward's output out (B,L,H*D):
 * then sum_s P_s dP_s = dout . out, and long rows are done in key blocks
 * (O(QB * KB) scratch) instead of whole (O(QB * S)). out NULL: as
 * attend_sdpa_backward_fused. */
void attend_sdpa_backward_fused_out(float *dq, float *dk, float *dv, const float *dout,
                                    const float *out, const float *q, const float *k,
                                    const float *v, const float *lse, const attend_mask *mask,
                                    size_t B, size_t H, size_t L, size_t S, size_t D,
                                    float dropout_p, uint64_t seed);

/* 1 when attention at this head dim runs the kernel with queries across the
 * vector lanes (sdpa.c), whose fused backward recomputes the weights
 * faster than they could be read back: training then runs fused. */
int attend_sdpa_lane_kernel(size_t head_dim);

#endif
