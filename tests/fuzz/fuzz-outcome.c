/* See fuzz-outcome.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include "fuzz-outcome.h"

void fuzz_broken(const char *fuzzer, const char *input, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: '%s': ", fuzzer, input);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void fuzz_check_outcome(const char *fuzzer, const char *input, bool ok,
                        const GError *err, bool verbose)
{
    if (!ok && (!err || !err->message || !*err->message)) {
        fuzz_broken(fuzzer, input, "refused without %s",
                    err ? "a message" : "an error");
    }
    if (ok && err) {
        fuzz_broken(fuzzer, input, "accepted, yet sets the error '%s'",
                    err->message);
    }
    if (verbose) {
        fprintf(stderr, "%s: '%s': %s\n", fuzzer, input,
                ok ? "ok" : err->message);
    }
}

int fuzz_open_fds(int below)
{
    int n = 0;

    for (int fd = 0; fd < below; fd++) {
        n += fcntl(fd, F_GETFD) >= 0;
    }
    return n;
}
