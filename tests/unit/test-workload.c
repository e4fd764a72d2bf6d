/*
 * The guest workload (guest/workload/workload.c) on plain host memory: its
 * command-line parser, its layout, and runs of one vCPU over 8 MiB of
 * "RAM" that check it verifies, catches and repairs corruption, honours
 * the dirty rate, and reports each write only after making it; and that
 * fill=compressible pages compress about 4:1 and are still checked word
 * for word.
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <zlib.h>
#include "guest/workload.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* --- wl_parse_cmdline ---------------------------------------------------- */

typedef struct CmdlineCase {
    const char *cmdline;
    uint64_t rate;
    uint32_t fill;
} CmdlineCase;

static void test_cmdline_ok(void)
{
    static const CmdlineCase cases[] = {
        { "dirty-rate=64M", 64 * MiB },
        { "dirty-rate=64m", 64 * MiB },
        { "dirty-rate=1G", GiB },
        { "dirty-rate=8K", 8 * KiB },
        { "dirty-rate=4096", 4096 },
        { "dirty-rate=max", WL_RATE_MAX },
        { "dirty-rate=0", 0 },
        { "console=ttyS0 dirty-rate=2K quiet", 2 * KiB },
        { "  dirty-rate=3M  ", 3 * MiB },
        { "dirty-rate=1K dirty-rate=5", 5 },       /* the last one wins */
        { "fill=compressible", 12345, WL_FILL_COMPRESSIBLE },
        { "dirty-rate=0 fill=compressible quiet", 0, WL_FILL_COMPRESSIBLE },
        { "fill=incompressible", 12345, WL_FILL_INCOMPRESSIBLE },
        { "fill=compressible fill=incompressible", 12345,
          WL_FILL_INCOMPRESSIBLE },
        { "xfill=compressible fills=compressible", 12345,
          WL_FILL_INCOMPRESSIBLE },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct wl_config cfg = { .dirty_rate = 12345 };
        const char *bad = NULL;

        if (!wl_parse_cmdline(cases[i].cmdline, &cfg, &bad)) {
            g_error("'%s' refused at '%s'", cases[i].cmdline, bad);
        }
        if (cfg.dirty_rate != cases[i].rate) {
            g_error("'%s': rate %" G_GUINT64_FORMAT ", want %" G_GUINT64_FORMAT,
                    cases[i].cmdline, cfg.dirty_rate, cases[i].rate);
        }
        if (cfg.fill != cases[i].fill) {
            g_error("'%s': fill %u, want %u", cases[i].cmdline, cfg.fill,
                    cases[i].fill);
        }
    }
}

static void test_cmdline_ignored(void)
{
    static const char *const lines[] = {
        "console=ttyS0 quiet", "xdirty-rate=5", "dirty-rates=7",
        "dirty-rate", "", NULL,
    };

    for (size_t i = 0; i < G_N_ELEMENTS(lines); i++) {
        struct wl_config cfg = { .dirty_rate = 12345 };
        const char *bad = NULL;

        g_assert_true(wl_parse_cmdline(lines[i], &cfg, &bad));
        g_assert_cmpuint(cfg.dirty_rate, ==, 12345);
        g_assert_null(bad);
    }
}

static void test_cmdline_malformed(void)
{
    static const char *const words[] = {
        "dirty-rate=12X", "dirty-rate=", "dirty-rate=5T", "dirty-rate=max2",
        "dirty-rate=-1", "dirty-rate=1.5M", "dirty-rate=M",
        "dirty-rate=99999999999999999999",     /* overflows 64 bits */
        "dirty-rate=17179869184G",             /* overflows once scaled */
        "fill=", "fill=random", "fill=compressible2", "fill=Compressible",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(words); i++) {
        g_autofree char *line =
            g_strdup_printf("quiet %s console=ttyS0", words[i]);
        g_autofree char *after =
            g_strdup_printf("fill=compressible %s dirty-rate=1K", words[i]);
        struct wl_config cfg = { .dirty_rate = 12345 };
        const char *bad = NULL;

        if (wl_parse_cmdline(line, &cfg, &bad)) {
            g_error("'%s' accepted", line);
        }
        g_assert_true(bad == line + strlen("quiet "));
        g_assert_cmpuint(cfg.dirty_rate, ==, 12345);
        /* nothing changes, also what came before or after it */
        g_assert_false(wl_parse_cmdline(after, &cfg, &bad));
        g_assert_cmpuint(cfg.dirty_rate, ==, 12345);
        g_assert_cmpuint(cfg.fill, ==, WL_FILL_INCOMPRESSIBLE);
    }
}

