/* Crash-safe file writing (see atomic.h). */
#define _POSIX_C_SOURCE 200809L

#include "base/atomic.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Writes all of buf to fd; 0 with errno set on failure. */
static int write_all(int fd, const void *buf, size_t len) {
    const unsigned char *p = buf;
    while (len) {
        size_t chunk = len < ((size_t)1 << 30) ? len : ((size_t)1 << 30);
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return 0;
        }
        p += w;
        len -= (size_t)w;
    }
    return 1;
}

/* The directory holding path ("." for a bare name), malloc'ed; NULL when
 * out of memory. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return attend_strdup(".");
    size_t dl = slash == path ? 1 : (size_t)(slash - path); /* "/x" -> "/" */
    char *dir = malloc(dl + 1);
    if (dir) {
        memcpy(dir, path, dl);
        dir[dl] = '\0';
    }
    return dir;
}

/* fsyncs directory dir so that a rename in it is durable. */
static int sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* Unreadable directories and filesystems that cannot sync one are not
     * errors: the file itself was synced before the rename. */
    if (fd < 0) return errno == EACCES ? 1 : 0;
    int ok = fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP;
    int e = errno;
    close(fd);
    errno = e;
    return ok;
}

/* Reads 1 to max_digits decimal digits without a leading zero from *p into
 * *v; 0 (and *p unmoved) when there are none, too many, or a leading zero. */
static int read_number(const char **p, size_t max_digits, long long *v) {
    const char *s = *p;
    size_t n = 0;
    long long x = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        if (n == max_digits) return 0;
        x = x * 10 + (s[n] - '0');
        n++;
    }
    if (n == 0 || (n > 1 && s[0] == '0')) return 0;
    *p = s + n;
    *v = x;
    return 1;
}

/* A save killed between creating its temporary file and the rename (SIGKILL,
 * a crash, the OOM killer) leaves "<file>.tmp.<pid>" (or ".tmp.<pid>.<k>",
 * the retry names below) behind, and nothing else would ever remove it.
 * Removes those of path whose process no longer exists: exactly that name
 * (no leading zeros, nothing after), a regular file, and kill(pid, 0)
 * failing with ESRCH. A live process's file is never touched (EPERM, another
 * user's live process, counts as alive), nor this process's own. Best
 * effort: any failure just leaves the file. */
static void remove_stale_temps(const char *path, const char *dir) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const size_t bl = strlen(base);
    if (bl == 0) return;
    DIR *d = opendir(dir);
    if (!d) return;
    const long long self = (long long)getpid();
    const struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name, *p;
        long long pid, k;
        if (strncmp(name, base, bl) != 0 || strncmp(name + bl, ".tmp.", 5) != 0) continue;
        p = name + bl + 5;
        if (!read_number(&p, 10, &pid) || pid <= 0 || pid > INT_MAX || pid == self) continue;
        if (*p == '.') {
            p++;
            if (!read_number(&p, 2, &k)) continue;
        }
        if (*p != '\0') continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        struct stat sb;
        if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) continue;
        unlinkat(dirfd(d), name, 0);
    }
    closedir(d);
}

/* Writes a file crash-safely: the pieces go to "<path>.tmp.<pid>" next to
 * it (so the rename stays within one filesystem; O_EXCL with a retry suffix
 * keeps concurrent savers apart), which is fsynced, renamed over path, and
 * the directory fsynced. A reader sees the old file or the new one, never
 * a part. piece(ctx, i, &len) gives the i-th piece (NULL after the last).
 * Everything is allocated before the first write: running out of memory
 * after the rename would report a failed save that in fact replaced the
 * file. */
attend_status attend_write_atomic(const char *path,
                                  const void *(*piece)(void *ctx, size_t i, size_t *len),
                                  void *ctx, attend_error *err) {
    size_t tcap = strlen(path) + 64;
    char *tmp = malloc(tcap), *dir = dir_of(path);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory", path);
    }
    remove_stale_temps(path, dir);
    int fd = -1;
    for (unsigned k = 0; k < 100 && fd < 0; k++) {
        if (k == 0) snprintf(tmp, tcap, "%s.tmp.%ld", path, (long)getpid());
        else snprintf(tmp, tcap, "%s.tmp.%ld.%u", path, (long)getpid(), k);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int e = errno;
        attend_errorf(err, ATTEND_ERR_IO, "%s: cannot create temporary file '%s': %s", path, tmp,
                      strerror(e));
        free(tmp);
        free(dir);
        return ATTEND_ERR_IO;
    }

    const char *step = "write";
    int ok = 1;
    size_t len;
    for (size_t i = 0; ok; i++) {
        const void *p = piece(ctx, i, &len);
        if (!p) break;
        if (len) ok = write_all(fd, p, len);
    }
    if (ok && fsync(fd) != 0) { ok = 0; step = "fsync"; }
    int e = errno;
    if (close(fd) != 0 && ok) { ok = 0; step = "close"; e = errno; }
    if (ok && rename(tmp, path) != 0) { ok = 0; step = "rename"; e = errno; }
    if (!ok) {
        unlink(tmp);
        attend_errorf(err, ATTEND_ERR_IO, "%s: cannot %s temporary file '%s': %s", path, step, tmp,
                      strerror(e));
        free(tmp);
        free(dir);
        return ATTEND_ERR_IO;
    }
    free(tmp);
    int synced = sync_dir(dir);
    int e2 = errno;
    free(dir);
    if (!synced)
        return attend_errorf(err, ATTEND_ERR_IO, "%s: saved, but syncing its directory failed: %s",
                             path, strerror(e2));
    return ATTEND_OK;
}
