/* The server's internals, one concept per file:
 *   model_ref.c  the reference-counted model handle swapped by a reload
 *   request.c    a request body (JSON) -> the texts and options of a job
 *   batcher.c    the queue, the inference workers, batches, timeouts
 *   response.c   a finished job -> the JSON answer; error bodies
 *   metrics.c    counters and histograms, Prometheus text
 *   auth.c       the bearer key, compared in constant time
 *   http.c       libmicrohttpd: routing, bodies, suspend / resume
 *   server.c     start, reload, stop (attend_serve.h)
 *
 * A request's life: http.c reads the body, request.c parses it, the
 * batcher admits it (or answers 503), http.c suspends the connection and
 * queues the job; a worker runs it in a batch with whatever else was
 * waiting, stores the numbers in the job and resumes the connection;
 * http.c, called again, has response.c write the answer. */
#ifndef ATTEND_SERVE_INTERNAL_H
#define ATTEND_SERVE_INTERNAL_H

#include "attend_serve.h"
#include "base/buf.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- model handle (model_ref.c) ---- */

/* A loaded model shared by the requests admitted while it was current.
 * refs counts the server's hold (while current), each job's and each
 * worker context's; the last release frees the model. */
typedef struct serve_model {
    attend_model *model;
    atomic_size_t refs;
    uint64_t generation; /* 1 for the first model, +1 per reload */
    size_t max_len;      /* tokens the model reads per text, specials included */
    size_t n_special;    /* special tokens it puts before a text's own */
} serve_model;

/* A handle holding m (refs 1), or NULL when out of memory (m is then not
 * taken). */
serve_model *serve_model_new(attend_model *m, uint64_t generation);
/* Adds a reference; returns m. */
serve_model *serve_model_ref(serve_model *m);
/* Drops a reference; the last one frees the model. NULL is fine. */
void serve_model_unref(serve_model *m);

/* The current model, swapped under a lock. */
typedef struct {
    pthread_mutex_t lock;
    serve_model *current; /* NULL until the first load */
} serve_model_slot;

void serve_slot_init(serve_model_slot *s);
/* A new reference to the current model, or NULL when none is loaded. */
serve_model *serve_slot_get(serve_model_slot *s);
/* Makes m current (taking the caller's reference) and drops the old one. */
void serve_slot_swap(serve_model_slot *s, serve_model *m);
void serve_slot_destroy(serve_model_slot *s);

/* ---- requests (request.c) ---- */

typedef enum {
    SERVE_EP_PREDICT = 0,
    SERVE_EP_EMBED,
    SERVE_EP_OPENAI, /* /v1/embeddings */
    SERVE_EP_TOKENIZE,
    SERVE_EP_HEALTH,
    SERVE_EP_INFO,
    SERVE_EP_METRICS,
    SERVE_EP_OTHER, /* no such endpoint */
    SERVE_EP_COUNT
} serve_endpoint;

/* Path of an endpoint ("/predict"), and the endpoint of a path. */
const char *serve_endpoint_path(serve_endpoint ep);
serve_endpoint serve_endpoint_of(const char *url);
/* 1 for the endpoints that take a POST body and run the model. */
int serve_endpoint_runs_model(serve_endpoint ep);

/* Why a request is refused: HTTP status, a short machine-readable type
 * ("validation", "invalid_json", ...) and a message naming the problem. */
typedef struct {
    int http;
    const char *type;
    char msg[256];
} serve_failure;

