/* See http-response.h. */
#include <inttypes.h>
#include <string.h>
#include <glib.h>
#include "http-response.h"

void http_response_init(HttpResponse *r, uint64_t start, uint64_t len)
{
    *r = (HttpResponse) {
        .start = start,
        .len = len,
        .cr_start = -1, .cr_end = -1, .cr_total = -1,
    };
}

/*
 * A decimal number of at most 18 digits (below 2^63), after optional
 * blanks; advances *p.  sscanf's %llu would take a sign and wrap a number
 * too large for it to 0..2^64-1, which the casts to int64_t then turn
 * into a range the request never asked for.
 */
static bool parse_num(const char **p, int64_t *v)
{
    const char *s = *p + strspn(*p, " \t");
    int64_t n = 0;
    int digits = 0;

    for (; g_ascii_isdigit(*s); s++, digits++) {
        if (digits == 18) {
            return false;       /* before n * 10 could overflow */
        }
        n = n * 10 + (*s - '0');
    }
    if (!digits) {
        return false;
    }
    *v = n;
    *p = s;
    return true;
}

static bool expect(const char **p, char c)
{
    const char *s = *p + strspn(*p, " \t");

    if (*s != c) {
        return false;
    }
    *p = s + 1;
    return true;
}

/* Content-Range: "bytes A-B/T", "bytes A-B/" then a star (total unknown),
 * or "bytes " then a star and "/T" (what a 416 says). */
static void parse_content_range(HttpResponse *r, const char *p)
{
    int64_t a, b, t;

    p += strspn(p, " \t");
    if (g_ascii_strncasecmp(p, "bytes", 5) != 0) {
        return;
    }
    p += 5;
    if (expect(&p, '*')) {
        if (expect(&p, '/') && parse_num(&p, &t)) {
            r->cr_total = t;
        }
        return;
    }
    if (!parse_num(&p, &a) || !expect(&p, '-') || !parse_num(&p, &b) ||
        b < a) {
        return;
    }
    r->cr_start = a;
    r->cr_end = b;
    if (expect(&p, '/') && parse_num(&p, &t) && t > b) {
        r->cr_total = t;
    }
}

void http_response_header(HttpResponse *r, const char *line, size_t len)
{
    g_autofree char *text = g_strndup(line, len);

    if (g_str_has_prefix(text, "HTTP/")) {
        r->cr_start = r->cr_end = r->cr_total = -1;
    } else if (g_ascii_strncasecmp(text, "content-range:", 14) == 0) {
        parse_content_range(r, text + 14);
    }
}

bool http_response_body(HttpResponse *r, long status, size_t n)
{
    /* Not worth receiving a whole image (a 200) or an error page: the
     * status says why at the end. */
    if (status != 206) {
        return false;
    }
    if (n > r->len - r->got) {
        r->overflow = true;
        return false;
    }
    r->got += n;
    return true;
}

char *http_response_check(const HttpResponse *r, long status,
                          HttpTransferResult result,
                          const char *transfer_error)
{
    uint64_t last = r->start + r->len - 1;

    if (r->overflow) {
        return g_strdup_printf("the server sent more than the %" PRIu64
                               " bytes asked for", r->len);
    }
    if (status == 200) {
        return g_strdup("server does not support range requests "
                        "(HTTP 200 to a Range request)");
    }
    if (status && status != 206) {
        return g_strdup_printf("HTTP %ld", status);
    }
    switch (result) {
    case HTTP_TRANSFER_CONNECT_FAILED:
        return g_strdup_printf("could not connect: %s", transfer_error);
    case HTTP_TRANSFER_TIMED_OUT:
        return g_strdup_printf("timed out: %s", transfer_error);
    case HTTP_TRANSFER_FAILED:
        return g_strdup(transfer_error);
    case HTTP_TRANSFER_OK:
        break;
    }
    if (r->got != r->len) {
        return g_strdup_printf("short body: %" PRIu64 " of %" PRIu64
                               " bytes", r->got, r->len);
    }
    if (r->cr_start != (int64_t)r->start || r->cr_end != (int64_t)last) {
        return g_strdup_printf("wrong Content-Range for bytes %" PRIu64
                               "-%" PRIu64, r->start, last);
    }
    return NULL;
}

bool http_response_length(const HttpResponse *r, long status, bool ok,
                          int64_t *length)
{
    if (ok && r->cr_total >= 1) {
        *length = r->cr_total;
        return true;
    }
    if (status == 416 && r->cr_total == 0) {
        *length = 0;            /* an empty image: no byte 0 to give */
        return true;
    }
    return false;
}
