/* Error reporting: the library fills an attend_error, only the CLI exits. */
#include "attend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

attend_status attend_errorf(attend_error *err, attend_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

const char *attend_status_name(attend_status status) {
    switch (status) {
    case ATTEND_OK: return "ok";
    case ATTEND_ERR_ARG: return "invalid argument";
    case ATTEND_ERR_IO: return "i/o error";
    case ATTEND_ERR_FORMAT: return "format error";
    case ATTEND_ERR_SHAPE: return "shape error";
    case ATTEND_ERR_NOMEM: return "out of memory";
    case ATTEND_ERR_NUMERIC: return "numeric error";
    case ATTEND_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown error";
}
