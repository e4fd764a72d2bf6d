/* ferry's own x- commands, used by tests and demos. */
#include <errno.h>
#include <gnutls/crypto.h>
#include "hw/workload.h"
#include "qapi/qapi-commands.h"
#include "system/memory.h"
#include "system/runstate.h"
#include "util/error.h"

WorkloadInfo *qmp_x_query_workload(GError **errp)
{
    WorkloadCounters wc;
    WorkloadInfo *info = g_new0(WorkloadInfo, 1);

    workload_dev_query(&wc);
    info->rounds = wc.rounds;
    info->pages_written = wc.pages_written;
    info->pages_verified = wc.pages_verified;
    info->full_verify_passes = wc.full_verify_passes;
    info->corrupt_pages = wc.corrupt_pages;
    info->boots = wc.boots;
    info->disk_sectors_written = wc.disk_sectors_written;
    info->disk_sectors_verified = wc.disk_sectors_verified;
    info->corrupt_sectors = wc.corrupt_sectors;
    info->disk_io_errors = wc.disk_io_errors;
    info->max_stall_us = wc.max_stall_ns / 1000;
    info->max_guest_stall_us = wc.max_guest_stall_ns / 1000;
    return info;
}

void qmp_x_workload_reset_stall(GError **errp)
{
    workload_dev_reset_stall();
}

/*
 * Lower-case hex, as Python's hashlib prints it.  GLib's SHA-256 has no
 * CPU acceleration (about 100 MB/s, so a 512 MiB guest takes seconds),
 * but it spares ferry a crypto library for this one debugging command.
 */
/*
 * GnuTLS's SHA-256 rather than GLib's: it uses the CPU's SHA instructions
 * where there are some (several times faster here), and the tests digest
 * GiBs of guest RAM on both sides of every stopped migration.
 */
static char *block_sha256(const RAMBlock *rb, GError **errp)
{
    uint8_t md[32];
    char *hex = g_malloc(sizeof(md) * 2 + 1);
    int ret = gnutls_hash_fast(GNUTLS_DIG_SHA256, rb->host, rb->size, md);

    if (ret < 0) {
        error_setg(errp, "x-ram-digest: SHA-256 of %s failed: %s", rb->idstr,
                   gnutls_strerror(ret));
        g_free(hex);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(md); i++) {
        g_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    return hex;
}

RamDigestList *qmp_x_ram_digest(GError **errp)
{
    GPtrArray *blocks = ram_blocks();
    RamDigestList *head = NULL;

    if (runstate_is_running()) {
        error_setg(errp, "x-ram-digest needs a stopped VM (run 'stop' "
                   "first): guest memory changes while it runs");
        return NULL;
    }
    for (guint i = blocks ? blocks->len : 0; i-- > 0;) {
        const RAMBlock *rb = g_ptr_array_index(blocks, i);
        char *sha256 = block_sha256(rb, errp);
        RamDigestList *l;

        if (!sha256) {
            qapi_free_RamDigestList(head);
            return NULL;
        }
        l = g_new0(RamDigestList, 1);
        l->value = g_new0(RamDigest, 1);
        l->value->id = g_strdup(rb->idstr);
        l->value->size = rb->size;
        l->value->sha256 = sha256;
        l->next = head;
        head = l;
    }
    return head;
}

void qmp_x_poke(uint64_t addr, uint8_t value, GError **errp)
{
    if (guest_mem_write(addr, &value, 1) < 0) {
        error_setg(errp, "Address 0x%" G_GINT64_MODIFIER "x is not guest RAM",
                   addr);
    }
}
