/* Scratch directories for the C tests (include after test.h). */
#ifndef ATTEND_TEST_TMP_H
#define ATTEND_TEST_TMP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* A scratch directory of the test's own: $ATTEND_TMP/NAME (ctest sets
 * ATTEND_TMP to a folder of the build) or /tmp/attend_test_NAME. Exits 2
 * when it cannot be made. */
static inline void test_tmp_dir(char *out, size_t n, const char *name) {
    const char *d = getenv("ATTEND_TMP");
    char base[400];
    snprintf(base, sizeof base, "%s", d && *d ? d : "/tmp");
    mkdir(base, 0777);
    snprintf(out, n, "%s/%s%s", base, d && *d ? "" : "attend_test_", name);
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "test %s: cannot create %s\n", name, out);
        exit(2);
    }
}

#endif
