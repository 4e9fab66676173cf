/* The listening socket is the server's own: a thread accepts connections
 * and hands them to libmicrohttpd (MHD_add_connection), which then runs
 * them on its thread pool as if it had accepted them itself. Owning the
 * socket lets a stop refuse new connections at once by closing it: the one
 * call libmicrohttpd offers for that, MHD_quiesce_daemon, races its own
 * epoll loop in 0.9.75 (both remove the listening socket from the epoll
 * set; the loser aborts the process with "Failed to remove listen FD from
 * epoll set", seen in CI under load). */
#define _GNU_SOURCE /* accept4 */
#include "serve/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *accept_loop(void *arg) {
    attend_server *s = arg;
    struct pollfd p[2] = {{s->listen_fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents) break; /* the stop */
        if (!(p[0].revents & POLLIN)) continue;
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(s->listen_fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
        if (fd < 0) {
            /* out of descriptors: give the pool a moment to close some */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) usleep(10000);
            continue;
        }
        /* at the connection limit libmicrohttpd refuses it (and closes fd) */
        if (MHD_add_connection(s->daemon, fd, (const struct sockaddr *)&peer, len) != MHD_YES)
            atomic_fetch_add_explicit(&s->metrics.overloaded, 1, memory_order_relaxed);
    }
    return NULL;
}

attend_status serve_listener_start(attend_server *s, const struct sockaddr *addr, socklen_t addr_len,
                                   attend_error *err) {
    s->listen_fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0)
        return attend_errorf(err, ATTEND_ERR_IO, "cannot make a socket: %s", strerror(errno));
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s->listen_fd, addr, addr_len) != 0 || listen(s->listen_fd, 511) != 0) {
        int e = errno;
        close(s->listen_fd);
        s->listen_fd = -1;
        return attend_errorf(err, ATTEND_ERR_IO,
                             "cannot listen on %s port %u: %s (in use, or not an address of this machine?)",
                             s->host, s->opt.port, strerror(e));
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(s->listen_fd, (struct sockaddr *)&bound, &blen) == 0)
        s->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                              : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    if (pipe2(s->wake, O_CLOEXEC) != 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
        return attend_errorf(err, ATTEND_ERR_IO, "cannot make a pipe: %s", strerror(errno));
    }
    s->listening = 1;
    return ATTEND_OK;
}

attend_status serve_listener_run(attend_server *s, attend_error *err) {
    if (pthread_create(&s->accept_thread, NULL, accept_loop, s) != 0) {
        serve_listener_close(s);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "cannot start the accepting thread");
    }
    s->accepting = 1;
    return ATTEND_OK;
}

void serve_listener_close(attend_server *s) {
    if (s->accepting) {
        ssize_t w = write(s->wake[1], "x", 1);
        (void)w;
        pthread_join(s->accept_thread, NULL);
        s->accepting = 0;
    }
    if (s->listening) {
        /* the connections already in the backlog are taken (they are
         * answered 503 "shutting down" once stopping is set), then the
         * socket is closed: from here a connection attempt is refused */
        int fl = fcntl(s->listen_fd, F_GETFL);
        if (fl >= 0 && fcntl(s->listen_fd, F_SETFL, fl | O_NONBLOCK) == 0) {
            struct sockaddr_storage peer;
            socklen_t len = sizeof peer;
            int fd;
            while (s->daemon && (fd = accept4(s->listen_fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC)) >= 0) {
                MHD_add_connection(s->daemon, fd, (const struct sockaddr *)&peer, len);
                len = sizeof peer;
            }
        }
        close(s->listen_fd);
        close(s->wake[0]);
        close(s->wake[1]);
        s->listening = 0;
        s->listen_fd = -1;
    }
}
