/* Allocation failure: the N-th allocation fails, for N = 1, 2, ... until a
 * run completes without reaching N, through every scenario below. Each
 * time the call must fail cleanly (a non-OK status, ATTEND_ERR_NOMEM, with a
 * message), leak nothing, leave no half-built object behind and never lose
 * a model file; or, where the library can do without the memory, succeed
 * with the result of a run where nothing failed (bit for bit, except that a
 * training run whose attention scratch failed takes attention's per-key path
 * and may differ in the last bits of its weights; see same_model).
 *
 * How: the test is linked with GNU ld's --wrap for malloc, calloc, realloc,
 * free (and strdup, strndup, posix_memalign, aligned_alloc, in case the
 * library starts using them), so every allocation the library's own object
 * files make goes through the __wrap_* functions below; libattend is not
 * changed for the test. cJSON (a shared library, which --wrap does not
 * reach) is given the same allocator with cJSON_InitHooks, so JSON parsing
 * and printing fail too. Allocations made inside other shared libraries
 * (utf8proc, OpenBLAS, libgomp, stdio) are not counted, and frees of
 * pointers the wrapper never saw simply pass through.
 *
 * The wrappers count allocation calls while armed and return NULL at the
 * N-th; they also keep every pointer they handed out in a hash set while a
 * trial runs, so a trial that ends with anything left in the set leaked it
 * (an exact, per-trial leak check, with ASan or without).
 *
 * Scenarios (the library runs on one thread):
 *   data      reading the same records as TSV, CSV, JSONL and fastText; a
 *             read that succeeds must return every record;
 *   vocab     labels, tokenizer, vocabulary counter and build, and the JSON
 *             round trips of labels and vocabulary;
 *   load      attend_model_load of a trained model and of a created one
 *             (sinusoidal positions, cls pooling, a hidden head layer,
 *             pre-norm): on failure the handle is NULL and attend_classify on
 *             it is refused;
 *   classify  attend_classify on a loaded model; after a failure the model
 *             still works and gives the same probabilities;
 *   save      attend_model_save over an existing file: the old file stays
 *             whole until the new one is complete, no temporary file is left;
 *   train     attend_train, one epoch on 16 lines with a validation split,
 *             class weights, a checkpoint and the validation TSV: the previous
 *             model at the output path is kept or replaced by the right one;
 *   interrupt attend_train stopped after one step (the SIGINT path): the
 *             mid-epoch checkpoint;
 *   resume    attend_train --resume from that checkpoint, which must give the
 *             uninterrupted run's model;
 *   compare   attend_compare_write (results.csv, runs.csv, results.json,
 *             table.md, index.html) of four made-up runs over earlier files:
 *             each file is the earlier one or the complete new one, never a
 *             results.json missing a field or a run;
 *   report    attend_report_write of the trained model on the 16 lines over
 *             an earlier page: the page is the earlier one or the complete new
 *             one (the same as a run where nothing failed, but for the two
 *             clock readings), never a model card missing its metadata rows
 *             or a page missing a picture;
 *   stepwise  attend_stepwise_compute (a padded text) and its page over an
 *             earlier page: the page is the earlier one or a complete one,
 *             and the steps are those of a run where nothing failed.
 * Every allocation index is tried (about 4,600 trials: 2.4 s with the scratch
 * files on tmpfs, 7 s under ASan; on a busy disk the many small rewrites can
 * make it several times slower).
 *
 * Scratch files go to $ATTEND_TMP/alloc_fail (default /tmp/attend_test_alloc_fail).
 * To look at one failure: ATTEND_ALLOC_FAIL_ONLY=train ATTEND_ALLOC_FAIL_FROM=82
 * ATTEND_ALLOC_FAIL_MAX=82 build/tests/test_alloc_fail. */
#define _POSIX_C_SOURCE 200809L
#include "viz/compare.h"
#include "viz/report.h"
#include "train/train.h"
#include "test.h"
#include "test_tmp.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef TEST_ASAN
/* A NULL from the real allocator (not ours) must stay a NULL, not an abort. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

/* ------------------------------------------------------------------------ */
/* The counting, failing, tracking allocator                                */
/* ------------------------------------------------------------------------ */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);

static atomic_long alloc_calls;   /* allocation calls since arm() */
static atomic_long fail_at;       /* 0: disarmed; else the call that fails */
static atomic_int injected;       /* the failure happened */

/* Live pointers: open addressing, linear probing, backward-shift delete. A
 * spin lock keeps it consistent should an OpenMP thread allocate. */
typedef struct {
    void *p;
    size_t size;
    long seq; /* which allocation call of the trial made it (1-based) */
} live_entry;
static live_entry *live;
static size_t live_cap, live_n;
static atomic_flag live_lock = ATOMIC_FLAG_INIT;
static atomic_int tracking;
static atomic_long trial_seq;

static size_t ptr_hash(const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static void live_lock_take(void) {
    while (atomic_flag_test_and_set_explicit(&live_lock, memory_order_acquire)) {
    }
}
static void live_lock_give(void) { atomic_flag_clear_explicit(&live_lock, memory_order_release); }

static void live_insert_locked(void *p, size_t size, long seq) {
    size_t mask = live_cap - 1, i = ptr_hash(p) & mask;
    while (live[i].p) i = (i + 1) & mask;
    live[i].p = p;
    live[i].size = size;
    live[i].seq = seq;
    live_n++;
}

/* Out of the table's own memory (from the real allocator, untracked), the
 * test cannot go on: say so and stop. */
static void live_grow_locked(void) {
    size_t old_cap = live_cap;
    live_entry *old = live;
    live_cap = old_cap ? 2 * old_cap : 4096;
    live = __real_calloc(live_cap, sizeof *live);
    if (!live) {
        fprintf(stderr, "test_alloc_fail: out of memory for the live-pointer table\n");
        _Exit(2);
    }
    live_n = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].p) live_insert_locked(old[i].p, old[i].size, old[i].seq);
    __real_free(old);
}

static void live_add(void *p, size_t size) {
    if (!p || !atomic_load(&tracking)) return;
    long seq = atomic_fetch_add(&trial_seq, 1) + 1;
    live_lock_take();
    if (2 * (live_n + 1) > live_cap) live_grow_locked();
    live_insert_locked(p, size, seq);
    live_lock_give();
}

/* Removes p if present (a pointer from before tracking, or from a shared
 * library's own malloc, is simply not there). */
static void live_remove(void *p) {
    if (!p) return;
    live_lock_take();
    if (live_n) {
        size_t mask = live_cap - 1, i = ptr_hash(p) & mask;
        while (live[i].p && live[i].p != p) i = (i + 1) & mask;
        if (live[i].p) {
            // backward-shift deletion keeps every probe chain unbroken
            size_t j = i;
            for (;;) {
                live[i].p = NULL;
                for (;;) {
                    j = (j + 1) & mask;
                    if (!live[j].p) goto done;
                    size_t home = ptr_hash(live[j].p) & mask;
                    /* move j back to i unless its home lies cyclically in (i, j] */
                    if (i <= j ? (i < home && home <= j) : (i < home || home <= j)) continue;
                    break;
                }
                live[i] = live[j];
                i = j;
            }
        done:
            live_n--;
        }
    }
    live_lock_give();
}

