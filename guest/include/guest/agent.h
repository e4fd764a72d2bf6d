/*
 * The test guest's agent (guest/agent.c): QEMU's guest-agent protocol
 * over the pvchannel named org.qemu.guest_agent.0, run from the cpu 0
 * tick like the disk workload.  Its memory (rings, the table of recent
 * request ids, counters) is taken above the kernel at setup, so it is
 * guest RAM that migrates and stays out of the RAM verifier's pages.
 * Without the channel (or under QEMU) it stays off.
 */
#ifndef GUEST_AGENT_H
#define GUEST_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include "guest/workload.h"

typedef void (*agent_log_fn)(void *opaque, const char *msg);

/* Finds the channel and takes the agent's memory from *@reserved_end
 * (raising it) in the RAM range that holds it. */
void agent_setup(const struct wl_range *ram, unsigned nr_ram,
                 uint64_t *reserved_end, agent_log_fn log, void *log_opaque);
bool agent_enabled(void);
/* The wl_ops.tick hook: answers what came in, finishes due sleeps. */
void agent_tick(uint64_t now_ns);

#endif
