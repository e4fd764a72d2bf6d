/*
 * multifd's wire (migration/multifd/wire.c): the init message and the
 * packet header, QEMU 9's layout, encoded and decoded, and the decoder's
 * refusals of what a hostile peer may send.  Every header is decoded from
 * a heap buffer of exactly its size, so ASan sees a read past it.
 */
#include <string.h>
#include "migration/multifd/wire.h"

static const uint8_t no_uuid[16];

static uint8_t *encode(const MultiFDPacket *p)
{
    uint8_t *buf = g_malloc(MULTIFD_HDR_SIZE);

    multifd_packet_encode(p, buf);
    return buf;
}

static MultiFDPacket sample(void)
{
    MultiFDPacket p = {
        .flags = MULTIFD_FLAG_SYNC,
        .normal_pages = 3,
        .zero_pages = 2,
        .next_packet_size = 3 * MULTIFD_PAGE_SIZE,
        .packet_num = 0x0102030405060708ULL,
        .block = "pc.ram",
    };
    for (unsigned i = 0; i < 5; i++) {
        p.offset[i] = (uint64_t)(10 + i) * MULTIFD_PAGE_SIZE;
    }
    return p;
}

static void test_layout(void)
{
    MultiFDPacket p = sample();
    g_autofree uint8_t *buf = encode(&p);
    static const uint8_t head[] = {
        0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1,     /* magic, version */
        0, 0, 0, 1, 0, 0, 0, 128,               /* flags, pages_alloc */
        0, 0, 0, 3, 0, 0, 0x30, 0,              /* normal, next size */
        1, 2, 3, 4, 5, 6, 7, 8,                 /* packet_num */
        0, 0, 0, 2,                             /* zero_pages */
    };

    g_assert_cmpint(MULTIFD_HDR_SIZE, ==, 320 + 8 * 128);
    g_assert_cmpmem(buf, sizeof(head), head, sizeof(head));
    g_assert_cmpstr((const char *)buf + 64, ==, "pc.ram");
    g_assert_cmpint(buf[MULTIFD_HDR_FIXED_SIZE + 6], ==, 0xa0);  /* 10 pages */
    g_assert_cmpint(buf[MULTIFD_HDR_FIXED_SIZE + 8 * 4 + 6], ==, 0xe0);
}

static void test_round_trip(void)
{
    MultiFDPacket p = sample(), q;
    g_autofree uint8_t *buf = encode(&p);
    GError *err = NULL;

    g_assert_true(multifd_packet_decode(buf, MULTIFD_FLAG_NOCOMP, 0, &q,
                                        &err));
    g_assert_no_error(err);
    g_assert_cmpint(q.flags, ==, p.flags);
    g_assert_cmpint(q.normal_pages, ==, 3);
    g_assert_cmpint(q.zero_pages, ==, 2);
    g_assert_cmpuint(q.packet_num, ==, p.packet_num);
    g_assert_cmpstr(q.block, ==, "pc.ram");
    g_assert_cmpmem(q.offset, 5 * 8, p.offset, 5 * 8);
    g_assert_true(multifd_packet_check_offsets(&q, 64 * MULTIFD_PAGE_SIZE,
                                               &err));
}

/* One corruption of a valid header and the words the error must hold. */
typedef struct BadCase {
    const char *name;
    unsigned at;            /* byte offset */
    uint8_t value;
    const char *error;
} BadCase;

static const BadCase bad_cases[] = {
    { "magic", 0, 0x12, "bad packet header" },
    { "version", 7, 2, "bad packet header" },
    { "pages_alloc", 15, 129, "at most 128" },
    { "normal over alloc", 19, 129, "more than its" },
    { "zero over what is left", 35, 126, "more than its" },
    { "payload size", 22, 0x31, "payload bytes" },
    { "compression", 11, MULTIFD_FLAG_ZLIB, "compressed with zlib" },
};

static void test_refusals(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        MultiFDPacket p = sample(), q;
        g_autofree uint8_t *buf = encode(&p);
        GError *err = NULL;

        buf[bad_cases[i].at] = bad_cases[i].value;
        g_assert_false(multifd_packet_decode(buf, MULTIFD_FLAG_NOCOMP, 0, &q,
                                             &err));
        g_assert_nonnull(err);
        if (!strstr(err->message, bad_cases[i].error)) {
            g_error("%s: '%s' lacks '%s'", bad_cases[i].name, err->message,
                    bad_cases[i].error);
        }
        g_clear_error(&err);
    }
}

