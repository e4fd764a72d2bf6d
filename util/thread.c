/* Helpers for the threads ferry starts (see include/util/thread.h). */
#include <unistd.h>
#include <sys/resource.h>
#include "util/thread.h"

#define LATENCY_NICE (-10)

void thread_prefer_latency(void)
{
    /* On Linux a thread id names one thread for setpriority(). */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), LATENCY_NICE);
}
