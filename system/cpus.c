/* vCPU threads: see include/system/cpus.h for the locking rules. */
#include <unistd.h>
#include <signal.h>
#include <string.h>
#include "system/cpu-throttle.h"
#include "system/cpus.h"
#include "util/error.h"

#define SIG_KICK SIGUSR1

static GMutex bql;
static GCond cpus_cond;         /* any CPUState flag changed */
static CPUState **cpus;
static unsigned nr_cpus;
static const AccelOps *accel;
static bool qemu_thread_names;

void bql_lock(void)
{
    g_mutex_lock(&bql);
}

void bql_unlock(void)
{
    g_mutex_unlock(&bql);
}

static void kick_handler(int sig)
{
    /* Only interrupts KVM_RUN; immediate_exit carries the request. */
}

static void park(CPUState *cpu)
{
    while ((cpu->stop || cpu->halted) && !cpu->exit_thread) {
        /* Broadcast once: parked vCPUs re-broadcasting on every wake-up
         * would keep waking each other, burning the host's CPUs. */
        if (!cpu->stopped) {
            cpu->stopped = true;
            g_cond_broadcast(&cpus_cond);
        }
        g_cond_wait(&cpus_cond, &bql);
    }
}

static gpointer vcpu_thread(gpointer opaque)
{
    CPUState *cpu = opaque;

    cpu->tid = pthread_self();
    cpu->os_tid = (int)gettid();
    bql_lock();
    for (;;) {
        accel->vcpu_kick_clear(cpu);
        park(cpu);
        if (cpu->exit_thread) {
            break;
        }
        cpu->stopped = false;
        bql_unlock();
        VCPUExit e = accel->vcpu_run(cpu);
        bql_lock();
        if (e != VCPU_EXIT_KICKED) {
            cpu->halted = true;
        }
        cpu_throttle_vcpu_sleep(cpu, &bql, &cpus_cond);
    }
    cpu->stopped = true;
    g_cond_broadcast(&cpus_cond);
    bql_unlock();
    return NULL;
}

void cpus_set_qemu_thread_names(bool on)
{
    qemu_thread_names = on;
}

/* "CPU 0/KVM" is what QEMU's -name debug-threads=on gives (and what tools
 * made for QEMU look for); ferry's own "vcpu0" otherwise. */
static char *vcpu_thread_name(unsigned index)
{
    g_autofree char *accel_name = g_ascii_strup(accel->name, -1);

    return qemu_thread_names ? g_strdup_printf("CPU %u/%s", index, accel_name)
                             : g_strdup_printf("vcpu%u", index);
}

bool cpus_create(const AccelOps *ops, unsigned n, GError **errp)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kick_handler;
    sigaction(SIG_KICK, &sa, NULL);
    accel = ops;
    cpus = g_new0(CPUState *, n);
    for (unsigned i = 0; i < n; i++) {
        CPUState *cpu = g_new0(CPUState, 1);
        cpu->index = i;
        cpu->stop = true;
        cpus[i] = cpu;
        nr_cpus = i + 1;
        if (!ops->vcpu_init(cpu, errp)) {
            return false;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        g_autofree char *name = vcpu_thread_name(i);
        cpus[i]->thread = g_thread_new(name, vcpu_thread, cpus[i]);
    }
    /* Wait until every thread is parked and has its tid. */
    bql_lock();
    for (unsigned i = 0; i < n; i++) {
        while (!cpus[i]->stopped) {
            g_cond_wait(&cpus_cond, &bql);
        }
    }
    bql_unlock();
    return true;
}

unsigned cpus_count(void)
{
    return nr_cpus;
}

CPUState *cpu_get(unsigned index)
{
    return index < nr_cpus ? cpus[index] : NULL;
}

void cpus_kick(CPUState *cpu)
{
    accel->vcpu_kick(cpu);
    if (cpu->thread) {
        pthread_kill(cpu->tid, SIG_KICK);
    }
}

void cpus_pause_all(void)
{
    for (unsigned i = 0; i < nr_cpus; i++) {
        cpus[i]->stop = true;
        if (!cpus[i]->stopped) {
            cpus_kick(cpus[i]);
        }
    }
    g_cond_broadcast(&cpus_cond);       /* ends a throttle sleep */
    for (unsigned i = 0; i < nr_cpus; i++) {
        while (!cpus[i]->stopped) {
            g_cond_wait(&cpus_cond, &bql);
        }
    }
}

void cpus_resume_all(void)
{
    for (unsigned i = 0; i < nr_cpus; i++) {
        cpus[i]->stop = false;
    }
    g_cond_broadcast(&cpus_cond);
}

void cpus_destroy(void)
{
    bql_lock();
    for (unsigned i = 0; i < nr_cpus; i++) {
        cpus[i]->exit_thread = true;
        cpus[i]->stop = true;
        if (!cpus[i]->stopped) {
            cpus_kick(cpus[i]);
        }
    }
    g_cond_broadcast(&cpus_cond);
    bql_unlock();
    for (unsigned i = 0; i < nr_cpus; i++) {
        if (cpus[i]->thread) {
            g_thread_join(cpus[i]->thread);
        }
        if (accel->vcpu_destroy) {
            accel->vcpu_destroy(cpus[i]);
        }
        g_free(cpus[i]);
    }
    g_clear_pointer(&cpus, g_free);
    nr_cpus = 0;
}
