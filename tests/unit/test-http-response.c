/*
 * What the http driver makes of a server's answer (block/http-response.c),
 * without a server: Content-Range forms, what passes the check, the
 * probe's length.  The driver against a real nginx is test-block-http.c.
 */
#include <string.h>
#include <glib.h>
#include "block/http-response.h"

static HttpResponse answer(uint64_t start, uint64_t len, const char *range)
{
    HttpResponse r;
    g_autofree char *line = g_strdup_printf("Content-Range: %s\r\n", range);

    http_response_init(&r, start, len);
    http_response_header(&r, "HTTP/1.1 206 Partial Content\r\n", 30);
    http_response_header(&r, line, strlen(line));
    return r;
}

static void test_content_range(void)
{
    static const struct {
        const char *text;
        int64_t start, end, total;
    } cases[] = {
        { "bytes 0-0/1048576", 0, 0, 1048576 },
        { "bytes 10-19/*", 10, 19, -1 },
        { "BYTES  10 - 19 / 20", 10, 19, 20 },
        { "bytes */0", -1, -1, 0 },
        { "bytes 5-3/10", -1, -1, -1 },             /* end before start */
        { "bytes 0-9/5", 0, 9, -1 },                /* total inside it */
        { "bytes -1-0/5", -1, -1, -1 },             /* no signs */
        { "bytes +1-2/5", -1, -1, -1 },
        /* 18 digits fit; 19 could overflow (fuzz-http found the parser
         * computing it) and are refused */
        { "bytes 0-999999999999999998/999999999999999999", 0,
          999999999999999998, 999999999999999999 },
        { "bytes 0-9999999999999999999/1", -1, -1, -1 },
        { "bytes 0-0/18446744073709551616", 0, 0, -1 },
        { "octets 0-0/1", -1, -1, -1 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        HttpResponse r = answer(0, 1, cases[i].text);

        g_test_message("%s", cases[i].text);
        g_assert_cmpint(r.cr_start, ==, cases[i].start);
        g_assert_cmpint(r.cr_end, ==, cases[i].end);
        g_assert_cmpint(r.cr_total, ==, cases[i].total);
    }
}

/* A status line (a redirect's next response) forgets the last range. */
static void test_redirect_starts_afresh(void)
{
    HttpResponse r = answer(0, 1, "bytes 0-0/9");

    http_response_header(&r, "HTTP/1.1 206 Partial Content\r\n", 30);
    g_assert_cmpint(r.cr_start, ==, -1);
    g_assert_cmpint(r.cr_total, ==, -1);
}

static void test_check(void)
{
    HttpResponse r = answer(4096, 512, "bytes 4096-4607/8192");
    g_autofree char *short_body = NULL, *wrong = NULL, *ok = NULL;
    g_autofree char *too_much = NULL, *not_206 = NULL;
    int64_t length;

    g_assert_true(http_response_body(&r, 206, 500));
    short_body = http_response_check(&r, 206, HTTP_TRANSFER_OK, "");
    g_assert_nonnull(strstr(short_body, "short body"));
    g_assert_true(http_response_body(&r, 206, 12));
    ok = http_response_check(&r, 206, HTTP_TRANSFER_OK, "");
    g_assert_null(ok);
    g_assert_true(http_response_length(&r, 206, true, &length));
    g_assert_cmpint(length, ==, 8192);

    g_assert_false(http_response_body(&r, 206, 1));
    too_much = http_response_check(&r, 206, HTTP_TRANSFER_OK, "");
    g_assert_nonnull(strstr(too_much, "more than"));

    r = answer(4096, 512, "bytes 4097-4608/8192");
    g_assert_true(http_response_body(&r, 206, 512));
    wrong = http_response_check(&r, 206, HTTP_TRANSFER_OK, "");
    g_assert_nonnull(strstr(wrong, "wrong Content-Range"));

    r = answer(0, 1, "bytes 0-0/1");
    g_assert_false(http_response_body(&r, 200, 1));
    not_206 = http_response_check(&r, 200, HTTP_TRANSFER_OK, "");
    g_assert_nonnull(strstr(not_206, "range requests"));
}

static void test_empty_image(void)
{
    HttpResponse r = answer(0, 1, "bytes */0");
    int64_t length = -1;

    g_assert_true(http_response_length(&r, 416, false, &length));
    g_assert_cmpint(length, ==, 0);
    g_assert_false(http_response_length(&r, 206, false, &length));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/http-response/content-range", test_content_range);
    g_test_add_func("/http-response/redirect-starts-afresh",
                    test_redirect_starts_afresh);
    g_test_add_func("/http-response/check", test_check);
    g_test_add_func("/http-response/empty-image", test_empty_image);
    return g_test_run();
}
