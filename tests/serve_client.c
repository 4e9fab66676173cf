/* The client side of tests/test_serve.sh: a load generator that checks
 * every answer, and a few probes of misbehaving clients. It speaks just
 * enough HTTP/1.1 (keep-alive, Content-Length bodies: what the server
 * sends) over plain sockets to 127.0.0.1.
 *
 *   serve_client load PORT MODEL TEXTS ENDPOINT CLIENTS REQUESTS TOL [KEY]
 *       CLIENTS threads, each on its own keep-alive connection, send
 *       REQUESTS requests of 1 to 3 texts from TEXTS (one a line) to
 *       ENDPOINT (predict | embed | v1 | tokenize). Every answer is checked
 *       against the library run on one text at a time (attend_classify,
 *       attend_embed, attend_tokenize on MODEL): every label, in order of
 *       score, each number within TOL (relative, at least absolute) of the
 *       library's; TOL 0: the same float bits. REQUESTS 0: send until the
 *       server stops accepting (for the SIGTERM test). Prints one line of
 *       counts; exits 1 on any wrong answer or unexpected status (with
 *       SERVE_CLIENT_ACCEPT_503=1 a 503 with Retry-After and a JSON error is
 *       expected too: the overload test).
 *   serve_client cli-compare CLI_JSONL ANSWER
 *       `attend predict --json -k K` lines against a /predict answer (a
 *       JSON array of lists): same labels, scores equal to 6 digits.
 *   serve_client slowloris PORT CONNS WAIT_S
 *       opens CONNS connections that send half a header and stall, checks
 *       that a normal request is answered meanwhile, then that the server
 *       closes every stalled connection within WAIT_S seconds.
 *   serve_client raw PORT
 *       sends standard input as is and prints the status line of the
 *       answer, "closed" if the server closed without one, "timeout" if it
 *       said nothing for 10 s. */
#define _POSIX_C_SOURCE 200809L
#include "attend.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int port_;

static int conn_open(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0}; /* no test waits on a silent server forever */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

typedef struct {
    int status, close, retry_after;
    char *body;
    size_t len;
    char *buf;
    size_t cap, have;
} response;

/* Reads one response: 0, or -1 when the connection ended before a whole
 * one (got_any tells whether any byte came). */
static int read_response(int fd, response *r, int *got_any) {
    r->have = 0;
    *got_any = 0;
    size_t body_at = 0; /* 0: the headers are not all in yet */
    for (;;) {
        if (r->cap - r->have < 4096) {
            r->cap = r->cap ? r->cap * 2 : 65536;
            char *nb = realloc(r->buf, r->cap + 1);
            if (!nb) return -1;
            r->buf = nb;
        }
        r->buf[r->have] = 0;
        if (!body_at) {
            char *e = strstr(r->buf, "\r\n\r\n");
            if (e) {
                *e = 0;
                if (sscanf(r->buf, "HTTP/1.%*d %d", &r->status) != 1) return -1;
                const char *cl = strstr(r->buf, "Content-Length: ");
                if (!cl) return -1;
                r->len = strtoull(cl + 16, NULL, 10);
                r->close = strstr(r->buf, "Connection: close") != NULL;
                r->retry_after = strstr(r->buf, "Retry-After: ") != NULL;
                body_at = (size_t)(e - r->buf) + 4;
            }
        }
        if (body_at && r->have - body_at >= r->len) {
            r->body = r->buf + body_at;
            r->body[r->len] = 0;
            return 0;
        }
        ssize_t k = recv(fd, r->buf + r->have, r->cap - r->have, 0);
        if (k <= 0) return -1;
        *got_any = 1;
        r->have += (size_t)k;
    }
}

static char *request_text(const char *path, const char *body, const char *key) {
    size_t n = strlen(body) + strlen(path) + (key ? strlen(key) : 0) + 200;
    char *s = malloc(n);
    snprintf(s, n,
             "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%s%s%s"
             "Content-Length: %zu\r\n\r\n%s",
             path, key ? "Authorization: Bearer " : "", key ? key : "", key ? "\r\n" : "", strlen(body),
             body);
    return s;
}

/* ---- expected answers, one text at a time through the library ---- */

