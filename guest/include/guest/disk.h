/*
 * The test guest's disk workload (guest/disk.c): a ring-3 driver for the
 * first pvblk disk, writing and verifying sector patterns
 * (guest/disk-pattern.h) at disk-rate= bytes/s, interleaved with the RAM
 * workload on cpu 0 through wl_ops.tick.  Without disk-rate= (or under
 * QEMU, which has no pvblk) it stays off and the guest runs as before.
 */
#ifndef GUEST_DISK_H
#define GUEST_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include "guest/workload.h"

typedef void (*disk_log_fn)(void *opaque, const char *msg);

/*
 * Parses disk-rate= from @cmdline; with a rate and a pvblk disk, sets the
 * disk up and takes its memory (ring, buffers, generation table) from the
 * RAM at *@reserved_end, which it raises.  Returns false (with *@bad
 * pointing at the word) only on a malformed disk-rate=; true otherwise,
 * with disk_enabled() saying whether the workload runs.
 */
bool disk_setup(const char *cmdline, const struct wl_range *ram,
                unsigned nr_ram, uint64_t *reserved_end, disk_log_fn log,
                void *log_opaque, const char **bad);
bool disk_enabled(void);
/* The wl_ops.tick hook: reap completions, then post within the budget. */
void disk_tick(void *opaque, struct wl_report *pending, uint64_t now_ns);
/*
 * Ends the disk workload for a clean power-off: every request posted is
 * submitted and completed, then a flush makes the writes durable.
 */
void disk_quiesce(struct wl_report *pending);

#endif
