/*
 * The disk workload's building blocks, on the host: the sector pattern
 * (guest/workload/disk-pattern.c), the disk-rate= parser, and the tick
 * hook through which the RAM workload's loop runs the disk workload on
 * cpu 0 only, reporting its counters with cpu 0's.
 */
#include <string.h>
#include <glib.h>
#include "guest/disk-pattern.h"
#include "guest/workload.h"

/* --- the pattern ---------------------------------------------------------- */

static void test_fill_check(void)
{
    uint64_t buf[8 * DP_SECTOR_WORDS];

    for (uint32_t gen = 0; gen < 3; gen++) {
        dp_fill(buf, 1000, 8, gen);
        for (unsigned i = 0; i < 8; i++) {
            const uint64_t *p = buf + i * DP_SECTOR_WORDS;
            g_assert_cmpuint(p[0], ==, 1000 + i);
            g_assert_cmpuint(p[1], ==, gen);
            g_assert_true(dp_sector_ok(p, 1000 + i, gen));
        }
        g_assert_cmpuint(dp_check(buf, 1000, 8, gen), ==, 8);
    }
}

/* The check must fail for any other generation or place. */
static void test_distinguishes(void)
{
    uint64_t a[DP_SECTOR_WORDS], b[DP_SECTOR_WORDS];

    dp_fill_sector(a, 42, 7);
    g_assert_false(dp_sector_ok(a, 42, 6));
    g_assert_false(dp_sector_ok(a, 42, 8));
    g_assert_false(dp_sector_ok(a, 43, 7));
    g_assert_false(dp_sector_ok(a, 41, 7));
    g_assert_false(dp_sector_ok(a, 42, 0));
    /* The derived words differ too, not only the two header words. */
    dp_fill_sector(b, 42, 8);
    for (unsigned i = 2; i < DP_SECTOR_WORDS; i++) {
        g_assert_cmpuint(a[i], !=, b[i]);
    }
    dp_fill_sector(b, 43, 7);
    g_assert_cmpuint(memcmp(a + 2, b + 2, sizeof(a) - 16), !=, 0);
}

/* One flipped bit anywhere in the sector is caught. */
static void test_every_word_counts(void)
{
    uint64_t p[DP_SECTOR_WORDS];

    for (unsigned w = 0; w < DP_SECTOR_WORDS; w++) {
        dp_fill_sector(p, 9, 3);
        p[w] ^= 1ull << (w % 64);
        g_assert_false(dp_sector_ok(p, 9, 3));
    }
}

static void test_check_finds_first_bad(void)
{
    uint64_t buf[16 * DP_SECTOR_WORDS];

    dp_fill(buf, 0, 16, 0);
    ((uint8_t *)buf)[11 * DP_SECTOR_SIZE + 300] ^= 0x5a;
    ((uint8_t *)buf)[13 * DP_SECTOR_SIZE] ^= 0x01;
    g_assert_cmpuint(dp_check(buf, 0, 16, 0), ==, 11);
    g_assert_cmpuint(dp_check(buf, 0, 11, 0), ==, 11);
    /* A sector written at the wrong place is bad at either place. */
    dp_fill(buf, 100, 2, 0);
    memcpy(buf, buf + DP_SECTOR_WORDS, DP_SECTOR_SIZE);
    g_assert_cmpuint(dp_check(buf, 100, 2, 0), ==, 0);
}

/* What a scanner (ferry-img check, the guest's first read) makes of a
 * sector: a generation of the pattern, blank, or anything else. */
static void test_classify(void)
{
    uint64_t p[DP_SECTOR_WORDS];
    uint32_t gen = 99;

    dp_fill_sector(p, 7, 0);
    g_assert_cmpint(dp_classify(p, 7, &gen), ==, DP_PATTERN);
    g_assert_cmpuint(gen, ==, 0);
    dp_fill_sector(p, 7, 12);
    g_assert_cmpint(dp_classify(p, 7, &gen), ==, DP_PATTERN);
    g_assert_cmpuint(gen, ==, 12);
    g_assert_cmpint(dp_classify(p, 8, &gen), ==, DP_OTHER);  /* misplaced */
    p[5] ^= 1;
    g_assert_cmpint(dp_classify(p, 7, &gen), ==, DP_OTHER);  /* torn */
    memset(p, 0, sizeof(p));
    g_assert_cmpint(dp_classify(p, 7, &gen), ==, DP_BLANK);
    g_assert_cmpint(dp_classify(p, 0, &gen), ==, DP_BLANK);  /* sector 0 too */
    p[DP_SECTOR_WORDS - 1] = 1;
    g_assert_cmpint(dp_classify(p, 7, &gen), ==, DP_OTHER);
    dp_fill_sector(p, 7, 3);
    p[1] = 1ull << 32 | 3;          /* not a 32-bit generation */
    g_assert_cmpint(dp_classify(p, 7, &gen), ==, DP_OTHER);
}

