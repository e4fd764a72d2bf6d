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

/*
 * Makes the calling thread SCHED_FIFO at the lowest realtime priority
 * when allowed (CAP_SYS_NICE or RLIMIT_RTPRIO), else as
 * thread_prefer_latency().  Only for threads that
 * sleep between short pieces of work: with postcopy-preempt, the whole
 * path of a page a vCPU waits for.  Under the fair scheduler a woken
 * thread at nice -10 still waited up to a few ms for a core while the
 * cores ran vCPUs and background transfer (docs/performance.md, "The
 * postcopy fault tail").
 */
void thread_prefer_realtime(void);

#endif
