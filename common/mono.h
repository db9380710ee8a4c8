/*
 * mono.h - timed waits on the monotonic clock, so that a step of the wall
 * clock never stretches or cuts a wait (fsyncs, retention, pushes).
 */
#ifndef COUNTFS_MONO_H
#define COUNTFS_MONO_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Initialise @cond for pthread_cond_timedwait() with mono_deadline(). */
static inline void mono_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
}

/* The monotonic time @ns nanoseconds from now, as a timedwait deadline. */
static inline struct timespec mono_deadline(uint64_t ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns += (uint64_t)ts.tv_nsec;
	ts.tv_sec += (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	return ts;
}

/*
 * The wall clock in whole seconds, read precisely.  time() reads the
 * kernel's coarse clock, which lags clock_gettime() - and so `date +%s`
 * - by up to a tick: an event written as @T just after a second began
 * could land after a read's "now" of T - 1.
 */
static inline uint32_t wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint32_t)ts.tv_sec;
}

#endif
