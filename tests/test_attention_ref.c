/* Scaled dot-product attention against a plain double-precision reference at
 * sizes the small gradient and parity cases do not reach (S >= 16 exercises
 * the blocked dot products), with every mask kind, dropout, a NaN in padded
 * keys, and head dims 8 and 64. Sequences longer than the fused path's key
 * block (512) check its online softmax, forward and backward. */
#include "attend.h"
#include "attention/sdpa.h"
#include "test.h"

#include <math.h>
#include <stdint.h>

/* The library's dropout stream, written out again here: murmur3's 32-bit
 * finaliser on seed32 + i * golden (+ the high half of i). */
static float ref_uniform(uint64_t seed, uint64_t i) {
    uint32_t x = (uint32_t)(seed ^ (seed >> 32)) + (uint32_t)i * 0x9E3779B9u +
                 (uint32_t)(i >> 32) * 0x7F4A7C15u;
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    x *= 0xC2B2AE35u;
    x ^= x >> 16;
    return (float)(x >> 8) * (1.0f / 16777216.0f);
}
static int ref_dropped(uint64_t seed, uint64_t i, float p) { return ref_uniform(seed, i) < p; }

/* The stream behaves like independent draws: the dropped fraction is p,
 * neighbouring counters and neighbouring seeds are uncorrelated, and
 * counters 2^32 apart differ. */
static void dropout_stream_stats(void) {
    const size_t n = 1u << 20;
    const float p = 0.1f;
    size_t drop = 0, both_next = 0, both_seed = 0, same_hi = 0;
    double mean = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float u = ref_uniform(77, i);
        mean += u;
        const int d = u < p;
        drop += d;
        both_next += d && ref_dropped(77, i + 1, p);
        both_seed += d && ref_dropped(78, i, p);
        same_hi += ref_uniform(77, i) == ref_uniform(77, i + ((uint64_t)1 << 32));
    }
    const double f = (double)drop / (double)n, sd = sqrt(p * (1 - p) / (double)n);
    CHECK(fabs(f - p) < 5 * sd, "dropped fraction %.5f, expected %.2f", f, p);
    CHECK(fabs(mean / (double)n - 0.5) < 0.002, "mean uniform %.5f", mean / (double)n);
    const double pp = (double)p * p, sd2 = sqrt(pp * (1 - pp) / (double)n);
    CHECK(fabs((double)both_next / (double)n - pp) < 5 * sd2, "neighbours both dropped %.5f",
          (double)both_next / (double)n);
    CHECK(fabs((double)both_seed / (double)n - pp) < 5 * sd2, "seeds 77/78 both dropped %.5f",
          (double)both_seed / (double)n);
    CHECK(same_hi < n / 1000, "%zu of %zu draws repeat 2^32 counters later", same_hi, n);
}

typedef struct {
    size_t B, H, L, S, D;
    int pad, causal, bool2d, float2d;
    float drop;
    int nan_in_pad;
} ref_case;

static int ref_allowed(const ref_case *c, const uint8_t *pad, const uint8_t *bm, const float *fm,
                       size_t b, size_t l, size_t s) {
    if (pad && pad[b * c->S + s]) return 0;
    if (bm && bm[l * c->S + s]) return 0;
    if (fm && fm[l * c->S + s] == -INFINITY) return 0;
    if (c->causal && s > l) return 0;
    return 1;
}