typedef enum { EP_PREDICT, EP_EMBED, EP_V1, EP_TOKENIZE } endpoint;
static const char *const ep_paths[] = {"/predict", "/embed", "/v1/embeddings", "/tokenize"};

static attend_model *model_;
static char **texts_;
static size_t n_texts_, width_;
static float *expect_;     /* (n_texts, width): probabilities or unit embeddings */
static int32_t *ids_;      /* (n_texts, max_len) */
static size_t *n_ids_, max_len_;
static endpoint ep_;
static const char *key_;

static int load_expected(const char *model_path, const char *texts_path) {
    attend_error err = {0};
    attend_context *ctx = NULL;
    if (attend_model_load(&model_, model_path, &err) || attend_context_new(&ctx, model_, &err)) {
        fprintf(stderr, "serve_client: %s\n", err.msg);
        return -1;
    }
    FILE *f = fopen(texts_path, "rb");
    if (!f) return -1;
    char line[70000];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!*line) continue;
        texts_ = realloc(texts_, (n_texts_ + 1) * sizeof *texts_);
        texts_[n_texts_++] = strdup(line);
    }
    fclose(f);
    width_ = ep_ == EP_PREDICT ? attend_model_num_labels(model_) : attend_model_embed_dim(model_);
    max_len_ = attend_model_get_config(model_)->max_len;
    expect_ = malloc(n_texts_ * width_ * sizeof *expect_);
    ids_ = malloc(n_texts_ * max_len_ * sizeof *ids_);
    n_ids_ = malloc(n_texts_ * sizeof *n_ids_);
    for (size_t i = 0; i < n_texts_; i++) {
        size_t len = strlen(texts_[i]);
        attend_status st = ep_ == EP_PREDICT
                               ? attend_classify(model_, ctx, texts_[i], len, expect_ + i * width_, NULL, &err)
                               : attend_embed(model_, ctx, texts_[i], len, 1, expect_ + i * width_, NULL, &err);
        if (!st) st = attend_tokenize(model_, ctx, texts_[i], len, ids_ + i * max_len_, max_len_, &n_ids_[i], NULL, &err);
        if (st) {
            fprintf(stderr, "serve_client: text %zu: %s\n", i, err.msg);
            return -1;
        }
    }
    attend_context_free(ctx);
    return 0;
}

static double tol_;

/* 1 when v is the number the server must have printed for x: with tol_ 0,
 * the same decimals (%.9g reads back to the same float, so equal bits give
 * equal decimals); else within tol_. */
static int same_float(const cJSON *v, float x) {
    if (!cJSON_IsNumber(v)) return 0;
    if (tol_ > 0) return fabs(v->valuedouble - (double)x) <= tol_ * fmax(1.0, fabs((double)x));
    char s[32];
    snprintf(s, sizeof s, "%.9g", (double)x);
    return v->valuedouble == strtod(s, NULL);
}

static int check_predictions(const cJSON *list, size_t t) {
    const float *p = expect_ + t * width_;
    if (!cJSON_IsArray(list) || (size_t)cJSON_GetArraySize(list) != width_) return 0;
    double prev = 2.0;
    unsigned char seen[4096] = {0};
    for (const cJSON *e = list->child; e; e = e->next) {
        const cJSON *l = cJSON_GetObjectItem(e, "label"), *s = cJSON_GetObjectItem(e, "score");
        if (!cJSON_IsString(l) || !cJSON_IsNumber(s)) return 0;
        size_t k = 0;
        while (k < width_ && strcmp(attend_model_label(model_, k), l->valuestring) != 0) k++;
        if (k == width_ || k >= sizeof seen || seen[k]++ || !same_float(s, p[k]) || s->valuedouble > prev)
            return 0;
        prev = s->valuedouble;
    }
    return 1;
}

static int check_vector(const cJSON *v, size_t t) {
    if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) != width_) return 0;
    size_t e = 0;
    for (const cJSON *x = v->child; x; x = x->next, e++)
        if (!same_float(x, expect_[t * width_ + e])) return 0;
    return 1;
}

