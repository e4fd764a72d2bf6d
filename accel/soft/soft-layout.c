/*
 * The soft workload's configuration and layout, derived from the command
 * line and the guest RAM regions (see include/accel/soft.h).  The derivation
 * is deterministic, so a migration destination with the same -m, -smp and
 * -append computes the same layout the source's contexts refer to.
 */
#include <stdlib.h>
#include <string.h>
#include "soft-internal.h"
#include "hw/workload.h"
#include "system/memory.h"
#include "util/error.h"

G_STATIC_ASSERT(sizeof(struct wl_cpu) <= SOFT_CTX_STRIDE);
G_STATIC_ASSERT(FERRY_PAGE_SIZE % SOFT_CTX_STRIDE == 0);
G_STATIC_ASSERT(SOFT_CTX_GPA + WL_MAX_CPUS * SOFT_CTX_STRIDE <=
                SOFT_RESERVED_END);

static int range_cmp(const void *a, const void *b)
{
    const struct wl_range *x = a, *y = b;

    return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Every guest RAM region, in guest-physical order. */
static bool collect_ranges(struct wl_range *ram, unsigned *nr, GError **errp)
{
    GPtrArray *regions = guest_regions();

    if (regions->len == 0 || regions->len > WL_MAX_RANGES) {
        error_setg(errp, "-accel soft: %u guest RAM regions (1 to %d)",
                   regions->len, WL_MAX_RANGES);
        return false;
    }
    for (guint i = 0; i < regions->len; i++) {
        const GuestRegion *r = g_ptr_array_index(regions, i);
        ram[i] = (struct wl_range){
            .gpa = r->gpa,
            .npages = r->size >> FERRY_PAGE_SHIFT,
            .host = r->block->host + r->offset,
        };
    }
    *nr = regions->len;
    qsort(ram, *nr, sizeof(*ram), range_cmp);
    return true;
}

/* The contexts must be ordinary RAM so that they migrate with it. */
static bool find_contexts(SoftState *s, GError **errp)
{
    uint64_t len = (uint64_t)s->ncpus * SOFT_CTX_STRIDE;
    uint8_t *host = gpa_to_hva(SOFT_CTX_GPA, len);

    if (!host) {
        error_setg(errp, "-accel soft: guest RAM does not cover the vCPU "
                   "contexts at 0x%" G_GINT64_MODIFIER "x+0x%"
                   G_GINT64_MODIFIER "x", SOFT_CTX_GPA, len);
        return false;
    }
    for (unsigned i = 0; i < s->ncpus; i++) {
        s->cpus[i].ctx = (struct wl_cpu *)(host + i * SOFT_CTX_STRIDE);
        s->cpus[i].ctx_gpa = SOFT_CTX_GPA + i * SOFT_CTX_STRIDE;
    }
    return true;
}

static bool parse_cmdline(const char *cmdline, struct wl_config *cfg,
                          GError **errp)
{
    const char *bad = NULL;

    cfg->dirty_rate = 0;
    cfg->fill = WL_FILL_INCOMPRESSIBLE;
    if (!wl_parse_cmdline(cmdline, cfg, &bad)) {
        error_setg(errp, "-append: malformed '%.*s' (dirty-rate=N[K|M|G], "
                   "dirty-rate=max, fill=incompressible or fill=compressible)",
                   (int)strcspn(bad, " "), bad);
        return false;
    }
    return true;
}

bool soft_accel_prepare(const char *cmdline, GError **errp)
{
    SoftState *s = &soft_state;
    struct wl_state wl = { .cfg.ncpus = s->ncpus };
    struct wl_range ram[WL_MAX_RANGES];
    unsigned nr_ram;

    s->prepared = false;
    if (!parse_cmdline(cmdline, &wl.cfg, errp) ||
        !collect_ranges(ram, &nr_ram, errp) ||
        !find_contexts(s, errp)) {
        return false;
    }
    if (!wl_layout_init(&wl.layout, ram, nr_ram, SOFT_RESERVED_END)) {
        error_setg(errp, "-accel soft: no guest RAM for the workload above "
                   "the reserved first %" G_GUINT64_FORMAT " MiB",
                   SOFT_RESERVED_END >> 20);
        return false;
    }
    s->wl = wl;
    s->prepared = true;
    return true;
}

/* ferry writes the contexts here, so they count as VMM writes to RAM. */
void soft_accel_reset_contexts(void)
{
    SoftState *s = &soft_state;
    uint64_t len = (uint64_t)s->ncpus * SOFT_CTX_STRIDE;
    GuestRegion *r = guest_region_find(SOFT_CTX_GPA, len);

    g_assert(s->prepared && r);
    memset(s->cpus[0].ctx, 0, len);
    for (unsigned i = 0; i < s->ncpus; i++) {
        wl_cpu_init(&s->wl, s->cpus[i].ctx, i);
    }
    ram_block_mark_dirty(r->block, r->offset + (SOFT_CTX_GPA - r->gpa), len);
    /* What the guest image reports when it starts its workload. */
    workload_dev_report(&(struct wl_report){ .flags = WL_REPORT_BOOT });
}