/* One allocation call: 1 when it is the one to fail. */
static int should_fail(void) {
    long at = atomic_load(&fail_at);
    if (!at) return 0;
    long k = atomic_fetch_add(&alloc_calls, 1) + 1;
    if (k != at) return 0;
    atomic_store(&injected, 1);
    return 1;
}

void *__wrap_malloc(size_t n) {
    if (should_fail()) return NULL;
    void *p = __real_malloc(n);
    live_add(p, n);
    return p;
}

void *__wrap_calloc(size_t k, size_t n) {
    if (should_fail()) return NULL;
    void *p = __real_calloc(k, n);
    live_add(p, k * n);
    return p;
}

void *__wrap_realloc(void *p, size_t n) {
    if (should_fail()) return NULL; /* p stays valid, as with a real failure */
    void *q = __real_realloc(p, n);
    if (q || n == 0) live_remove(p); /* realloc(p, 0) may free p and return NULL */
    live_add(q, n);
    return q;
}

void __wrap_free(void *p) {
    live_remove(p);
    __real_free(p);
}

char *__wrap_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = __wrap_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

char *__wrap_strndup(const char *s, size_t n) {
    size_t len = 0;
    while (len < n && s[len]) len++;
    char *d = __wrap_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = 0;
    }
    return d;
}

int __wrap_posix_memalign(void **p, size_t align, size_t n) {
    if (should_fail()) return ENOMEM;
    int r = __real_posix_memalign(p, align, n);
    if (r == 0) live_add(*p, n);
    return r;
}

void *__wrap_aligned_alloc(size_t align, size_t n) {
    if (should_fail()) return NULL;
    void *p = __real_aligned_alloc(align, n);
    live_add(p, n);
    return p;
}

/* cJSON's hooks: the same counting allocator. */
static void *cjson_malloc(size_t n) { return __wrap_malloc(n); }
static void cjson_free(void *p) { __wrap_free(p); }

static void arm(long n) {
    atomic_store(&alloc_calls, 0);
    atomic_store(&injected, 0);
    atomic_store(&fail_at, n);
}

/* Disarms; returns whether the failure was injected. */
static int disarm(void) {
    atomic_store(&fail_at, 0);
    return atomic_load(&injected);
}

static void track_begin(void) {
    live_lock_take();
    if (live) memset(live, 0, live_cap * sizeof *live);
    live_n = 0;
    live_lock_give();
    atomic_store(&trial_seq, 0);
    atomic_store(&tracking, 1);
}

static size_t total_leaks;

/* Stops tracking; reports and forgets what is still live. */
static size_t track_end(const char *scenario, long n) {
    atomic_store(&tracking, 0);
    live_lock_take();
    size_t leaked = live_n;
    if (leaked) {
        size_t shown = 0;
        for (size_t i = 0; i < live_cap && shown < 5; i++)
            if (live[i].p) {
                fprintf(stderr, "%s, allocation %ld fails: leaked %zu bytes from allocation %ld of the trial\n",
                        scenario, n, live[i].size, live[i].seq);
                shown++;
            }
        memset(live, 0, live_cap * sizeof *live);
        live_n = 0;
    }
    live_lock_give();
    total_leaks += leaked;
    CHECK(leaked == 0, "%s, allocation %ld fails: %zu allocations leaked", scenario, n, leaked);
    return leaked;
}

/* What one scenario did. */
typedef struct {
    const char *name;
    long trials;      /* failures injected */
    long clean_calls; /* allocation calls of a run where nothing fails */
    long recovered;   /* failures the library did without, same result */
    long inexact;     /* of those, results equal but for rounding (see same_model) */
    double worst;     /* their largest weight difference */
} scenario_stats;

/* ------------------------------------------------------------------------ */
/* Files                                                                    */
/* ------------------------------------------------------------------------ */

static char tmp_dir[512];

static void tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", tmp_dir, name);
}

static void make_tmp_dir(void) { test_tmp_dir(tmp_dir, sizeof tmp_dir, "alloc_fail"); }

/* Whole file into a malloc'ed buffer (call with tracking off); NULL if absent. */
static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static int spill(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(buf, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

typedef struct {
    unsigned char *p;
    size_t n;
} blob;

/* 1 if path holds exactly b's bytes. */
static int file_is(const char *path, const blob *b) {
    size_t n;
    unsigned char *p = slurp(path, &n);
    int same = p && n == b->n && memcmp(p, b->p, n) == 0;
    free(p);
    return same;
}

static blob must_slurp(const char *path) {
    blob b = {0};
    b.p = slurp(path, &b.n);
    if (!b.p) {
        fprintf(stderr, "test_alloc_fail: cannot read %s\n", path);
        exit(2);
    }
    return b;
}

/* A training run that absorbed a failed allocation may differ from the
 * reference in the last bits of its weights: attention falls back to its
 * per-key path when its scratch cannot be had, and that path sums in another
 * order. Everything else must be the same: every metadata entry (config,
 * vocabulary, labels, counts of examples; in the training summary and
 * checkpoint state, every number to 1e-3) and every tensor's name and shape. */

static int starts_number(const char *s) {
    return isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]));
}

/* a and b are the same text but for numbers within 1e-3 (relative above 1). */
static int numbers_close(const char *a, const char *b) {
    while (*a && *b) {
        if (starts_number(a) && starts_number(b)) {
            char *ea, *eb;
            double x = strtod(a, &ea), y = strtod(b, &eb);
            if (ea == a || eb == b || !(fabs(x - y) <= 1e-3 * (fabs(y) > 1.0 ? fabs(y) : 1.0)))
                return 0;
            a = ea;
            b = eb;
        } else if (*a++ != *b++) {
            return 0;
        }
    }
    return *a == *b;
}

/* The largest weight difference between the file at path and ref, or -1
 * when they differ in anything else (or do not open). */
static double same_model(const char *path, const blob *ref) {
    attend_st_file *a = NULL, *b = NULL;
    attend_error err = {0};
    double worst = -1.0;
    if (attend_st_open(&a, path, &err) || attend_st_open_memory(&b, ref->p, ref->n, "ref", &err))
        goto done;
    if (attend_st_meta_count(a) != attend_st_meta_count(b) || attend_st_count(a) != attend_st_count(b))
        goto done;
    for (size_t i = 0; i < attend_st_meta_count(a); i++) {
        const char *k, *v;
        attend_st_meta_at(a, i, &k, &v);
        const char *w = attend_st_meta(b, k);
        int numeric = strcmp(k, "state") == 0 || strcmp(k, "training") == 0;
        if (!w || !(strcmp(v, w) == 0 || (numeric && numbers_close(v, w)))) goto done;
    }
    double d = 0.0;
    for (size_t i = 0; i < attend_st_count(a); i++) {
        const attend_st_tensor *x = attend_st_at(a, i), *y = attend_st_find(b, x->name);
        if (!y || x->dtype != ATTEND_DTYPE_F32 || y->dtype != x->dtype || x->ndim != y->ndim ||
            memcmp(x->shape, y->shape, x->ndim * sizeof *x->shape) != 0)
            goto done;
        const float *xv = x->data, *yv = y->data;
        for (size_t j = 0; j < x->numel; j++) {
            double e = fabs((double)xv[j] - (double)yv[j]);
            if (!(e <= d)) d = e; /* a NaN makes d NaN, which fails the caller's check */
        }
    }
    worst = d;
done:
    attend_st_close(a);
    attend_st_close(b);
    return worst;
}