static int check_ids(const cJSON *v, size_t t) {
    if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) != n_ids_[t]) return 0;
    size_t i = 0;
    for (const cJSON *x = v->child; x; x = x->next, i++) {
        const cJSON *id = cJSON_GetObjectItem(x, "id"), *tx = cJSON_GetObjectItem(x, "text");
        if (!cJSON_IsNumber(id) || id->valueint != ids_[t * max_len_ + i] || !cJSON_IsString(tx) ||
            strcmp(tx->valuestring, attend_model_token(model_, ids_[t * max_len_ + i])) != 0)
            return 0;
    }
    return 1;
}

/* The answer to texts which[0..n) (single: sent as one string). */
static int check_answer(const char *body, const size_t *which, size_t n, int single) {
    cJSON *doc = cJSON_Parse(body);
    int ok = doc != NULL;
    const cJSON *items = doc;
    if (ok && ep_ == EP_V1) {
        items = cJSON_GetObjectItem(doc, "data");
        const cJSON *u = cJSON_GetObjectItem(doc, "usage");
        ok = cJSON_IsArray(items) && u && cJSON_IsNumber(cJSON_GetObjectItem(u, "prompt_tokens"));
    }
    if (ok && single && ep_ == EP_PREDICT) ok = check_predictions(items, which[0]);
    else if (ok) {
        ok = cJSON_IsArray(items) && (size_t)cJSON_GetArraySize(items) == n;
        size_t i = 0;
        for (const cJSON *e = ok ? items->child : NULL; e && ok; e = e->next, i++) {
            if (ep_ == EP_PREDICT) ok = check_predictions(e, which[i]);
            else if (ep_ == EP_EMBED) ok = check_vector(e, which[i]);
            else if (ep_ == EP_TOKENIZE) ok = check_ids(e, which[i]);
            else ok = check_vector(cJSON_GetObjectItem(e, "embedding"), which[i]) &&
                      cJSON_GetObjectItem(e, "index")->valueint == (int)i;
        }
    }
    cJSON_Delete(doc);
    return ok;
}

/* ---- load ---- */

static size_t requests_per_client_;
static int accept_503_; /* $SERVE_CLIENT_ACCEPT_503=1: a 503 with Retry-After is counted, not an error */
static atomic_ulong n_ok_, n_wrong_, n_status_, n_503_, n_closed_, n_dropped_, n_connect_fail_;

