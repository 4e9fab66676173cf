/* Layer norm over the last dimension, as nn.LayerNorm (biased variance). */
#include "attend.h"
#include "base/parallel.h"
#include <math.h>

void attend_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                              const float *weight, const float *bias,
                              size_t N, size_t C, float eps) {
    // inp (N,C), weight (C), bias (C) -> out (N,C), mean (N), rstd (N)
    ATTEND_OMP(parallel for if (N * C > 8192))
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        float *y = out + n * C;
        /* Two passes (mean, then squared deviations: robust when the mean
         * is large relative to the spread), each with 16 partial sums in a
         * fixed order so the loops vectorise and the bits never vary. */
        float acc[16] = {0};
        size_t c = 0;
        for (; c + 16 <= C; c += 16)
            for (int j = 0; j < 16; j++) acc[j] += x[c + j];
        double m = 0.0;
        for (; c < C; c++) m += x[c];
        for (int j = 0; j < 16; j++) m += acc[j];
        m /= (double)C;
        const float mf0 = (float)m;
        for (int j = 0; j < 16; j++) acc[j] = 0.0f;
        for (c = 0; c + 16 <= C; c += 16)
            for (int j = 0; j < 16; j++) {
                float d = x[c + j] - mf0;
                acc[j] += d * d;
            }
        double v = 0.0;
        for (; c < C; c++) {
            float d = x[c] - mf0;
            v += d * d;
        }
        for (int j = 0; j < 16; j++) v += acc[j];
        v /= (double)C;
        float s = (float)(1.0 / sqrt(v + (double)eps));
        for (c = 0; c < C; c++) {
            float xn = (x[c] - mf0) * s;
            y[c] = xn * (weight ? weight[c] : 1.0f) + (bias ? bias[c] : 0.0f);
        }
        if (mean) mean[n] = mf0;
        if (rstd) rstd[n] = s;
    }
}

void attend_layernorm_backward(float *dinp, float *dweight, float *dbias,
                               const float *dout, const float *inp, const float *weight,
                               const float *mean, const float *rstd, size_t N, size_t C) {
    // dout (N,C); with xn = (x - mean) * rstd and y = xn * w + b:
    //   dbias += sum_n dy;  dweight += sum_n dy * xn
    //   dx = rstd * (g - mean_c(g) - xn * mean_c(g * xn)),  g = dy * w
    if (dweight || dbias) {
        /* Columns in blocks of 64 walking the rows in order: contiguous
         * reads, and each column still sums its rows n = 0, 1, ... */
        enum { CB = 64 };
        const size_t nblk = (C + CB - 1) / CB;
        ATTEND_OMP(parallel for if (N * C > 8192 && nblk > 1))
        for (size_t blk = 0; blk < nblk; blk++) {
            const size_t c0 = blk * CB, w = C - c0 < CB ? C - c0 : CB;
            float dw[CB] = {0}, db[CB] = {0};
            for (size_t n = 0; n < N; n++) {
                const float *x = inp + n * C + c0, *dy = dout + n * C + c0;
                const float m = mean[n], r = rstd[n];
                for (size_t j = 0; j < w; j++) {
                    float xn = (x[j] - m) * r;
                    dw[j] += dy[j] * xn;
                    db[j] += dy[j];
                }
            }
            for (size_t j = 0; j < w; j++) {
                if (dweight) dweight[c0 + j] += dw[j];
                if (dbias) dbias[c0 + j] += db[j];
            }
        }
    }
    if (!dinp) return;
    ATTEND_OMP(parallel for if (N * C > 8192))
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C, *dy = dout + n * C;
        float *dx = dinp + n * C;
        float m = mean[n], s = rstd[n];
        float g_mean = 0.0f, gx_mean = 0.0f;
        for (size_t c = 0; c < C; c++) {
            float g = dy[c] * (weight ? weight[c] : 1.0f);
            g_mean += g;
            gx_mean += g * (x[c] - m) * s;
        }
        g_mean /= (float)C;
        gx_mean /= (float)C;
        for (size_t c = 0; c < C; c++) {
            float g = dy[c] * (weight ? weight[c] : 1.0f);
            float xn = (x[c] - m) * s;
            dx[c] += s * (g - g_mean - xn * gx_mean);
        }
    }
}
