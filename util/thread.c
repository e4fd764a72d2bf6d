/* Helpers for the threads ferry starts (see include/util/thread.h). */
#include <sched.h>
#include <unistd.h>
#include <sys/resource.h>
#include "util/thread.h"

#define LATENCY_NICE (-10)
/* The lowest realtime priority: above every normal thread, below the
 * kernel's own realtime threads and anything an operator raised. */
#define REALTIME_PRIORITY 1

void thread_prefer_latency(void)
{
    /* On Linux a thread id names one thread for setpriority(). */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), LATENCY_NICE);
}

void thread_prefer_realtime(void)
{
    struct sched_param sp = { .sched_priority = REALTIME_PRIORITY };

    /* pid 0 is the calling thread; threads it starts begin normal */
    if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) < 0) {
        thread_prefer_latency();
    }
}