static uint64_t next_rand(uint64_t *s) {
    *s += 0x9e3779b97f4a7c15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static char *make_body(size_t *which, size_t n, int single) {
    cJSON *o = cJSON_CreateObject();
    cJSON *in = single ? cJSON_CreateString(texts_[which[0]]) : cJSON_CreateArray();
    for (size_t i = 0; !single && i < n; i++) cJSON_AddItemToArray(in, cJSON_CreateString(texts_[which[i]]));
    cJSON_AddItemToObject(o, ep_ == EP_V1 ? "input" : "inputs", in);
    if (ep_ == EP_V1) cJSON_AddStringToObject(o, "model", "test");
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void *client_main(void *arg) {
    uint64_t rng = (uint64_t)(uintptr_t)arg * 7919 + 1;
    response r;
    memset(&r, 0, sizeof r);
    int fd = -1;
    for (size_t q = 0; requests_per_client_ == 0 || q < requests_per_client_; q++) {
        if (fd < 0) {
            if ((fd = conn_open()) < 0) {
                if (requests_per_client_) atomic_fetch_add(&n_connect_fail_, 1);
                break; /* REQUESTS 0: the server has stopped accepting */
            }
        }
        size_t which[3], n = 1 + next_rand(&rng) % 3;
        for (size_t i = 0; i < n; i++) which[i] = next_rand(&rng) % n_texts_;
        int single = n == 1 && (next_rand(&rng) & 1);
        char *body = make_body(which, n, single);
        char *req = request_text(ep_paths[ep_], body, key_);
        int got_any = 0;
        int rc = send_all(fd, req, strlen(req)) == 0 ? read_response(fd, &r, &got_any) : -1;
        free(req);
        free(body);
        if (rc != 0) {
            /* While the server stops (REQUESTS 0), a connection closed
             * before any answer, a reused keep-alive one or a fresh one
             * the closing listener reset from its backlog, is a request
             * the server never read (a client would retry it): the test
             * checks separately that every request the server answered
             * reached a client. Anything else is a dropped request. */
            int retryable = requests_per_client_ == 0 && !got_any;
            atomic_fetch_add(retryable ? &n_closed_ : &n_dropped_, 1);
            close(fd);
            fd = -1;
            if (requests_per_client_ == 0) continue;
            break;
        }
        if (r.status == 200) {
            if (check_answer(r.body, which, n, single)) atomic_fetch_add(&n_ok_, 1);
            else {
                if (atomic_fetch_add(&n_wrong_, 1) < 3)
                    fprintf(stderr, "serve_client: wrong answer: %.300s\n", r.body);
            }
        } else if (r.status == 503 && (requests_per_client_ == 0 || accept_503_) && r.retry_after &&
                   strstr(r.body, "\"error_type\":")) {
            atomic_fetch_add(&n_503_, 1); /* shutting down, or overloaded */
        } else {
            if (atomic_fetch_add(&n_status_, 1) < 3)
                fprintf(stderr, "serve_client: status %d: %.300s\n", r.status, r.body);
        }
        if (r.close) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) close(fd);
    free(r.buf);
    return NULL;
}

static int cmd_load(int argc, char **argv) {
    if (argc < 8) return 2;
    port_ = atoi(argv[2]);
    const char *eps[] = {"predict", "embed", "v1", "tokenize"};
    ep_ = EP_PREDICT;
    for (int i = 0; i < 4; i++)
        if (!strcmp(argv[5], eps[i])) ep_ = (endpoint)i;
    size_t clients = strtoul(argv[6], NULL, 10);
    requests_per_client_ = strtoul(argv[7], NULL, 10);
    tol_ = argc > 8 ? strtod(argv[8], NULL) : 0;
    key_ = argc > 9 ? argv[9] : NULL;
    accept_503_ = getenv("SERVE_CLIENT_ACCEPT_503") && !strcmp(getenv("SERVE_CLIENT_ACCEPT_503"), "1");
    if (load_expected(argv[3], argv[4]) || !n_texts_) return 1;
    pthread_t *t = malloc(clients * sizeof *t);
    for (size_t i = 0; i < clients; i++) pthread_create(&t[i], NULL, client_main, (void *)(uintptr_t)(i + 1));
    for (size_t i = 0; i < clients; i++) pthread_join(t[i], NULL);
    free(t);
    unsigned long ok = n_ok_, wrong = n_wrong_, status = n_status_, r503 = n_503_, closed = n_closed_,
                  dropped = n_dropped_, cf = n_connect_fail_;
    printf("ok %lu wrong %lu bad_status %lu refused_503 %lu closed_unread %lu dropped %lu connect_failed %lu\n",
           ok, wrong, status, r503, closed, dropped, cf);
    return wrong || status || dropped || cf ? 1 : 0;
}

/* ---- cli-compare ---- */

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap + 1);
    size_t k;
    while ((k = fread(s + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) s = realloc(s, (cap *= 2) + 1);
    }
    fclose(f);
    s[n] = 0;
    return s;
}

static int cmd_cli_compare(int argc, char **argv) {
    if (argc < 4) return 2;
    char *cli = read_file(argv[2]), *ans = read_file(argv[3]);
    cJSON *doc = ans ? cJSON_Parse(ans) : NULL;
    if (!cli || !cJSON_IsArray(doc)) {
        fprintf(stderr, "serve_client: cannot read %s or %s\n", argv[2], argv[3]);
        return 1;
    }
    int bad = 0;
    size_t lines = 0;
    const cJSON *list = doc->child;
    for (char *line = strtok(cli, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        cJSON *want = cJSON_Parse(line);
        const cJSON *labels = cJSON_GetObjectItem(want, "labels"), *probs = cJSON_GetObjectItem(want, "probs");
        if (!list || !cJSON_IsArray(labels) || cJSON_GetArraySize(labels) != cJSON_GetArraySize(list)) bad++;
        else {
            const cJSON *l = labels->child, *p = probs->child;
            for (const cJSON *e = list->child; e; e = e->next, l = l->next, p = p->next) {
                char a[32], b[32];
                snprintf(a, sizeof a, "%.6g", cJSON_GetObjectItem(e, "score")->valuedouble);
                snprintf(b, sizeof b, "%.6g", p->valuedouble);
                if (strcmp(cJSON_GetObjectItem(e, "label")->valuestring, l->valuestring) || strcmp(a, b)) {
                    if (bad++ < 3) fprintf(stderr, "line %zu: server %s %s, cli %s %s\n", lines + 1,
                                           cJSON_GetObjectItem(e, "label")->valuestring, a, l->valuestring, b);
                }
            }
        }
        cJSON_Delete(want);
        if (list) list = list->next;
    }
    if (list || lines == 0) bad++;
    printf("%zu lines, %d differences\n", lines, bad);
    cJSON_Delete(doc);
    free(cli);
    free(ans);
    return bad ? 1 : 0;
}

/* ---- slowloris ---- */

static int one_request_ok(void) {
    int fd = conn_open();
    if (fd < 0) return 0;
    const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    response r;
    memset(&r, 0, sizeof r);
    int got = 0, ok = send_all(fd, req, sizeof req - 1) == 0 && read_response(fd, &r, &got) == 0 && r.status == 200;
    free(r.buf);
    close(fd);
    return ok;
}

static int cmd_slowloris(int argc, char **argv) {
    if (argc < 5) return 2;
    port_ = atoi(argv[2]);
    int n = atoi(argv[3]), wait_s = atoi(argv[4]);
    int *fds = malloc((size_t)n * sizeof *fds), opened = 0;
    const char part[] = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Le";
    for (int i = 0; i < n; i++) {
        fds[i] = conn_open();
        if (fds[i] >= 0 && send_all(fds[i], part, sizeof part - 1) == 0) opened++;
    }
    int answered = 0;
    for (int k = 0; k < 5; k++) answered += one_request_ok();
    /* a stalled client trickling a byte now and then is still cut off by
     * the idle timeout only if it stays silent: send nothing more */
    int closed = 0;
    double until = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    until = (double)ts.tv_sec + wait_s;
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0) continue;
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double left = until - (double)ts.tv_sec;
            if (left <= 0) break;
            struct timeval tv = {(time_t)left, 0};
            setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            char b[256];
            ssize_t k = recv(fds[i], b, sizeof b, 0);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                closed++;
                break;
            }
            if (k < 0) break; /* timed out */
        }
        close(fds[i]);
    }
    free(fds);
    printf("stalled %d of %d, answered meanwhile %d of 5, closed by the server %d\n", opened, n, answered, closed);
    return opened == n && answered == 5 && closed == n ? 0 : 1;
}

