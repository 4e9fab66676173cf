/* HTTP on libmicrohttpd: its own thread pool (epoll where the system has
 * it) runs the connections, with keep-alive, a connection limit and an idle
 * timeout that also ends connections stuck in their headers (slowloris).
 *
 * libmicrohttpd calls on_request for each request: once with the headers
 * (routing, method, key and the announced body size are checked there,
 * before any body is read), once per piece of body, and once when the body
 * is complete. A model request is then parsed, admitted, and its
 * connection suspended while a worker runs it; the worker resumes the
 * connection, and the next call answers from the finished job. So no
 * connection thread ever waits for the model. */
#define _POSIX_C_SOURCE 200809L
#include "serve/serve.h"

#include "base/util.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* One request on a connection. */
typedef struct {
    attend_server *s;
    serve_endpoint ep;
    double t0;
    char *body;
    size_t len, cap;
    serve_job *job; /* admitted, suspended until the job is done */
    int status;     /* HTTP status answered (0: none yet) */
    serve_failure early; /* refused from its headers, answered once it is read */
} http_req;

void serve_log(const attend_server *s, const char *fmt, ...) {
    if (!s->opt.log) return;
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->opt.log(s->opt.log_ctx, line);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    const attend_server *s = cls;
    if (!s->opt.log) return;
    char line[600];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    while (n > 0 && (size_t)n < sizeof line && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    serve_log(s, "http: %s", line);
}

/* Queues body (taken) with status and the headers every answer carries;
 * extra is one more "Name: value" pair or NULL. */
static enum MHD_Result respond(struct MHD_Connection *c, http_req *r, int status, attend_buf *body,
                               const char *content_type, const char *extra_name,
                               const char *extra_value) {
    static const char oom[] = "{\"error\":\"out of memory for the answer\",\"error_type\":\"backend\"}";
    struct MHD_Response *resp;
    if (body->failed || !body->s) {
        attend_buf_free(body);
        status = 500;
        content_type = "application/json";
        extra_name = NULL;
        resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    } else {
        /* the buffer is malloc'ed: libmicrohttpd frees it when sent */
        resp = MHD_create_response_from_buffer(body->len, body->s, MHD_RESPMEM_MUST_FREE);
        if (resp) attend_buf_init(body);
        else attend_buf_free(body);
    }
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (extra_name) MHD_add_response_header(resp, extra_name, extra_value);
    if (atomic_load(&r->s->stopping)) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES) r->status = status;
    return ret;
}

static enum MHD_Result respond_error(struct MHD_Connection *c, http_req *r, int status,
                                     const char *type, const char *msg) {
    attend_buf b;
    attend_buf_init(&b);
    serve_response_error(&b, type, msg);
    if (status == 401) return respond(c, r, status, &b, "application/json", MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 503) return respond(c, r, status, &b, "application/json", MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (status == 405)
        return respond(c, r, status, &b, "application/json", MHD_HTTP_HEADER_ALLOW,
                       serve_endpoint_runs_model(r->ep) ? "POST" : "GET, HEAD");
    return respond(c, r, status, &b, "application/json", NULL, NULL);
}

static enum MHD_Result respond_failure(struct MHD_Connection *c, http_req *r, const serve_failure *f) {
    return respond_error(c, r, f->http, f->type, f->msg);
}

static enum MHD_Result answer_get(struct MHD_Connection *c, http_req *r) {
    attend_buf b;
    attend_buf_init(&b);
    if (r->ep == SERVE_EP_METRICS) {
        serve_status_metrics(r->s, &b);
        return respond(c, r, 200, &b, "text/plain; version=0.0.4; charset=utf-8", NULL, NULL);
    }
    int status = r->ep == SERVE_EP_HEALTH ? serve_status_health(r->s, &b) : serve_status_info(r->s, &b);
    if (status == 503) return respond(c, r, status, &b, "application/json", MHD_HTTP_HEADER_RETRY_AFTER, "1");
    return respond(c, r, status, &b, "application/json", NULL, NULL);
}

/* What can be refused from the headers alone: unknown path, wrong method,
 * missing key, announced body too large. 1 when the request may go on,
 * else 0 with f filled. */
static int check_headers(struct MHD_Connection *c, http_req *r, const char *url, const char *method,
                         serve_failure *f) {
    attend_server *s = r->s;
    if (r->ep == SERVE_EP_OTHER) return serve_fail(f, 404, "not_found", "no such endpoint: %.200s", url);
    int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (serve_endpoint_runs_model(r->ep) ? !post : !get)
        return serve_fail(f, 405, "method_not_allowed", "%s takes %s, not %.20s", serve_endpoint_path(r->ep),
                          serve_endpoint_runs_model(r->ep) ? "POST" : "GET", method);
    if (s->api_key && r->ep != SERVE_EP_HEALTH &&
        !serve_auth_ok(s->api_key, s->api_key_len,
                       MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION)))
        return serve_fail(f, 401, "unauthorized", "this server needs \"Authorization: Bearer <key>\"");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end != cl && n > s->opt.max_body)
            return serve_fail(f, 413, "too_large", "the body has %llu bytes; this server takes at most %zu", n,
                              s->opt.max_body);
    }
    return 1;
}

