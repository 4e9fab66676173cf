/* Parity with PyTorch: runs every case under tests/fixtures through attend_op_mha
 * or attend_op_encoder_layer and compares each expected tensor with attend's
 * output (format: tests/fixtures/README.md). Run from the repository root;
 * outputs go to $ATTEND_TMP/parity (default /tmp). Prints one line per case:
 * the case, its tensor with the worst relative error, and that error. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "attend.h"
#include "test.h"

#define FIXTURE_DIR "tests/fixtures"
#define MIN_CASES 15
#define TOL 1e-4

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* mkdir -p for a short path; returns 0 on success. */
static int make_dirs(const char *path) {
    char buf[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
            buf[i] = c;
        }
    }
    return is_dir(path) ? 0 : -1;
}

static float load_f32(const attend_st_tensor *t, size_t i) {
    float v;
    memcpy(&v, (const char *)t->data + i * sizeof(float), sizeof v);
    return v;
}

/* "(2,5,16)" */
static const char *shape_str(char *buf, size_t cap, const attend_st_tensor *t) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (size_t d = 0; d < t->ndim && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, d ? ",%zu" : "%zu", t->shape[d]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
    return buf;
}

/* Compares every tensor of expected with out; returns the worst relative error
 * (INFINITY on a missing tensor, shape or dtype mismatch, or NaN/Inf where the
 * expected value is finite) and its tensor's name through *worst_name. */
static double compare_case(const char *cname, const attend_st_file *expected,
                           const attend_st_file *out, const char **worst_name) {
    double worst = 0.0;
    *worst_name = "-";
    size_t n = attend_st_count(expected);
    CHECK(n > 0, "%s: expected.safetensors holds no tensor", cname);
    for (size_t ti = 0; ti < n; ti++) {
        const attend_st_tensor *e = attend_st_at(expected, ti);
        const attend_st_tensor *g = attend_st_find(out, e->name);
        double rel = INFINITY;
        CHECK(e->dtype == ATTEND_DTYPE_F32, "%s/%s: expected tensor is %s, not F32", cname,
              e->name, attend_dtype_name(e->dtype));
        CHECK(g != NULL, "%s: output lacks tensor %s", cname, e->name);
        if (g == NULL || e->dtype != ATTEND_DTYPE_F32) goto record;
        CHECK(g->dtype == ATTEND_DTYPE_F32, "%s/%s: output is %s, not F32", cname, e->name,
              attend_dtype_name(g->dtype));
        int same_shape = g->ndim == e->ndim;
        for (size_t d = 0; same_shape && d < e->ndim; d++) same_shape = g->shape[d] == e->shape[d];
        if (!same_shape) {
            char gs[128], es[128];
            CHECK(same_shape, "%s/%s: output shape %s, expected %s", cname, e->name,
                  shape_str(gs, sizeof gs, g), shape_str(es, sizeof es, e));
        }
        if (g->dtype != ATTEND_DTYPE_F32 || !same_shape) goto record;

        double maxdiff = 0.0, maxexp = 0.0;
        size_t bad = 0, first_bad = 0;
        for (size_t i = 0; i < e->numel; i++) {
            double ev = load_f32(e, i), gv = load_f32(g, i);
            if (!isfinite(ev)) continue; /* nothing to compare against */
            if (!isfinite(gv)) {
                if (bad++ == 0) first_bad = i;
                continue;
            }
            if (fabs(ev) > maxexp) maxexp = fabs(ev);
            if (fabs(gv - ev) > maxdiff) maxdiff = fabs(gv - ev);
        }
        CHECK(bad == 0, "%s/%s: %zu non-finite values where the expected is finite "
              "(first at flat index %zu: got %g, expected %g)", cname, e->name, bad,
              first_bad, bad ? load_f32(g, first_bad) : 0.0f,
              bad ? load_f32(e, first_bad) : 0.0f);
        if (bad == 0) {
            rel = maxdiff / (maxexp > 1e-6 ? maxexp : 1e-6);
            CHECK(rel <= TOL, "%s/%s: relative error %.3g > %g (max abs diff %.3g, "
                  "max |expected| %.3g)", cname, e->name, rel, TOL, maxdiff, maxexp);
        }
    record:
        if (!(rel <= worst)) {
            worst = rel;
            *worst_name = e->name;
        }
    }
    return worst;
}

