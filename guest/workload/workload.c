/*
 * The self-verifying memory workload (see guest/include/guest/workload.h).
 * Freestanding: compiled into the test guest and into ferry's soft
 * accelerator.
 */
#include "guest/workload.h"

#define SEED_PFN   0x9E3779B97F4A7C15ull
#define SEED_GEN   0xC2B2AE3D27D4EB4Full
#define SEED_WORD  0xD6E8FEB86659FD93ull

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool word_is(const char *p, const char *word)
{
    while (*word) {
        if (*p++ != *word++) {
            return false;
        }
    }
    return *p == '\0' || *p == ' ';
}

static bool parse_rate(const char *p, uint64_t *out)
{
    uint64_t v = 0, unit = 1;

    if (word_is(p, "max")) {
        *out = WL_RATE_MAX;
        return true;
    }
    if (!is_digit(*p)) {
        return false;
    }
    while (is_digit(*p)) {
        if (v > (UINT64_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    switch (*p) {
    case 'k': case 'K': unit = 1ull << 10; p++; break;
    case 'm': case 'M': unit = 1ull << 20; p++; break;
    case 'g': case 'G': unit = 1ull << 30; p++; break;
    default: break;
    }
    if (*p != '\0' && *p != ' ') {
        return false;
    }
    if (v > UINT64_MAX / unit) {
        return false;
    }
    *out = v * unit;
    return true;
}

/* The next word at or after @p that starts with @key, or NULL. */
static const char *find_arg(const char *p, const char *key)
{
    while (p && *p) {
        while (*p == ' ') {
            p++;
        }
        unsigned i = 0;
        while (key[i] && p[i] == key[i]) {
            i++;
        }
        if (!key[i]) {
            return p;
        }
        while (*p && *p != ' ') {
            p++;
        }
    }
    return 0;
}

static unsigned key_len(const char *key)
{
    unsigned n = 0;

    while (key[n]) {
        n++;
    }
    return n;
}

bool wl_parse_rate_arg(const char *cmdline, const char *key, uint64_t *out,
                       const char **bad)
{
    unsigned n = key_len(key);

    for (const char *w = find_arg(cmdline, key); w; w = find_arg(w + n, key)) {
        if (!parse_rate(w + n, out)) {
            *bad = w;
            return false;
        }
    }
    return true;
}

/* "fill=incompressible" (the default) or "fill=compressible". */
static bool parse_fill_arg(const char *cmdline, uint32_t *out,
                           const char **bad)
{
    static const char key[] = "fill=";
    const unsigned n = sizeof(key) - 1;

    for (const char *w = find_arg(cmdline, key); w; w = find_arg(w + n, key)) {
        if (word_is(w + n, "incompressible")) {
            *out = WL_FILL_INCOMPRESSIBLE;
        } else if (word_is(w + n, "compressible")) {
            *out = WL_FILL_COMPRESSIBLE;
        } else {
            *bad = w;
            return false;
        }
    }
    return true;
}

bool wl_parse_cmdline(const char *cmdline, struct wl_config *cfg,
                      const char **bad)
{
    uint64_t rate = cfg->dirty_rate;
    uint32_t fill = cfg->fill;

    if (!wl_parse_rate_arg(cmdline, "dirty-rate=", &rate, bad) ||
        !parse_fill_arg(cmdline, &fill, bad)) {
        return false;
    }
    cfg->dirty_rate = rate;
    cfg->fill = fill;
    return true;
}

static uint64_t pages_up(uint64_t bytes)
{
    return (bytes + WL_PAGE_SIZE - 1) / WL_PAGE_SIZE;
}

/* Appends the part of @r at or above @floor to the test ranges. */
static void add_test_range(struct wl_layout *l, const struct wl_range *r,
                           uint64_t floor)
{
    uint64_t end = r->gpa + r->npages * WL_PAGE_SIZE;
    uint64_t start = r->gpa < floor ? floor : r->gpa;

    if (start >= end || l->nr_test == WL_MAX_RANGES) {
        return;
    }
    struct wl_range *t = &l->test[l->nr_test++];
    t->gpa = start;
    t->npages = (end - start) / WL_PAGE_SIZE;
    t->host = r->host + (start - r->gpa);
    l->total_pages += t->npages;
}

bool wl_layout_init(struct wl_layout *l, const struct wl_range *ram,
                    unsigned nr_ram, uint64_t reserved_end)
{
    reserved_end = (reserved_end + WL_PAGE_SIZE - 1) & ~(uint64_t)(WL_PAGE_SIZE - 1);
    l->nr_test = 0;
    l->total_pages = 0;
    for (unsigned i = 0; i < nr_ram; i++) {
        add_test_range(l, &ram[i], reserved_end);
    }
    if (l->nr_test == 0) {
        return false;
    }
    /* The table needs 4 bytes for each page; carve it from the front. */
    l->gen_pages = pages_up(l->total_pages * sizeof(uint32_t));
    struct wl_range *first = &l->test[0];
    if (first->npages <= l->gen_pages) {
        return false;
    }
    l->gen = (uint32_t *)first->host;
    l->gen_gpa = first->gpa;
    first->gpa += l->gen_pages * WL_PAGE_SIZE;
    first->host += l->gen_pages * WL_PAGE_SIZE;
    first->npages -= l->gen_pages;
    l->total_pages -= l->gen_pages;
    return true;
}

static const struct wl_range *range_of(const struct wl_layout *l,
                                       uint64_t *index)
{
    for (unsigned i = 0; i < l->nr_test; i++) {
        if (*index < l->test[i].npages) {
            return &l->test[i];
        }
        *index -= l->test[i].npages;
    }
    return 0;
}

uint64_t wl_page_pfn(const struct wl_layout *l, uint64_t index)
{
    const struct wl_range *r = range_of(l, &index);

    return r ? r->gpa / WL_PAGE_SIZE + index : 0;
}

static uint64_t *page_at(const struct wl_layout *l, uint64_t index,
                         uint64_t *pfn)
{
    const struct wl_range *r = range_of(l, &index);

    *pfn = r->gpa / WL_PAGE_SIZE + index;
    return (uint64_t *)(r->host + index * WL_PAGE_SIZE);
}

static uint64_t page_seed(uint64_t pfn, uint32_t gen)
{
    return (pfn * SEED_PFN) ^ ((uint64_t)gen * SEED_GEN);
}

/*
 * Words below @varying derive from the seed one by one; the rest repeat
 * the seed itself (fill=compressible), which zlib and zstd squeeze to
 * almost nothing while every word stays checked.
 */
static unsigned varying_words(const struct wl_config *cfg)
{
    return cfg->fill == WL_FILL_COMPRESSIBLE ? WL_COMPRESSIBLE_WORDS
                                             : WL_PAGE_WORDS;
}

static void fill_page(uint64_t *p, uint64_t pfn, uint32_t gen,
                      unsigned varying)
{
    uint64_t seed = page_seed(pfn, gen);
    unsigned i;

    p[0] = pfn;
    p[1] = gen;
    for (i = 2; i < varying; i++) {
        p[i] = seed ^ (i * SEED_WORD);
    }
    for (; i < WL_PAGE_WORDS; i++) {
        p[i] = seed;
    }
}

static bool page_ok(const uint64_t *p, uint64_t pfn, uint32_t gen,
                    unsigned varying)
{
    uint64_t seed = page_seed(pfn, gen);
    uint64_t diff = (p[0] ^ pfn) | (p[1] ^ gen);
    unsigned i;

    for (i = 2; i < varying; i++) {
        diff |= p[i] ^ (seed ^ (i * SEED_WORD));
    }
    for (; i < WL_PAGE_WORDS; i++) {
        diff |= p[i] ^ seed;
    }
    return diff == 0;
}

static void mark_dirty(const struct wl_state *s, uint64_t gpa)
{
    if (s->ops.mark_dirty) {
        __atomic_thread_fence(__ATOMIC_RELEASE);
        s->ops.mark_dirty(s->ops.opaque, gpa);
    }
}

/* Writes page @index with generation @gen and records it in the table. */
static void write_page(const struct wl_state *s, uint64_t index, uint32_t gen)
{
    const struct wl_layout *l = &s->layout;
    uint64_t pfn;
    uint64_t *p = page_at(l, index, &pfn);

    fill_page(p, pfn, gen, varying_words(&s->cfg));
    /* volatile: the table must hit memory in program order after the page */
    ((volatile uint32_t *)l->gen)[index] = gen;
    mark_dirty(s, pfn * WL_PAGE_SIZE);
    mark_dirty(s, l->gen_gpa + index * sizeof(uint32_t));
}

static void verify_page(const struct wl_state *s, struct wl_cpu *c,
                        uint64_t index)
{
    const struct wl_layout *l = &s->layout;
    uint64_t pfn;
    const uint64_t *p = page_at(l, index, &pfn);
    uint32_t gen = ((volatile uint32_t *)l->gen)[index];

    c->pending.pages_verified++;
    if (page_ok(p, pfn, gen, varying_words(&s->cfg))) {
        return;
    }
    c->pending.corrupt_pages++;
    c->pending.last_corrupt_pfn = pfn;
    /* Repair it, so one corruption is counted once. */
    write_page(s, index, gen + 1);
}

void wl_cpu_init(const struct wl_state *s, struct wl_cpu *c, unsigned cpu)
{
    uint64_t total = s->layout.total_pages;
    unsigned n = s->cfg.ncpus ? s->cfg.ncpus : 1;

    c->cpu = cpu;
    c->filled = 0;
    c->begin = total * cpu / n;
    c->end = total * (cpu + 1) / n;
    c->fill_cursor = c->begin;
    c->dirty_cursor = c->begin;
    c->verify_cursor = c->begin;
    c->last_ns = 0;
    c->credit_bytes = 0;
    c->last_report_ns = 0;
    c->pending = (struct wl_report){ .cpu = cpu };
}

static unsigned dirty_budget(const struct wl_state *s, struct wl_cpu *c,
                             uint64_t now)
{
    uint64_t rate = s->cfg.dirty_rate;
    uint64_t dt_us, cap = (uint64_t)WL_CHUNK * WL_PAGE_SIZE * 4;
    uint64_t pages;

    if (rate == WL_RATE_MAX) {
        return WL_CHUNK;
    }
    /* A pause (stop, migration) must not turn into a burst: cap the step. */
    dt_us = now > c->last_ns ? (now - c->last_ns) / 1000 : 0;
    if (dt_us > 100000) {
        dt_us = 100000;
    }
    c->last_ns = now;
    c->credit_bytes += dt_us * (rate / (s->cfg.ncpus ? s->cfg.ncpus : 1)) / 1000000;
    if (c->credit_bytes > cap) {
        c->credit_bytes = cap;
    }
    pages = c->credit_bytes / WL_PAGE_SIZE;
    if (pages > WL_CHUNK) {
        pages = WL_CHUNK;
    }
    c->credit_bytes -= pages * WL_PAGE_SIZE;
    return (unsigned)pages;
}

static void report(const struct wl_state *s, struct wl_cpu *c, uint64_t now)
{
    s->ops.report(s->ops.opaque, &c->pending);
    c->pending = (struct wl_report){ .cpu = c->cpu };
    c->last_report_ns = now;
}

static void fill_step(const struct wl_state *s, struct wl_cpu *c)
{
    for (unsigned i = 0; i < WL_CHUNK && c->fill_cursor < c->end; i++) {
        write_page(s, c->fill_cursor++, 1);
        c->pending.pages_written++;
    }
    if (c->fill_cursor == c->end) {
        c->filled = 1;
        if (s->ops.log && c->cpu == 0) {
            s->ops.log(s->ops.opaque, "workload: memory filled, verifying");
        }
    }
}

static void dirty_step(const struct wl_state *s, struct wl_cpu *c,
                       unsigned pages)
{
    for (unsigned i = 0; i < pages; i++) {
        uint64_t index = c->dirty_cursor;
        write_page(s, index, s->layout.gen[index] + 1);
        c->pending.pages_written++;
        if (++c->dirty_cursor == c->end) {
            c->dirty_cursor = c->begin;
        }
    }
}

/* Returns true when a full pass over this vCPU's pages completed. */
static bool verify_step(const struct wl_state *s, struct wl_cpu *c)
{
    for (unsigned i = 0; i < WL_CHUNK; i++) {
        verify_page(s, c, c->verify_cursor);
        if (++c->verify_cursor == c->end) {
            c->verify_cursor = c->begin;
            c->pending.passes++;
            return true;
        }
    }
    return false;
}

/*
 * The whole guest's stall: how long before @now any vCPU last came round.
 * The shared time only moves forward (a vCPU descheduled between reading
 * its clock and storing it must not move it back).
 */
static void note_guest_round(const struct wl_state *s, struct wl_cpu *c,
                             uint64_t now)
{
    uint64_t any = __atomic_load_n(s->any_round_ns, __ATOMIC_RELAXED);

    if (any && now > any && now - any > c->pending.max_guest_stall_ns) {
        c->pending.max_guest_stall_ns = now - any;
    }
    while (any < now &&
           !__atomic_compare_exchange_n(s->any_round_ns, &any, now, true,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

void wl_run(const struct wl_state *s, struct wl_cpu *c)
{
    if (c->begin == c->end) {
        return;     /* more vCPUs than pages: nothing to own */
    }
    for (;;) {
        uint64_t now = s->ops.now_ns(s->ops.opaque);
        bool urgent = false;

        if (c->last_round_ns && now - c->last_round_ns >
                                c->pending.max_stall_ns) {
            c->pending.max_stall_ns = now - c->last_round_ns;
        }
        c->last_round_ns = now;
        if (s->any_round_ns) {
            note_guest_round(s, c, now);
        }
        if (s->ops.should_yield && s->ops.should_yield(s->ops.opaque)) {
            return;
        }
        if (!c->filled) {
            fill_step(s, c);
            c->last_ns = now;
            urgent = c->filled;
        } else {
            dirty_step(s, c, dirty_budget(s, c, now));
            urgent = verify_step(s, c) || c->pending.corrupt_pages;
            c->pending.rounds++;
        }
        if (c->cpu == 0 && s->ops.tick) {
            s->ops.tick(s->ops.opaque, &c->pending, now);
            urgent |= c->pending.corrupt_sectors != 0;
        }
        if (urgent || now - c->last_report_ns >= WL_REPORT_NS) {
            report(s, c, now);
        }
    }
}

int wl_format_u64(char *buf, uint64_t v)
{
    char tmp[20];
    int n = 0, len = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        buf[len++] = tmp[--n];
    }
    buf[len] = '\0';
    return len;
}