static void test_block_name_unterminated(void)
{
    MultiFDPacket p = sample(), q;
    g_autofree uint8_t *buf = encode(&p);
    GError *err = NULL;

    memset(buf + 64, 'a', MULTIFD_BLOCK_NAME_SIZE);
    g_assert_false(multifd_packet_decode(buf, MULTIFD_FLAG_NOCOMP, 0, &q,
                                         &err));
    g_assert_nonnull(strstr(err->message, "not NUL-terminated"));
    g_clear_error(&err);
}

static void test_offsets(void)
{
    static const struct {
        uint64_t offset;
        bool ok;
    } cases[] = {
        { 0, true },
        { 63 * MULTIFD_PAGE_SIZE, true },
        { 64 * MULTIFD_PAGE_SIZE, false },      /* just past the end */
        { 100, false },                         /* not page-aligned */
        { UINT64_MAX - 4095, false },           /* wraps when added */
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        MultiFDPacket p = sample();
        GError *err = NULL;

        p.offset[4] = cases[i].offset;
        g_assert_cmpint(multifd_packet_check_offsets(
            &p, 64 * MULTIFD_PAGE_SIZE, &err), ==, cases[i].ok);
        if (!cases[i].ok) {
            g_assert_nonnull(strstr(err->message, "outside RAM block"));
            g_clear_error(&err);
        }
    }
}

static void test_compressed_bounds(void)
{
    MultiFDPacket p = sample(), q;
    GError *err = NULL;

    p.flags = MULTIFD_FLAG_ZSTD;
    p.next_packet_size = 5000;
    g_autofree uint8_t *ok = encode(&p);
    g_assert_true(multifd_packet_decode(ok, MULTIFD_FLAG_ZSTD, 5000, &q,
                                        &err));
    p.next_packet_size = 5001;
    g_autofree uint8_t *big = encode(&p);
    g_assert_false(multifd_packet_decode(big, MULTIFD_FLAG_ZSTD, 5000, &q,
                                         &err));
    g_clear_error(&err);
    p.normal_pages = 0;
    p.next_packet_size = 10;        /* bytes for no page at all */
    g_autofree uint8_t *none = encode(&p);
    g_assert_false(multifd_packet_decode(none, MULTIFD_FLAG_ZSTD, 5000, &q,
                                         &err));
    g_clear_error(&err);
}

static void test_init(void)
{
    MultiFDInit in = { .id = 3 }, out;
    g_autofree uint8_t *buf = g_malloc(MULTIFD_INIT_SIZE);
    uint8_t other[16] = { 1 };
    GError *err = NULL;

    multifd_init_encode(&in, buf);
    g_assert_cmpint(buf[0], ==, 0x11);
    g_assert_cmpint(buf[7], ==, 1);
    g_assert_cmpint(buf[24], ==, 3);
    g_assert_true(multifd_init_decode(buf, no_uuid, 4, &out, &err));
    g_assert_cmpint(out.id, ==, 3);
    g_assert_false(multifd_init_decode(buf, no_uuid, 3, &out, &err));
    g_assert_nonnull(strstr(err->message, "out of range"));
    g_clear_error(&err);
    g_assert_false(multifd_init_decode(buf, other, 4, &out, &err));
    g_assert_nonnull(strstr(err->message, "uuid"));
    g_clear_error(&err);
    buf[7] = 9;
    g_assert_false(multifd_init_decode(buf, no_uuid, 4, &out, &err));
    g_assert_nonnull(strstr(err->message, "version 9"));
    g_clear_error(&err);
    buf[0] = 0;
    g_assert_false(multifd_init_decode(buf, no_uuid, 4, &out, &err));
    g_assert_nonnull(strstr(err->message, "magic"));
    g_clear_error(&err);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/multifd-wire/layout", test_layout);
    g_test_add_func("/multifd-wire/round-trip", test_round_trip);
    g_test_add_func("/multifd-wire/refusals", test_refusals);
    g_test_add_func("/multifd-wire/block-name", test_block_name_unterminated);
    g_test_add_func("/multifd-wire/offsets", test_offsets);
    g_test_add_func("/multifd-wire/compressed-bounds", test_compressed_bounds);
    g_test_add_func("/multifd-wire/init", test_init);
    return g_test_run();
}