/* Sets f and returns 0 (the value callers return on failure). */
int serve_fail(serve_failure *f, int http, const char *type, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Limits a body is checked against. */
typedef struct {
    size_t max_inputs; /* texts per request */
} serve_limits;

/* A parsed request of a model endpoint: its texts (pointing into doc) and
 * options. */
typedef struct {
    serve_endpoint ep;
    cJSON *doc;
    size_t n;
    const char **texts;
    size_t *lens;
    int single;         /* the input was one string, not an array */
    size_t top_k;       /* predict: labels per text (0: all) */
    int normalize;      /* embed: unit vectors (default 1; /v1/embeddings 1) */
    int truncate;       /* cut texts longer than the model takes (default 1);
                           0: refuse them with 413 */
    int add_special;    /* tokenize: list the special tokens too (default 1) */
    int base64;         /* /v1/embeddings: encoding_format "base64" */
    size_t dimensions;  /* /v1/embeddings: width asked for (0: not given) */
    const char *model;  /* /v1/embeddings: the "model" given, or NULL */
} serve_request;

/* Parses body[0..len) (NUL at body[len]) for endpoint ep. 1 when it is a
 * valid request (free it with serve_request_free), 0 with f filled (400
 * malformed JSON, 413 too many inputs, 422 wrong types or values, 500 out
 * of memory) and nothing to free. */
int serve_request_parse(serve_request *r, serve_endpoint ep, const char *body, size_t len,
                        const serve_limits *lim, serve_failure *f);
void serve_request_free(serve_request *r);

/* ---- jobs and the batcher (batcher.c) ---- */

struct MHD_Connection;

/* One admitted request: what to run, on which model, and its results. */
typedef struct serve_job {
    serve_request req;
    serve_model *model;          /* held until the job is freed */
    struct MHD_Connection *conn; /* resumed when done (NULL: run synchronously) */
    double t_arrival, deadline;  /* attend_now_s(); the deadline is set when queued */
    size_t est_tokens;           /* for the batch budget */
    /* results, filled by a worker */
    atomic_int done;  /* results (or failure) are final; set with release
                         by the worker, read with acquire by http.c */
    serve_failure fail; /* fail.http != 0: the job failed */
    float *out;       /* (n, W): probabilities (W = labels) or embeddings (W = dim) */
    size_t width;     /* W */
    size_t *n_tokens; /* (n): tokens the model read per text, specials included */
    int32_t *ids;     /* tokenize: every text's ids, one after the other */
    size_t *id_off;   /* tokenize: (n + 1) offsets into ids */
    struct serve_job *next;
} serve_job;

/* A job for r (taken: the job frees it) on model m (a reference taken
 * from the caller); NULL when out of memory (r and m are then released). */
serve_job *serve_job_new(serve_request *r, serve_model *m, double now);
void serve_job_free(serve_job *j);

typedef struct serve_metrics serve_metrics;

/* One text of a batch: its token count and its place in the batch's list. */
typedef struct {
    size_t tokens, pos;
} serve_text;

/* The scratch of one worker: its context on the model it was made for,
 * and the buffers a batch is gathered into: items (sorted by length), and
 * by list place the job and index of each text; texts, lens, n_tokens and
 * rows in sorted order. */
typedef struct {
    int exact;          /* one model call per text (attend_serve_options.exact) */
    size_t max_tokens;  /* tokens one model call may hold (max_batch_tokens) */
    attend_context *ctx;
    serve_model *ctx_model;
    serve_text *items;
    struct serve_job **owner;
    size_t *index;
    const char **texts;
    size_t *lens, *n_tokens;
    size_t cap_texts;
    float *rows;
    size_t cap_rows;
} serve_worker_state;

void serve_worker_state_free(serve_worker_state *w);

/* Runs jobs[0..n) (all on the same model, of the same kind: see
 * serve_jobs_compatible) as one batch with w's context and marks each done
 * (or failed). This is what a worker runs; the fuzz target calls it
 * directly. Returns the number of texts run through the model. */
size_t serve_run_jobs(serve_worker_state *w, serve_job **jobs, size_t n);

/* 1 when b may run in one batch with a. */
int serve_jobs_compatible(const serve_job *a, const serve_job *b);

/* What resumes a finished job's connection (http.c); NULL: nothing. */
typedef void (*serve_job_done_fn)(serve_job *j);

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t work;   /* jobs queued, or closing */
    pthread_cond_t reaper; /* the head's deadline changed, or closing */
    serve_job *head, *tail;
    size_t queued;      /* jobs in the queue */
    size_t admitted;    /* jobs admitted and not yet finished */
    size_t max_admitted;
    size_t max_batch_tokens;
    int exact;
    int closing;        /* no admissions; workers leave once admitted is 0 */
    struct serve_worker *workers;
    size_t n_workers, n_started;
    pthread_t reaper_thread;
    int reaper_started;
    serve_job_done_fn on_done;
    serve_metrics *metrics;
} serve_batcher;

/* Starts n workers and the timeout reaper. */
attend_status serve_batcher_start(serve_batcher *b, size_t n_workers, size_t max_admitted,
                                  size_t max_batch_tokens, int exact, serve_job_done_fn on_done,
                                  serve_metrics *metrics, attend_error *err);
/* Reserves a place for one job: 1, or 0 when max_admitted are in (or the
 * batcher is closing). */
