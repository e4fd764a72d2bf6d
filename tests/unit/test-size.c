/*
 * parse_size() (util/size.c): suffixes, the default unit, and the inputs
 * it must refuse, overflow included.
 */
#include <string.h>
#include "util/error.h"
#include "util/size.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define TiB (1ULL << 40)

typedef struct SizeCase {
    const char *str;
    uint64_t default_unit;
    uint64_t bytes;
} SizeCase;

static void check_ok(const SizeCase *c)
{
    g_autoptr(GError) err = NULL;
    uint64_t out = 0xdeadbeef;

    if (!parse_size(c->str, c->default_unit, &out, &err)) {
        g_error("parse_size('%s', %" G_GUINT64_FORMAT ") failed: %s",
                c->str, c->default_unit, err ? err->message : "(no error)");
    }
    g_assert_no_error(err);
    if (out != c->bytes) {
        g_error("parse_size('%s', %" G_GUINT64_FORMAT ") = %" G_GUINT64_FORMAT
                ", want %" G_GUINT64_FORMAT, c->str, c->default_unit, out,
                c->bytes);
    }
}

static void check_invalid(const char *str, uint64_t default_unit)
{
    g_autoptr(GError) err = NULL;
    uint64_t out = 0;

    if (parse_size(str, default_unit, &out, &err)) {
        g_error("parse_size('%s') accepted it as %" G_GUINT64_FORMAT,
                str ? str : "(null)", out);
    }
    g_assert_error(err, FERRY_ERROR, FERRY_ERROR_GENERIC);
    g_assert_true(g_str_has_prefix(err->message, "invalid size '"));
    if (str) {
        g_assert_nonnull(strstr(err->message, str));
    }
}

static void test_suffixes(void)
{
    static const SizeCase cases[] = {
        { "4096b", MiB, 4096 },
        { "4096B", MiB, 4096 },
        { "1k", 1, KiB },
        { "1K", 1, KiB },
        { "1024k", 1, MiB },
        { "1m", 1, MiB },
        { "512M", 1, 512 * MiB },
        { "1g", 1, GiB },
        { "4G", 1, 4 * GiB },
        { "1t", 1, TiB },
        { "2T", 1, 2 * TiB },
        /* A suffix overrides the default unit */
        { "1k", MiB, KiB },
        { "3G", KiB, 3 * GiB },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        check_ok(&cases[i]);
    }
}

static void test_default_unit(void)
{
    static const SizeCase cases[] = {
        { "65536", 1, 65536 },
        { "512", MiB, 512 * MiB },      /* QEMU's -m: MiB */
        { "1", KiB, KiB },
        { "0", MiB, 0 },                /* -m rejects 0, parse_size does not */
        { "007", 1, 7 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        check_ok(&cases[i]);
    }
}

static void test_limits(void)
{
    static const SizeCase cases[] = {
        { "18446744073709551615", 1, UINT64_MAX },
        { "18446744073709551615b", MiB, UINT64_MAX },
        { "16777215T", 1, 16777215ULL * TiB },
        { "17592186044415", MiB, 17592186044415ULL * MiB },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        check_ok(&cases[i]);
    }
}

static void test_overflow(void)
{
    check_invalid("18446744073709551616", 1);
    check_invalid("99999999999999999999999", 1);
    check_invalid("16777216T", 1);              /* 2^64 */
    check_invalid("17179869184G", 1);           /* 2^64 */
    check_invalid("17592186044416", MiB);       /* 2^44 MiB = 2^64 */
    check_invalid("18446744073709551615", 2);
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        "", "abc", "M", "-1", "+1", " 1", "1 ", "1 M", "1KB", "1kb", "1Mi",
        "1.5G", "0x10", "1e3", "1P", "1E", "1X", "1,5", "12G3",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        check_invalid(bad[i], MiB);
    }
}

static void test_null(void)
{
    check_invalid(NULL, MiB);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/size/suffixes", test_suffixes);
    g_test_add_func("/size/default-unit", test_default_unit);
    g_test_add_func("/size/limits", test_limits);
    g_test_add_func("/size/overflow", test_overflow);
    g_test_add_func("/size/malformed", test_malformed);
    g_test_add_func("/size/null", test_null);
    return g_test_run();
}