/* --- disk-rate= ----------------------------------------------------------- */

static void test_disk_rate(void)
{
    static const struct { const char *line; uint64_t rate; } ok[] = {
        { "dirty-rate=64M disk-rate=4M", 4ull << 20 },
        { "disk-rate=512K", 512ull << 10 },
        { "disk-rate=max", WL_RATE_MAX },
        { "disk-rate=0", 0 },
        { "dirty-rate=1M", 12345 },             /* absent: unchanged */
        { "xdisk-rate=5", 12345 },
    };
    const char *bad = NULL;
    uint64_t rate;

    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        rate = 12345;
        g_assert_true(wl_parse_rate_arg(ok[i].line, "disk-rate=", &rate, &bad));
        g_assert_cmpuint(rate, ==, ok[i].rate);
    }
    g_assert_false(wl_parse_rate_arg("quiet disk-rate=4X", "disk-rate=",
                                     &rate, &bad));
    g_assert_cmpstr(bad, ==, "disk-rate=4X");
}

/* --- the tick hook -------------------------------------------------------- */

typedef struct TickHarness {
    uint64_t clock_ns;
    unsigned rounds, max_rounds;
    unsigned ticks;
    unsigned reports, reports_with_disk;
    uint64_t sectors_reported;
} TickHarness;

static uint64_t th_now(void *opaque)
{
    TickHarness *h = opaque;

    return h->clock_ns += 1000;     /* 1 us: reports come only if urgent */
}

static bool th_yield(void *opaque)
{
    TickHarness *h = opaque;

    return ++h->rounds > h->max_rounds;
}

/* Every tick "verifies" a sector; the fifth finds one corrupt. */
static void th_tick(void *opaque, struct wl_report *r, uint64_t now)
{
    TickHarness *h = opaque;

    h->ticks++;
    r->disk_sectors_verified++;
    if (h->ticks == 5) {
        r->corrupt_sectors++;
        r->last_corrupt_sector = 77;
    }
}

static void th_report(void *opaque, struct wl_report *r)
{
    TickHarness *h = opaque;

    h->reports++;
    h->sectors_reported += r->disk_sectors_verified;
    if (r->corrupt_sectors) {
        h->reports_with_disk++;
        g_assert_cmpuint(r->last_corrupt_sector, ==, 77);
    }
}

static void run_cpu(unsigned cpu, TickHarness *h, uint8_t *ram)
{
    struct wl_range r = { .gpa = 0, .npages = 256, .host = ram };
    struct wl_state s = { .cfg.ncpus = 2, .cfg.dirty_rate = 0 };
    struct wl_cpu c;

    g_assert_true(wl_layout_init(&s.layout, &r, 1, 0));
    s.ops = (struct wl_ops){
        .now_ns = th_now, .report = th_report, .should_yield = th_yield,
        .tick = th_tick, .opaque = h,
    };
    wl_cpu_init(&s, &c, cpu);
    wl_run(&s, &c);
}

static void test_tick_hook(void)
{
    g_autofree uint8_t *ram = g_malloc0(256 * 4096);
    TickHarness h0 = { .max_rounds = 20 }, h1 = { .max_rounds = 20 };

    run_cpu(0, &h0, ram);
    g_assert_cmpuint(h0.ticks, ==, 20);
    /* the corrupt sector made its report urgent */
    g_assert_cmpuint(h0.reports_with_disk, ==, 1);
    g_assert_cmpuint(h0.sectors_reported, >=, 5);
    run_cpu(1, &h1, ram);
    g_assert_cmpuint(h1.ticks, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/disk-pattern/fill-check", test_fill_check);
    g_test_add_func("/disk-pattern/distinguishes", test_distinguishes);
    g_test_add_func("/disk-pattern/every-word-counts", test_every_word_counts);
    g_test_add_func("/disk-pattern/check-finds-first-bad",
                    test_check_finds_first_bad);
    g_test_add_func("/disk-pattern/classify", test_classify);
    g_test_add_func("/disk-pattern/disk-rate", test_disk_rate);
    g_test_add_func("/disk-pattern/tick-hook", test_tick_hook);
    return g_test_run();
}
