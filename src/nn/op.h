/* `attend op`: run one module on tensors read from safetensors files, so that
 * attend can be checked against any other implementation (op.c). */
#ifndef ATTEND_OP_H
#define ATTEND_OP_H

#include "attend.h"

typedef struct {
    size_t heads;                 /* H (required) */
    int causal;                   /* mha only: causal mask */
    attend_activation activation; /* encoder-layer only */
    int norm_first;               /* encoder-layer only */
    float layer_norm_eps;         /* encoder-layer only; default 1e-5 */
} attend_op_options;

/* nn.MultiheadAttention (batch_first) on the tensors of input_path with the
 * weights of weights_path; writes output, attn_weights and, when the input
 * holds grad_output, grad_query [grad_key grad_value] and grad.NAME. */
attend_status attend_op_mha(const char *weights_path, const char *input_path,
                            const char *out_path, const attend_op_options *opt,
                            attend_error *err);

/* nn.TransformerEncoderLayer (batch_first, dropout off) likewise: reads src,
 * optional src_key_padding_mask and grad_output; writes output, and
 * grad_src and grad.NAME when grad_output is given. */
attend_status attend_op_encoder_layer(const char *weights_path, const char *input_path,
                                      const char *out_path, const attend_op_options *opt,
                                      attend_error *err);

#endif
