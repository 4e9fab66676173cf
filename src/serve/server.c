/* The server's life: start (listen, threads, no model), reload (load and
 * swap the model), stop (stop accepting, answer what was received, close). */
#define _POSIX_C_SOURCE 200809L
#include "serve/serve.h"

#include "base/util.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void attend_serve_options_default(attend_serve_options *o) {
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->max_batch_tokens = 2048;
    o->max_concurrent = 512;
    o->max_connections = 1024;
    o->max_body = (size_t)2 << 20;
    o->max_inputs = 1024;
    o->timeout_ms = 30000;
    o->idle_timeout_s = 10;
}

static size_t cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

static attend_status check_options(const attend_serve_options *o, attend_error *err) {
    if (!o->model_path || !*o->model_path)
        return attend_errorf(err, ATTEND_ERR_ARG, "attend_serve_start: no model path");
    if (o->port > 65535) return attend_errorf(err, ATTEND_ERR_ARG, "port %u is not a TCP port", o->port);
    if (o->threads > 1024 || o->http_threads > 1024)
        return attend_errorf(err, ATTEND_ERR_ARG, "at most 1024 threads");
    if (!o->max_batch_tokens || !o->max_concurrent || !o->max_connections || !o->max_body ||
        !o->max_inputs || !o->timeout_ms)
        return attend_errorf(err, ATTEND_ERR_ARG, "the server's limits must be positive");
    if (o->max_concurrent > ((size_t)1 << 20) || o->max_connections > ((size_t)1 << 20) ||
        o->max_body > ((size_t)1 << 30) || o->max_inputs > ((size_t)1 << 20))
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "a limit is out of range (max-concurrent, max-connections, max-inputs at most 2^20, "
                             "max-body at most 1 GiB)");
    if (o->api_key && !*o->api_key) return attend_errorf(err, ATTEND_ERR_ARG, "the API key is empty");
    return ATTEND_OK;
}

/* The file name of a path, as the default model name. */
static const char *base_name(const char *path) {
    const char *b = strrchr(path, '/');
    return b && b[1] ? b + 1 : path;
}

static void server_free(attend_server *s) {
    free(s->model_path);
    free(s->model_name);
    free(s->host);
    if (s->api_key) memset(s->api_key, 0, s->api_key_len);
    free(s->api_key);
    free(s);
}

/* The address to bind: o->host (a name or a numeric address) and port. */
static attend_status resolve(const attend_server *s, struct sockaddr_storage *ss, socklen_t *len,
                             attend_error *err) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%u", s->opt.port);
    int rc = getaddrinfo(s->host, port, &hints, &res);
    if (rc != 0 || !res)
        return attend_errorf(err, ATTEND_ERR_ARG, "cannot resolve host '%s': %s", s->host, gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return ATTEND_OK;
}

attend_status attend_serve_start(attend_server **out, const attend_serve_options *o,
                                 attend_error *err) {
    if (!out || !o) return attend_errorf(err, ATTEND_ERR_ARG, "attend_serve_start: NULL argument");
    *out = NULL;
    attend_status st = check_options(o, err);
    if (st) return st;
    attend_server *s = calloc(1, sizeof *s);
    if (!s) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for the server");
    s->opt = *o;
    s->model_path = attend_strdup(o->model_path);
    s->model_name = attend_strdup(o->model_name ? o->model_name : base_name(o->model_path));
    s->host = attend_strdup(o->host ? o->host : "127.0.0.1");
    if (o->api_key) s->api_key = attend_strdup(o->api_key);
    if (!s->model_path || !s->model_name || !s->host || (o->api_key && !s->api_key)) {
        server_free(s);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for the server");
    }
    s->api_key_len = s->api_key ? strlen(s->api_key) : 0;
    s->opt.model_path = s->model_path;
    s->opt.model_name = s->model_name;
    s->opt.host = s->host;
    s->opt.api_key = s->api_key;
    if (!s->opt.load) s->opt.load = attend_model_load;
    if (!s->opt.threads) s->opt.threads = cores();
    if (!s->opt.http_threads) s->opt.http_threads = cores() < 4 ? cores() : 4;
    s->limits.max_inputs = o->max_inputs;
    s->timeout_s = o->timeout_ms * 1e-3;
    serve_slot_init(&s->slot);
    /* the workers are the parallelism: each runs its batch on one thread
     * (process-wide, see attend_serve.h) */
    attend_set_threads(1);
    snprintf(s->build, sizeof s->build, "%s; libmicrohttpd %s", attend_build_info(), MHD_get_version());

    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    s->listen_fd = -1;
    if ((st = resolve(s, &addr, &addr_len, err)) ||
        (st = serve_listener_start(s, (const struct sockaddr *)&addr, addr_len, err)))
        goto fail;
    if ((st = serve_batcher_start(&s->batcher, s->opt.threads, o->max_concurrent, o->max_batch_tokens,
                                  o->exact, serve_http_job_done, &s->metrics, err)))
        goto fail;
    s->batcher_started = 1;
    if ((st = serve_http_start(s, err)) || (st = serve_listener_run(s, err))) goto fail;
    *out = s;
    return ATTEND_OK;
fail:
    serve_listener_close(s);
    if (s->daemon) MHD_stop_daemon(s->daemon);
    if (s->batcher_started) {
        serve_batcher_stop(&s->batcher);
        serve_batcher_destroy(&s->batcher);
    }
    serve_slot_destroy(&s->slot);
    server_free(s);
    return st;
}

