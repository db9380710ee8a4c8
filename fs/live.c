/*
 * live.c - the registry of watches by series, and the wake thread.
 *
 * A series with watches has a struct live_series in a hash of
 * "video\0type"; it holds a list of its watches and stays while it has
 * one, is queued as changed or is being read.  The wake thread sleeps in
 * poll() on an eventfd (kicked by the first change queued) and on
 * /proc/self/mountinfo (the mount table changed: is the mount gone?),
 * so it costs nothing while nothing happens.  It takes the changed
 * series one at a time, oldest first: it reads the count with no lock
 * held, then fires the watches it satisfies.  Changes that come while it
 * reads queue the series again, last.  While more than LIVE_SHARE series
 * wait, LIVE_HELPERS more threads share the queue: each answer wakes a
 * reader, which can take the CPU from the thread answering, so one
 * thread alone answered 10,000 readers in ~300 ms on 2 cores.  Two threads may read one series
 * at once, and the older count may come second: a follow read fires only
 * on a count above the one it saw (a count never falls), so no reader
 * sees its count go back.
 *
 * Lock order: a caller may hold an open file's lock and libfuse's
 * request lock (an interrupt) when it takes live.lock; nothing is taken
 * while live.lock is held (poll handles are notified after it is
 * dropped, fire callbacks are called with no lock).
 */
#include "live.h"

#include "fs.h" /* countfs_mounted */

#include "../common/hash.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct live_series {
	struct live_series *next;	  /* in its bucket */
	struct live_series *next_changed; /* in live.changed */
	bool changed;
	unsigned reading; /* threads reading its count: it stays */
	uint64_t hash;
	struct live_watch *watches;
	uint8_t video_len, type_len;
	char key[STORE_VIDEO_MAX + 1 + STORE_TYPE_MAX]; /* video \0 type */
};

static uint64_t series_hash(const char *video, size_t vlen, const char *type,
			    size_t tlen)
{
	/* video \0 type: "ab"/"c" and "a"/"bc" differ */
	return fnv1a(fnv1a(fnv1a(FNV1A_INIT, video, vlen), "", 1), type, tlen);
}

static bool series_is(const struct live_series *s, uint64_t hash,
		      const char *video, size_t vlen, const char *type,
		      size_t tlen)
{
	return s->hash == hash && s->video_len == vlen && s->type_len == tlen &&
	       memcmp(s->key, video, vlen) == 0 &&
	       memcmp(s->key + vlen + 1, type, tlen) == 0;
}

static struct live_series **find_locked(struct live *l, uint64_t hash,
					const char *video, size_t vlen,
					const char *type, size_t tlen)
{
	struct live_series **p = &l->buckets[hash & (l->nbuckets - 1)];

	for (; *p; p = &(*p)->next)
		if (series_is(*p, hash, video, vlen, type, tlen))
			break;
	return p;
}

static void grow_locked(struct live *l)
{
	size_t n = l->nbuckets * 2;
	struct live_series **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < l->nbuckets; i++) {
		struct live_series *s = l->buckets[i], *next;
		for (; s; s = next) {
			next = s->next;
			s->next = b[s->hash & (n - 1)];
			b[s->hash & (n - 1)] = s;
		}
	}
	free(l->buckets);
	l->buckets = b;
	l->nbuckets = n;
}

/*
 * Queue @s for the wake threads, last; true when the queue was empty
 * (kick).  First in, first out: a series changing all the time goes back
 * behind the others each time, and cannot starve them.
 */
static bool mark_locked(struct live *l, struct live_series *s)
{
	bool was_empty = !l->changed;

	if (s->changed)
		return false;
	s->changed = true;
	s->next_changed = NULL;
	if (was_empty)
		l->changed = s;
	else
		l->changed_last->next_changed = s;
	l->changed_last = s;
	l->nchanged++;
	return was_empty;
}

