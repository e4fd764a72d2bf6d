/* vCPU throttling for auto-converge: see include/system/cpu-throttle.h. */
#include "system/cpu-throttle.h"
#include "system/cpus.h"
#include "util/log.h"

static int throttle_pct;        /* atomic: 0 = off */

/* The ticker thread, started by the first cpu_throttle_set(). */
static struct {
    GMutex lock;
    GCond cond;                 /* the percentage changed */
    GThread *thread;            /* lock */
    bool restart;               /* lock: off -> on, tick at once */
} ticker;

/* BQL: per vCPU index, a tick scheduled a sleep not yet taken. */
static bool *scheduled;
static unsigned nr_scheduled;

int cpu_throttle_get_percentage(void)
{
    return __atomic_load_n(&throttle_pct, __ATOMIC_ACQUIRE);
}

bool cpu_throttle_active(void)
{
    return cpu_throttle_get_percentage() != 0;
}

int64_t cpu_throttle_sleep_ns(int percent)
{
    if (percent <= 0) {
        return 0;
    }
    percent = MIN(percent, CPU_THROTTLE_PCT_MAX);
    /* QEMU: pct / (1 - pct) timeslices, in exact integer arithmetic. */
    return CPU_THROTTLE_TIMESLICE_NS * percent / (100 - percent);
}

int64_t cpu_throttle_period_ns(int percent)
{
    return CPU_THROTTLE_TIMESLICE_NS + cpu_throttle_sleep_ns(percent);
}

static bool *schedule_mark(unsigned index)
{
    if (index >= nr_scheduled) {
        unsigned n = index + 1;
        scheduled = g_renew(bool, scheduled, n);
        for (unsigned i = nr_scheduled; i < n; i++) {
            scheduled[i] = false;
        }
        nr_scheduled = n;
    }
    return &scheduled[index];
}

/* One tick: every vCPU running guest code owes a sleep, unless it still
 * has one to take (QEMU's throttle_thread_scheduled). */
static void tick(void)
{
    bql_lock();
    /* Re-checked under the BQL: after stop, no tick touches a vCPU. */
    if (cpu_throttle_active()) {
        for (unsigned i = 0; i < cpus_count(); i++) {
            CPUState *cpu = cpu_get(i);
            bool *mark = schedule_mark(i);

            if (cpu->stop || cpu->stopped || cpu->halted || *mark) {
                continue;
            }
            *mark = true;
            cpus_kick(cpu);
        }
    }
    bql_unlock();
}

static gpointer ticker_thread(gpointer opaque)
{
    g_mutex_lock(&ticker.lock);
    for (;;) {
        int pct;

        while (!(pct = cpu_throttle_get_percentage())) {
            g_cond_wait(&ticker.cond, &ticker.lock);
        }
        ticker.restart = false;
        g_mutex_unlock(&ticker.lock);
        tick();
        g_mutex_lock(&ticker.lock);
        /* The period of the percentage in force at this tick, as QEMU's
         * timer: a change applies from the next tick on. */
        gint64 end = g_get_monotonic_time() + cpu_throttle_period_ns(pct) / 1000;
        while (!ticker.restart && cpu_throttle_active() &&
               g_cond_wait_until(&ticker.cond, &ticker.lock, end)) {
        }
    }
    return NULL;
}

void cpu_throttle_set(int percent)
{
    percent = CLAMP(percent, CPU_THROTTLE_PCT_MIN, CPU_THROTTLE_PCT_MAX);
    g_mutex_lock(&ticker.lock);
    int old = __atomic_exchange_n(&throttle_pct, percent, __ATOMIC_ACQ_REL);
    if (old != percent) {
        ferry_log("cpu-throttle: %d%%", percent);
    }
    if (!old) {
        ticker.restart = true;
        if (!ticker.thread) {
            ticker.thread = g_thread_new("cpu-throttle", ticker_thread, NULL);
        }
        g_cond_broadcast(&ticker.cond);
    }
    g_mutex_unlock(&ticker.lock);
}

void cpu_throttle_stop(void)
{
    g_mutex_lock(&ticker.lock);
    if (__atomic_exchange_n(&throttle_pct, 0, __ATOMIC_ACQ_REL)) {
        ferry_log("cpu-throttle: off");
    }
    g_cond_broadcast(&ticker.cond);
    g_mutex_unlock(&ticker.lock);
}

void cpu_throttle_vcpu_sleep(CPUState *cpu, GMutex *bql, GCond *wake)
{
    int64_t ns;

    if (cpu->index >= nr_scheduled || !scheduled[cpu->index]) {
        return;
    }
    ns = cpu_throttle_sleep_ns(cpu_throttle_get_percentage());
    if (ns > 0) {
        gint64 end = g_get_monotonic_time() + ns / 1000;

        /* Broadcasts for other vCPUs wake us too: re-check and go on. */
        while (!cpu->stop && !cpu->exit_thread && !cpu->halted &&
               g_cond_wait_until(wake, bql, end)) {
        }
    }
    /* Indexed again: a tick may have grown the array while we slept. */
    scheduled[cpu->index] = false;
}

/* --- the migration side ----------------------------------------------- */
