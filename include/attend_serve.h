/* attend serve: an HTTP/1.1 inference server for one model (libmicrohttpd).
 *
 * Endpoints (the shapes of text-embeddings-inference and the OpenAI API):
 *   POST /predict         {"inputs": str | [str], "top_k": K, "truncate": bool}
 *   POST /embed           {"inputs": str | [str], "normalize": bool, "truncate": bool}
 *   POST /v1/embeddings   {"input": str | [str], "model": str, "encoding_format": "float" | "base64"}
 *   POST /tokenize        {"inputs": str | [str]}
 *   GET  /health, /info, /metrics (Prometheus text)
 * Errors are JSON, {"error": "...", "error_type": "..."}; docs in README.md
 * ("Serving").
 *
 * Threads: libmicrohttpd's own pool runs the connections (epoll); a fixed
 * set of inference workers, each with its own attend_context, takes the
 * requests that are waiting when it becomes free, up to max_batch_tokens,
 * and runs them as one attend_classify_batch / attend_embed_batch call. A
 * request alone is run at once; it never waits for company. A batch's
 * numbers can differ from one text's alone in the last bits (the BLAS's
 * row sums depend on the product's shape): within about 1e-6 of
 * attend_classify's probabilities; with `exact` they are the same bits,
 * at the price of one model call per text. Each worker
 * runs its batch on one thread: attend_serve_start calls attend_set_threads(1),
 * which is process-wide (see attend.h), so the rest of the process runs on
 * one thread per call too.
 *
 * The model is a reference-counted handle swapped atomically by
 * attend_serve_reload: a request holds the model it was admitted with until
 * it is answered, so requests in flight finish on the old model while new
 * ones get the new; the old model is freed with its last request. */
#ifndef ATTEND_SERVE_H
#define ATTEND_SERVE_H

#include "attend.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a model path becomes a model: attend_model_load for attend model
 * files; a loader of other formats (a Hugging Face folder) plugs in here. */
typedef attend_status (*attend_serve_loader)(attend_model **out, const char *path,
                                             attend_error *err);

/* One line of the server's log (startup, reloads, failures); the library
 * never prints, the caller decides where lines go. */
typedef void (*attend_serve_log)(void *ctx, const char *line);

typedef struct {
    const char *model_path;   /* what attend_serve_reload loads (required) */
    attend_serve_loader load; /* NULL: attend_model_load */
    const char *model_name;   /* name in /info and /v1/embeddings (NULL: the file name) */
    const char *host;         /* address to listen on (default "127.0.0.1") */
    unsigned port;            /* 0: an ephemeral port (attend_serve_port tells which) */
    size_t threads;           /* inference workers (0: the cores) */
    size_t http_threads;      /* connection threads (0: min(cores, 4)) */
    size_t max_batch_tokens;  /* tokens one batch, and one model call, may hold,
                                 counting a text as at most one token per byte
                                 (default 2048). A worker's memory grows to
                                 this many tokens' activations (per token
                                 about 4 x layers x (13 E + F) bytes) */
    int exact;                /* 1: one model call per text, answers bit for bit
                                 attend_classify's / attend_embed's (default 0) */
    size_t max_concurrent;    /* requests admitted at once, running or queued;
                                 beyond: 503 + Retry-After (default 512) */
    size_t max_connections;   /* open connections (default 1024) */
    size_t max_body;          /* request body bytes; beyond: 413 (default 2 MiB) */
    size_t max_inputs;        /* texts per request; beyond: 413 (default 1024) */
    unsigned timeout_ms;      /* a request not started within this from its
                                 arrival is answered 503 (default 30000) */
    unsigned idle_timeout_s;  /* a connection silent this long is closed, also
                                 one stuck in its headers (default 10) */
    const char *api_key;      /* non-NULL: every endpoint but /health needs
                                 "Authorization: Bearer <api_key>" */
    attend_serve_log log;     /* NULL: no log */
    void *log_ctx;
} attend_serve_options;

/* Fills the defaults listed above (model_path NULL). */
void attend_serve_options_default(attend_serve_options *o);

/* A running server (opaque). */
typedef struct attend_server attend_server;

/* Listens on o->host:o->port and starts the connection and inference
 * threads, with no model yet: /health answers 503 and the inference
 * endpoints 503 + Retry-After until attend_serve_reload has loaded one.
 * The options' strings are copied. Fails (ATTEND_ERR_ARG / ATTEND_ERR_IO)
 * on bad options or an address that cannot be bound. */
attend_status attend_serve_start(attend_server **out, const attend_serve_options *o,
                                 attend_error *err);

/* The port listened on (the one picked when o->port was 0). */
unsigned attend_serve_port(const attend_server *s);

/* Loads o->model_path with o->load and, when it loads, swaps it in
 * atomically: requests admitted before go on with the model they hold.
 * A file that does not load is refused (the error says why) and the
 * current model keeps serving. Call it from one thread at a time. */
attend_status attend_serve_reload(attend_server *s, attend_error *err);

/* Counters since the start. */
typedef struct {
    uint64_t requests;     /* requests whose handling began */
    uint64_t answered;     /* responses sent in full */
    uint64_t not_sent;     /* requests that ended without a full response
                              (client gone, connection error) */
    uint64_t inferences;   /* texts run through the model */
    uint64_t batches;      /* batches run */
    uint64_t reloads, reload_failures;
} attend_serve_stats;

void attend_serve_get_stats(const attend_server *s, attend_serve_stats *st);

/* Stops gracefully and frees the server: stops accepting connections,
 * answers every request already received (responses then carry
 * "Connection: close"), waits up to drain_ms for the last of them to be
 * sent, then closes every connection. final (may be NULL) receives the
 * counters at the end. NULL s is fine. */
void attend_serve_stop(attend_server *s, unsigned drain_ms, attend_serve_stats *final);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_SERVE_H */