/* 1 if path holds the reference, bit for bit or (see same_model) but for
 * rounding, which is counted in s (may be NULL). */
static int is_result(scenario_stats *s, const char *path, const blob *ref) {
    if (file_is(path, ref)) return 1;
    double d = same_model(path, ref);
    if (!(d >= 0.0 && d <= 1e-4)) return 0;
    if (s) {
        s->inexact++;
        if (d > s->worst) s->worst = d;
    }
    return 1;
}

/* Number of "*.tmp.*" names in the scratch directory: a failed save must
 * remove its temporary file. */
static int temp_files_left(void) {
    DIR *d = opendir(tmp_dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

/* ------------------------------------------------------------------------ */
/* Trial bookkeeping                                                        */
/* ------------------------------------------------------------------------ */

/* A failed call: a status, ATTEND_ERR_NOMEM, and a message saying memory. */
static void check_failure(const char *scenario, long n, attend_status st, const attend_error *err) {
    CHECK(st != ATTEND_OK, "%s, allocation %ld fails: status ok", scenario, n);
    CHECK(err->msg[0] != 0, "%s, allocation %ld fails: empty message", scenario, n);
    CHECK(st == ATTEND_ERR_NOMEM && strstr(err->msg, "memory"),
          "%s, allocation %ld fails: status '%s', message '%s' (expected out of memory)", scenario,
          n, attend_status_name(st), err->msg);
}

/* Runs trial(n) for n = 1, 2, ... until one reaches no n-th allocation.
 * trial returns 1 when the injected failure was absorbed (checked by it). */
typedef void (*trial_fn)(scenario_stats *s, long n, int *injected_out);

static long trial_cap(void) {
    const char *e = getenv("ATTEND_ALLOC_FAIL_MAX");
    long v = e ? atol(e) : 0;
    return v > 0 ? v : 1000000;
}

/* ATTEND_ALLOC_FAIL_FROM=N starts at N (to look at one failure). */
static long trial_from(void) {
    const char *e = getenv("ATTEND_ALLOC_FAIL_FROM");
    long v = e ? atol(e) : 0;
    return v > 0 ? v : 1;
}

static void run_scenario(scenario_stats *s, trial_fn trial) {
    const long cap = trial_cap();
    const int failed_before = test_failed_;
    for (long n = trial_from(); n <= cap; n++) {
        int inj = 0;
        trial(s, n, &inj);
        if (!inj) {
            s->clean_calls = n - 1;
            break;
        }
        s->trials++;
        if (test_failed_ - failed_before > 40) {
            fprintf(stderr, "%s: too many failures, stopping this scenario\n", s->name);
            break;
        }
    }
    printf("  %-10s %6ld trials (%ld allocations in a clean run), %ld failures absorbed", s->name,
           s->trials, s->clean_calls, s->recovered);
    if (s->inexact)
        printf(", %ld of them with results equal but for rounding (up to %.1e)", s->inexact, s->worst);
    printf("\n");
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                 */
/* ------------------------------------------------------------------------ */

#define N_LINES 16
static const char *labels4[4] = {"animal", "food", "place", "tool"};
static char data_tsv[600], data_csv[600], data_jsonl[600], data_ft[600];
static char model_trained[600], model_created[600], prev_model[600];
static char save_out[600], train_out[600], train_ckpt[600], train_val[600];
static char mid_ckpt[600], resume_src[600], resume_out[600], resume_ckpt[600];
static blob ref_trained, ref_created, ref_ckpt, ref_mid, ref_prev;
static float ref_probs[4];
static const char *classify_text = "the quick brown fox eats bread in the park";

static void text_of(char *buf, size_t n, size_t i) {
    static const char *words[4][5] = {{"fox", "owl", "cat", "dog", "hen"},
                                      {"bread", "rice", "soup", "cake", "bean"},
                                      {"park", "city", "lake", "hill", "road"},
                                      {"saw", "drill", "hammer", "wrench", "file"}};
    size_t k = i % 4;
    snprintf(buf, n, "a %s and the %s near %s %zu", words[k][i % 5], words[k][(i + 2) % 5],
             words[k][(i + 3) % 5], i);
}

static void write_datasets(void) {
    tmp_path(data_tsv, sizeof data_tsv, "d.tsv");
    tmp_path(data_csv, sizeof data_csv, "d.csv");
    tmp_path(data_jsonl, sizeof data_jsonl, "d.jsonl");
    tmp_path(data_ft, sizeof data_ft, "d.txt");
    FILE *f[4] = {fopen(data_tsv, "wb"), fopen(data_csv, "wb"), fopen(data_jsonl, "wb"),
                  fopen(data_ft, "wb")};
    for (int k = 0; k < 4; k++)
        if (!f[k]) {
            fprintf(stderr, "test_alloc_fail: cannot write the datasets in %s\n", tmp_dir);
            exit(2);
        }
    fprintf(f[1], "label,text\n");
    for (size_t i = 0; i < N_LINES; i++) {
        char t[128];
        text_of(t, sizeof t, i);
        const char *l = labels4[i % 4];
        fprintf(f[0], "%s\t%s\n", l, t);
        fprintf(f[1], "%s,\"%s, \"\"quoted\"\"\"\n", l, t);
        fprintf(f[2], "{\"text\": \"%s\", \"label\": \"%s\"}\n", t, l);
        fprintf(f[3], "__label__%s %s\n", l, t);
    }
    for (int k = 0; k < 4; k++) fclose(f[k]);
}

static void train_options(attend_train_options *o) {
    attend_train_options_default(o);
    o->data_path = data_tsv;
    o->val_split = 0.25;
    o->epochs = 1;
    o->batch = 4;
    o->seed = 5;
    o->class_weights_auto = 1;
    o->model.d_model = 8;
    o->model.nhead = 2;
    o->model.num_layers = 1;
    o->model.dim_feedforward = 16;
    o->model.max_len = 16;
    o->model.n_hidden = 1;
    o->model.hidden[0] = 8;
}

/* A model made with the internal API: the options attend_train above does not use. */
static attend_status create_model(const char *path, attend_error *err) {
    attend_dataset ds;
    attend_labels lt;
    attend_vocab_counter c;
    attend_vocab v;
    attend_splitter tok;
    attend_status st = attend_dataset_read(&ds, data_tsv, NULL, err);
    if (st) return st;
    if ((st = attend_labels_from_dataset(&lt, &ds, err))) goto out_ds;
    if ((st = attend_splitter_init(&tok, err))) goto out_lt;
    if ((st = attend_vocab_counter_init(&c, err))) goto out_tok;
    for (size_t i = 0; i < ds.count && !st; i++)
        st = attend_vocab_counter_add_text(&c, &tok, ds.records[i].text, strlen(ds.records[i].text), err);
    if (!st && !(st = attend_vocab_build(&v, &c, 1, 0, err))) {
        attend_model_config cfg;
        attend_model_config_default(&cfg);
        cfg.vocab_size = attend_vocab_size(&v);
        cfg.num_classes = lt.count;
        cfg.d_model = 8;
        cfg.nhead = 2;
        cfg.num_layers = 2;
        cfg.dim_feedforward = 12;
        cfg.max_len = 12;
        cfg.pos = ATTEND_POS_SINUSOIDAL;
        cfg.pool = ATTEND_POOL_CLS;
        cfg.n_hidden = 1;
        cfg.hidden[0] = 6;
        cfg.norm_first = 1;
        cfg.activation = ATTEND_ACT_GELU;
        attend_model *m = NULL;
        attend_tokenizer *words = NULL;
        if (!(st = attend_tokenizer_words_new(&words, &v, err)) &&
            !(st = attend_model_create(&m, &cfg, words, lt.names, err))) {
            attend_model_init_weights(m, 9);
            st = attend_model_save(m, path, err);
            attend_model_free(m);
        }
    }
    attend_vocab_counter_free(&c);
out_tok:
    attend_splitter_free(&tok);
out_lt:
    attend_labels_free(&lt);
out_ds:
    attend_dataset_free(&ds);
    return st;
}

static void need(attend_status st, const attend_error *err, const char *what) {
    if (st != ATTEND_OK) {
        fprintf(stderr, "test_alloc_fail: %s: %s\n", what, err->msg);
        exit(2);
    }
}

static void make_fixtures(void) {
    attend_error err = {0};
    attend_train_options o;
    attend_train_result res;
    write_datasets();
    tmp_path(model_trained, sizeof model_trained, "trained.safetensors");
    tmp_path(model_created, sizeof model_created, "created.safetensors");
    tmp_path(prev_model, sizeof prev_model, "prev.safetensors");
    tmp_path(save_out, sizeof save_out, "save.safetensors");
    tmp_path(train_out, sizeof train_out, "train.safetensors");
    tmp_path(train_ckpt, sizeof train_ckpt, "train.ckpt");
    tmp_path(train_val, sizeof train_val, "train_val.tsv");
    tmp_path(mid_ckpt, sizeof mid_ckpt, "mid.ckpt");
    tmp_path(resume_src, sizeof resume_src, "resume_src.ckpt");
    tmp_path(resume_out, sizeof resume_out, "resume.safetensors");
    tmp_path(resume_ckpt, sizeof resume_ckpt, "resume.ckpt");

    need(create_model(model_created, &err), &err, "creating the model");
    ref_created = must_slurp(model_created);

    // the reference training run: its model, checkpoint and (loaded) probabilities
    train_options(&o);
    o.out_path = model_trained;
    o.checkpoint_path = train_ckpt;
    o.val_out_path = train_val;
    need(attend_train(&o, &res, &err), &err, "the reference training run");
    ref_trained = must_slurp(model_trained);
    ref_ckpt = must_slurp(train_ckpt);

    // a different, valid model standing for the file a save replaces
    train_options(&o);
    o.seed = 6;
    o.out_path = prev_model;
    need(attend_train(&o, &res, &err), &err, "the previous-model run");
    ref_prev = must_slurp(prev_model);

    // stopped after its first step: the checkpoint a resume starts from
    volatile sig_atomic_t stop = 1;
    train_options(&o);
    o.out_path = train_out;
    o.checkpoint_path = mid_ckpt;
    o.stop = &stop;
    attend_status st = attend_train(&o, &res, &err);
    if (st != ATTEND_ERR_INTERRUPTED) {
        fprintf(stderr, "test_alloc_fail: the stopped run gave '%s': %s\n", attend_status_name(st), err.msg);
        exit(2);
    }
    ref_mid = must_slurp(mid_ckpt);
    remove(train_out);

    attend_model *m = NULL;
    attend_context *ctx = NULL;
    need(attend_model_load(&m, model_trained, &err), &err, "loading the trained model");
    need(attend_context_new(&ctx, m, &err), &err, "making a context");
    need(attend_classify(m, ctx, classify_text, strlen(classify_text), ref_probs, NULL, &err), &err,
         "classifying");
    attend_context_free(ctx);
    attend_model_free(m);
}

/* ------------------------------------------------------------------------ */
/* Scenarios                                                                */
/* ------------------------------------------------------------------------ */

static attend_data_format data_formats[4] = {ATTEND_FORMAT_TSV, ATTEND_FORMAT_CSV,
                                             ATTEND_FORMAT_JSONL, ATTEND_FORMAT_FASTTEXT};

static const char *data_path_of(int k) {
    return k == 0 ? data_tsv : k == 1 ? data_csv : k == 2 ? data_jsonl : data_ft;
}

/* All four formats in one run, so N walks across all of them. */
static void trial_data(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    attend_status st = ATTEND_OK;
    attend_dataset ds[4];
    memset(ds, 0, sizeof ds);
    int k;
    track_begin();
    arm(n);
    for (k = 0; k < 4 && !st; k++) {
        attend_data_options opt = {0};
        opt.format = data_formats[k];
        st = attend_dataset_read(&ds[k], data_path_of(k), &opt, &err);
    }
    *inj = disarm();
    if (st) {
        check_failure(s->name, n, st, &err);
        const attend_dataset *bad = &ds[k - 1];
        CHECK(bad->count == 0 && bad->records == NULL && bad->arena == NULL,
              "data, allocation %ld fails: the failed dataset is not left empty", n);
    } else {
        // every record, whatever failed on the way
        int ok = 1;
        for (k = 0; k < 4; k++) {
            ok &= ds[k].count == N_LINES && ds[k].n_malformed == 0;
            for (size_t i = 0; ok && i < ds[k].count; i++) {
                char t[128];
                text_of(t, sizeof t, i);
                ok &= strcmp(ds[k].records[i].label, labels4[i % 4]) == 0 &&
                      strncmp(ds[k].records[i].text, t, strlen(t)) == 0;
            }
        }
        CHECK(ok, "data, allocation %ld fails: read succeeded with records missing or changed", n);
        if (*inj) s->recovered++;
    }
    for (k = 0; k < 4; k++) attend_dataset_free(&ds[k]);
    track_end(s->name, n);
}

/* Labels, tokenizer, vocabulary, and their JSON round trips, from a dataset
 * read before arming. */
static void trial_vocab(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    attend_dataset ds;
    need(attend_dataset_read(&ds, data_tsv, NULL, &err), &err, "reading the data");
    attend_labels lt = {0}, lt2 = {0};
    attend_vocab_counter c;
    attend_vocab v = {0}, v2 = {0};
    attend_splitter tok;
    int have_c = 0, have_tok = 0, have_v = 0;
    char *jl = NULL, *jv = NULL;
    int stage = 0; /* the call that failed, where it leaves an object to check */
    track_begin();
    arm(n);
    attend_status st = attend_labels_from_dataset(&lt, &ds, &err);
    if (st) stage = 3;
    if (!st && !(st = attend_splitter_init(&tok, &err))) have_tok = 1;
    if (!st && !(st = attend_vocab_counter_init(&c, &err))) have_c = 1;
    for (size_t i = 0; i < ds.count && !st; i++)
        st = attend_vocab_counter_add_text(&c, &tok, ds.records[i].text, strlen(ds.records[i].text), &err);
    if (!st && !(st = attend_vocab_build(&v, &c, 1, 0, &err))) have_v = 1;
    if (!st) st = attend_vocab_to_json(&v, &jv, &err);
    if (!st) st = attend_labels_to_json(&lt, &jl, &err);
    if (!st && (st = attend_vocab_from_json(&v2, jv, &err))) stage = 1;
    if (!st && (st = attend_labels_from_json(&lt2, jl, &err))) stage = 2;
    *inj = disarm();
    if (st) {
        check_failure(s->name, n, st, &err);
        CHECK(stage != 1 || (attend_vocab_size(&v2) == 0 && v2.tab.slots == NULL),
              "vocab, allocation %ld fails: a half-read vocabulary is left", n);
        CHECK(stage != 2 || (lt2.count == 0 && lt2.names == NULL),
              "vocab, allocation %ld fails: a half-read label table is left", n);
        CHECK(stage != 3 || (lt.count == 0 && lt.names == NULL),
              "vocab, allocation %ld fails: a half-built label table is left", n);
    } else {
        CHECK(lt2.count == 4 && attend_vocab_size(&v2) == attend_vocab_size(&v) &&
                  attend_vocab_size(&v) > 20,
              "vocab, allocation %ld fails: success with %zu labels, vocabulary %zu / %zu", n,
              lt2.count, attend_vocab_size(&v2), attend_vocab_size(&v));
        if (*inj) s->recovered++;
    }
    attend_labels_free(&lt);
    attend_labels_free(&lt2);
    if (have_tok) attend_splitter_free(&tok);
    if (have_c) attend_vocab_counter_free(&c);
    if (have_v) attend_vocab_free(&v);
    attend_vocab_free(&v2);
    free(jl);
    free(jv);
    attend_dataset_free(&ds);
    track_end(s->name, n);
}

/* The two model files in one run. */
static void trial_load(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    attend_model *m[2] = {NULL, NULL};
    const char *paths[2] = {model_trained, model_created};
    attend_status st = ATTEND_OK;
    int k;
    track_begin();
    arm(n);
    for (k = 0; k < 2 && !st; k++) {
        m[k] = (attend_model *)&err; /* must be overwritten, with NULL on failure */
        st = attend_model_load(&m[k], paths[k], &err);
    }
    *inj = disarm();
    if (st) {
        check_failure(s->name, n, st, &err);
        CHECK(m[k - 1] == NULL, "load, allocation %ld fails: the model handle is not NULL", n);
        m[k - 1] = NULL;
        // nothing half-built to use: the API refuses a NULL model
        float probs[4];
        attend_error e2 = {0};
        attend_status st2 = attend_classify(NULL, NULL, "fox", 3, probs, NULL, &e2);
        CHECK(st2 == ATTEND_ERR_ARG && e2.msg[0], "load, allocation %ld fails: classify on no model gave '%s'",
              n, attend_status_name(st2));
        CHECK(!attend_model_get_config(NULL) && attend_model_num_labels(NULL) == 0 &&
                  !attend_model_label(NULL, 0),
              "load, allocation %ld fails: the accessors do not refuse a NULL model", n);
    } else {
        CHECK(m[0] && m[1], "load, allocation %ld fails: success without a model", n);
        if (*inj) s->recovered++;
    }
    attend_model_free(m[0]);
    attend_model_free(m[1]);
    track_end(s->name, n);
}

static void trial_classify(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    attend_model *m = NULL;
    track_begin();
    need(attend_model_load(&m, model_trained, &err), &err, "loading the model");
    float probs[4] = {0};
    attend_context *ctx = NULL;
    arm(n);
    attend_status st = attend_context_new(&ctx, m, &err);
    if (!st) st = attend_classify(m, ctx, classify_text, strlen(classify_text), probs, NULL, &err);
    *inj = disarm();
    if (st) {
        check_failure(s->name, n, st, &err);
        // the model is still whole: the next call works and agrees
        if (!ctx) need(attend_context_new(&ctx, m, &err), &err, "making a context");
        st = attend_classify(m, ctx, classify_text, strlen(classify_text), probs, NULL, &err);
        CHECK(st == ATTEND_OK, "classify, allocation %ld fails: the next call fails too: %s", n, err.msg);
    } else if (*inj) {
        s->recovered++;
    }
    if (st == ATTEND_OK && memcmp(probs, ref_probs, sizeof probs) != 0) {
        // attention's per-key path (its scratch failed) rounds differently
        double d = 0.0;
        for (size_t k = 0; k < 4; k++) d = fmax(d, fabs((double)probs[k] - (double)ref_probs[k]));
        CHECK(*inj && d <= 1e-5, "classify, allocation %ld fails: probabilities differ from the reference by %g", n, d);
        s->inexact++;
        s->worst = fmax(s->worst, d);
    }
    attend_context_free(ctx);
    attend_model_free(m);
    track_end(s->name, n);
}

/* attend show's data: the explanation of one text and a head's most
 * attended keys; an allocation failure is an error (SIZE_MAX from the key
 * ranking), never a shorter list. */
static size_t ref_top_n, ref_top_keys[3];

static void trial_explain(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    attend_model *m = NULL;
    attend_explanation ex;
    memset(&ex, 0, sizeof ex);
    track_begin();
    need(attend_model_load(&m, model_trained, &err), &err, "loading the model");
    size_t keys[3] = {0}, nk = 0;
    float w[3];
    arm(n);
    attend_status st = attend_explain(m, classify_text, strlen(classify_text), &ex, &err);
    if (st == ATTEND_OK) nk = attend_explanation_top_keys(&ex, 0, 0, 3, keys, w);
    *inj = disarm();
    if (st) {
        check_failure(s->name, n, st, &err);
    } else if (nk == SIZE_MAX) {
        CHECK(*inj, "explain, allocation %ld fails: top keys failed with nothing injected", n);
    } else if (n >= (1L << 40)) { /* the reference run */
        ref_top_n = nk;
        memcpy(ref_top_keys, keys, sizeof keys);
    } else {
        if (*inj) s->recovered++;
        CHECK(nk == ref_top_n && memcmp(keys, ref_top_keys, nk * sizeof *keys) == 0,
              "explain, allocation %ld fails: %zu top keys, expected %zu (the same)", n, nk,
              ref_top_n);
    }
    attend_explanation_free(&ex);
    attend_model_free(m);
    track_end(s->name, n);
}

static void trial_save(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    attend_model *m = NULL;
    need(attend_model_load(&m, model_created, &err), &err, "loading the created model");
    if (spill(save_out, ref_prev.p, ref_prev.n)) need(ATTEND_ERR_IO, &err, "writing the old file");
    track_begin();
    arm(n);
    attend_status st = attend_model_save(m, save_out, &err);
    *inj = disarm();
    if (st) check_failure(s->name, n, st, &err);
    else if (*inj) s->recovered++;
    track_end(s->name, n);
    attend_model_free(m);
    if (st)
        CHECK(file_is(save_out, &ref_prev), "save, allocation %ld fails: the old file was changed", n);
    else
        CHECK(file_is(save_out, &ref_created), "save, allocation %ld fails: saved OK but the file differs", n);
    CHECK(temp_files_left() == 0, "save, allocation %ld fails: a temporary file is left", n);
}

/* One epoch from scratch over a previous model file. */
static void trial_train(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    attend_train_options o;
    attend_train_result res;
    train_options(&o);
    o.out_path = train_out;
    o.checkpoint_path = train_ckpt;
    o.val_out_path = train_val;
    if (spill(train_out, ref_prev.p, ref_prev.n)) need(ATTEND_ERR_IO, &err, "writing the old model");
    remove(train_ckpt);
    track_begin();
    arm(n);
    attend_status st = attend_train(&o, &res, &err);
    *inj = disarm();
    if (st) check_failure(s->name, n, st, &err);
    else if (*inj) s->recovered++;
    track_end(s->name, n);
    if (st) {
        // never lose a model: the old one, or the new one when only the
        // checkpoint after it failed
        CHECK(file_is(train_out, &ref_prev) || is_result(s, train_out, &ref_trained),
              "train, allocation %ld fails: the model file is neither the old nor the new model", n);
        CHECK(access(train_ckpt, F_OK) != 0 || is_result(NULL, train_ckpt, &ref_ckpt),
              "train, allocation %ld fails: a wrong checkpoint was written", n);
    } else {
        CHECK(is_result(s, train_out, &ref_trained), "train, allocation %ld fails: trained OK but the model differs", n);
        CHECK(is_result(NULL, train_ckpt, &ref_ckpt),
              "train, allocation %ld fails: trained OK but the checkpoint differs", n);
    }
    CHECK(temp_files_left() == 0, "train, allocation %ld fails: a temporary file is left", n);
}

static void trial_interrupt(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    attend_train_options o;
    attend_train_result res;
    volatile sig_atomic_t stop = 1;
    train_options(&o);
    o.out_path = train_out;
    o.checkpoint_path = mid_ckpt;
    o.stop = &stop;
    remove(train_out);
    remove(mid_ckpt);
    track_begin();
    arm(n);
    attend_status st = attend_train(&o, &res, &err);
    *inj = disarm();
    if (st != ATTEND_ERR_INTERRUPTED) check_failure(s->name, n, st, &err);
    else if (*inj) s->recovered++;
    track_end(s->name, n);
    if (st == ATTEND_ERR_INTERRUPTED)
        CHECK(is_result(s, mid_ckpt, &ref_mid), "interrupt, allocation %ld fails: the checkpoint differs", n);
    else
        CHECK(access(mid_ckpt, F_OK) != 0, "interrupt, allocation %ld fails: a checkpoint was written", n);
    CHECK(access(train_out, F_OK) != 0, "interrupt, allocation %ld fails: a model was written", n);
    CHECK(temp_files_left() == 0, "interrupt, allocation %ld fails: a temporary file is left", n);
}

static void trial_resume(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    attend_train_options o;
    attend_train_result res;
    train_options(&o);
    o.out_path = resume_out;
    o.checkpoint_path = resume_ckpt;
    o.resume_path = resume_src;
    remove(resume_out);
    remove(resume_ckpt);
    track_begin();
    arm(n);
    attend_status st = attend_train(&o, &res, &err);
    *inj = disarm();
    if (st) check_failure(s->name, n, st, &err);
    else if (*inj) s->recovered++;
    track_end(s->name, n);
    if (st)
        CHECK(access(resume_out, F_OK) != 0 || is_result(s, resume_out, &ref_trained),
              "resume, allocation %ld fails: a wrong model was written", n);
    else
        CHECK(is_result(s, resume_out, &ref_trained),
              "resume, allocation %ld fails: the resumed model differs from the uninterrupted one", n);
    CHECK(file_is(resume_src, &ref_mid), "resume, allocation %ld fails: the checkpoint resumed from changed", n);
    CHECK(temp_files_left() == 0, "resume, allocation %ld fails: a temporary file is left", n);
}

/* ---- attend compare's outputs ---- */

/* Four runs, three configurations: per-head statistics with and without
 * importance, a run without them, a NaN metric (null in the JSON). */
static double cmp_ent[4] = {1.5, 0.75, 2.0, 1.25}, cmp_dist[4] = {1.0, 2.5, 0.5, 3.0};
static double cmp_drop[4] = {0.125, -0.0625, 0.25, 0.0}, cmp_rise[4] = {0.5, 0.25, 0.75, 0.0};
static attend_compare_run cmp_runs[4];
static attend_compare_setup cmp_setup;
static attend_compare_set cmp_set;
static attend_epoch_report cmp_curve[3];
#define N_CMP_FILES 6
static const char *cmp_files[N_CMP_FILES] = {"results.csv", "runs.csv", "curves.csv", "results.json", "table.md",
                                             "index.html"};
static char cmp_dir[600];
static blob ref_cmp[N_CMP_FILES];
static size_t ref_cmp_maps, ref_cmp_plots;
static unsigned char old_bytes[] = "an earlier file\n";
static const blob old_file = {old_bytes, sizeof old_bytes - 1};

static void cmp_path(char *buf, size_t n, size_t k) { snprintf(buf, n, "%s/%s", cmp_dir, cmp_files[k]); }

static void compare_fixtures(void) {
    static const size_t heads[4] = {2, 2, 4, 1};
    static const attend_pos_kind pos[4] = {ATTEND_POS_LEARNED, ATTEND_POS_LEARNED, ATTEND_POS_SINUSOIDAL,
                                           ATTEND_POS_NONE};
    for (size_t i = 0; i < 4; i++) {
        attend_compare_run *r = &cmp_runs[i];
        memset(r, 0, sizeof *r);
        r->heads = heads[i];
        r->pos = pos[i];
        r->seed = 7 + (i == 1);
        r->val_loss = i == 1 ? NAN : 0.5 + 0.125 * (double)i;
        r->val_accuracy = 0.75 - 0.0625 * (double)i;
        r->val_macro_f1 = 0.625;
        r->seconds = 1.5 + (double)i;
        r->params = 1000 + 10 * i;
        r->epochs_run = 3;
        r->best_epoch = 2;
        if (i != 1) { /* learning curves (not for run 1) */
            r->curve = cmp_curve;
            r->n_curve = 3;
        }
        if (i == 2) continue; /* no statistics */
        attend_head_stats *hs = &r->stats;
        hs->L = i == 3 ? 2 : 1;
        hs->H = i == 3 ? 1 : 2;
        hs->n_examples = 4;
        hs->n_queries = 20;
        hs->entropy = cmp_ent;
        hs->distance = cmp_dist;
        hs->uniform_entropy = 2.5;
        hs->uniform_distance = 3.5;
        hs->has_importance = i != 3;
        hs->base_accuracy = 0.75;
        hs->base_loss = 0.5;
        hs->acc_drop = cmp_drop;
        hs->loss_rise = cmp_rise;
    }
    cmp_setup = (attend_compare_setup){.data_path = data_tsv, .train_path = "train.tsv", .val_path = "val.tsv",
                                       .command = "attend compare --heads 1,2,4", .n_train = 12, .n_val = 4,
                                       .num_classes = 4, .d_model = 8, .layers = 1, .d_ff = 16, .max_len = 16,
                                       .epochs = 3, .batch = 4, .n_seeds = 2, .first_seed = 7, .lr = 0.001f,
                                       .dropout = 0.1f};
    for (size_t e = 0; e < 3; e++)
        cmp_curve[e] = (attend_epoch_report){.epoch = e + 1, .epochs = 3, .train_loss = 1.0 - 0.25 * (double)e,
                                             .val_loss = 1.0, .val_accuracy = 0.25 * (double)(e + 1), .has_val = 1};
    cmp_set = (attend_compare_set){"data", NULL, cmp_setup, cmp_runs, 4};
    tmp_path(cmp_dir, sizeof cmp_dir, "compare");
    attend_error err = {0};
    need(attend_mkdir(cmp_dir, &err), &err, "creating the compare directory");
    need(attend_compare_write(cmp_dir, &cmp_set, NULL, &ref_cmp_maps, &ref_cmp_plots, &err), &err,
         "the reference compare outputs");
    for (size_t k = 0; k < N_CMP_FILES; k++) {
        char path[700];
        cmp_path(path, sizeof path, k);
        ref_cmp[k] = must_slurp(path);
    }
}

/* attend_compare_write over earlier files: on failure each file is the
 * earlier one or the complete new one (never a JSON missing something). */
static void trial_compare(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    char path[N_CMP_FILES][700];
    for (size_t k = 0; k < N_CMP_FILES; k++) {
        cmp_path(path[k], sizeof path[k], k);
        if (spill(path[k], old_file.p, old_file.n)) need(ATTEND_ERR_IO, &err, "writing an earlier file");
    }
    size_t maps = 0, plots = 0;
    track_begin();
    arm(n);
    attend_status st = attend_compare_write(cmp_dir, &cmp_set, NULL, &maps, &plots, &err);
    *inj = disarm();
    if (st) check_failure(s->name, n, st, &err);
    else if (*inj) s->recovered++;
    track_end(s->name, n);
    for (size_t k = 0; k < N_CMP_FILES; k++) {
        if (st)
            CHECK(file_is(path[k], &old_file) || file_is(path[k], &ref_cmp[k]),
                  "compare, allocation %ld fails: %s is neither the earlier file nor the complete new one", n,
                  cmp_files[k]);
        else
            CHECK(file_is(path[k], &ref_cmp[k]), "compare, allocation %ld fails: written OK but %s differs", n,
                  cmp_files[k]);
    }
    CHECK(st || (maps == ref_cmp_maps && plots == ref_cmp_plots),
          "compare, allocation %ld fails: %zu heatmaps and %zu plots instead of %zu and %zu", n, maps, plots,
          ref_cmp_maps, ref_cmp_plots);
}

/* The combined page of two data sets (attend_compare_write_sets): on failure
 * each of its files is the earlier one or the complete new one. */
#define N_SETS_FILES 3
static const char *sets_files[N_SETS_FILES] = {"results.csv", "table.md", "index.html"};
static char sets_dir[600];
static blob ref_sets[N_SETS_FILES];
static attend_compare_set cmp_sets[2];
static size_t ref_sets_maps, ref_sets_plots;

static void sets_path(char *buf, size_t n, size_t k) { snprintf(buf, n, "%s/%s", sets_dir, sets_files[k]); }

static void compare_sets_fixtures(void) {
    cmp_sets[0] = cmp_set;
    cmp_sets[1] = (attend_compare_set){"second", "second/index.html", cmp_setup, cmp_runs, 3};
    tmp_path(sets_dir, sizeof sets_dir, "compare-sets");
    attend_error err = {0};
    need(attend_mkdir(sets_dir, &err), &err, "creating the compare-sets directory");
    need(attend_compare_write_sets(sets_dir, cmp_sets, 2, "a note\n\nin two paragraphs", &ref_sets_maps,
                                   &ref_sets_plots, &err),
         &err, "the reference compare-sets outputs");
    for (size_t k = 0; k < N_SETS_FILES; k++) {
        char path[700];
        sets_path(path, sizeof path, k);
        ref_sets[k] = must_slurp(path);
    }
}

static void trial_compare_sets(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    char path[N_SETS_FILES][700];
    for (size_t k = 0; k < N_SETS_FILES; k++) {
        sets_path(path[k], sizeof path[k], k);
        if (spill(path[k], old_file.p, old_file.n)) need(ATTEND_ERR_IO, &err, "writing an earlier file");
    }
    size_t maps = 0, plots = 0;
    track_begin();
    arm(n);
    attend_status st = attend_compare_write_sets(sets_dir, cmp_sets, 2, "a note\n\nin two paragraphs", &maps, &plots,
                                                 &err);
    *inj = disarm();
    if (st) check_failure(s->name, n, st, &err);
    else if (*inj) s->recovered++;
    track_end(s->name, n);
    for (size_t k = 0; k < N_SETS_FILES; k++) {
        if (st)
            CHECK(file_is(path[k], &old_file) || file_is(path[k], &ref_sets[k]),
                  "compare-sets, allocation %ld fails: %s is neither the earlier file nor the complete new one", n,
                  sets_files[k]);
        else
            CHECK(file_is(path[k], &ref_sets[k]), "compare-sets, allocation %ld fails: written OK but %s differs", n,
                  sets_files[k]);
    }
    CHECK(st || (maps == ref_sets_maps && plots == ref_sets_plots),
          "compare-sets, allocation %ld fails: %zu heatmaps and %zu plots instead of %zu and %zu", n, maps, plots,
          ref_sets_maps, ref_sets_plots);
}

/* ---- attend report ---- */

static char rep_dir[600], rep_index[700];
static blob ref_report;
static attend_report_result ref_rep_res;
static attend_epoch_report rep_epochs[2];

static void report_options(attend_report_options *o) {
    attend_report_options_default(o);
    o->model_path = model_trained;
    o->data_path = data_tsv;
    o->data_note = "sixteen made-up lines";
    o->epochs = rep_epochs;
    o->n_epochs = 2;
    o->train_seconds = 2.5;
    o->n_examples = 1;
    o->max_stats_examples = 4;
}

/* The page with what depends on the clock ("built in 0.1 s", the creation
 * time) blanked: every digit between those markers and the end of their
 * table cell. */
static void blank_clock(blob *b) {
    static const char *markers[2] = {"built in ", "created</td><td>"};
    for (int k = 0; k < 2; k++) {
        size_t ml = strlen(markers[k]);
        for (size_t i = 0; i + ml <= b->n; i++) {
            if (memcmp(b->p + i, markers[k], ml) != 0) continue;
            for (size_t j = i + ml; j < b->n && b->p[j] != '<'; j++)
                if (isdigit(b->p[j])) b->p[j] = '0';
        }
    }
}

static int report_is_ref(const char *path) {
    blob b = {0};
    b.p = slurp(path, &b.n);
    if (!b.p) return 0;
    blank_clock(&b);
    int same = b.n == ref_report.n && memcmp(b.p, ref_report.p, b.n) == 0;
    free(b.p);
    return same;
}

static void report_fixtures(void) {
    for (size_t i = 0; i < 2; i++)
        rep_epochs[i] = (attend_epoch_report){.epoch = i + 1, .epochs = 2, .step = 3 * (i + 1),
                                              .train_loss = 1.25 - 0.25 * (double)i, .val_loss = 1.5 - 0.125 * (double)i,
                                              .val_accuracy = 0.5, .val_macro_f1 = 0.375, .seconds = 1.25, .lr = 0.001,
                                              .tokens_per_s = 900.0, .has_val = 1, .improved = 1};
    tmp_path(rep_dir, sizeof rep_dir, "report");
    snprintf(rep_index, sizeof rep_index, "%s/index.html", rep_dir);
    attend_error err = {0};
    attend_model *m = NULL;
    attend_report_options o;
    report_options(&o);
    need(attend_model_load(&m, model_trained, &err), &err, "loading the model for the report");
    need(attend_report_write(m, &o, rep_dir, &ref_rep_res, &err), &err, "the reference report");
    attend_model_free(m);
    ref_report = must_slurp(rep_index);
    blank_clock(&ref_report);
}

/* attend_report_write over an earlier page: the page is the earlier one or
 * the complete new one. */
static void trial_report(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    attend_model *m = NULL;
    attend_report_options o;
    attend_report_result res;
    report_options(&o);
    if (spill(rep_index, old_file.p, old_file.n)) need(ATTEND_ERR_IO, &err, "writing an earlier page");
    track_begin();
    need(attend_model_load(&m, model_trained, &err), &err, "loading the model");
    arm(n);
    attend_status st = attend_report_write(m, &o, rep_dir, &res, &err);
    *inj = disarm();
    if (st) check_failure(s->name, n, st, &err);
    else if (*inj) s->recovered++;
    attend_model_free(m);
    track_end(s->name, n);
    if (st) {
        CHECK(file_is(rep_index, &old_file), "report, allocation %ld fails: the earlier page was changed", n);
    } else {
        CHECK(report_is_ref(rep_index), "report, allocation %ld fails: written OK but the page differs", n);
        CHECK(res.n_heatmaps == ref_rep_res.n_heatmaps && res.n_plots == ref_rep_res.n_plots &&
                  res.n_examples == ref_rep_res.n_examples,
              "report, allocation %ld fails: %zu heatmaps, %zu plots, %zu examples instead of %zu, %zu, %zu", n,
              res.n_heatmaps, res.n_plots, res.n_examples, ref_rep_res.n_heatmaps, ref_rep_res.n_plots,
              ref_rep_res.n_examples);
    }
}

/* attend explain's steps and page. The steps are plain arithmetic on the
 * model's weights and the forward pass's layer input, so a failure the
 * library absorbs (attention's scratch) may change the checks' last bits
 * but not the token's query, weights or layer output beyond rounding. */
static double ref_step_out[64], ref_step_w[16];

static void trial_stepwise(scenario_stats *s, long n, int *inj) {
    attend_error err = {0};
    attend_model *m = NULL;
    attend_stepwise sw;
    char page[600];
    tmp_path(page, sizeof page, "stepwise.html");
    static const char earlier[] = "an earlier page\n";
    blob old = {(unsigned char *)earlier, sizeof earlier - 1};
    if (spill(page, old.p, old.n)) need(ATTEND_ERR_IO, &err, "writing an earlier page");
    track_begin();
    need(attend_model_load(&m, model_trained, &err), &err, "loading the model");
    attend_stepwise_options o = {0, 1, 2, 14};
    arm(n);
    attend_status st = attend_stepwise_compute(m, classify_text, strlen(classify_text), &o, &sw, &err);
    if (st == ATTEND_OK) st = attend_stepwise_write_html(page, &sw, classify_text, &err);
    *inj = disarm();
    const size_t E = sw.E < 64 ? sw.E : 64, T = sw.T < 16 ? sw.T : 16;
    if (st) {
        check_failure(s->name, n, st, &err);
        CHECK(file_is(page, &old), "stepwise, allocation %ld fails: the earlier page was changed", n);
    } else if (n >= (1L << 40)) { /* the reference run */
        for (size_t e = 0; e < E; e++) ref_step_out[e] = sw.out[e];
        for (size_t j = 0; j < T; j++) ref_step_w[j] = sw.weights[j];
    } else {
        if (*inj) s->recovered++;
        double d = 0;
        for (size_t e = 0; e < E; e++) d = fmax(d, fabs(sw.out[e] - ref_step_out[e]));
        for (size_t j = 0; j < T; j++) d = fmax(d, fabs(sw.weights[j] - ref_step_w[j]));
        CHECK(d <= 1e-5 && attend_stepwise_matches(&sw), "stepwise, allocation %ld fails: steps differ by %g", n, d);
        size_t len = 0;
        unsigned char *p = slurp(page, &len);
        CHECK(p && len > 100 && memcmp(p + len - 8, "</html>\n", 8) == 0,
              "stepwise, allocation %ld fails: written OK but the page is not whole", n);
        free(p);
    }
    attend_stepwise_free(&sw);
    attend_model_free(m);
    track_end(s->name, n);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines in order with stderr's */
    attend_set_threads(1);
    cJSON_Hooks hooks = {cjson_malloc, cjson_free};
    cJSON_InitHooks(&hooks);
    make_tmp_dir();
    make_fixtures();
    compare_fixtures();
    compare_sets_fixtures();
    report_fixtures();
    if (spill(resume_src, ref_mid.p, ref_mid.n)) {
        fprintf(stderr, "test_alloc_fail: cannot write %s\n", resume_src);
        return 2;
    }
    // warm-up: anything the library or its dependencies allocate once per
    // process happens here, before the first tracked trial
    {
        int inj;
        scenario_stats w = {.name = "warm-up"};
        trial_classify(&w, 1L << 40, &inj);
        trial_explain(&w, 1L << 40, &inj); /* also the reference top keys */
        trial_stepwise(&w, 1L << 40, &inj); /* the reference steps */
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    scenario_stats st[] = {{.name = "data"},  {.name = "vocab"}, {.name = "load"},
                           {.name = "classify"}, {.name = "save"}, {.name = "train"},
                           {.name = "interrupt"}, {.name = "resume"}, {.name = "compare"},
                           {.name = "compare-sets"}, {.name = "report"}, {.name = "explain"},
                           {.name = "stepwise"}};
    trial_fn fns[] = {trial_data,  trial_vocab,     trial_load,   trial_classify,
                      trial_save,  trial_train,     trial_interrupt, trial_resume,
                      trial_compare, trial_compare_sets, trial_report, trial_explain, trial_stepwise};
    printf("test_alloc_fail: the N-th allocation fails, N = 1, 2, ... until a run completes\n");
    const char *only = getenv("ATTEND_ALLOC_FAIL_ONLY");
    long total = 0;
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
        if (only && *only && !strstr(only, st[i].name)) continue;
        run_scenario(&st[i], fns[i]);
        total += st[i].trials;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("alloc-fail: load %ld trials, train %ld trials (+ %ld interrupt, %ld resume), %ld in all, "
           "%zu leaks, %.1f s\n",
           st[2].trials, st[5].trials, st[6].trials, st[7].trials, total, total_leaks, secs);
    free(ref_trained.p);
    free(ref_created.p);
    free(ref_ckpt.p);
    free(ref_mid.p);
    free(ref_prev.p);
    for (size_t k = 0; k < N_CMP_FILES; k++) free(ref_cmp[k].p);
    for (size_t k = 0; k < N_SETS_FILES; k++) free(ref_sets[k].p);
    free(ref_report.p);
    return test_summary("test_alloc_fail");
}
