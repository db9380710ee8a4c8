/*
 * fakeclock.c - an LD_PRELOAD shim that moves the wall clock of one
 * process, for tests of a clock stepped back and forward under countfs.
 *
 *   $ cc -shared -fPIC -o fakeclock.so tests/helpers/fakeclock.c -ldl
 *   $ echo -7200 > /tmp/offset
 *   $ COUNTFS_FAKECLOCK=/tmp/offset LD_PRELOAD=./fakeclock.so countfs ...
 *
 * time() and clock_gettime(CLOCK_REALTIME) return the real time plus the
 * number of seconds in the file named by COUNTFS_FAKECLOCK, read on each
 * call; the monotonic clock is left alone.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long offset(void)
{
	const char *path = getenv("COUNTFS_FAKECLOCK");
	long off = 0;
	FILE *f;

	if (path && (f = fopen(path, "r"))) {
		if (fscanf(f, "%ld", &off) != 1)
			off = 0;
		fclose(f);
	}
	return off;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	int rc;

	if (!real)
		real = (int (*)(clockid_t, struct timespec *))dlsym(
		    RTLD_NEXT, "clock_gettime");
	rc = real(id, ts);
	if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec += offset();
	return rc;
}

time_t time(time_t *out)
{
	struct timespec ts;
	time_t t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec;
	if (out)
		*out = t;
	return t;
}