/* --- wl_layout_init and wl_cpu_init -------------------------------------- */

static void test_layout_two_ranges(void)
{
    g_autofree uint8_t *low = g_malloc(4 * MiB);
    g_autofree uint8_t *high = g_malloc(2 * MiB);
    const struct wl_range ram[] = {
        { .gpa = 0, .npages = 4 * MiB / WL_PAGE_SIZE, .host = low },
        { .gpa = 4 * GiB, .npages = 2 * MiB / WL_PAGE_SIZE, .host = high },
    };
    struct wl_layout l;
    /* 768 pages above 1 MiB + 512 high; the table takes 5120 bytes. */
    uint64_t pages = 768 + 512, gen_pages = 2;

    g_assert_true(wl_layout_init(&l, ram, 2, 1 * MiB));
    g_assert_cmpuint(l.nr_test, ==, 2);
    g_assert_cmpuint(l.gen_pages, ==, gen_pages);
    g_assert_cmpuint(l.gen_gpa, ==, 1 * MiB);
    g_assert_true((uint8_t *)l.gen == low + 1 * MiB);
    g_assert_cmpuint(l.test[0].gpa, ==, 1 * MiB + gen_pages * WL_PAGE_SIZE);
    g_assert_true(l.test[0].host == low + l.test[0].gpa);
    g_assert_cmpuint(l.test[0].npages, ==, 768 - gen_pages);
    g_assert_cmpuint(l.test[1].gpa, ==, 4 * GiB);
    g_assert_true(l.test[1].host == high);
    g_assert_cmpuint(l.test[1].npages, ==, 512);
    g_assert_cmpuint(l.total_pages, ==, pages - gen_pages);
    g_assert_cmpuint(l.total_pages, ==, l.test[0].npages + l.test[1].npages);
    g_assert_cmpuint(l.total_pages * 4, <=, l.gen_pages * WL_PAGE_SIZE);
    /* Page indexes run through the ranges in order. */
    g_assert_cmpuint(wl_page_pfn(&l, 0), ==, l.test[0].gpa / WL_PAGE_SIZE);
    g_assert_cmpuint(wl_page_pfn(&l, 766), ==, 4 * GiB / WL_PAGE_SIZE);
    g_assert_cmpuint(wl_page_pfn(&l, l.total_pages - 1), ==,
                     (4 * GiB + 2 * MiB) / WL_PAGE_SIZE - 1);
}

static void test_layout_too_small(void)
{
    uint8_t buf[2 * WL_PAGE_SIZE];
    struct wl_range one = { .gpa = 1 * MiB, .npages = 1, .host = buf };
    struct wl_range two = { .gpa = 1 * MiB, .npages = 2, .host = buf };
    struct wl_range below = { .gpa = 0, .npages = 256, .host = buf };
    struct wl_layout l;

    /* Everything reserved, or no page left besides the table. */
    g_assert_false(wl_layout_init(&l, &below, 1, 1 * MiB));
    g_assert_false(wl_layout_init(&l, &one, 1, 0));
    g_assert_false(wl_layout_init(&l, NULL, 0, 0));
    /* One table page and one page under test is the minimum. */
    g_assert_true(wl_layout_init(&l, &two, 1, 0));
    g_assert_cmpuint(l.total_pages, ==, 1);
}