static void run_case(const ref_case *c, const char *name) {
    const size_t B = c->B, H = c->H, L = c->L, S = c->S, D = c->D, E = H * D;
    float *q = malloc(B * L * E * 4), *k = malloc(B * S * E * 4), *v = malloc(B * S * E * 4);
    float *out = malloc(B * L * E * 4), *probs = malloc(B * H * L * S * 4);
    float *dout = malloc(B * L * E * 4), *dq = calloc(B * L * E, 4), *dk = calloc(B * S * E, 4),
          *dv = calloc(B * S * E, 4);
    double *rdq = calloc(B * L * E, 8), *rdk = calloc(B * S * E, 8), *rdv = calloc(B * S * E, 8);
    uint8_t *pad = c->pad ? calloc(B * S, 1) : NULL, *bm = c->bool2d ? calloc(L * S, 1) : NULL;
    float *fm = c->float2d ? calloc(L * S, 4) : NULL;
    test_fill_randn(q, B * L * E, 1.0f);
    test_fill_randn(k, B * S * E, 1.0f);
    test_fill_randn(v, B * S * E, 1.0f);
    test_fill_randn(dout, B * L * E, 1.0f);
    if (pad && c->pad == 2) /* the first keys: with causal, the first queries see none */
        for (size_t b = 0; b < B; b++)
            for (size_t s = 0; s <= b * 5; s++) pad[b * S + s] = 1;
    else if (pad)
        for (size_t b = 0; b < B; b++)
            for (size_t s = S - 1 - b * 5; s < S; s++) pad[b * S + s] = 1;
    if (bm)
        for (size_t i = 0; i < L * S; i++) bm[i] = (i * 7) % 11 == 0;
    if (fm)
        for (size_t i = 0; i < L * S; i++) fm[i] = (i % 13 == 0) ? -INFINITY : 0.1f * (float)(i % 5);
    if (c->nan_in_pad && pad)
        for (size_t b = 0; b < B; b++)
            for (size_t s = 0; s < S; s++)
                if (pad[b * S + s])
                    for (size_t e = 0; e < E; e++) k[(b * S + s) * E + e] = v[(b * S + s) * E + e] = NAN;
    attend_mask m = {pad, bm, fm, 0, c->causal};
    const uint64_t seed = 77;
    attend_sdpa_forward(out, probs, q, k, v, &m, B, H, L, S, D, c->drop, seed);
    attend_sdpa_backward(dq, dk, dv, dout, q, k, v, probs, &m, B, H, L, S, D, c->drop, seed);

    double worst_o = 0, worst_p = 0, scale_o = 1e-6;
    double *pr = malloc(S * 8), *dp = malloc(S * 8);
    const double sc = 1.0 / sqrt((double)D), keep = c->drop > 0 ? 1.0 / (1.0 - c->drop) : 1.0;
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t l = 0; l < L; l++) {
                const float *ql = q + (b * L + l) * E + h * D, *dol = dout + (b * L + l) * E + h * D;
                double mx = -INFINITY;
                for (size_t s = 0; s < S; s++) {
                    pr[s] = -INFINITY;
                    if (!ref_allowed(c, pad, bm, fm, b, l, s)) continue;
                    double x = 0;
                    for (size_t d = 0; d < D; d++) x += (double)ql[d] * k[(b * S + s) * E + h * D + d];
                    pr[s] = x * sc + (fm ? fm[l * S + s] : 0.0);
                    mx = pr[s] > mx ? pr[s] : mx;
                }
                double sum = 0;
                for (size_t s = 0; s < S; s++) {
                    pr[s] = mx == -INFINITY || pr[s] == -INFINITY ? 0.0 : exp(pr[s] - mx);
                    sum += pr[s];
                }
                for (size_t s = 0; s < S; s++) {
                    if (sum > 0) pr[s] /= sum;
                    double got = probs[((b * H + h) * L + l) * S + s];
                    worst_p = fmax(worst_p, fabs(got - pr[s]));
                }
                size_t base = ((b * H + h) * L + l) * S;
                double rowdot = 0;
                for (size_t d = 0; d < D; d++) {
                    double o = 0;
                    for (size_t s = 0; s < S; s++) {
                        if (pr[s] == 0 || (c->drop > 0 && ref_dropped(seed, base + s, c->drop))) continue;
                        o += pr[s] * keep * v[(b * S + s) * E + h * D + d];
                    }
                    scale_o = fmax(scale_o, fabs(o));
                    worst_o = fmax(worst_o, fabs(o - out[(b * L + l) * E + h * D + d]));
                }
                for (size_t s = 0; s < S; s++) {
                    dp[s] = 0;
                    if (pr[s] == 0 || (c->drop > 0 && ref_dropped(seed, base + s, c->drop))) continue;
                    for (size_t d = 0; d < D; d++) {
                        dp[s] += keep * (double)dol[d] * v[(b * S + s) * E + h * D + d];
                        rdv[(b * S + s) * E + h * D + d] += keep * pr[s] * dol[d];
                    }
                    rowdot += pr[s] * dp[s];
                }
                for (size_t s = 0; s < S; s++) {
                    if (pr[s] == 0) continue;
                    double ds = pr[s] * (dp[s] - rowdot) * sc;
                    for (size_t d = 0; d < D; d++) {
                        rdq[(b * L + l) * E + h * D + d] += ds * k[(b * S + s) * E + h * D + d];
                        rdk[(b * S + s) * E + h * D + d] += ds * ql[d];
                    }
                }
            }
    double wq = 0, wk = 0, wv = 0, sq = 1e-6, sk = 1e-6, sv = 1e-6;
    int finite = 1;
    for (size_t i = 0; i < B * L * E; i++) {
        wq = fmax(wq, fabs(dq[i] - rdq[i]));
        sq = fmax(sq, fabs(rdq[i]));
        finite &= isfinite(dq[i]) && isfinite(out[i]);
    }
    for (size_t i = 0; i < B * S * E; i++) {
        wk = fmax(wk, fabs(dk[i] - rdk[i]));
        sk = fmax(sk, fabs(rdk[i]));
        wv = fmax(wv, fabs(dv[i] - rdv[i]));
        sv = fmax(sv, fabs(rdv[i]));
        finite &= isfinite(dk[i]) && isfinite(dv[i]);
    }
    printf("%-34s out %.1e  probs %.1e  dq %.1e  dk %.1e  dv %.1e\n", name, worst_o / scale_o,
           worst_p, wq / sq, wk / sk, wv / sv);
    CHECK(finite, "%s: non-finite output or gradient", name);
    CHECK(worst_o / scale_o < 1e-5 && worst_p < 1e-6, "%s: forward differs from the reference", name);
    CHECK(wq / sq < 1e-5 && wk / sk < 1e-5 && wv / sv < 1e-5, "%s: backward differs from the reference", name);

    // the fused path (no (B,H,L,S) array): same output, same gradients
    float *lse = malloc(B * H * L * 4), *out2 = malloc(B * L * E * 4);
    float *dq2 = calloc(B * L * E, 4), *dk2 = calloc(B * S * E, 4), *dv2 = calloc(B * S * E, 4);
    attend_sdpa_forward_fused(out2, lse, q, k, v, &m, B, H, L, S, D, c->drop, seed);
    attend_sdpa_backward_fused(dq2, dk2, dv2, dout, q, k, v, lse, &m, B, H, L, S, D, c->drop, seed);
    double fo = 0, fq = 0, fk = 0, fv = 0;
    finite = 1;
    for (size_t i = 0; i < B * L * E; i++) {
        fo = fmax(fo, fabs(out2[i] - out[i]));
        fq = fmax(fq, fabs(dq2[i] - rdq[i]));
        finite &= isfinite(out2[i]) && isfinite(dq2[i]);
    }
    for (size_t i = 0; i < B * S * E; i++) {
        fk = fmax(fk, fabs(dk2[i] - rdk[i]));
        fv = fmax(fv, fabs(dv2[i] - rdv[i]));
        finite &= isfinite(dk2[i]) && isfinite(dv2[i]);
    }
    printf("%-34s fused: out %.1e  dq %.1e  dk %.1e  dv %.1e\n", "", fo / scale_o, fq / sq, fk / sk, fv / sv);
    CHECK(finite, "%s fused: non-finite output or gradient", name);
    CHECK(fo / scale_o < (S > 512 ? 1e-5 : 1e-6), "%s fused: output differs from the unfused path", name);
    CHECK(fq / sq < 1e-5 && fk / sk < 1e-5 && fv / sv < 1e-5, "%s fused: backward differs from the reference", name);

    // the fused backward given the output (what multi-head attention calls):
    // rowdot from dout . out, and key blocks when S > 512
    float *dq3 = calloc(B * L * E, 4), *dk3 = calloc(B * S * E, 4), *dv3 = calloc(B * S * E, 4);
    attend_sdpa_backward_fused_out(dq3, dk3, dv3, dout, out2, q, k, v, lse, &m, B, H, L, S, D,
                                   c->drop, seed);
    double gq = 0, gk = 0, gv = 0;
    finite = 1;
    for (size_t i = 0; i < B * L * E; i++) {
        gq = fmax(gq, fabs(dq3[i] - rdq[i]));
        finite &= isfinite(dq3[i]);
    }
    for (size_t i = 0; i < B * S * E; i++) {
        gk = fmax(gk, fabs(dk3[i] - rdk[i]));
        gv = fmax(gv, fabs(dv3[i] - rdv[i]));
        finite &= isfinite(dk3[i]) && isfinite(dv3[i]);
    }
    printf("%-34s fused given out: dq %.1e  dk %.1e  dv %.1e\n", "", gq / sq, gk / sk, gv / sv);
    CHECK(finite, "%s fused given out: non-finite gradient", name);
    CHECK(gq / sq < 1e-5 && gk / sk < 1e-5 && gv / sv < 1e-5,
          "%s fused given out: backward differs from the reference", name);
    free(dq3); free(dk3); free(dv3);
    free(lse); free(out2); free(dq2); free(dk2); free(dv2);
    free(q); free(k); free(v); free(out); free(probs); free(dout); free(dq); free(dk); free(dv);
    free(rdq); free(rdk); free(rdv); free(pad); free(bm); free(fm); free(pr); free(dp);
}