static void kick(struct live *l)
{
	uint64_t one = 1;

	if (write(l->kick, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("live: cannot wake the wake thread: %s",
			 strerror(errno));
}

/* Free @s once nothing holds it: no watch, not queued, not being read. */
static void drop_if_idle_locked(struct live *l, struct live_series *s)
{
	if (s->watches || s->changed || s->reading)
		return;
	struct live_series **p = &l->buckets[s->hash & (l->nbuckets - 1)];
	while (*p != s)
		p = &(*p)->next;
	*p = s->next;
	l->nseries--;
	free(s);
}

static void link_locked(struct live *l, struct live_series *s,
			struct live_watch *w)
{
	w->series = s;
	w->prev = NULL;
	w->next = s->watches;
	if (w->next)
		w->next->prev = w;
	s->watches = w;
	atomic_fetch_add(&l->slots[s->hash & (LIVE_SLOTS - 1)], 1);
	atomic_fetch_add(&l->watches, 1);
}

static void unlink_locked(struct live *l, struct live_watch *w)
{
	struct live_series *s = w->series;

	if (w->prev)
		w->prev->next = w->next;
	else
		s->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->series = NULL;
	w->prev = w->next = NULL;
	atomic_fetch_sub(&l->slots[s->hash & (LIVE_SLOTS - 1)], 1);
	atomic_fetch_sub(&l->watches, 1);
}

/* Link @w to its series (made if new) and queue the series, so that
 * the wake thread checks the count once now. */
static int add_locked(struct live *l, struct live_watch *w, const char *video,
		      size_t vlen, const char *type, size_t tlen, bool *kick_it)
{
	uint64_t hash = series_hash(video, vlen, type, tlen);
	struct live_series **p, *s;

	if (l->stopping || !l->started)
		return -ESHUTDOWN;
	if (vlen > STORE_VIDEO_MAX || tlen > STORE_TYPE_MAX)
		return -EINVAL;
	p = find_locked(l, hash, video, vlen, type, tlen);
	if (!(s = *p)) {
		if (!(s = calloc(1, sizeof(*s))))
			return -ENOMEM;
		s->hash = hash;
		s->video_len = (uint8_t)vlen;
		s->type_len = (uint8_t)tlen;
		memcpy(s->key, video, vlen);
		memcpy(s->key + vlen + 1, type, tlen);
		s->next = *p;
		*p = s;
		if (++l->nseries > l->nbuckets)
			grow_locked(l);
	}
	link_locked(l, s, w);
	*kick_it = mark_locked(l, s);
	return 0;
}

int live_add(struct live *l, struct live_watch *w, const char *video,
	     size_t video_len, const char *type, size_t type_len)
{
	bool kick_it = false;
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = add_locked(l, w, video, video_len, type, type_len, &kick_it);
	pthread_mutex_unlock(&l->lock);
	if (kick_it)
		kick(l);
	return rc;
}

bool live_remove(struct live *l, struct live_watch *w)
{
	bool was = false;

	pthread_mutex_lock(&l->lock);
	if (w->series) {
		struct live_series *s = w->series;
		unlink_locked(l, w);
		drop_if_idle_locked(l, s);
		was = true;
	}
	pthread_mutex_unlock(&l->lock);
	return was;
}

void live_poll(struct live *l, struct live_watch *w, struct fuse_pollhandle *ph,
	       bool when, int64_t count, int64_t at_least, const char *video,
	       size_t video_len, const char *type, size_t type_len)
{
	struct fuse_pollhandle *old;
	bool kick_it = false;
	int rc = 0;

	pthread_mutex_lock(&l->lock);
	old = w->ph;
	w->ph = ph;
	w->fire = NULL;
	w->when = when;
	w->count = count;
	w->at_least = at_least;
	if (!w->series)
		rc = add_locked(l, w, video, video_len, type, type_len,
				&kick_it);
	if (rc) { /* not linked: nothing will notify it */
		old = NULL;
		w->ph = NULL;
	}
	pthread_mutex_unlock(&l->lock);
	if (old)
		fuse_pollhandle_destroy(old);
	if (rc)
		fuse_pollhandle_destroy(ph);
	if (kick_it)
		kick(l);
}

void live_unpoll(struct live *l, struct live_watch *w)
{
	struct fuse_pollhandle *ph;

	pthread_mutex_lock(&l->lock);
	if (w->series) {
		struct live_series *s = w->series;
		unlink_locked(l, w);
		drop_if_idle_locked(l, s);
	}
	ph = w->ph;
	w->ph = NULL;
	pthread_mutex_unlock(&l->lock);
	if (ph)
		fuse_pollhandle_destroy(ph);
}

void live_changed(struct live *l, const struct store_event *ev, size_t n)
{
	bool locked = false, kick_it = false;

	/* Pairs with the watch counts raised before a watch's first check:
	 * either this sees the watch, or that check sees this write. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&l->watches) == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct store_event *e = &ev[i];
		if (i > 0 && e->video_len == ev[i - 1].video_len &&
		    e->type_len == ev[i - 1].type_len &&
		    memcmp(e->video, ev[i - 1].video, e->video_len) == 0 &&
		    memcmp(e->type, ev[i - 1].type, e->type_len) == 0)
			continue; /* a run of one series: once */
		uint64_t h = series_hash(e->video, e->video_len, e->type,
					 e->type_len);
		if (atomic_load(&l->slots[h & (LIVE_SLOTS - 1)]) == 0)
			continue;
		if (!locked) {
			pthread_mutex_lock(&l->lock);
			locked = true;
		}
		struct live_series *s = *find_locked(l, h, e->video, e->video_len,
						     e->type, e->type_len);
		if (s && mark_locked(l, s))
			kick_it = true;
	}
	if (locked)
		pthread_mutex_unlock(&l->lock);
	if (kick_it)
		kick(l);
}

/* ---- the wake thread ------------------------------------------------ */

/*
 * Watches unlinked to be fired.  A poller's entry is its handle alone:
 * once live.lock is dropped its file may be released and freed, so the
 * watch itself is not touched again.
 */
struct fire {
	struct live_watch *w; /* a parked read, or NULL */
	struct fuse_pollhandle *ph;
};

struct firing {
	struct fire *f;
	size_t n, cap;
};

/* Unlink @w into @f; false without memory (it stays linked). */
static bool take_locked(struct live *l, struct firing *f, struct live_watch *w)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct fire *p = realloc(f->f, cap * sizeof(*p));
		if (!p)
			return false;
		f->f = p;
		f->cap = cap;
	}
	f->f[f->n++] = w->fire ? (struct fire){w, NULL}
			       : (struct fire){NULL, w->ph};
	w->ph = NULL;
	unlink_locked(l, w);
	return true;
}