static void test_cpu_shares(void)
{
    g_autofree uint8_t *ram = g_malloc(1 * MiB);
    struct wl_range r = { .gpa = 0, .npages = 256, .host = ram };
    struct wl_state s = { .cfg.ncpus = 3 };
    struct wl_cpu c[3];

    g_assert_true(wl_layout_init(&s.layout, &r, 1, 0));
    for (unsigned i = 0; i < 3; i++) {
        wl_cpu_init(&s, &c[i], i);
        g_assert_cmpuint(c[i].cpu, ==, i);
        g_assert_cmpuint(c[i].begin, ==, i ? c[i - 1].end : 0);
        g_assert_cmpuint(c[i].begin, <, c[i].end);
        g_assert_cmpuint(c[i].fill_cursor, ==, c[i].begin);
        g_assert_cmpuint(c[i].pending.cpu, ==, i);
    }
    g_assert_cmpuint(c[2].end, ==, s.layout.total_pages);
}

/* --- running the workload ------------------------------------------------- */

#define RAM_SIZE  (8 * MiB)
#define RESERVED  (64 * KiB)

typedef struct Harness {
    uint8_t *ram;
    struct wl_state s;
    struct wl_cpu cpu;
    struct wl_report total;     /* sum of the reports */
    uint64_t clock_ns;          /* fake clock: 1 ms per reading */
    uint64_t rounds, max_rounds;
    uint64_t until_passes;      /* also yield once this many passes ran */
    uint64_t marks;
    uint64_t early_marks;       /* marks that came before their write */
    uint64_t watch_gpa, watch_marks;
    uint64_t any_round_ns;      /* s.any_round_ns points here */
} Harness;

static uint64_t h_now(void *opaque)
{
    Harness *h = opaque;

    return h->clock_ns += 1000000;
}

static void h_report(void *opaque, struct wl_report *r)
{
    Harness *h = opaque;

    g_assert_cmpuint(r->cpu, ==, 0);
    h->total.rounds += r->rounds;
    h->total.pages_written += r->pages_written;
    h->total.pages_verified += r->pages_verified;
    h->total.passes += r->passes;
    h->total.corrupt_pages += r->corrupt_pages;
    h->total.max_stall_ns = MAX(h->total.max_stall_ns, r->max_stall_ns);
    h->total.max_guest_stall_ns = MAX(h->total.max_guest_stall_ns,
                                      r->max_guest_stall_ns);
    if (r->corrupt_pages) {
        h->total.last_corrupt_pfn = r->last_corrupt_pfn;
    }
}

/* Counters reported so far plus what the context still holds. */
static struct wl_report h_counters(const Harness *h)
{
    struct wl_report t = h->total;
    const struct wl_report *p = &h->cpu.pending;

    t.rounds += p->rounds;
    t.pages_written += p->pages_written;
    t.pages_verified += p->pages_verified;
    t.passes += p->passes;
    t.corrupt_pages += p->corrupt_pages;
    t.max_stall_ns = MAX(t.max_stall_ns, p->max_stall_ns);
    t.max_guest_stall_ns = MAX(t.max_guest_stall_ns, p->max_guest_stall_ns);
    return t;
}

/* The page whose write @gpa (a page or a table entry) reports. */
static uint64_t h_page_index(const Harness *h, uint64_t gpa)
{
    const struct wl_layout *l = &h->s.layout;

    if (gpa >= l->gen_gpa && gpa < l->gen_gpa + l->gen_pages * WL_PAGE_SIZE) {
        return (gpa - l->gen_gpa) / sizeof(uint32_t);
    }
    g_assert_cmpuint(gpa % WL_PAGE_SIZE, ==, 0);
    return (gpa - l->test[0].gpa) / WL_PAGE_SIZE;
}

/* Migration relies on this: by the time a write is reported, it is made. */
static void h_mark_dirty(void *opaque, uint64_t gpa)
{
    Harness *h = opaque;
    const struct wl_layout *l = &h->s.layout;
    uint64_t index = h_page_index(h, gpa);
    const uint64_t *p;

    g_assert_cmpuint(index, <, l->total_pages);
    p = (const uint64_t *)(l->test[0].host + index * WL_PAGE_SIZE);
    if (p[0] != wl_page_pfn(l, index) || p[1] != l->gen[index]) {
        h->early_marks++;
    }
    h->marks++;
    h->watch_marks += gpa == h->watch_gpa;
}