unsigned attend_serve_port(const attend_server *s) { return s ? s->port : 0; }

attend_status attend_serve_reload(attend_server *s, attend_error *err) {
    if (!s) return attend_errorf(err, ATTEND_ERR_ARG, "attend_serve_reload: the server is NULL");
    attend_model *m = NULL;
    double t0 = attend_now_s();
    attend_status st = s->opt.load(&m, s->model_path, err);
    if (st == ATTEND_OK && !m) st = attend_errorf(err, ATTEND_ERR_ARG, "%s: the loader gave no model", s->model_path);
    serve_model *h = st ? NULL : serve_model_new(m, s->generation + 1);
    if (!st && !h) {
        attend_model_free(m);
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for the model handle");
    }
    if (st) {
        if (s->generation) atomic_fetch_add(&s->metrics.reload_failures, 1);
        serve_log(s, "%s did not load (%s); %s", s->model_path, err ? err->msg : attend_status_name(st),
                  s->generation ? "the previous model keeps serving" : "no model to serve");
        return st;
    }
    serve_slot_swap(&s->slot, h);
    if (s->generation++) atomic_fetch_add(&s->metrics.reloads, 1);
    serve_log(s, "model %s loaded in %.2f s (generation %llu, %zu labels, embeddings of %zu, up to %zu tokens)",
              s->model_path, attend_now_s() - t0, (unsigned long long)s->generation,
              attend_model_num_labels(m), attend_model_embed_dim(m), h->max_len);
    return ATTEND_OK;
}

void attend_serve_get_stats(const attend_server *s, attend_serve_stats *st) {
    memset(st, 0, sizeof *st);
    if (!s) return;
    const serve_metrics *m = &s->metrics;
    st->requests = atomic_load(&m->started);
    st->answered = atomic_load(&m->answered);
    st->not_sent = atomic_load(&m->not_sent);
    st->inferences = atomic_load(&m->batch_texts);
    st->batches = atomic_load(&m->batches);
    st->reloads = atomic_load(&m->reloads);
    st->reload_failures = atomic_load(&m->reload_failures);
}

void attend_serve_stop(attend_server *s, unsigned drain_ms, attend_serve_stats *final) {
    if (final) attend_serve_get_stats(s, final);
    if (!s) return;
    atomic_store(&s->stopping, 1);
    /* No new connections: the listening socket is closed at once, so a
     * client connecting now is refused rather than left in the backlog
     * (listener.c). Requests already received are answered (with
     * Connection: close). */
    serve_listener_close(s);
    double until = attend_now_s() + drain_ms * 1e-3;
    while (atomic_load(&s->in_flight) > 0 && attend_now_s() < until) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&s->in_flight) > 0)
        serve_log(s, "%zu requests still open after %u ms; closing them", atomic_load(&s->in_flight), drain_ms);
    /* Every admitted job is run and its connection resumed before the
     * daemon stops (stopping it with a suspended connection is an error). */
    serve_batcher_stop(&s->batcher);
    MHD_stop_daemon(s->daemon);
    serve_batcher_destroy(&s->batcher);
    if (final) attend_serve_get_stats(s, final);
    serve_slot_destroy(&s->slot);
    server_free(s);
}
