/*
 * For the ThreadSanitizer build of the bridge's test only (`make
 * check-tsan-agent`): GLib's GMutex and GCond are futexes ThreadSanitizer
 * cannot see, so every access they order would look like a race.  These
 * definitions take their place in the test executable and put a pthread
 * mutex or condition (which ThreadSanitizer understands) behind each one.
 * GLib's own internal locking is left alone (see tsan.supp).
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <glib.h>

static pthread_mutex_t *mutex_of(GMutex *m)
{
    pthread_mutex_t *p = g_atomic_pointer_get(&m->p);

    if (!p) {
        pthread_mutex_t *fresh = malloc(sizeof(*fresh));

        pthread_mutex_init(fresh, NULL);
        if (!g_atomic_pointer_compare_and_exchange(&m->p, NULL, fresh)) {
            pthread_mutex_destroy(fresh);
            free(fresh);
        }
        p = g_atomic_pointer_get(&m->p);
    }
    return p;
}

static pthread_cond_t *cond_of(GCond *c)
{
    pthread_cond_t *p = g_atomic_pointer_get(&c->p);

    if (!p) {
        pthread_cond_t *fresh = malloc(sizeof(*fresh));

        pthread_cond_init(fresh, NULL);
        if (!g_atomic_pointer_compare_and_exchange(&c->p, NULL, fresh)) {
            pthread_cond_destroy(fresh);
            free(fresh);
        }
        p = g_atomic_pointer_get(&c->p);
    }
    return p;
}

void g_mutex_init(GMutex *m)
{
    m->p = NULL;
}

void g_mutex_clear(GMutex *m)
{
    if (m->p) {
        pthread_mutex_destroy(m->p);
        free(m->p);
        m->p = NULL;
    }
}

void g_mutex_lock(GMutex *m)
{
    pthread_mutex_lock(mutex_of(m));
}

void g_mutex_unlock(GMutex *m)
{
    pthread_mutex_unlock(mutex_of(m));
}

void g_cond_init(GCond *c)
{
    c->p = NULL;
}

void g_cond_clear(GCond *c)
{
    if (c->p) {
        pthread_cond_destroy(c->p);
        free(c->p);
        c->p = NULL;
    }
}

void g_cond_wait(GCond *c, GMutex *m)
{
    pthread_cond_wait(cond_of(c), mutex_of(m));
}

void g_cond_signal(GCond *c)
{
    pthread_cond_signal(cond_of(c));
}

void g_cond_broadcast(GCond *c)
{
    pthread_cond_broadcast(cond_of(c));
}

/* GLib's deadline is monotonic; a pthread condition waits on the
 * realtime clock: wait in 1 ms steps until the monotonic deadline. */
gboolean g_cond_wait_until(GCond *c, GMutex *m, gint64 end_time)
{
    while (g_get_monotonic_time() < end_time) {
        struct timespec step;

        clock_gettime(CLOCK_REALTIME, &step);
        step.tv_nsec += 1000000;
        if (step.tv_nsec >= 1000000000) {
            step.tv_sec++;
            step.tv_nsec -= 1000000000;
        }
        if (pthread_cond_timedwait(cond_of(c), mutex_of(m), &step) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}
