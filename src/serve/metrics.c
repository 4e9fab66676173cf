/* Counters and histograms of the server, lock-free (relaxed atomics: each
 * is a count on its own), and their Prometheus text exposition (format
 * 0.0.4): requests by endpoint and status, latency by endpoint, batch
 * sizes, tokens, timeouts, refusals, reloads; the gauges (queue depth,
 * requests in flight, model generation) are read when /metrics is asked. */
#include "serve/serve.h"

#include <stdio.h>

static const int status_codes[SERVE_N_STATUS] = {200, 400, 401, 404, 405, 408, 413,
                                                  422, 429, 431, 500, 503, 0 /* other */};

int serve_status_index(int http) {
    for (int i = 0; i < SERVE_N_STATUS - 1; i++)
        if (status_codes[i] == http) return i;
    return SERVE_N_STATUS - 1;
}

/* Upper bounds of the latency buckets (seconds); the 16th is +Inf. */
static const double latency_le[15] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,   0.5,   1.0,    2.5,   5.0,  10.0,  30.0};
/* Upper bounds of the batch-size buckets (texts); the 12th is +Inf. */
static const double batch_le[11] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

#define ADD(x, v) atomic_fetch_add_explicit(&(x), (v), memory_order_relaxed)
#define GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

void serve_metrics_request(serve_metrics *m, serve_endpoint ep, int http, double seconds) {
    ADD(m->requests[ep][serve_status_index(http)], 1);
    int b = 0;
    while (b < 15 && seconds > latency_le[b]) b++;
    ADD(m->latency_bucket[ep][b], 1);
    ADD(m->latency_count[ep], 1);
    ADD(m->latency_sum_us[ep], (uint64_t)(seconds > 0 ? seconds * 1e6 : 0));
}

void serve_metrics_batch(serve_metrics *m, size_t texts, size_t tokens) {
    int b = 0;
    while (b < 11 && (double)texts > batch_le[b]) b++;
    ADD(m->batch_bucket[b], 1);
    ADD(m->batches, 1);
    ADD(m->batch_texts, texts);
    ADD(m->tokens, tokens);
}

static void write_latency(const serve_metrics *m, attend_buf *out) {
    attend_buf_puts(out, "# HELP attend_request_duration_seconds Time from a request's headers to its answer.\n"
                         "# TYPE attend_request_duration_seconds histogram\n");
    for (int ep = 0; ep < SERVE_EP_COUNT; ep++) {
        uint64_t n = GET(m->latency_count[ep]), cum = 0;
        if (!n) continue;
        const char *path = serve_endpoint_path((serve_endpoint)ep);
        for (int b = 0; b < 16; b++) {
            cum += GET(m->latency_bucket[ep][b]);
            if (b < 15)
                attend_buf_printf(out, "attend_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
                                  path, latency_le[b], (unsigned long long)cum);
            else
                attend_buf_printf(out, "attend_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
                                  path, (unsigned long long)cum);
        }
        attend_buf_printf(out, "attend_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", path,
                          (double)GET(m->latency_sum_us[ep]) * 1e-6);
        attend_buf_printf(out, "attend_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", path,
                          (unsigned long long)n);
    }
}

static void write_batches(const serve_metrics *m, attend_buf *out) {
    attend_buf_puts(out, "# HELP attend_batch_size Texts per batch run by the model.\n"
                         "# TYPE attend_batch_size histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b < 12; b++) {
        cum += GET(m->batch_bucket[b]);
        if (b < 11) attend_buf_printf(out, "attend_batch_size_bucket{le=\"%g\"} %llu\n", batch_le[b], (unsigned long long)cum);
        else attend_buf_printf(out, "attend_batch_size_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    attend_buf_printf(out, "attend_batch_size_sum %llu\nattend_batch_size_count %llu\n",
                      (unsigned long long)GET(m->batch_texts), (unsigned long long)GET(m->batches));
    attend_buf_printf(out, "# HELP attend_tokens_total Tokens run through the model (specials included).\n"
                           "# TYPE attend_tokens_total counter\nattend_tokens_total %llu\n",
                      (unsigned long long)GET(m->tokens));
}

void serve_metrics_write(const serve_metrics *m, attend_buf *out, size_t queue_depth,
                         size_t in_flight, uint64_t model_generation) {
    attend_buf_puts(out, "# HELP attend_requests_total Requests answered, by endpoint and HTTP status.\n"
                         "# TYPE attend_requests_total counter\n");
    for (int ep = 0; ep < SERVE_EP_COUNT; ep++)
        for (int s = 0; s < SERVE_N_STATUS; s++) {
            uint64_t n = GET(m->requests[ep][s]);
            if (!n) continue;
            char code[8];
            snprintf(code, sizeof code, "%d", status_codes[s]);
            attend_buf_printf(out, "attend_requests_total{endpoint=\"%s\",status=\"%s\"} %llu\n",
                              serve_endpoint_path((serve_endpoint)ep), status_codes[s] ? code : "other",
                              (unsigned long long)n);
        }
    write_latency(m, out);
    write_batches(m, out);
    attend_buf_printf(out,
                      "# HELP attend_queue_depth Requests waiting for a worker.\n"
                      "# TYPE attend_queue_depth gauge\nattend_queue_depth %zu\n"
                      "# HELP attend_requests_in_flight Requests received and not yet answered.\n"
                      "# TYPE attend_requests_in_flight gauge\nattend_requests_in_flight %zu\n"
                      "# HELP attend_request_timeouts_total Requests answered 503 after waiting past the timeout.\n"
                      "# TYPE attend_request_timeouts_total counter\nattend_request_timeouts_total %llu\n"
                      "# HELP attend_requests_refused_total Requests answered 503 because the queue was full.\n"
                      "# TYPE attend_requests_refused_total counter\nattend_requests_refused_total %llu\n",
                      queue_depth, in_flight, (unsigned long long)GET(m->timeouts),
                      (unsigned long long)GET(m->overloaded));
    attend_buf_printf(out,
                      "# HELP attend_model_reloads_total Model reloads (SIGHUP), by result.\n"
                      "# TYPE attend_model_reloads_total counter\n"
                      "attend_model_reloads_total{result=\"ok\"} %llu\n"
                      "attend_model_reloads_total{result=\"failed\"} %llu\n"
                      "# HELP attend_model_generation 1 for the first model loaded, +1 per reload.\n"
                      "# TYPE attend_model_generation gauge\nattend_model_generation %llu\n",
                      (unsigned long long)GET(m->reloads), (unsigned long long)GET(m->reload_failures),
                      (unsigned long long)model_generation);
}