static bool h_should_yield(void *opaque)
{
    Harness *h = opaque;

    if (++h->rounds > h->max_rounds) {
        return true;
    }
    return h->until_passes && h_counters(h).passes >= h->until_passes;
}

static void h_init(Harness *h, const char *cmdline)
{
    struct wl_range r = { .gpa = 0, .npages = RAM_SIZE / WL_PAGE_SIZE };
    const char *bad = NULL;
    void *ram = NULL;

    memset(h, 0, sizeof(*h));
    g_assert_cmpint(posix_memalign(&ram, WL_PAGE_SIZE, RAM_SIZE), ==, 0);
    memset(ram, 0, RAM_SIZE);
    h->ram = r.host = ram;
    h->s.cfg.ncpus = 1;
    g_assert_true(wl_parse_cmdline(cmdline, &h->s.cfg, &bad));
    g_assert_true(wl_layout_init(&h->s.layout, &r, 1, RESERVED));
    g_assert_cmpuint(h->s.layout.nr_test, ==, 1);
    h->s.ops = (struct wl_ops){
        .now_ns = h_now,
        .report = h_report,
        .mark_dirty = h_mark_dirty,
        .should_yield = h_should_yield,
        .opaque = h,
    };
    wl_cpu_init(&h->s, &h->cpu, 0);
}

/* Runs until @passes full verify passes in all, or @max_rounds more rounds. */
static void h_run(Harness *h, uint64_t passes, uint64_t max_rounds)
{
    h->rounds = 0;
    h->max_rounds = max_rounds;
    h->until_passes = passes;
    wl_run(&h->s, &h->cpu);
}

/* Forgets the stalls measured so far. */
static void h_reset_stalls(Harness *h)
{
    h->total.max_stall_ns = h->total.max_guest_stall_ns = 0;
    h->cpu.pending.max_stall_ns = h->cpu.pending.max_guest_stall_ns = 0;
}

/*
 * A stall of this vCPU is a whole-guest stall only if no other vCPU came
 * round meanwhile (the fake clock moves 1 ms per round).
 */
static void test_run_guest_stall(void)
{
    Harness h;
    struct wl_report t;

    h_init(&h, "dirty-rate=64M");
    h.s.any_round_ns = &h.any_round_ns;
    h_run(&h, 0, 30);
    t = h_counters(&h);
    g_assert_cmpuint(t.max_stall_ns, ==, 1000000);
    g_assert_cmpuint(t.max_guest_stall_ns, ==, 1000000);

    /* the whole guest stood still for 50 ms */
    h_reset_stalls(&h);
    h.clock_ns += 50000000;
    h_run(&h, 0, 3);
    t = h_counters(&h);
    g_assert_cmpuint(t.max_stall_ns, ==, 51000000);
    g_assert_cmpuint(t.max_guest_stall_ns, ==, 51000000);

    /* only this vCPU did: another came round 2 ms before it returned */
    h_reset_stalls(&h);
    h.clock_ns += 50000000;
    h.any_round_ns = h.clock_ns - 1000000;
    h_run(&h, 0, 3);
    t = h_counters(&h);
    g_assert_cmpuint(t.max_stall_ns, ==, 51000000);
    g_assert_cmpuint(t.max_guest_stall_ns, ==, 2000000);

    /* a shared time ahead of this vCPU's clock is never moved back */
    uint64_t ahead = h.clock_ns + 100000000;
    h.any_round_ns = ahead;
    h_run(&h, 0, 3);
    g_assert_cmpuint(h.any_round_ns, ==, ahead);
    free(h.ram);
}