/* ---- raw ---- */

static int cmd_raw(int argc, char **argv) {
    if (argc < 3) return 2;
    port_ = atoi(argv[2]);
    int fd = conn_open();
    if (fd < 0) {
        printf("connect failed\n");
        return 1;
    }
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, stdin)) > 0)
        if (send_all(fd, buf, k)) break;
    shutdown(fd, SHUT_WR);
    size_t have = 0;
    ssize_t got = 0;
    while (have < sizeof buf - 1 && (got = recv(fd, buf + have, sizeof buf - 1 - have, 0)) > 0) have += (size_t)got;
    int timed_out = got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    buf[have] = 0;
    close(fd);
    char *eol = strstr(buf, "\r\n");
    if (eol) *eol = 0;
    printf("%s\n", have ? buf : timed_out ? "timeout" : "closed");
    return 0;
}

int main(int argc, char **argv) {
    alarm(240); /* a hung server fails the test instead of hanging it */
    attend_set_threads(1);
    int rc = 2;
    if (argc > 1 && !strcmp(argv[1], "load")) rc = cmd_load(argc, argv);
    else if (argc > 1 && !strcmp(argv[1], "cli-compare")) rc = cmd_cli_compare(argc, argv);
    else if (argc > 1 && !strcmp(argv[1], "slowloris")) rc = cmd_slowloris(argc, argv);
    else if (argc > 1 && !strcmp(argv[1], "raw")) rc = cmd_raw(argc, argv);
    if (rc == 2) fprintf(stderr, "usage: see the top of tests/serve_client.c\n");
    return rc;
}
