/*
 * live.h - reads that wait for a count, and pollers: the registry of
 * what waits on which series, and the threads that wake them.
 *
 * A watch waits on one series (video, type): a parked read of follow or
 * when/N, or a poll handle of an open counter file.  Writers say which
 * series they changed (live_changed, after the store acknowledged);
 * the wake thread reads each changed series' count once and fires the
 * watches it satisfies.  Nothing runs per watch while nothing changes;
 * a write checks one atomic while nobody waits, and one more per series
 * (a filter of 2^16 slots) before it takes the lock.
 *
 * A watch belongs to the registry while it is linked.  Whoever unlinks it
 * (live_remove: an interrupt, a release; the wake thread: a change, the
 * end) owns it again, and only that one may answer its request.
 */
#ifndef COUNTFS_LIVE_H
#define COUNTFS_LIVE_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "../store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct live_series;
struct live_watch;

/*
 * Called by the wake thread with no lock held, once the watch is
 * unlinked: @count is the series' count that satisfied it, or -1 when
 * live reads end (the mount is gone or the daemon stops): answer EOF.
 */
typedef void (*live_fire_fn)(struct live_watch *w, int64_t count);

struct live_watch {
	struct live_watch *prev, *next; /* in its series; under live.lock */
	struct live_series *series;	/* NULL: not linked */
	bool when;	  /* satisfied by count >= at_least, else by a
			   * count other than @count */
	int64_t count;	  /* the count its reader last saw */
	int64_t at_least;
	/* A poller's handle (under live.lock; notified and destroyed by
	 * the registry when fired), or NULL for a parked read. */
	struct fuse_pollhandle *ph;
	live_fire_fn fire; /* a parked read's answer */
};

#define LIVE_SLOTS (1u << 16)
/* Threads that share a long queue of changed series with the wake
 * thread, and the queue length at which they are woken. */
#define LIVE_HELPERS 3
#define LIVE_SHARE 16

struct live {
	pthread_mutex_t lock; /* guards everything below but the atomics */
	struct live_series **buckets;
	size_t nbuckets, nseries;
	struct live_series *changed; /* to be read by the wake threads */
	struct live_series *changed_last; /* its last: the queue is FIFO */
	size_t nchanged;
	pthread_cond_t work;	     /* for the helpers: a long queue */
	bool stopping;		     /* live reads end: EOF */
	bool started;

	atomic_uint watches;		 /* linked watches: 0 lets writes skip */
	atomic_uint slots[LIVE_SLOTS]; /* linked watches by series hash */

	struct store *store;
	const char *mountpoint; /* its unmount ends every live read */
	int kick;		/* eventfd: the wake thread has work */
	int mounts;		/* /proc/self/mountinfo, or -1 */
	pthread_t thread;
	pthread_t helpers[LIVE_HELPERS];
	unsigned nhelpers;
};

/* Before anything else (no thread yet). */
void live_init(struct live *l);

/* Start the wake thread on @st; 0, -ENOMEM or another -errno. */
int live_start(struct live *l, struct store *st, const char *mountpoint);

/* End every live read (EOF) while requests are still served: from now
 * on live_add answers -ESHUTDOWN.  The threads stay until live_stop. */
void live_end(struct live *l);

/* End every live read (EOF) and join the thread; no watch is linked
 * afterwards and live_add answers -ESHUTDOWN.  Call with no request being
 * served (after the session loop) or from destroy.  Idempotent. */
void live_stop(struct live *l);

/*
 * Link @w (its when, count, at_least, fire set; ph NULL) to the series
 * (@video, @type): it fires once a count satisfies it, checked at once
 * by the wake thread too (so a change just before the call is not
 * missed).  -ESHUTDOWN when live reads have ended: answer EOF.
 */
int live_add(struct live *l, struct live_watch *w, const char *video,
	     size_t video_len, const char *type, size_t type_len);

/* Unlink @w if it is linked: true when this call did (the caller owns
 * it again), false when it was not linked. */
bool live_remove(struct live *l, struct live_watch *w);

/*
 * Poll: give @w the handle @ph (the previous one is destroyed) to be
 * notified when the series' count is >= @at_least (@when) or else other
 * than @count; links @w if it is not.  Without live reads (stopping) @ph
 * is destroyed.
 */
void live_poll(struct live *l, struct live_watch *w, struct fuse_pollhandle *ph,
	       bool when, int64_t count, int64_t at_least, const char *video,
	       size_t video_len, const char *type, size_t type_len);

/* Unlink a poller and destroy its handle (at release). */
void live_unpoll(struct live *l, struct live_watch *w);

/* The store recorded @ev[0..n): wake what waits on their series. */
void live_changed(struct live *l, const struct store_event *ev, size_t n);

#endif