static void test_run_verifies(void)
{
    Harness h;
    struct wl_report t;

    h_init(&h, "quiet");
    h_run(&h, 2, 100000);
    t = h_counters(&h);
    g_assert_cmpuint(t.passes, ==, 2);
    g_assert_true(h.cpu.filled);
    /* dirty-rate 0: each page written once, by the fill. */
    g_assert_cmpuint(t.pages_written, ==, h.s.layout.total_pages);
    g_assert_cmpuint(t.pages_verified, >=, 2 * h.s.layout.total_pages);
    g_assert_cmpuint(t.corrupt_pages, ==, 0);
    g_assert_cmpuint(h.marks, ==, 2 * t.pages_written);
    g_assert_cmpuint(h.early_marks, ==, 0);
    g_assert_cmpuint(h.total.rounds, >, 0);     /* reports did arrive */
    free(h.ram);
}

typedef struct CorruptCase {
    const char *name;
    const char *cmdline;
    unsigned byte;              /* in the page: the bit flipped there */
} CorruptCase;

static const CorruptCase corrupt_cases[] = {
    { "default", NULL, 1234 },
    { "compressible", "fill=compressible", 100 },   /* a derived word */
    { "compressible", "fill=compressible", 1234 },  /* the repeated seed */
    { "compressible", "fill=compressible", WL_PAGE_SIZE - 1 },
};

static void test_run_repairs_corruption(const void *data)
{
    const CorruptCase *cc = data;
    Harness h;
    const struct wl_layout *l = &h.s.layout;
    uint64_t index, pfn, passes;
    uint32_t gen;
    uint8_t *page;

    h_init(&h, cc->cmdline);
    h_run(&h, 1, 100000);
    g_assert_cmpuint(h_counters(&h).corrupt_pages, ==, 0);

    index = l->total_pages / 2;
    pfn = wl_page_pfn(l, index);
    page = l->test[0].host + index * WL_PAGE_SIZE;
    gen = l->gen[index];
    page[cc->byte] ^= 0x40;
    h.watch_gpa = pfn * WL_PAGE_SIZE;

    /* Two more passes: the first finds and repairs it, the second agrees. */
    passes = h_counters(&h).passes;
    h_run(&h, passes + 2, 100000);
    g_assert_cmpuint(h_counters(&h).passes, ==, passes + 2);
    g_assert_cmpuint(h_counters(&h).corrupt_pages, ==, 1);
    g_assert_cmpuint(h.total.corrupt_pages, ==, 1);     /* reported at once */
    g_assert_cmpuint(h.total.last_corrupt_pfn, ==, pfn);
    g_assert_cmpuint(l->gen[index], ==, gen + 1);
    g_assert_cmpuint(((uint64_t *)page)[0], ==, pfn);
    g_assert_cmpuint(((uint64_t *)page)[1], ==, gen + 1);
    g_assert_cmpuint(h.watch_marks, ==, 1);             /* the repair */
    g_assert_cmpuint(h.early_marks, ==, 0);
    free(h.ram);
}

/* zlib level 1 over one multifd packet's worth (128 pages) of the fill. */
static double fill_ratio(const char *cmdline)
{
    Harness h;
    const uLong len = 128 * WL_PAGE_SIZE;
    uLongf out_len = compressBound(len);
    g_autofree uint8_t *out = g_malloc(out_len);

    h_init(&h, cmdline);
    h_run(&h, 1, 100000);
    g_assert_cmpuint(h.s.layout.test[0].npages, >=, 128);
    g_assert_cmpint(compress2(out, &out_len, h.s.layout.test[0].host, len, 1),
                    ==, Z_OK);
    free(h.ram);
    return (double)len / (double)out_len;
}

