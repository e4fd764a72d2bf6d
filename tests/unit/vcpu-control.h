/* Pausing and resuming every vCPU from a unit test (takes the BQL). */
#ifndef TESTS_UNIT_VCPU_CONTROL_H
#define TESTS_UNIT_VCPU_CONTROL_H

#include <glib.h>
#include "system/cpus.h"

static inline void resume(void)
{
    bql_lock();
    cpus_resume_all();
    bql_unlock();
}

/* Returns how long the pause took, in microseconds. */
static inline gint64 pause_all(void)
{
    gint64 t0 = g_get_monotonic_time();

    bql_lock();
    cpus_pause_all();
    bql_unlock();
    return g_get_monotonic_time() - t0;
}

#endif
