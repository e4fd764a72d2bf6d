/*
 * What the http driver makes of a server's answer to one range request,
 * with no curl handle and no I/O: block/http.c feeds it what curl hands
 * over (header lines, body pieces, the result), tests/fuzz/fuzz-http.c
 * feeds it anything.  A server is untrusted input: a response either
 * brings exactly the bytes asked for, from the right range, or the read
 * fails with a reason.
 */
#ifndef FERRY_BLOCK_HTTP_RESPONSE_H
#define FERRY_BLOCK_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The answer to a request for bytes [start, start + len), len >= 1. */
typedef struct HttpResponse {
    uint64_t start, len;
    uint64_t got;               /* body bytes taken */
    bool overflow;              /* the server sent more than asked */
    int64_t cr_start, cr_end;   /* Content-Range, -1: none */
    int64_t cr_total;           /* its complete length, -1: none or "*" */
} HttpResponse;

void http_response_init(HttpResponse *r, uint64_t start, uint64_t len);
/*
 * One header line as curl passes it (not NUL-terminated, CR LF included;
 * every status line of a redirect chain starts the response afresh).
 */
void http_response_header(HttpResponse *r, const char *line, size_t len);
/*
 * @n body bytes arrived in a response of HTTP @status: true if all of
 * them are to be stored at offset r->got - @n of the destination (got is
 * advanced); false aborts the transfer (not a 206, or more than asked).
 */
bool http_response_body(HttpResponse *r, long status, size_t n);

/* How the transfer itself ended, as far as the checks below care. */
typedef enum HttpTransferResult {
    HTTP_TRANSFER_OK,
    HTTP_TRANSFER_CONNECT_FAILED,
    HTTP_TRANSFER_TIMED_OUT,
    HTTP_TRANSFER_FAILED,
} HttpTransferResult;

/*
 * Why the response does not answer the request (a new string), or NULL
 * when it brought exactly the bytes asked for.  @transfer_error: curl's
 * words for a failed transfer.
 */
char *http_response_check(const HttpResponse *r, long status,
                          HttpTransferResult result,
                          const char *transfer_error);

/*
 * The image's length from the probe (a request for byte 0): @r's
 * complete length after a good 206, or 0 from a 416 that says the image
 * is empty.  False when the answer names no usable length.
 */
bool http_response_length(const HttpResponse *r, long status, bool ok,
                          int64_t *length);

#endif