/* Multi-head attention with fused activations (ATTEND_ACTS_FUSED) against the
 * ones that keep the weights: same output and gradients. */
static void mha_fused_vs_unfused(void) {
    const size_t B = 2, L = 45, E = 32, H = 4;
    attend_mha_config cfg = {E, H, 0, 0, 1, 0.1f};
    const size_t nw = 3 * E * E + 3 * E + E * E + E;
    float *w = malloc(nw * 4), *g1 = calloc(nw, 4), *g2 = calloc(nw, 4);
    test_fill_randn(w, nw, 0.2f);
    attend_mha_params p = {w, w + E * E, w + 2 * E * E, w + 3 * E * E, w + 3 * E * E + 3 * E,
                           w + 4 * E * E + 3 * E};
    attend_mha_params gp[2];
    float *gb[2] = {g1, g2};
    for (int i = 0; i < 2; i++) {
        float *g = gb[i];
        attend_mha_params t = {g, g + E * E, g + 2 * E * E, g + 3 * E * E, g + 3 * E * E + 3 * E,
                               g + 4 * E * E + 3 * E};
        gp[i] = t;
    }
    float *x = malloc(B * L * E * 4), *dout = malloc(B * L * E * 4);
    test_fill_randn(x, B * L * E, 1.0f);
    test_fill_randn(dout, B * L * E, 1.0f);
    uint8_t pad[2 * 45] = {0};
    for (size_t s = 40; s < L; s++) pad[L + s] = 1;
    attend_mask m = {pad, NULL, NULL, 0, 0};
    float *out[2], *dx[2];
    for (int i = 0; i < 2; i++) {
        int flags = ATTEND_ACTS_GRAD | (i ? ATTEND_ACTS_FUSED : 0);
        float *mem = malloc(attend_mha_acts_size(&cfg, B, L, L, flags) * 4);
        attend_mha_acts acts;
        attend_mha_acts_bind(&acts, &cfg, B, L, L, flags, mem);
        CHECK(i ? acts.probs == NULL && acts.lse != NULL : acts.probs != NULL, "acts layout for flags %d", flags);
        out[i] = malloc(B * L * E * 4);
        dx[i] = calloc(B * L * E, 4);
        attend_mha_forward(out[i], &acts, &cfg, &p, x, x, x, &m, B, L, L, 1, 5);
        attend_mha_backward(dx[i], dx[i], dx[i], &gp[i], &acts, dout, &cfg, &p, x, x, x, &m, B, L, L, 1, 5);
        free(mem);
    }
    double wo = 0, wx = 0, wg = 0, so = 1e-6, sx = 1e-6, sg = 1e-6;
    for (size_t i = 0; i < B * L * E; i++) {
        wo = fmax(wo, fabs(out[0][i] - out[1][i])); so = fmax(so, fabs(out[0][i]));
        wx = fmax(wx, fabs(dx[0][i] - dx[1][i])); sx = fmax(sx, fabs(dx[0][i]));
    }
    for (size_t i = 0; i < nw; i++) { wg = fmax(wg, fabs(g1[i] - g2[i])); sg = fmax(sg, fabs(g1[i])); }
    printf("mha fused vs unfused (dropout 0.1, padding): out %.1e  dx %.1e  dweights %.1e\n", wo / so, wx / sx, wg / sg);
    CHECK(wo / so < 1e-6 && wx / sx < 1e-5 && wg / sg < 1e-5, "mha: fused and unfused activations disagree");
    for (int i = 0; i < 2; i++) { free(out[i]); free(dx[i]); }
    free(w); free(g1); free(g2); free(x); free(dout);
}