/* Runs one case; prints its line. */
static void run_case(const char *cname, const char *outdir) {
    char wpath[1024], ipath[1024], epath[1024], opath[1024];
    snprintf(wpath, sizeof wpath, "%s/%s/weights.safetensors", FIXTURE_DIR, cname);
    snprintf(ipath, sizeof ipath, "%s/%s/input.safetensors", FIXTURE_DIR, cname);
    snprintf(epath, sizeof epath, "%s/%s/expected.safetensors", FIXTURE_DIR, cname);
    snprintf(opath, sizeof opath, "%s/%s.safetensors", outdir, cname);

    attend_error err = {0};
    attend_st_file *expected = NULL, *out = NULL;
    attend_status st = attend_st_open(&expected, epath, &err);
    CHECK(st == ATTEND_OK, "%s: cannot read expected: %s", cname, err.msg);
    if (st != ATTEND_OK) {
        printf("%-32s %-36s %s\n", cname, "-", "FAIL (no expected)");
        return;
    }
    const char *op = attend_st_meta(expected, "op");
    const char *heads = attend_st_meta(expected, "heads");
    const char *causal = attend_st_meta(expected, "causal");
    const char *act = attend_st_meta(expected, "activation");
    const char *nf = attend_st_meta(expected, "norm_first");
    const char *eps = attend_st_meta(expected, "layer_norm_eps");
    CHECK(op != NULL && heads != NULL, "%s: metadata lacks op or heads", cname);

    attend_op_options opt = {0};
    opt.heads = heads ? (size_t)strtoul(heads, NULL, 10) : 0;
    opt.causal = causal && strcmp(causal, "1") == 0;
    opt.activation = act && strcmp(act, "gelu") == 0 ? ATTEND_ACT_GELU : ATTEND_ACT_RELU;
    opt.norm_first = nf && strcmp(nf, "1") == 0;
    opt.layer_norm_eps = eps ? strtof(eps, NULL) : 1e-5f;

    remove(opath);
    st = ATTEND_ERR_ARG;
    if (op && strcmp(op, "mha") == 0) {
        st = attend_op_mha(wpath, ipath, opath, &opt, &err);
    } else if (op && strcmp(op, "encoder-layer") == 0) {
        st = attend_op_encoder_layer(wpath, ipath, opath, &opt, &err);
    } else {
        snprintf(err.msg, sizeof err.msg, "unknown op \"%s\"", op ? op : "(none)");
    }
    CHECK(st == ATTEND_OK, "%s: attend op failed (%s): %s", cname, attend_status_name(st),
          err.msg);
    if (st == ATTEND_OK) {
        st = attend_st_open(&out, opath, &err);
        CHECK(st == ATTEND_OK, "%s: cannot read attend's output: %s", cname, err.msg);
    }
    if (st != ATTEND_OK) {
        printf("%-32s %-36s %s\n", cname, "-", "FAIL (op)");
        attend_st_close(expected);
        return;
    }
    const char *worst_name;
    double worst = compare_case(cname, expected, out, &worst_name);
    printf("%-32s %-36s %.3g%s\n", cname, worst_name, worst, worst <= TOL ? "" : "  FAIL");
    attend_st_close(out);
    attend_st_close(expected);
}

int main(void) {
    const char *tmp = getenv("ATTEND_TMP");
    char outdir[900];
    snprintf(outdir, sizeof outdir, "%s/parity", tmp && *tmp ? tmp : "/tmp");
    CHECK(make_dirs(outdir) == 0, "cannot create %s", outdir);

    DIR *dir = opendir(FIXTURE_DIR);
    CHECK(dir != NULL, "cannot open %s (run from the repository root)", FIXTURE_DIR);
    char **names = NULL;
    size_t n = 0, cap = 0;
    if (dir) {
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            if (de->d_name[0] == '.') continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", FIXTURE_DIR, de->d_name);
            if (!is_dir(path)) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 32;
                char **nn = realloc(names, cap * sizeof *names);
                if (!nn) break;
                names = nn;
            }
            names[n] = strdup(de->d_name);
            if (names[n]) n++;
        }
        closedir(dir);
    }
    if (n) qsort(names, n, sizeof *names, cmp_str);
    CHECK(n >= MIN_CASES, "found %zu fixture cases under %s, need at least %d", n, FIXTURE_DIR,
          MIN_CASES);

    printf("%-32s %-36s %s\n", "case", "worst tensor", "worst rel err");
    for (size_t i = 0; i < n; i++) {
        char epath[1024];
        snprintf(epath, sizeof epath, "%s/%s/expected.safetensors", FIXTURE_DIR, names[i]);
        CHECK(is_file(epath), "%s: fixture directory has no expected.safetensors", names[i]);
        if (is_file(epath)) run_case(names[i], outdir);
        free(names[i]);
    }
    free(names);
    return test_summary("test_parity");
}
