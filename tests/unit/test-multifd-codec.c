/*
 * multifd-compression (migration/multifd/codec.c): zlib and zstd packets
 * inflate straight into scattered pages, and what a hostile peer may send
 * (a corrupt, truncated, short or long stream) is a clear error that
 * never writes past the packet's pages; and every zlib level (level 1
 * deflates with ISA-L's igzip) makes a zlib stream that plain zlib reads.
 */
#include <string.h>
#include <zlib.h>
#include "migration/multifd/codec.h"
#include "migration/multifd/wire.h"

#define NPAGES 8
#define PAGE MULTIFD_PAGE_SIZE

/* Pages with something to compress: a counter pattern and a random tail. */
static void fill(uint8_t *pages, unsigned n)
{
    GRand *r = g_rand_new_with_seed(7);

    for (unsigned i = 0; i < n * PAGE; i++) {
        pages[i] = i % PAGE < PAGE / 2 ? (uint8_t)(i / 64)
                                       : (uint8_t)g_rand_int(r);
    }
    g_rand_free(r);
}

typedef struct Setup {
    uint32_t flag;
    MultiFDCodec *tx, *rx;
    uint8_t *src, *dst;             /* NPAGES + 1 guard page */
    uint8_t *sp[NPAGES], *dp[NPAGES];
} Setup;

static void setup(Setup *s, uint32_t flag)
{
    GError *err = NULL;

    s->flag = flag;
    s->tx = multifd_codec_new(flag, 1, true, &err);
    g_assert_no_error(err);
    s->rx = multifd_codec_new(flag, 0, false, &err);
    g_assert_no_error(err);
    s->src = g_malloc((NPAGES + 1) * PAGE);
    s->dst = g_malloc0((NPAGES + 1) * PAGE);
    fill(s->src, NPAGES);
    memset(s->dst + NPAGES * PAGE, 0xaa, PAGE);
    for (unsigned i = 0; i < NPAGES; i++) {
        /* scattered: the destination's pages in reverse order */
        s->sp[i] = s->src + i * PAGE;
        s->dp[i] = s->dst + (NPAGES - 1 - i) * PAGE;
    }
}

static void teardown(Setup *s)
{
    multifd_codec_free(s->tx);
    multifd_codec_free(s->rx);
    g_free(s->src);
    g_free(s->dst);
}

/* Compresses the pages and copies the result into the receiver's buffer. */
static uint32_t transfer(Setup *s, unsigned n)
{
    ssize_t len = multifd_codec_compress(s->tx, s->sp, n);

    g_assert_cmpint(len, >, 0);
    g_assert_cmpint(len, <=, multifd_codec_max_payload(s->flag));
    memcpy(multifd_codec_buffer(s->rx), multifd_codec_buffer(s->tx), len);
    return (uint32_t)len;
}

static void guard_intact(Setup *s)
{
    for (unsigned i = 0; i < PAGE; i++) {
        g_assert_cmpint(s->dst[NPAGES * PAGE + i], ==, 0xaa);
    }
}

static void test_round_trip(gconstpointer data)
{
    Setup s;
    GError *err = NULL;

    setup(&s, GPOINTER_TO_UINT(data));
    for (int round = 0; round < 3; round++) {   /* the codec is reused */
        uint32_t len = transfer(&s, NPAGES);
        g_assert_true(multifd_codec_decompress(s.rx, len, s.dp, NPAGES,
                                               &err));
        g_assert_no_error(err);
        for (unsigned i = 0; i < NPAGES; i++) {
            g_assert_cmpmem(s.dp[i], PAGE, s.sp[i], PAGE);
        }
        s.src[round] ^= 0xff;
    }
    guard_intact(&s);
    teardown(&s);
}

static void expect_error(Setup *s, uint32_t len, unsigned n)
{
    GError *err = NULL;

    g_assert_false(multifd_codec_decompress(s->rx, len, s->dp, n, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "pages"));
    g_clear_error(&err);
    guard_intact(s);
}

static void test_refusals(gconstpointer data)
{
    Setup s;

    setup(&s, GPOINTER_TO_UINT(data));
    uint32_t len = transfer(&s, NPAGES);
    expect_error(&s, len - 1, NPAGES);          /* truncated */
    expect_error(&s, len, NPAGES - 1);          /* inflates to more */
    len = transfer(&s, NPAGES - 1);
    expect_error(&s, len, NPAGES);              /* inflates to fewer */
    len = transfer(&s, NPAGES);
    multifd_codec_buffer(s.rx)[len / 2] ^= 0x55;    /* corrupt */
    memset(multifd_codec_buffer(s.rx), 0x5a, 16);
    expect_error(&s, len, NPAGES);
    for (uint32_t extra = 1; extra <= 8; extra++) {    /* trailing garbage */
        len = transfer(&s, NPAGES);
        memset(multifd_codec_buffer(s.rx) + len, 0, extra);
        expect_error(&s, len + extra, NPAGES);
    }
    teardown(&s);
}

/*
 * A full packet at each zlib level, of pages that do not compress and of
 * pages that compress about 4:1: within the bound, a zlib stream that
 * zlib's uncompress() reads back as the pages in order.
 */