static void test_fill_compressible(void)
{
    Harness h;
    const struct wl_layout *l = &h.s.layout;
    double ratio = fill_ratio("fill=compressible");

    /* 3.9 on zlib 1.2.13; another zlib may differ a little */
    if (ratio < 3.5 || ratio > 4.5) {
        g_error("fill=compressible: zlib level 1 ratio %.2f, want ~4", ratio);
    }
    ratio = fill_ratio(NULL);
    if (ratio > 1.05) {
        g_error("the default fill compresses %.2f:1, want ~1", ratio);
    }

    /* Unique per (pfn, gen): no two pages, nor two generations, alike. */
    h_init(&h, "fill=compressible dirty-rate=max");
    h_run(&h, 1, 100000);
    for (uint64_t i = 1; i < l->total_pages; i++) {
        const uint8_t *a = l->test[0].host + (i - 1) * WL_PAGE_SIZE;
        const uint8_t *b = a + WL_PAGE_SIZE;
        g_assert_cmpint(memcmp(a + 16, b + 16, WL_PAGE_SIZE - 16), !=, 0);
    }
    g_autofree uint8_t *before = g_memdup2(l->test[0].host, WL_PAGE_SIZE);
    uint32_t gen = l->gen[0];
    while (l->gen[0] == gen) {
        h_run(&h, 0, 1);
    }
    g_assert_cmpint(memcmp(before + 16, l->test[0].host + 16,
                           WL_PAGE_SIZE - 16), !=, 0);
    g_assert_cmpuint(h_counters(&h).corrupt_pages, ==, 0);
    free(h.ram);
}

static void test_run_dirty_rate_max(void)
{
    Harness h;
    uint64_t written;

    h_init(&h, "dirty-rate=max");
    h_run(&h, 1, 100000);
    written = h_counters(&h).pages_written;
    g_assert_cmpuint(written, >, h.s.layout.total_pages);
    /* Every round after the fill rewrites a full chunk. */
    h_run(&h, 0, 100);
    g_assert_cmpuint(h_counters(&h).pages_written, ==, written + 100 * WL_CHUNK);
    h_run(&h, h_counters(&h).passes + 1, 100000);
    g_assert_cmpuint(h_counters(&h).corrupt_pages, ==, 0);
    g_assert_cmpuint(h.early_marks, ==, 0);
    free(h.ram);
}

/* The fake clock ticks 1 ms per round: 4 MiB/s is 4194 bytes a round. */
static void test_run_dirty_rate_limited(void)
{
    Harness h;
    uint64_t written, rounds = 2000, want = rounds * 4194 / WL_PAGE_SIZE;

    h_init(&h, "dirty-rate=4M");
    h_run(&h, 1, 100000);
    written = h_counters(&h).pages_written;
    h_run(&h, 0, rounds);
    written = h_counters(&h).pages_written - written;
    /* Credit carried over from before, and the yielding round's tick. */
    g_assert_cmpuint(written, >=, want - 2);
    g_assert_cmpuint(written, <=, want + 4);
    g_assert_cmpuint(h_counters(&h).corrupt_pages, ==, 0);
    free(h.ram);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/workload/cmdline/ok", test_cmdline_ok);
    g_test_add_func("/workload/cmdline/ignored", test_cmdline_ignored);
    g_test_add_func("/workload/cmdline/malformed", test_cmdline_malformed);
    g_test_add_func("/workload/layout/two-ranges", test_layout_two_ranges);
    g_test_add_func("/workload/layout/too-small", test_layout_too_small);
    g_test_add_func("/workload/layout/cpu-shares", test_cpu_shares);
    g_test_add_func("/workload/run/verifies", test_run_verifies);
    g_test_add_func("/workload/run/guest-stall", test_run_guest_stall);
    for (size_t i = 0; i < G_N_ELEMENTS(corrupt_cases); i++) {
        g_autofree char *name = g_strdup_printf(
            "/workload/run/repairs-corruption/%s/byte-%u",
            corrupt_cases[i].name, corrupt_cases[i].byte);
        g_test_add_data_func(name, &corrupt_cases[i],
                             test_run_repairs_corruption);
    }
    g_test_add_func("/workload/fill/compressible", test_fill_compressible);
    g_test_add_func("/workload/run/dirty-rate-max", test_run_dirty_rate_max);
    g_test_add_func("/workload/run/dirty-rate-limited",
                    test_run_dirty_rate_limited);
    return g_test_run();
}