int serve_batcher_admit(serve_batcher *b);
/* Gives back a place reserved by serve_batcher_admit that got no job. */
void serve_batcher_unadmit(serve_batcher *b);
/* Queues a job for an admitted place; it must start within timeout_s. */
void serve_batcher_push(serve_batcher *b, serve_job *j, double timeout_s);
/* Jobs waiting. */
size_t serve_batcher_depth(serve_batcher *b);
/* Refuses new jobs (serve_batcher_admit answers 0 from now on), lets the
 * workers finish every admitted one, joins the threads. */
void serve_batcher_stop(serve_batcher *b);
/* Frees a stopped batcher (once nothing can call it any more). */
void serve_batcher_destroy(serve_batcher *b);

/* ---- responses (response.c) ---- */

/* Writes the answer to a finished job into out; returns the HTTP status. */
int serve_response_job(const serve_job *j, const char *model_name, attend_buf *out);
/* {"error": msg, "error_type": type}. */
void serve_response_error(attend_buf *out, const char *type, const char *msg);

/* ---- metrics (metrics.c) ---- */

/* The status codes counted per endpoint. */
#define SERVE_N_STATUS 13
int serve_status_index(int http);

struct serve_metrics {
    atomic_uint_least64_t requests[SERVE_EP_COUNT][SERVE_N_STATUS];
    atomic_uint_least64_t latency_bucket[SERVE_EP_COUNT][16]; /* cumulative at output */
    atomic_uint_least64_t latency_count[SERVE_EP_COUNT];
    atomic_uint_least64_t latency_sum_us[SERVE_EP_COUNT];
    atomic_uint_least64_t batch_bucket[12];
    atomic_uint_least64_t batches, batch_texts, tokens;
    atomic_uint_least64_t started, answered, not_sent;
    atomic_uint_least64_t reloads, reload_failures, timeouts, overloaded;
};

void serve_metrics_request(serve_metrics *m, serve_endpoint ep, int http, double seconds);
void serve_metrics_batch(serve_metrics *m, size_t texts, size_t tokens);
/* The Prometheus text exposition of m plus the gauges given. */
void serve_metrics_write(const serve_metrics *m, attend_buf *out, size_t queue_depth,
                         size_t in_flight, uint64_t model_generation);

/* ---- the server (server.c, http.c) ---- */

struct MHD_Daemon;

struct attend_server {
    attend_serve_options opt; /* strings below are the server's copies */
    char *model_path, *model_name, *host, *api_key;
    size_t api_key_len;
    serve_limits limits;
    double timeout_s;
    struct MHD_Daemon *daemon;
    unsigned port;
    /* the listening socket (listener.c) */
    int listen_fd, wake[2];
    pthread_t accept_thread;
    int listening, accepting;
    serve_model_slot slot;
    serve_batcher batcher;
    int batcher_started;
    serve_metrics metrics;
    atomic_int stopping;      /* answers carry "Connection: close" */
    atomic_size_t in_flight;  /* requests between their headers and their end */
    uint64_t generation;      /* models loaded (attend_serve_reload's thread only) */
    char build[512];          /* attend_build_info() at start */
};

/* Starts libmicrohttpd for s, without a listening socket of its own
 * (http.c): connections come from the listener. */
attend_status serve_http_start(attend_server *s, attend_error *err);

/* The listening socket (listener.c): bound and listening at start (the
 * port known), accepting once run, closed by close (new connections are
 * refused from then on). */
attend_status serve_listener_start(attend_server *s, const struct sockaddr *addr, socklen_t addr_len,
                                   attend_error *err);
attend_status serve_listener_run(attend_server *s, attend_error *err);
void serve_listener_close(attend_server *s);
/* The answers of GET /health and /info (their HTTP status) and /metrics
 * (status.c). */
int serve_status_health(attend_server *s, attend_buf *out);
int serve_status_info(attend_server *s, attend_buf *out);
void serve_status_metrics(attend_server *s, attend_buf *out);
/* Resumes a finished job's connection (the batcher's on_done). */
void serve_http_job_done(serve_job *j);
/* A log line through the options' callback, printf-style. */
void serve_log(const attend_server *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- auth (auth.c) ---- */

/* 1 when the Authorization header value is "Bearer <key>" (the comparison
 * takes the same time wherever the first difference is). */
int serve_auth_ok(const char *key, size_t key_len, const char *header);

#endif
