/*
 * vCPU threads, one per vCPU, each parked or running guest code through
 * the accelerator.  Pausing is a flag plus a kick (signal + KVM's
 * immediate_exit), with the replies counted under the BQL.
 *
 * Locking: the big VMM lock (BQL) protects CPUState's flags and run-state
 * changes.  vCPU threads drop it while running guest code and handling
 * device exits (devices lock themselves).
 */
#ifndef FERRY_SYSTEM_CPUS_H
#define FERRY_SYSTEM_CPUS_H

#include <glib.h>
#include <pthread.h>
#include "accel/accel.h"

struct CPUState {
    unsigned index;
    GThread *thread;
    pthread_t tid;
    int os_tid;                 /* gettid(), for postcopy's blocktime */
    void *accel;                /* accelerator-private state */
    bool stop;                  /* BQL: asked to park */
    bool stopped;               /* BQL: parked */
    bool halted;                /* BQL: the guest halted for good */
    bool exit_thread;           /* BQL: leave the thread */
};

void bql_lock(void);
void bql_unlock(void);

/* Names the next vCPU threads "CPU N/KVM" as QEMU does, not "vcpuN". */
void cpus_set_qemu_thread_names(bool on);
/* Creates @n vCPUs with @ops; their threads start parked. */
bool cpus_create(const AccelOps *ops, unsigned n, GError **errp);
unsigned cpus_count(void);
CPUState *cpu_get(unsigned index);
/* Park / unpark every vCPU; the BQL must be held. */
void cpus_pause_all(void);
void cpus_resume_all(void);
/* Stops and joins every vCPU thread (exit path). */
void cpus_destroy(void);
/* Makes a running vCPU leave guest code soon. */
void cpus_kick(CPUState *cpu);

#endif
