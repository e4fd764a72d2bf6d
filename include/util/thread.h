/* Helpers for the threads ferry starts. */
#ifndef FERRY_UTIL_THREAD_H
#define FERRY_UTIL_THREAD_H

/*
 * Raises the calling thread's priority (nice -10) when allowed: for the
 * threads a blocked vCPU waits on (postcopy's fault and page threads), so
 * that busy vCPUs on the same cores do not delay them by a time slice.
 * Unprivileged, it silently stays as it is.
 */
void thread_prefer_latency(void);

#endif