static void test_zlib_levels(void)
{
    static const int levels[] = { 0, 1, 6, 9 };
    const unsigned n = MULTIFD_PAGES_PER_PACKET;
    g_autofree uint8_t *src = g_malloc((size_t)n * PAGE);
    g_autofree uint8_t *flat = g_malloc((size_t)n * PAGE);
    uint8_t *pages[MULTIFD_PAGES_PER_PACKET];
    GRand *r = g_rand_new_with_seed(11);

    for (int compressible = 0; compressible < 2; compressible++) {
        for (unsigned i = 0; i < n * PAGE; i++) {
            /* compressible: a quarter random, the rest a repeated byte */
            src[i] = compressible && i % PAGE >= PAGE / 4 ? (uint8_t)(i / PAGE)
                                                         : (uint8_t)g_rand_int(r);
        }
        for (unsigned i = 0; i < n; i++) {
            pages[i] = src + (size_t)(n - 1 - i) * PAGE;   /* scattered */
        }
        for (size_t l = 0; l < G_N_ELEMENTS(levels); l++) {
            GError *err = NULL;
            MultiFDCodec *tx = multifd_codec_new(MULTIFD_FLAG_ZLIB, levels[l],
                                                 true, &err);
            g_assert_no_error(err);
            ssize_t len = multifd_codec_compress(tx, pages, n);
            uLongf flat_len = (uLongf)n * PAGE;

            g_assert_cmpint(len, >, 0);
            g_assert_cmpint(len, <=, multifd_codec_max_payload(
                                         MULTIFD_FLAG_ZLIB));
            g_assert_cmpint(uncompress(flat, &flat_len,
                                       multifd_codec_buffer(tx), len), ==,
                            Z_OK);
            g_assert_cmpuint(flat_len, ==, (uLongf)n * PAGE);
            for (unsigned i = 0; i < n; i++) {
                g_assert_cmpmem(flat + (size_t)i * PAGE, PAGE, pages[i], PAGE);
            }
            if (compressible && levels[l] > 0) {
                g_assert_cmpint(len, <, (ssize_t)n * PAGE / 3);
            }
            multifd_codec_free(tx);
        }
    }
    g_rand_free(r);
}

/*
 * Pages alike, so the stream's matches reach back into earlier pages,
 * inflated into pages in reverse order with gaps between them: the
 * decoder keeps its own history, it does not look back in the output.
 */
static void test_history_across_pages(gconstpointer data)
{
    uint32_t flag = GPOINTER_TO_UINT(data);
    const unsigned n = MULTIFD_PAGES_PER_PACKET;
    g_autofree uint8_t *src = g_malloc((size_t)n * PAGE);
    g_autofree uint8_t *dst = g_malloc((size_t)n * 2 * PAGE);
    uint8_t *sp[MULTIFD_PAGES_PER_PACKET], *dp[MULTIFD_PAGES_PER_PACKET];
    GError *err = NULL;
    MultiFDCodec *tx = multifd_codec_new(flag, 1, true, &err);
    MultiFDCodec *rx = multifd_codec_new(flag, 0, false, &err);

    g_assert_no_error(err);
    for (unsigned i = 0; i < n * PAGE; i++) {
        src[i] = (uint8_t)((i % PAGE) * 7 + i / PAGE % 3);
    }
    memset(dst, 0xee, (size_t)n * 2 * PAGE);
    for (unsigned i = 0; i < n; i++) {
        sp[i] = src + (size_t)i * PAGE;
        dp[i] = dst + (size_t)(n - 1 - i) * 2 * PAGE;
    }
    ssize_t len = multifd_codec_compress(tx, sp, n);
    g_assert_cmpint(len, >, 0);
    memcpy(multifd_codec_buffer(rx), multifd_codec_buffer(tx), len);
    g_assert_true(multifd_codec_decompress(rx, len, dp, n, &err));
    g_assert_no_error(err);
    for (unsigned i = 0; i < n; i++) {
        g_assert_cmpmem(dp[i], PAGE, sp[i], PAGE);
        g_assert_cmpint(dp[i][PAGE], ==, 0xee);     /* the gap after it */
    }
    multifd_codec_free(tx);
    multifd_codec_free(rx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/multifd-codec/zlib/round-trip",
                         GUINT_TO_POINTER(MULTIFD_FLAG_ZLIB), test_round_trip);
    g_test_add_data_func("/multifd-codec/zstd/round-trip",
                         GUINT_TO_POINTER(MULTIFD_FLAG_ZSTD), test_round_trip);
    g_test_add_data_func("/multifd-codec/zlib/refusals",
                         GUINT_TO_POINTER(MULTIFD_FLAG_ZLIB), test_refusals);
    g_test_add_data_func("/multifd-codec/zstd/refusals",
                         GUINT_TO_POINTER(MULTIFD_FLAG_ZSTD), test_refusals);
    g_test_add_func("/multifd-codec/zlib/levels", test_zlib_levels);
    g_test_add_data_func("/multifd-codec/zlib/history-across-pages",
                         GUINT_TO_POINTER(MULTIFD_FLAG_ZLIB),
                         test_history_across_pages);
    g_test_add_data_func("/multifd-codec/zstd/history-across-pages",
                         GUINT_TO_POINTER(MULTIFD_FLAG_ZSTD),
                         test_history_across_pages);
    return g_test_run();
}
