/*
 * The self-verifying memory workload, one C source for two homes: the test
 * guest runs it in ring 3 under KVM, and ferry's soft accelerator runs it as
 * host threads against guest RAM.  It must stay freestanding: no libc.
 *
 * Every 4 KiB page it owns holds its page frame number, a generation, and
 * 510 words derived from both; a generation table in guest RAM says which
 * generation each page must hold.  With fill=compressible only the first
 * quarter of a page varies word by word and the rest repeats the page's
 * seed, so each page compresses about 4:1 (zlib level 1: 3.9:1 over a
 * multifd packet) and is still unique and checked word for word.  All progress lives in guest RAM (struct
 * wl_cpu and the table), so the workload moves with the VM's memory.
 */
#ifndef GUEST_WORKLOAD_H
#define GUEST_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>
#include "guest/workload-dev.h"

#define WL_PAGE_SIZE     4096u
#define WL_PAGE_WORDS    (WL_PAGE_SIZE / 8)
#define WL_MAX_RANGES    8
#define WL_MAX_CPUS      64
#define WL_CHUNK         64          /* pages per dirty or verify step */
#define WL_REPORT_NS     20000000ull /* report at least every 20 ms */
#define WL_RATE_MAX      UINT64_MAX  /* dirty-rate=max */
/* fill=compressible: words that vary (pfn and gen included) */
#define WL_COMPRESSIBLE_WORDS (WL_PAGE_WORDS / 4)

enum wl_fill {
    WL_FILL_INCOMPRESSIBLE,     /* every word derived: zlib gains nothing */
    WL_FILL_COMPRESSIBLE,       /* a quarter derived, the rest the seed */
};

/* A run of guest-physical pages and where the workload reaches them. */
struct wl_range {
    uint64_t gpa;
    uint64_t npages;
    uint8_t *host;
};

struct wl_config {
    uint64_t dirty_rate;        /* bytes/s over all vCPUs; WL_RATE_MAX */
    uint32_t fill;              /* enum wl_fill */
    unsigned ncpus;
};

struct wl_layout {
    struct wl_range test[WL_MAX_RANGES];
    unsigned nr_test;
    uint64_t total_pages;       /* pages under test */
    uint32_t *gen;              /* generation table, one entry per page */
    uint64_t gen_gpa;
    uint64_t gen_pages;
};

/* Per-vCPU progress.  Lives in guest RAM so it migrates with the VM. */
struct wl_cpu {
    uint32_t cpu;
    uint32_t filled;
    uint64_t begin, end;        /* page indexes this vCPU owns */
    uint64_t fill_cursor;
    uint64_t dirty_cursor;
    uint64_t verify_cursor;
    uint64_t last_ns;
    uint64_t credit_bytes;
    uint64_t last_report_ns;
    uint64_t last_round_ns;     /* when the loop last came round */
    struct wl_report pending;   /* deltas since the last report */
};

struct wl_ops {
    uint64_t (*now_ns)(void *opaque);
    void (*report)(void *opaque, struct wl_report *r);
    /* Soft dirty tracking; NULL where the accelerator tracks writes. */
    void (*mark_dirty)(void *opaque, uint64_t gpa);
    /* Polled once per round; true makes wl_run() return (soft pause). */
    bool (*should_yield)(void *opaque);
    void (*log)(void *opaque, const char *msg);
    /*
     * Called once per round on cpu 0, with its pending report to add to:
     * the test guest runs its disk workload (guest/disk.c) here, between
     * RAM steps.  NULL in the soft accelerator, which has no disk.
     */
    void (*tick)(void *opaque, struct wl_report *pending, uint64_t now_ns);
    void *opaque;
};

struct wl_state {
    struct wl_config cfg;
    struct wl_layout layout;
    struct wl_ops ops;
    /* When any vCPU last came round, shared by all of them (the guest's
     * is in its RAM, so it migrates); NULL: no whole-guest stalls. */
    uint64_t *any_round_ns;
};

/*
 * Parses "dirty-rate=64M" (also K/G suffixes, "max", plain bytes) and
 * "fill=incompressible|compressible" from a kernel command line; the last
 * of each wins.  Unknown words are ignored; returns false, with @cfg as it
 * was and *bad set to the offending word, on a malformed dirty-rate or fill.
 */
bool wl_parse_cmdline(const char *cmdline, struct wl_config *cfg,
                      const char **bad);
/* The same for any "KEY=RATE" word (@key includes the '='): *out is left
 * alone when the key is absent. */
bool wl_parse_rate_arg(const char *cmdline, const char *key, uint64_t *out,
                       const char **bad);

/*
 * Lays out the workload over @ram: pages below @reserved_end are left alone,
 * the generation table is carved from the first RAM above it, every other
 * page is under test.  Returns false if there is no room.
 */
bool wl_layout_init(struct wl_layout *l, const struct wl_range *ram,
                    unsigned nr_ram, uint64_t reserved_end);

/* Assigns vCPU @cpu its share of the pages; call once before wl_run. */
void wl_cpu_init(const struct wl_state *s, struct wl_cpu *c, unsigned cpu);

/* Runs the workload; returns only when ops.should_yield says so. */
void wl_run(const struct wl_state *s, struct wl_cpu *c);

/* Small helpers the guest also uses. */
uint64_t wl_page_pfn(const struct wl_layout *l, uint64_t index);
int wl_format_u64(char *buf, uint64_t v);

#endif
