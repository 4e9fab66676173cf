/* The answers of GET /health, /info and /metrics: what an orchestrator's
 * probes, a client discovering the model, and Prometheus read. */
#include "serve/serve.h"

#include "base/buf.h"

int serve_status_health(attend_server *s, attend_buf *out) {
    serve_model *m = serve_slot_get(&s->slot);
    if (!m) {
        serve_response_error(out, "unhealthy", "the model is not loaded yet");
        return 503;
    }
    attend_buf_printf(out, "{\"status\":\"ok\",\"model_generation\":%llu}",
                      (unsigned long long)m->generation);
    serve_model_unref(m);
    return 200;
}

static void put_model(attend_buf *out, const attend_server *s, const serve_model *h) {
    const attend_model *m = h->model;
    const attend_model_config *c = attend_model_get_config(m);
    attend_buf_puts(out, "\"model\":");
    attend_buf_json_string(out, s->model_name);
    attend_buf_puts(out, ",\"arch\":");
    attend_buf_json_string(out, attend_arch_name(c->arch));
    attend_buf_printf(out,
                      ",\"model_generation\":%llu,\"embed_dim\":%zu,\"max_input_tokens\":%zu,"
                      "\"vocab_size\":%zu,\"num_params\":%zu,\"labels\":[",
                      (unsigned long long)h->generation, attend_model_embed_dim(m), h->max_len,
                      attend_model_vocab_size(m), attend_model_num_params(m));
    for (size_t k = 0; k < attend_model_num_labels(m); k++) {
        if (k) attend_buf_puts(out, ",");
        attend_buf_json_string(out, attend_model_label(m, k));
    }
    attend_buf_puts(out, "]");
}

int serve_status_info(attend_server *s, attend_buf *out) {
    serve_model *m = serve_slot_get(&s->slot);
    attend_buf_puts(out, "{");
    if (m) put_model(out, s, m);
    else {
        attend_buf_puts(out, "\"model\":");
        attend_buf_json_string(out, s->model_name);
        attend_buf_puts(out, ",\"loaded\":false");
    }
    const attend_serve_options *o = &s->opt;
    attend_buf_printf(out,
                      ",\"limits\":{\"max_batch_tokens\":%zu,\"max_concurrent\":%zu,\"max_connections\":%zu,"
                      "\"max_body\":%zu,\"max_inputs\":%zu,\"timeout_ms\":%u,\"idle_timeout_s\":%u},\"exact\":%s,"
                      "\"threads\":%zu,\"http_threads\":%zu,\"auth\":%s,\"version\":\"%s\",\"build\":",
                      o->max_batch_tokens, o->max_concurrent, o->max_connections, o->max_body,
                      o->max_inputs, o->timeout_ms, o->idle_timeout_s, o->exact ? "true" : "false", o->threads, o->http_threads,
                      s->api_key ? "true" : "false", ATTEND_VERSION);
    attend_buf_json_string(out, s->build);
    attend_buf_puts(out, "}");
    serve_model_unref(m);
    return m ? 200 : 503;
}

void serve_status_metrics(attend_server *s, attend_buf *out) {
    serve_model *m = serve_slot_get(&s->slot);
    serve_metrics_write(&s->metrics, out, serve_batcher_depth(&s->batcher),
                        atomic_load(&s->in_flight), m ? m->generation : 0);
    serve_model_unref(m);
}