/* A count only grows: one not above what the watch saw is an older
 * read (two threads read the series), not a change. */
static bool satisfied(const struct live_watch *w, int64_t count)
{
	return count < 0 || (w->when ? count >= w->at_least : count > w->count);
}

/*
 * Unlink the watches of @s that @count satisfies (all of them with -1)
 * into @f; a poller's handle is taken with it.  With live.lock held.
 */
static void collect_locked(struct live *l, struct live_series *s,
			   int64_t count, struct firing *f)
{
	struct live_watch *w = s->watches, *next;

	for (; w; w = next) {
		next = w->next;
		if (satisfied(w, count))
			take_locked(l, f, w);
	}
}

/* With no lock held. */
static void fire_all(struct firing *f, int64_t count)
{
	for (size_t i = 0; i < f->n; i++) {
		struct fire *e = &f->f[i];
		if (e->w) {
			e->w->fire(e->w, count);
		} else if (e->ph) {
			fuse_lowlevel_notify_poll(e->ph);
			fuse_pollhandle_destroy(e->ph);
		}
	}
	f->n = 0;
}

/*
 * Take the changed series one at a time until none is left: read its
 * count and fire what it satisfies.  Any number of threads at once.
 */
static void wake_queued(struct live *l, struct firing *f)
{
	char video[STORE_VIDEO_MAX], type[STORE_TYPE_MAX];
	struct live_series *s;
	size_t vlen, tlen;
	struct store_agg a;
	int rc;

	for (;;) {
		pthread_mutex_lock(&l->lock);
		if (!(s = l->changed) || l->stopping) {
			pthread_mutex_unlock(&l->lock);
			return;
		}
		if (!(l->changed = s->next_changed))
			l->changed_last = NULL;
		if (--l->nchanged > LIVE_SHARE)
			pthread_cond_broadcast(&l->work); /* many: share */
		s->changed = false; /* a change from now on queues it again */
		s->reading++;
		vlen = s->video_len;
		tlen = s->type_len;
		memcpy(video, s->key, vlen);
		memcpy(type, s->key + vlen + 1, tlen);
		pthread_mutex_unlock(&l->lock);

		rc = store_total(l->store, video, vlen, type, tlen, &a);
		if (rc && rc != -ENOENT)
			log_warn("live: cannot read the count of %.*s %.*s: %s",
				 (int)vlen, video, (int)tlen, type,
				 strerror(-rc));
		pthread_mutex_lock(&l->lock);
		s->reading--;
		if (rc == 0 || rc == -ENOENT)
			collect_locked(l, s, rc == 0 ? a.count : 0, f);
		drop_if_idle_locked(l, s);
		pthread_mutex_unlock(&l->lock);
		fire_all(f, rc == 0 ? a.count : 0);
	}
}

/* Is the mount still there?  Asked when the mount table changed. */
static bool still_mounted(struct live *l)
{
	char source[8];

	return !l->mountpoint || countfs_mounted(l->mountpoint, source,
						 sizeof(source));
}

/* Fire every watch with -1 (EOF); from now on live_add refuses.  How
 * many were fired. */
