/* Branch-free float math for loops that must vectorise: no calls into libm
 * (a call stops gcc from vectorising the loop, and the scalar erff / expf
 * calls were a sixth of a BERT encoder's time). Used by the attention's
 * softmax (sdpa.c) and the GELU activation (activation.c). */
#ifndef ATTEND_VMATH_H
#define ATTEND_VMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define ATTEND_INLINE inline __attribute__((always_inline))
#else
#define ATTEND_INLINE inline
#endif

/* exp(x): Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, and Cephes'
 * degree-6 polynomial for exp(r) (about 1 ulp from expf). Results below
 * 2^-126 flush to 0, so a masked score (-inf) gives exactly 0; NaN stays
 * NaN. No float-to-int conversion: n comes from the round-to-nearest magic
 * constant 1.5 * 2^23. */
static ATTEND_INLINE float attend_vexpf(float x) {
    const float magic = 12582912.0f;
    float xc = x > 88.0f ? 88.0f : x;
    xc = xc < -87.0f ? -87.0f : xc; /* NaN passes both */
    float t = xc * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = xc - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t tb, mb;
    memcpy(&tb, &t, 4);
    memcpy(&mb, &magic, 4);
    const uint32_t e = (tb - mb + 127u) << 23; /* the bits of 2^n, n in [-126, 127] */
    float scale;
    memcpy(&scale, &e, 4);
    const float y = p * scale;
    return x < -87.0f ? 0.0f : y;
}

/* Phi(x) = P(X <= x) for X standard normal = erfc(-x / sqrt 2) / 2, with
 * erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), z >= 0: the Chebyshev
 * fit of Numerical Recipes' erfcc (relative error below 1.2e-7 for every
 * z), so Phi keeps its relative accuracy in the far left tail too, where
 * 1 + erf(x / sqrt 2) would cancel. Measured against double precision in
 * tests/test_vmath.c. */
static ATTEND_INLINE float attend_vnormal_cdf(float x) {
    const float z = (x < 0.0f ? -x : x) * 0.70710678118654752f; /* |x| / sqrt 2 */
    const float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    const float half_erfc = 0.5f * t * attend_vexpf(p - z * z);
    return x < 0.0f ? half_erfc : 1.0f - half_erfc;
}

/* phi(x), the standard normal density exp(-x^2/2) / sqrt(2 pi). */
static ATTEND_INLINE float attend_vnormal_pdf(float x) {
    return 0.3989422804014327f * attend_vexpf(-0.5f * x * x);
}

#endif