int main(void) {
    attend_set_threads(2);
    dropout_stream_stats();
    run_case(&(ref_case){2, 3, 37, 70, 8, 0, 0, 0, 0, 0, 0}, "L37 S70 D8 no mask");
    run_case(&(ref_case){2, 2, 41, 41, 64, 1, 1, 0, 0, 0, 0}, "L41 S41 D64 padding+causal");
    run_case(&(ref_case){2, 2, 33, 50, 8, 1, 0, 1, 1, 0, 0}, "L33 S50 D8 pad+bool+float");
    run_case(&(ref_case){2, 2, 20, 48, 16, 1, 0, 0, 0, 0.2f, 0}, "L20 S48 D16 pad+dropout");
    run_case(&(ref_case){2, 2, 24, 40, 8, 1, 0, 0, 0, 0, 1}, "L24 S40 D8 NaN in padded keys");
    run_case(&(ref_case){1, 1, 3, 129, 8, 0, 1, 0, 0, 0, 0}, "L3 S129 D8 causal (L < S)");
    /* head dims up to 16 without a mask array take the kernel with queries
     * across the lanes; 17 and 64 the one with keys across them */
    run_case(&(ref_case){2, 2, 19, 23, 5, 1, 1, 0, 0, 0.1f, 0}, "L19 S23 D5 pad+causal+dropout");
    run_case(&(ref_case){2, 2, 21, 21, 8, 2, 1, 0, 0, 0.1f, 0},
             "L21 S21 D8 front pad+causal+dropout (queries with no key)");
    run_case(&(ref_case){2, 2, 18, 30, 17, 1, 0, 0, 0, 0, 0}, "L18 S30 D17 padding");
    /* longer than one key block of the fused path (512): online softmax */
    run_case(&(ref_case){1, 2, 40, 1100, 16, 1, 0, 1, 1, 0, 0}, "L40 S1100 D16 pad+bool+float");
    run_case(&(ref_case){1, 1, 1030, 1030, 8, 1, 1, 0, 0, 0.1f, 0}, "L1030 S1030 D8 pad+causal+drop");
    run_case(&(ref_case){2, 1, 33, 700, 8, 1, 0, 0, 0, 0, 1}, "L33 S700 D8 NaN in padded keys");
    mha_fused_vs_unfused();
    return test_summary("test_attention_ref");
}
