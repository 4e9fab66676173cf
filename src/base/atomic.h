/* Crash-safe file writing: a reader sees the old file or the new one, never
 * a part. Every file attend writes for keeps (models, checkpoints, pictures,
 * reports) goes through here. */
#ifndef ATTEND_BASE_ATOMIC_H
#define ATTEND_BASE_ATOMIC_H

#include "attend.h"

#include <stddef.h>

/* The pieces piece(ctx, 0..) (NULL ends them) go to a temporary file beside
 * path, fsynced and renamed over it, then the directory is fsynced. On
 * failure the previous file at path is untouched. Temporary files of
 * earlier saves to path whose process is gone are removed first. */
attend_status attend_write_atomic(const char *path,
                                  const void *(*piece)(void *ctx, size_t i, size_t *len),
                                  void *ctx, attend_error *err);

#endif
