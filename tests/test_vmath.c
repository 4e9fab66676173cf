/* The vectorisable math of src/kernels/vmath.h and the GELU kernels built
 * on it, against double precision (libm's erfc and exp) on a dense grid:
 *   - attend_vexpf: relative error <= 4e-7 over [-87, 88], 0 below, NaN kept;
 *   - attend_vnormal_cdf over [-13, 13]: relative error <= 4e-7 for x >= 0
 *     and <= 4e-7 (1 + x^2) left of 0 (exp's argument, about -x^2/2, is a
 *     float rounded to its own ulp), down to Phi(-13) = 6e-39 where
 *     1 + erf(x / sqrt 2) would have lost every digit (2e-6 at x = -2,
 *     1e-5 at x = -5); exactly 1 far right;
 *   - attend_gelu_forward / attend_gelu_backward (x Phi(x) and
 *     Phi(x) + x phi(x)): the same bounds on every element of the grid
 *     (the loops run the dispatched, vectorised clones), relative to the
 *     value for the forward and to |Phi| + |x phi| for the backward (which
 *     crosses 0 near x = -0.75);
 *   - the special values: gelu(0) = 0, gelu(+inf) = +inf, NaN -> NaN. */
#include "kernels/vmath.h"
#include "attend.h"
#include "test.h"

#include <math.h>

/* |got - want| / scale, 0 when the difference is below floor_abs */
static double rel_err(double got, double want, double scale, double floor_abs) {
    double d = fabs(got - want);
    if (d <= floor_abs) return 0.0;
    return d / scale;
}

/* The bound at x: 4e-7 from 0 up; left of 0, 4e-7 (1 + x^2), since exp's
 * argument there, about -x^2/2, is a float rounded to its own ulp. */
static double bound(double x) { return x >= 0.0 ? 4e-7 : 4e-7 * (1.0 + x * x); }

/* worst error relative to its bound (<= 1 passes) and where */
typedef struct { double ratio, err, at; } worst_t;

static void note(worst_t *w, double err, double x) {
    if (err / bound(x) > w->ratio) w->ratio = err / bound(x), w->err = err, w->at = x;
}

static void test_exp(void) {
    double worst = 0.0, at = 0.0;
    for (double x = -87.0; x <= 88.0; x += 1.0 / 256.0) {
        const double want = exp((double)(float)x);
        const double e = rel_err(attend_vexpf((float)x), want, want, 0.0);
        if (e > worst) worst = e, at = x;
    }
    CHECK(worst <= 4e-7, "attend_vexpf: relative error %.3g at x = %g", worst, at);
    CHECK(attend_vexpf(-INFINITY) == 0.0f && attend_vexpf(-100.0f) == 0.0f, "exp of -inf / -100 is 0");
    CHECK(isnan(attend_vexpf(NAN)), "exp(NaN) is NaN");
    printf("attend_vexpf: worst relative error %.3g (at %g)\n", worst, at);
}

static void test_cdf(void) {
    worst_t w = {0};
    for (double x = -13.0; x <= 13.0; x += 1.0 / 1024.0) {
        const float xf = (float)x;
        const double want = 0.5 * erfc(-(double)xf / sqrt(2.0));
        note(&w, rel_err(attend_vnormal_cdf(xf), want, want, 1e-37), x);
    }
    CHECK(w.ratio <= 1.0, "attend_vnormal_cdf: relative error %.3g at x = %g", w.err, w.at);
    CHECK(attend_vnormal_cdf(20.0f) == 1.0f && attend_vnormal_cdf(INFINITY) == 1.0f, "Phi(far right) is 1");
    CHECK(attend_vnormal_cdf(-INFINITY) == 0.0f, "Phi(-inf) is 0");
    printf("attend_vnormal_cdf: worst relative error for its bound %.3g (at %g)\n", w.err, w.at);
}

#define N_GRID (26 * 1024 + 1)

static void test_gelu(void) {
    static float x[N_GRID], y[N_GRID], dy[N_GRID], ones[N_GRID];
    for (size_t i = 0; i < N_GRID; i++) {
        x[i] = -13.0f + (float)i / 1024.0f;
        ones[i] = 1.0f;
        dy[i] = 0.0f;
    }
    attend_gelu_forward(y, x, N_GRID);
    attend_gelu_backward(dy, ones, x, N_GRID);
    worst_t f = {0}, b = {0};
    for (size_t i = 0; i < N_GRID; i++) {
        const double xd = x[i], cdf = 0.5 * erfc(-xd / sqrt(2.0));
        const double pdf = exp(-0.5 * xd * xd) / sqrt(2.0 * 3.14159265358979323846);
        note(&f, rel_err(y[i], xd * cdf, fabs(xd * cdf), 1e-37), xd);
        note(&b, rel_err(dy[i], cdf + xd * pdf, cdf + fabs(xd * pdf), 1e-37), xd);
    }
    CHECK(f.ratio <= 1.0, "gelu forward: relative error %.3g at x = %g", f.err, f.at);
    CHECK(b.ratio <= 1.0, "gelu backward: relative error %.3g at x = %g", b.err, b.at);
    printf("gelu: worst relative error for its bound: forward %.3g (at %g), backward %.3g (at %g)\n",
           f.err, f.at, b.err, b.at);

    float s[3] = {0.0f, INFINITY, NAN}, o[3];
    attend_gelu_forward(o, s, 3);
    CHECK(o[0] == 0.0f && o[1] == INFINITY && isnan(o[2]), "gelu(0, inf, NaN) = %g %g %g", o[0], o[1], o[2]);
}

int main(void) {
    test_exp();
    test_cdf();
    test_gelu();
    return test_summary("test_vmath");
}
