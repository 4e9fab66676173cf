/* attend serve: the flags, the key file, and the signals; the server
 * itself is the library's (attend_serve.h). */
#define _POSIX_C_SOURCE 200809L
#include "attend_serve.h"
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void log_line(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "attend: %s\n", line);
}

/* The key: the file's first line, without surrounding blanks. */
static int read_key(const char *path, char *key, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "attend: cannot open the API key file %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077))
        fprintf(stderr, "attend: warning: %s can be read by other users (chmod 600 it)\n", path);
    size_t n = fread(key, 1, cap - 1, f);
    fclose(f);
    key[n] = 0;
    char *nl = strpbrk(key, "\r\n");
    if (nl) *nl = 0;
    char *s = key;
    while (*s == ' ' || *s == '\t') s++;
    memmove(key, s, strlen(s) + 1);
    n = strlen(key);
    while (n && (key[n - 1] == ' ' || key[n - 1] == '\t')) key[--n] = 0;
    if (!n) {
        fprintf(stderr, "attend: the API key file %s holds no key\n", path);
        return -1;
    }
    for (const char *p = key; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p == 0x7f) {
            fprintf(stderr, "attend: the API key in %s holds a space or control character\n", path);
            return -1;
        }
    return 0;
}

/* Waits for signals: SIGHUP reloads, SIGTERM / SIGINT return. */
static void serve_signals(attend_server *s, const sigset_t *set, const char *model_path) {
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0) continue;
        if (sig != SIGHUP) {
            fprintf(stderr, "attend: %s: finishing the requests in flight, then stopping\n",
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
            return;
        }
        fprintf(stderr, "attend: SIGHUP: reloading %s\n", model_path);
        attend_error err = {0};
        attend_serve_reload(s, &err); /* the server logs the outcome */
    }
}

int cli_serve(int argc, char **argv) {
    attend_serve_options o;
    attend_serve_options_default(&o);
    const char *key_file = NULL;
    size_t port = o.port, timeout_ms = o.timeout_ms, idle_s = o.idle_timeout_s;
    const cli_opt opts[] = {
        CLI_OPT(CLI_STRING, "--model", "FILE", &o.model_path, 0, 0, "model file from attend train"),
        CLI_OPT(CLI_STRING, "--name", "NAME", &o.model_name, 0, 0,
                "model name in /info and /v1/embeddings (default: the file name)"),
        CLI_OPT(CLI_STRING, "--host", "ADDR", &o.host, 0, 0, "address to listen on"),
        CLI_OPT(CLI_SIZE, "--port", "N", &port, 0, 65535, "TCP port (0: any free one, printed)"),
        CLI_OPT(CLI_SIZE, "--threads", "N", &o.threads, 0, 1024,
                "inference workers, one thread each (default 0 = the cores)"),
        CLI_OPT(CLI_SIZE, "--http-threads", "N", &o.http_threads, 0, 1024,
                "connection threads (default 0 = the cores, at most 4)"),
        CLI_OPT(CLI_SIZE, "--max-batch-tokens", "N", &o.max_batch_tokens, 1, 1 << 24,
                "tokens one batch may hold"),
        CLI_OPT_SWITCH("--exact", &o.exact,
                       "one model call per text: answers bit for bit attend\npredict's (batched ones can differ in the last bits)"),
        CLI_OPT(CLI_SIZE, "--max-concurrent", "N", &o.max_concurrent, 1, 1 << 20,
                "requests running or queued; more get 503 + Retry-After"),
        CLI_OPT(CLI_SIZE, "--max-connections", "N", &o.max_connections, 1, 1 << 20, "open connections"),
        CLI_OPT(CLI_SIZE, "--max-body", "BYTES", &o.max_body, 1, 1 << 30, "request body; more gets 413"),
        CLI_OPT(CLI_SIZE, "--max-inputs", "N", &o.max_inputs, 1, 1 << 20, "texts per request; more gets 413"),
        CLI_OPT(CLI_SIZE, "--timeout-ms", "N", &timeout_ms, 1, 3600000,
                "a request not started this long after it arrived gets 503"),
        CLI_OPT(CLI_SIZE, "--idle-timeout", "S", &idle_s, 1, 3600,
                "seconds before a silent connection is closed"),
        CLI_OPT(CLI_STRING, "--api-key-file", "F", &key_file, 0, 0,
                "every endpoint but /health needs \"Authorization: Bearer\n<the file's first line>\" (default: no key)"),
        CLI_OPT_FUNC("--precision", "P", NULL, cli_set_precision, "fp32 (default) or bf16 matmuls", ""),
    };
    const cli_command cmd = {
        "serve", "attend serve --model MODEL [--host ADDR] [--port N] [options]",
        "Serves the model over HTTP/1.1: POST /predict, /embed, /v1/embeddings and\n"
        "/tokenize (JSON), GET /health, /info and /metrics (Prometheus). Requests that\n"
        "arrive together are run as one batch. SIGHUP reloads the model file (a file\n"
        "that does not load is refused and the old model keeps serving); SIGTERM and\n"
        "SIGINT stop accepting, answer what was received, and exit 0. Replace the\n"
        "model file by renaming a new one over it (as attend train does): it is mapped.\n",
        "attend serve --model wordnet.safetensors --port 8080", opts, CLI_N(opts), NULL, NULL};
    int pr = cli_parse(&cmd, argc, argv);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!o.model_path) return cli_usage_error("serve", "serve needs --model");
    o.port = (unsigned)port;
    o.timeout_ms = (unsigned)timeout_ms;
    o.idle_timeout_s = (unsigned)idle_s;
    char key[4096];
    if (key_file) {
        if (read_key(key_file, key, sizeof key)) return CLI_FAIL;
        o.api_key = key;
    }
    o.log = log_line;

    /* The signals are taken by sigwait here: block them before any thread
     * starts, so every thread of the server inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    attend_error err = {0};
    attend_server *s = NULL;
    int rc = CLI_OK;
    if (attend_serve_start(&s, &o, &err)) {
        memset(key, 0, sizeof key);
        return cli_fail(&err);
    }
    memset(key, 0, sizeof key); /* the server keeps its own copy */
    const int v6 = strchr(o.host, ':') != NULL;
    printf("attend: listening on http://%s%s%s:%u (loading %s)\n", v6 ? "[" : "", o.host, v6 ? "]" : "",
           attend_serve_port(s), o.model_path);
    fflush(stdout);
    if (attend_serve_reload(s, &err)) {
        rc = CLI_FAIL; /* the server's log said why */
    } else {
        printf("attend: ready\n");
        fflush(stdout);
        serve_signals(s, &set, o.model_path);
    }
    attend_serve_stats st;
    attend_serve_stop(s, o.timeout_ms + 10000, &st);
    fprintf(stderr, "attend: stopped: %llu requests, %llu answered, %llu not sent (client gone)\n",
            (unsigned long long)st.requests, (unsigned long long)st.answered,
            (unsigned long long)st.not_sent);
    return rc;
}