/* 1 when the request announces a body (which an early answer would leave
 * unread, so the connection closes after it). */
static int has_body(struct MHD_Connection *c) {
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > 0) return 1;
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* The body is complete: parse, admit, suspend, queue. */
static enum MHD_Result submit(struct MHD_Connection *c, http_req *r) {
    attend_server *s = r->s;
    serve_failure f;
    serve_request req;
    if (!attend_grow((void **)&r->body, &r->cap, r->len + 1, 1))
        return respond_error(c, r, 500, "backend", "out of memory for the body");
    r->body[r->len] = 0;
    if (!serve_request_parse(&req, r->ep, r->body, r->len, &s->limits, &f)) return respond_failure(c, r, &f);
    free(r->body); /* the request keeps what it needs */
    r->body = NULL;
    r->len = r->cap = 0;
    serve_model *m = serve_slot_get(&s->slot);
    if (!m) {
        serve_request_free(&req);
        return respond_error(c, r, 503, "unhealthy", "the model is not loaded yet");
    }
    if (!serve_batcher_admit(&s->batcher)) {
        serve_request_free(&req);
        serve_model_unref(m);
        atomic_fetch_add_explicit(&s->metrics.overloaded, 1, memory_order_relaxed);
        return respond_error(c, r, 503, "overloaded",
                             atomic_load(&s->stopping) ? "the server is shutting down"
                                                       : "the server is at --max-concurrent requests; retry later");
    }
    serve_job *j = serve_job_new(&req, m, attend_now_s());
    if (!j) {
        serve_batcher_unadmit(&s->batcher);
        return respond_error(c, r, 500, "backend", "out of memory for the request");
    }
    j->conn = c;
    r->job = j;
    /* suspended before the job is queued: a worker may resume it at once */
    MHD_suspend_connection(c);
    serve_batcher_push(&s->batcher, j, s->timeout_s);
    return MHD_YES;
}

void serve_http_job_done(serve_job *j) {
    if (j->conn) MHD_resume_connection(j->conn);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    attend_server *s = cls;
    http_req *r = *con_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        r->s = s;
        r->ep = serve_endpoint_of(url);
        r->t0 = attend_now_s();
        *con_cls = r;
        atomic_fetch_add(&s->in_flight, 1);
        atomic_fetch_add_explicit(&s->metrics.started, 1, memory_order_relaxed);
        /* A refusal is answered at once when there is a body not to read
         * (the connection then closes); otherwise once the request is in,
         * which keeps the connection open. */
        if (!check_headers(c, r, url, method, &r->early) && has_body(c)) return respond_failure(c, r, &r->early);
        return MHD_YES;
    }
    if (*upload_size) {
        /* Bodies announced too large were refused with 413 above; one sent
         * in chunks without a size that grows past the limit cannot be
         * answered mid-upload, so its connection is closed. */
        if (r->early.http) { /* refused: the rest is not read */
            *upload_size = 0;
            return MHD_YES;
        }
        if (*upload_size > s->opt.max_body - r->len) {
            serve_log(s, "a chunked body passed %zu bytes; connection closed", s->opt.max_body);
            return MHD_NO;
        }
        if (!attend_grow((void **)&r->body, &r->cap, r->len + *upload_size + 1, 1)) return MHD_NO;
        memcpy(r->body + r->len, upload_data, *upload_size);
        r->len += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->early.http) return respond_failure(c, r, &r->early);
    if (!serve_endpoint_runs_model(r->ep)) return answer_get(c, r);
    if (!r->job) return submit(c, r);
    // resumed: the worker is done with the job
    serve_job *j = r->job;
    if (!atomic_load_explicit(&j->done, memory_order_acquire)) return MHD_NO; /* cannot happen */
    attend_buf b;
    attend_buf_init(&b);
    int status = serve_response_job(j, s->model_name, &b);
    if (status == 503)
        return respond(c, r, status, &b, "application/json", MHD_HTTP_HEADER_RETRY_AFTER, "1");
    return respond(c, r, status, &b, "application/json", NULL, NULL);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    attend_server *s = cls;
    http_req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    serve_metrics_request(&s->metrics, r->ep, r->status, attend_now_s() - r->t0);
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        atomic_fetch_add_explicit(&s->metrics.answered, 1, memory_order_relaxed);
    else atomic_fetch_add_explicit(&s->metrics.not_sent, 1, memory_order_relaxed);
    serve_job_free(r->job); /* done: a suspended connection never ends before its resume */
    free(r->body);
    free(r);
    atomic_fetch_sub(&s->in_flight, 1);
}

attend_status serve_http_start(attend_server *s, attend_error *err) {
    /* no listening socket: the listener accepts and hands connections over
     * (MHD_add_connection, which needs inter-thread signalling: ITC) */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_POLL;
    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->opt.http_threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)s->opt.max_connections, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->opt.idle_timeout_s, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                                 MHD_OPTION_ARRAY, ops, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_END);
    if (!s->daemon) return attend_errorf(err, ATTEND_ERR_IO, "cannot start the HTTP daemon (libmicrohttpd)");
    return ATTEND_OK;
}
