/*
 * libFuzzer target for the http driver's response handling
 * (block/http-response.c), fed as curl feeds it: header lines, body
 * pieces, then how the transfer ended.  An input is
 *   bytes 0-3    the range's start (LE)
 *   bytes 4-5    its length - 1 (LE)
 *   bytes 6-7    the HTTP status curl reports (LE)
 *   byte 8       the transfer's result (% 4: HttpTransferResult)
 * then records, each [kind] [n: 2 bytes LE]: kind even, a header line of
 * the next n bytes of the input; kind odd, n body bytes (zeros: only
 * their count matters).  The destination is a heap buffer of exactly the
 * range's length, so a store past it is an ASan report.
 *
 * Besides crashes and sanitizer reports, these rules abort:
 *  - no more body bytes are taken than asked for, and a refused piece of
 *    a 206 is marked as too much;
 *  - a response that passes the check is a 206 of a transfer that ended
 *    well, brought exactly the bytes asked for, and its Content-Range
 *    names exactly the range asked for;
 *  - a length taken from a probe is not negative and, from a 206, covers
 *    the range that came back.
 *
 * Built and run by `make fuzz` (FUZZ_TARGET=http).
 */
#include <stdlib.h>
#include <string.h>
#include "block/http-response.h"
#include "fuzz-outcome.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD_SIZE 9

#define broken(...) fuzz_broken("fuzz-http", "(binary)", __VA_ARGS__)

static uint32_t le(const uint8_t *p, int n)
{
    uint32_t v = 0;

    for (int i = n - 1; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static void body(HttpResponse *r, long status, uint8_t *dst, size_t n)
{
    static const uint8_t zeros[65536];
    uint64_t before = r->got;

    if (http_response_body(r, status, n)) {
        if (r->got != before + n || r->got > r->len) {
            broken("took %zu bytes: %" G_GUINT64_FORMAT " of %"
                   G_GUINT64_FORMAT, n, r->got, r->len);
        }
        memcpy(dst + before, zeros, n);
    } else if (r->got != before || (status == 206 && !r->overflow)) {
        broken("refused %zu bytes of a %ld without saying so", n, status);
    }
}

static void check(const HttpResponse *r, long status, HttpTransferResult res)
{
    g_autofree char *why = http_response_check(r, status, res, "failed");
    int64_t length = -1;

    if (!why && (status != 206 || res != HTTP_TRANSFER_OK ||
                 r->got != r->len || r->cr_start != (int64_t)r->start ||
                 r->cr_end != (int64_t)(r->start + r->len - 1))) {
        broken("accepted: status %ld, result %d, %" G_GUINT64_FORMAT " of %"
               G_GUINT64_FORMAT " bytes, range %" G_GINT64_FORMAT "-%"
               G_GINT64_FORMAT, status, res, r->got, r->len, r->cr_start,
               r->cr_end);
    }
    if (why && !*why) {
        broken("refused without a reason");
    }
    if (http_response_length(r, status, !why, &length) &&
        (length < 0 || (!why && length <= r->cr_end))) {
        broken("length %" G_GINT64_FORMAT " for range %" G_GINT64_FORMAT
               "-%" G_GINT64_FORMAT, length, r->cr_start, r->cr_end);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    HttpResponse r;
    long status;
    HttpTransferResult res;
    g_autofree uint8_t *dst = NULL;
    size_t pos = HEAD_SIZE;

    if (size < HEAD_SIZE) {
        return 0;
    }
    http_response_init(&r, le(data, 4), 1 + le(data + 4, 2));
    status = le(data + 6, 2);
    res = data[8] % 4;
    dst = g_malloc(r.len);
    while (pos + 3 <= size) {
        uint8_t kind = data[pos];
        size_t n = le(data + pos + 1, 2);

        pos += 3;
        if (kind % 2) {
            body(&r, status, dst, n);
            continue;
        }
        n = MIN(n, size - pos);
        http_response_header(&r, (const char *)data + pos, n);
        pos += n;
    }
    check(&r, status, res);
    return 0;
}