static size_t end_all(struct live *l, struct firing *f)
{
	size_t ended = 0;

	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_cond_broadcast(&l->work); /* the helpers end */
	for (size_t b = 0; b < l->nbuckets; b++) {
		struct live_series *s = l->buckets[b], *next;
		for (; s; s = next) {
			next = s->next;
			while (s->watches) {
				if (take_locked(l, f, s->watches)) {
					ended++;
					continue;
				}
				/* No memory: what is taken goes first. */
				pthread_mutex_unlock(&l->lock);
				fire_all(f, -1);
				pthread_mutex_lock(&l->lock);
				if (!f->cap) /* not one entry: give up */
					break;
			}
		}
	}
	pthread_mutex_unlock(&l->lock);
	fire_all(f, -1);
	return ended;
}

static void *wake_thread(void *arg)
{
	struct live *l = arg;
	struct firing f = {0};

	for (;;) {
		struct pollfd p[2] = {{l->kick, POLLIN, 0},
				      {l->mounts, POLLPRI, 0}};
		uint64_t n;

		if (poll(p, l->mounts >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			break;
		if ((p[1].revents & (POLLPRI | POLLERR)) && !still_mounted(l)) {
			size_t ended = end_all(l, &f);
			if (ended)
				log_info("%s was detached: %zu blocked reads and "
					 "pollers answered (EOF)",
					 l->mountpoint, ended);
			break;
		}
		if (p[0].revents & POLLIN) {
			if (read(l->kick, &n, sizeof(n)) < 0 && errno != EAGAIN)
				break;
		}
		pthread_mutex_lock(&l->lock);
		if (l->stopping) {
			pthread_mutex_unlock(&l->lock);
			break;
		}
		pthread_mutex_unlock(&l->lock);
		wake_queued(l, &f);
	}
	free(f.f);
	return NULL;
}

/* A helper: shares the queue while it is long (wake_queued wakes it). */
static void *help_thread(void *arg)
{
	struct live *l = arg;
	struct firing f = {0};

	pthread_mutex_lock(&l->lock);
	while (!l->stopping) {
		if (l->nchanged <= LIVE_SHARE) {
			pthread_cond_wait(&l->work, &l->lock);
			continue;
		}
		pthread_mutex_unlock(&l->lock);
		wake_queued(l, &f);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	free(f.f);
	return NULL;
}

void live_init(struct live *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->work, NULL);
	l->kick = l->mounts = -1;
}

int live_start(struct live *l, struct store *st, const char *mountpoint)
{
	int rc;

	l->nbuckets = 64;
	if (!(l->buckets = calloc(l->nbuckets, sizeof(*l->buckets))))
		return -ENOMEM;
	l->store = st;
	l->mountpoint = mountpoint;
	l->mounts = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if ((l->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		goto fail;
	}
	for (; l->nhelpers < LIVE_HELPERS; l->nhelpers++)
		if (pthread_create(&l->helpers[l->nhelpers], NULL, help_thread,
				   l))
			break; /* fewer helpers: slower to wake many, still right */
	if ((rc = -pthread_create(&l->thread, NULL, wake_thread, l)))
		goto fail;
	pthread_mutex_lock(&l->lock);
	l->started = true;
	pthread_mutex_unlock(&l->lock);
	return 0;
fail:
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_cond_broadcast(&l->work);
	pthread_mutex_unlock(&l->lock);
	for (; l->nhelpers > 0; l->nhelpers--)
		pthread_join(l->helpers[l->nhelpers - 1], NULL);
	l->stopping = false;
	if (l->kick >= 0)
		close(l->kick);
	if (l->mounts >= 0)
		close(l->mounts);
	free(l->buckets);
	l->buckets = NULL;
	return rc;
}

void live_end(struct live *l)
{
	struct firing f = {0};
	size_t ended;
	bool started;

	pthread_mutex_lock(&l->lock); /* fs_init may be starting it */
	started = l->started;
	pthread_mutex_unlock(&l->lock);
	if (!started)
		return;
	if ((ended = end_all(l, &f)))
		log_info("stopping: %zu blocked reads and pollers answered "
			 "(EOF)", ended);
	free(f.f);
}

void live_stop(struct live *l)
{
	struct firing f = {0};

	if (!l->started)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_cond_broadcast(&l->work);
	pthread_mutex_unlock(&l->lock);
	kick(l);
	pthread_join(l->thread, NULL);
	for (; l->nhelpers > 0; l->nhelpers--)
		pthread_join(l->helpers[l->nhelpers - 1], NULL);
	end_all(l, &f);
	free(f.f);
	/* Pollers linked now are none (end_all); queued series are freed. */
	for (size_t b = 0; b < l->nbuckets; b++) {
		struct live_series *s = l->buckets[b], *next;
		for (; s; s = next) {
			next = s->next;
			free(s);
		}
	}
	free(l->buckets);
	l->buckets = NULL;
	close(l->kick);
	if (l->mounts >= 0)
		close(l->mounts);
	l->started = false;
}
