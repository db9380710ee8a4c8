/*
 * shard.c - opening the store, its LMDB environments, and group commit.
 *
 * Each shard is an LMDB environment in DIR/shard-K, opened with MDB_NOSYNC
 * under sync=second: a commit is a write() into the page cache (safe from
 * a killed process) and the background thread syncs each second.  Most
 * writes are appended to the shard's journal (journal.c) and applied
 * later; the rest, and the journal's batches, go through one leader: a
 * caller of shard_commit() takes every request queued on the shard,
 * applies the journal, then the requests in one transaction, commits,
 * syncs if asked, then wakes their owners.
 */
#include "internal.h"

#include "../common/log.h"
#include "../common/mono.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const uint32_t store_level_size[STORE_LEVELS] = {1, 60, 3600, 86400};

void store_config_defaults(struct store_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dir = "data";
	cfg->shards = 4;
	cfg->sync = STORE_SYNC_SECOND;
	cfg->keep[STORE_SEC] = 3600;
	cfg->keep[STORE_MIN] = 7 * 86400;
	cfg->keep[STORE_HOUR] = 90 * 86400;
	cfg->keep[STORE_DAY] = 0;
	cfg->dedup_window = 600;
	cfg->map_size = 64ULL << 20;
	cfg->retain_interval = 10;
}

int lmdb_errno(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_KEYEXIST:
		return -EEXIST;
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_READERS_FULL:
		return -EAGAIN;
	}
	if (rc > 0) /* LMDB passes system errors on */
		return -rc;
	log_error("LMDB: %s", mdb_strerror(rc));
	return -EIO;
}

int damaged(const struct shard *sh, const char *what)
{
	log_error("shard %u: %s is damaged", sh->index, what);
	return -EIO;
}

int store_errno(int rc, const char *what)
{
	if (rc > 0 || rc < -4095) /* an LMDB code */
		rc = lmdb_errno(rc);
	if (rc && rc != -ENOENT)
		log_error("%s: %s", what, strerror(-rc));
	return rc;
}

unsigned store_hash_shard(const char *video, size_t len, unsigned n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)video[i];
		h *= 0x100000001b3ULL;
	}
	return (unsigned)(h % n);
}

unsigned store_shard_of(const struct store *st, const char *video, size_t len)
{
	return store_hash_shard(video, len, st->nshards);
}

int shard_txn_begin(struct shard *sh, unsigned flags, MDB_txn **txn)
{
	int rc;

	pthread_rwlock_rdlock(&sh->resize);
	rc = mdb_txn_begin(sh->env, NULL, flags, txn);
	if (rc)
		pthread_rwlock_unlock(&sh->resize);
	return rc;
}

int shard_txn_commit(struct shard *sh, MDB_txn *txn)
{
	int rc = mdb_txn_commit(txn);

	pthread_rwlock_unlock(&sh->resize);
	return rc;
}

void shard_txn_abort(struct shard *sh, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&sh->resize);
}

/*
 * A posix_fallocate that fails for want of space keeps what it did
 * allocate (ext4 does; tmpfs undoes it), leaving the disk full for a
 * reservation that never happened.  Give back what the call added and
 * nothing LMDB uses: everything past @old_size, by a real shrink (growing
 * by a byte first, since truncating to the same size frees nothing past
 * EOF); and, when the file was not reserved before (at open), the pages
 * past LMDB's last one, which hold nothing.
 */
static void unreserve(struct shard *sh, int fd, off_t old_size,
		      bool was_reserved)
{
	struct stat sb;
	MDB_envinfo info;
	MDB_stat ms;

	if (fstat(fd, &sb) || (sb.st_size <= old_size &&
			       ftruncate(fd, old_size + 1)) ||
	    ftruncate(fd, old_size))
		log_error("shard %u: cannot give back the disk of a failed "
			  "reservation: %s", sh->index, strerror(errno));
	if (was_reserved || mdb_env_info(sh->env, &info) ||
	    mdb_env_stat(sh->env, &ms))
		return;
	off_t used = (off_t)(info.me_last_pgno + 1) * ms.ms_psize;
	if (used < old_size &&
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, used,
		      old_size - used) && errno != EOPNOTSUPP)
		log_error("shard %u: cannot give back the disk of a failed "
			  "reservation: %s", sh->index, strerror(errno));
}

/*
 * The map is written in place (MDB_WRITEMAP), so every page of it must be
 * backed by disk before LMDB may touch it: a page of a sparse file that
 * cannot be allocated would kill the daemon with SIGBUS instead of giving
 * writers ENOSPC.  Allocate the data file up to @size first; if that
 * fails, give back what the attempt took.
 */
static int reserve_disk(struct shard *sh, uint64_t size)
{
	mdb_filehandle_t fd;
	struct stat sb;
	int rc;

	if ((rc = mdb_env_get_fd(sh->env, &fd)))
		return rc;
	if (fstat(fd, &sb))
		return errno;
	if ((uint64_t)sb.st_blocks * 512 >= size)
		return 0;
	rc = posix_fallocate(fd, 0, (off_t)size);
	if (rc) {
		log_error("shard %u: cannot reserve %llu MiB of disk: %s",
			  sh->index, (unsigned long long)(size >> 20),
			  strerror(rc));
		unreserve(sh, fd, sb.st_size,
			  (uint64_t)sb.st_blocks * 512 >= (uint64_t)sb.st_size);
	}
	return rc;
}

/*
 * A process that dies inside a read transaction on this shard (an
 * interrupted countfs-backup, a killed mdb_dump) leaves its slot in
 * lock.mdb's reader table, and LMDB then keeps every page freed since
 * that transaction began: the map only grows.  Give dead processes'
 * slots back.  Cheap (a scan of the table, one lock test per foreign
 * pid), so the background thread does it every few seconds.
 */
void shard_clear_readers(struct shard *sh)
{
	int dead = 0;

	if (mdb_reader_check(sh->env, &dead) == 0 && dead > 0)
		log_info("shard %u: cleared %d stale reader slot%s (a process "
			 "died inside a read transaction)",
			 sh->index, dead, dead == 1 ? "" : "s");
}

int shard_grow(struct shard *sh)
{
	int rc;

	pthread_rwlock_wrlock(&sh->resize);
	rc = reserve_disk(sh, sh->map_size * 2);
	if (rc == 0)
		rc = mdb_env_set_mapsize(sh->env, sh->map_size * 2);
	if (rc == 0) {
		sh->map_size *= 2;
		atomic_fetch_add(&sh->st->map_grows, 1);
		log_info("shard %u: map grown to %llu MiB", sh->index,
			 (unsigned long long)(sh->map_size >> 20));
	}
	pthread_rwlock_unlock(&sh->resize);
	return store_errno(rc, "growing the LMDB map");
}

static void fail_all(struct commit_req *batch, int rc)
{
	for (struct commit_req *r = batch; r; r = r->next)
		if (r->rc == 0)
			r->rc = rc;
}

/* The events of @r, committed, in the store's counters. */
static void note_counted(struct store *st, const struct commit_req *r)
{
	atomic_fetch_add(&st->events, r->n - r->deduped);
	atomic_fetch_add(&st->deduplicated, r->deduped);
}

/* @sh committed: with sync=always LMDB's own commit synced the data
 * pages, then the meta page (in that order, so a power loss leaves either
 * the old or the new state); otherwise the next sync has work. */
static void note_committed(struct shard *sh)
{
	if (sh->st->cfg.sync == STORE_SYNC_ALWAYS)
		atomic_fetch_add(&sh->st->fsyncs, 1);
	else
		atomic_store(&sh->dirty, true);
}

/* Apply the live requests of @batch in one transaction and commit it.
 * A request that fails on its own is marked and the rest retried. */
static void run_batch(struct shard *sh, struct commit_req *batch)
{
	struct store *st = sh->st;
	MDB_txn *txn;
	int rc;
	bool any = false;

	for (struct commit_req *r = batch; r; r = r->next)
		any |= r->n > 0;
	if (!any)
		return;
	for (int attempt = 0; attempt < 64; attempt++) {
		bool again = false;

		rc = shard_txn_begin(sh, 0, &txn);
		if (rc)
			goto fail;
		for (struct commit_req *r = batch; r && !again; r = r->next) {
			if (r->rc || r->n == 0)
				continue;
			size_t used;
			rc = shard_apply(sh, txn, r, 1, &used);
			if (rc == 0)
				continue;
			shard_txn_abort(sh, txn);
			if (rc == -EOVERFLOW && !r->one_by_one && r->n > 1) {
				/* Folded, a write's sum can pass 64 bits
				 * where event by event it does not. */
				r->one_by_one = true;
			} else if (rc == -EOVERFLOW) {
				r->rc = rc;
			} else if (rc == -ENOSPC || rc == MDB_MAP_FULL) {
				if ((rc = shard_grow(sh)))
					goto fail;
			} else {
				goto fail;
			}
			again = true;
		}
		if (again)
			continue;
		rc = shard_txn_commit(sh, txn);
		if (rc == MDB_MAP_FULL) {
			if ((rc = shard_grow(sh)))
				goto fail;
			continue;
		}
		if (rc)
			goto fail;
		atomic_fetch_add(&st->commits, 1);
		for (struct commit_req *r = batch; r; r = r->next)
			if (!r->rc)
				note_counted(st, r);
		note_committed(sh);
		return;
	}
	rc = EIO;
fail:
	fail_all(batch, store_errno(rc, "recording events"));
}


/*
 * With sync=always a commit costs two fsyncs, so a leader first waits a
 * little (at most GATHER_NS) until as many requests are queued as in the
 * previous batch: the writers that the last commit released need one
 * FUSE round trip to come back, and without the wait they would split
 * into two halves that alternate, each paying for its own fsyncs.
 */
static void gather(struct shard *sh)
{
	if (sh->st->cfg.sync != STORE_SYNC_ALWAYS || sh->last_batch < 2)
		return;
	struct timespec until = mono_deadline(GATHER_NS);
	sh->gathering = true;
	while (sh->queued < sh->last_batch &&
	       pthread_cond_timedwait(&sh->gather, &sh->qlock, &until) == 0)
		;
	sh->gathering = false;
}

int shard_commit(struct shard *sh, struct commit_req *req)
{
	pthread_mutex_lock(&sh->qlock);
	req->next = NULL;
	*sh->queue_tail = req;
	sh->queue_tail = &req->next;
	sh->queued++;
	if (sh->gathering && sh->queued >= sh->last_batch)
		pthread_cond_signal(&sh->gather);
	while (!req->done) {
		if (sh->leading) {
			pthread_cond_wait(&sh->qcond, &sh->qlock);
			continue;
		}
		sh->leading = true;
		gather(sh);
		struct commit_req *batch = sh->queue;
		sh->last_batch = sh->queued;
		sh->queue = NULL;
		sh->queue_tail = &sh->queue;
		sh->queued = 0;
		pthread_mutex_unlock(&sh->qlock);

		/* What the journal acknowledged comes first; if it cannot
		 * be applied, nothing after it is. */
		int jrc = journal_apply(sh);
		if (jrc)
			fail_all(batch, jrc);
		else
			run_batch(sh, batch);

		pthread_mutex_lock(&sh->qlock);
		for (struct commit_req *r = batch, *next; r; r = next) {
			next = r->next;
			r->done = true;
		}
		sh->leading = false;
		pthread_cond_broadcast(&sh->qcond);
	}
	pthread_mutex_unlock(&sh->qlock);
	return req->rc;
}

/* A job for a helper thread: apply the journal of one shard
 * (st->flush_jobs, one per shard). */
struct shard_job {
	struct shard *sh;
	struct commit_req req;
	struct shard_job *next;
};

/* Take the next job, or NULL; with job_lock held. */
static struct shard_job *job_pop(struct store *st)
{
	struct shard_job *j = st->jobs;

	if (j) {
		st->jobs = j->next;
		if (!st->jobs)
			st->jobs_tail = &st->jobs;
	}
	return j;
}

/* Run @j without job_lock; returns with it held. */
static void job_run(struct store *st, struct shard_job *j)
{
	pthread_mutex_unlock(&st->job_lock);
	shard_commit(j->sh, &j->req);
	pthread_mutex_lock(&st->job_lock);
	j->sh->flush_queued = false;
}

void shard_flush_async(struct shard *sh)
{
	struct store *st = sh->st;

	if (st->nhelpers == 0) {
		journal_settle(sh);
		return;
	}
	pthread_mutex_lock(&st->job_lock);
	if (!sh->flush_queued) {
		struct shard_job *j = &st->flush_jobs[sh->index];
		*j = (struct shard_job){.sh = sh};
		sh->flush_queued = true;
		*st->jobs_tail = j;
		st->jobs_tail = &j->next;
		pthread_cond_signal(&st->job_cond);
	}
	pthread_mutex_unlock(&st->job_lock);
}

static void *helper_main(void *arg)
{
	struct store *st = arg;
	struct shard_job *j;

	pthread_mutex_lock(&st->job_lock);
	for (;;) {
		if ((j = job_pop(st))) {
			job_run(st, j);
			continue;
		}
		if (st->helpers_stop)
			break;
		pthread_cond_wait(&st->job_cond, &st->job_lock);
	}
	pthread_mutex_unlock(&st->job_lock);
	return NULL;
}

/* The events of @ev in shard order, keeping their order within a shard
 * (a counting sort); shard s has part[start[s] .. start[s + 1]). */
static struct store_event *split(struct store *st, const struct store_event *ev,
				 size_t n, size_t *start)
{
	unsigned ns = st->nshards;
	unsigned char *shard_of = malloc(n);
	size_t *fill = calloc(ns, sizeof(*fill));
	struct store_event *part = malloc(n * sizeof(*part));

	if (!shard_of || !fill || !part) {
		free(part);
		part = NULL;
		goto out;
	}
	memset(start, 0, (ns + 1) * sizeof(*start));
	for (size_t i = 0; i < n; i++) {
		shard_of[i] = (unsigned char)store_shard_of(st, ev[i].video,
							    ev[i].video_len);
		start[shard_of[i] + 1]++;
	}
	for (unsigned s = 0; s < ns; s++)
		start[s + 1] += start[s];
	for (size_t i = 0; i < n; i++)
		part[start[shard_of[i]] + fill[shard_of[i]]++] = ev[i];
out:
	free(shard_of);
	free(fill);
	return part;
}

/*
 * Become the leader of @sh, as shard_commit() does, but to run something
 * other than its queue; requests that come meanwhile wait for
 * shard_unlead().
 */
static void shard_lead(struct shard *sh)
{
	pthread_mutex_lock(&sh->qlock);
	while (sh->leading)
		pthread_cond_wait(&sh->qcond, &sh->qlock);
	sh->leading = true;
	pthread_mutex_unlock(&sh->qlock);
}

static void shard_unlead(struct shard *sh)
{
	pthread_mutex_lock(&sh->qlock);
	sh->leading = false;
	pthread_cond_broadcast(&sh->qcond);
	pthread_mutex_unlock(&sh->qlock);
}

/*
 * A write whose events fall in several shards and that cannot go through
 * the journals (an #id, a large value, a shard whose sums are "big"): all
 * or nothing across the shards.  The caller leads every shard it touches,
 * taken in index order so that two such writes cannot deadlock, applies
 * each shard's journal, opens one transaction per shard and applies its
 * part; only when every part applied (no overflow) are they committed.
 * A storage error in a commit after the first can still leave a part
 * recorded (README, Limits); an overflow never does.
 */
static int record_atomic(struct store *st, const struct store_event *ev,
			 size_t n, uint32_t now, size_t *deduped)
{
	unsigned ns = st->nshards;
	size_t *start = malloc((ns + 1) * sizeof(*start));
	MDB_txn **txn = calloc(ns, sizeof(*txn));
	struct commit_req *req = calloc(ns, sizeof(*req));
	bool *committed = calloc(ns, sizeof(*committed));
	struct store_event *part = NULL;
	unsigned s, grow = ns;
	int rc = -ENOMEM, lrc = EIO;

	if (!start || !txn || !req || !committed ||
	    !(part = split(st, ev, n, start)))
		goto out;
	for (s = 0; s < ns; s++) {
		req[s] = (struct commit_req){.ev = part + start[s],
					     .n = start[s + 1] - start[s],
					     .now = now};
		if (req[s].n)
			shard_lead(&st->shards[s]);
	}
	rc = 0;
	for (s = 0; s < ns && rc == 0; s++)
		if (req[s].n)
			rc = journal_apply(&st->shards[s]);
	for (int attempt = 0; rc == 0 && attempt < 64; attempt++) {
		size_t used;

		if (grow < ns) { /* no transaction may be open */
			if ((rc = shard_grow(&st->shards[grow])))
				break;
			grow = ns;
		}
		/* Apply every part not yet committed... */
		bool again = false;
		lrc = 0;
		for (s = 0; s < ns && lrc == 0 && !again; s++) {
			if (!req[s].n || committed[s])
				continue;
			struct shard *sh = &st->shards[s];
			req[s].deduped = 0;
			if ((lrc = shard_txn_begin(sh, 0, &txn[s])) == 0)
				lrc = shard_apply(sh, txn[s], &req[s], 1, &used);
			if (lrc == -ENOSPC || lrc == MDB_MAP_FULL)
				grow = s;
			if (lrc == -EOVERFLOW && !req[s].one_by_one &&
			    req[s].n > 1) {
				/* Folded, a batch's sum can pass 64 bits
				 * where event by event it does not. */
				req[s].one_by_one = true;
				again = true;
				lrc = 0;
			}
		}
		/* ...and commit them only when all applied.  A commit that
		 * fails has ended its transaction; one that succeeded is not
		 * applied again. */
		for (s = 0; s < ns && lrc == 0 && !again; s++) {
			if (!txn[s])
				continue;
			lrc = shard_txn_commit(&st->shards[s], txn[s]);
			txn[s] = NULL;
			committed[s] = lrc == 0;
			if (lrc == MDB_MAP_FULL)
				grow = s;
		}
		for (s = 0; s < ns; s++) {
			if (txn[s])
				shard_txn_abort(&st->shards[s], txn[s]);
			txn[s] = NULL;
		}
		if (lrc == -ENOSPC || lrc == MDB_MAP_FULL || again)
			continue;
		if (lrc == 0) {
			atomic_fetch_add(&st->commits, 1);
			for (s = 0; s < ns; s++) {
				if (!req[s].n)
					continue;
				note_counted(st, &req[s]);
				note_committed(&st->shards[s]);
				*deduped += req[s].deduped;
			}
		}
		break;
	}
	if (rc == 0)
		rc = lrc == -EOVERFLOW ? lrc
				       : store_errno(lrc, "recording events");
	for (s = 0; s < ns; s++)
		if (req[s].n)
			shard_unlead(&st->shards[s]);
out:
	free(start);
	free(txn);
	free(req);
	free(committed);
	free(part);
	return rc;
}

/* One shard's events by its journal, or directly when they cannot. */
static int journal_or_commit(struct shard *sh, const struct store_event *ev,
			     size_t n, uint32_t now)
{
	int rc = journal_append(sh, ev, n, now);

	if (rc == 1) {
		struct commit_req req = {.ev = ev, .n = n, .now = now};
		rc = shard_commit(sh, &req);
	}
	return rc;
}

/* The journal's way: appending is cheap, so the caller does every shard
 * itself; helpers apply the batches.  Returns 1, having recorded nothing,
 * when a shard of the write is "big" (an overflow is possible there): the
 * write must then go all or nothing through record_atomic(). */
static int record_journal(struct store *st, const struct store_event *ev,
			  size_t n, uint32_t now)
{
	unsigned ns = st->nshards;
	size_t *start = malloc((ns + 1) * sizeof(*start));
	struct store_event *part = NULL;
	int rc = -ENOMEM;

	if (!start || !(part = split(st, ev, n, start)))
		goto out;
	rc = 0;
	for (unsigned s = 0; s < ns && rc == 0; s++)
		if (start[s + 1] > start[s] && atomic_load(&st->shards[s].big))
			rc = 1;
	for (unsigned s = 0; s < ns && rc != 1; s++) {
		size_t k = start[s + 1] - start[s];
		int src = k ? journal_or_commit(&st->shards[s],
						part + start[s], k, now)
			    : 0;
		if (src && rc == 0)
			rc = src;
	}
out:
	free(start);
	free(part);
	return rc;
}

int store_record(struct store *st, const struct store_event *ev, size_t n,
		 uint32_t now, size_t *deduped)
{
	struct commit_req req = {.ev = ev, .n = n, .now = now};
	bool journal = journal_eligible(st, ev, n);
	size_t dd = 0, i;
	int rc = 0;

	if (n > 0) {
		unsigned first = store_shard_of(st, ev[0].video,
						ev[0].video_len);
		for (i = 1; i < n; i++)
			if (store_shard_of(st, ev[i].video, ev[i].video_len) !=
			    first)
				break;
		struct shard *sh = &st->shards[first];
		if (i < n) { /* several shards */
			if (journal)
				rc = record_journal(st, ev, n, now);
			if (!journal || rc == 1) /* all or nothing */
				rc = record_atomic(st, ev, n, now, &dd);
		} else if (journal) { /* the common case: one shard, no copy */
			rc = journal_or_commit(sh, ev, n, now);
		} else if ((rc = shard_commit(sh, &req)) == 0) {
			dd = req.deduped;
		}
	}
	if (deduped)
		*deduped = dd;
	return rc;
}

int store_flush(struct store *st)
{
	int rc = 0;

	for (unsigned i = 0; i < st->nshards && rc == 0; i++)
		rc = journal_settle(&st->shards[i]);
	return rc;
}

int shard_read_begin(struct shard *sh, MDB_txn **txn)
{
	int rc = journal_settle(sh);

	return rc ? rc : shard_txn_begin(sh, MDB_RDONLY, txn);
}

static int helpers_start(struct store *st)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = st->nshards - 1;

	if (cpus > 0 && (unsigned long)cpus < want)
		want = (unsigned)cpus;
	st->helpers = calloc(want ? want : 1, sizeof(*st->helpers));
	if (!st->helpers)
		return -ENOMEM;
	for (; st->nhelpers < want; st->nhelpers++) {
		int rc = pthread_create(&st->helpers[st->nhelpers], NULL,
					helper_main, st);
		if (rc)
			return -rc;
	}
	return 0;
}

static void helpers_stop(struct store *st)
{
	pthread_mutex_lock(&st->job_lock);
	st->helpers_stop = true;
	pthread_cond_broadcast(&st->job_cond);
	pthread_mutex_unlock(&st->job_lock);
	for (unsigned i = 0; i < st->nhelpers; i++)
		pthread_join(st->helpers[i], NULL);
	free(st->helpers);
	st->helpers = NULL;
	st->nhelpers = 0;
}

int store_check_ts(const struct store *st, int64_t ts, uint32_t now)
{
	if (ts < 0 || ts > (int64_t)now + 300 || ts > UINT32_MAX)
		return -ERANGE;
	for (int l = STORE_LEVELS - 1; l >= 0; l--)
		if (bucket_kept(&st->cfg, l, (uint32_t)ts, now))
			return 0;
	return -ERANGE;
}

int meta_get(struct shard *sh, const char *name, void *out, size_t len)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	MDB_txn *txn;
	int rc;

	memset(out, 0, len);
	if ((rc = shard_txn_begin(sh, MDB_RDONLY, &txn)))
		return store_errno(rc, "reading meta");
	rc = mdb_get(txn, sh->meta, &k, &v);
	if (rc == 0 && v.mv_size == len)
		memcpy(out, v.mv_data, len);
	else if (rc == 0)
		rc = MDB_CORRUPTED;
	shard_txn_abort(sh, txn);
	return rc == MDB_NOTFOUND ? 0 : store_errno(rc, "reading meta");
}

int meta_put(struct shard *sh, MDB_txn *txn, const char *name, const void *v,
	     size_t len)
{
	MDB_val k = {strlen(name), (void *)name}, d = {len, (void *)v};

	return mdb_put(txn, sh->meta, &k, &d, 0);
}

/* Read or initialise a u32 in the meta database. */
static int meta_u32(struct shard *sh, MDB_txn *txn, const char *name,
		    uint32_t want, const char *what)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc = mdb_get(txn, sh->meta, &k, &v);

	if (rc == MDB_NOTFOUND) {
		v.mv_size = sizeof(want);
		v.mv_data = &want;
		return mdb_put(txn, sh->meta, &k, &v, 0);
	}
	if (rc)
		return rc;
	uint32_t have;
	if (v.mv_size != sizeof(have))
		return MDB_CORRUPTED;
	memcpy(&have, v.mv_data, sizeof(have));
	if (have != want) {
		log_error("shard %u was made with %s%u, not %u; use the same "
			  "value or a new data directory",
			  sh->index, what, have, want);
		return -EINVAL;
	}
	return 0;
}

static int shard_open_dbs(struct shard *sh)
{
	static const struct {
		const char *name;
		size_t off;
	} dbs[] = {
	    {"series", offsetof(struct shard, series)},
	    {"names", offsetof(struct shard, names)},
	    {"packs", offsetof(struct shard, packs)},
	    {"dedup", offsetof(struct shard, dedup)},
	    {"dedupx", offsetof(struct shard, dedupx)},
	    {"meta", offsetof(struct shard, meta)},
	    {"pending", offsetof(struct shard, pending)},
	};
	MDB_txn *txn;
	int rc = mdb_txn_begin(sh->env, NULL, 0, &txn);

	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]) && !rc; i++)
		rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE,
				  (MDB_dbi *)((char *)sh + dbs[i].off));
	if (!rc)
		rc = format_shard(sh, txn);
	if (!rc)
		rc = meta_u32(sh, txn, "shards", sh->st->nshards, "shards=");
	if (!rc)
		rc = meta_u32(sh, txn, "shard", sh->index, "shard index ");
	if (!rc)
		rc = pending_setup(sh, txn);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	if ((rc = mdb_txn_commit(txn)) == 0)
		/* What it wrote (a new shard's meta; an upgrade's format and
		 * databases) is synced by journal_open()'s shard_sync(), also
		 * under sync=second, before format_stamp() writes DIR/format:
		 * shards first, then the stamp. */
		atomic_store(&sh->dirty, true);
	return rc;
}

static int shard_open(struct store *st, struct shard *sh, unsigned index)
{
	char path[4096];
	MDB_envinfo info;
	unsigned flags;
	int rc;

	sh->st = st;
	sh->index = index;
	sh->queue_tail = &sh->queue;
	pthread_mutex_init(&sh->qlock, NULL);
	pthread_cond_init(&sh->qcond, NULL);
	mono_cond_init(&sh->gather);
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(
	    &ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&sh->resize, &ra);
	pthread_rwlockattr_destroy(&ra);

	snprintf(path, sizeof(path), "%s/shard-%u", st->dir, index);
	if (mkdir(path, 0700) && errno != EEXIST) {
		rc = -errno;
		log_error("cannot create %s: %s", path, strerror(errno));
		return rc;
	}
	if ((rc = mdb_env_create(&sh->env)))
		goto fail;
	mdb_env_set_maxdbs(sh->env, 10);
	mdb_env_set_maxreaders(sh->env, 1024);
	mdb_env_set_mapsize(sh->env, st->cfg.map_size);
	flags = MDB_WRITEMAP | MDB_NOTLS | MDB_NORDAHEAD;
	if (st->cfg.sync == STORE_SYNC_SECOND)
		flags |= MDB_NOSYNC;
	rc = mdb_env_open(sh->env, path, flags, 0600);
	if (rc)
		goto fail;
	shard_clear_readers(sh);
	mdb_env_info(sh->env, &info);
	sh->map_size = info.me_mapsize;
	if ((rc = reserve_disk(sh, sh->map_size)))
		goto fail;
	/* An upgrade (upgrade.c) may need a larger map than the old data. */
	while (((rc = shard_open_dbs(sh)) == -ENOSPC || rc == MDB_MAP_FULL) &&
	       (rc = shard_grow(sh)) == 0)
		;
	if (rc)
		goto fail;
	MDB_stat ms;
	mdb_env_stat(sh->env, &ms);
	sh->psize = ms.ms_psize;
	if ((rc = journal_open(sh, path)))
		return rc;
	return 0;
fail:
	if (rc > 0)
		log_error("opening LMDB environment %s: %s", path,
			  mdb_strerror(rc));
	if (sh->env)
		mdb_env_close(sh->env);
	sh->env = NULL;
	return rc == -EINVAL ? rc : store_errno(rc, path);
}

static void shard_close(struct shard *sh)
{
	/* Nothing else runs now: apply the journal, sync, then empty it. */
	bool applied = sh->env && sh->j.opened && journal_apply(sh) == 0 &&
		       shard_sync(sh) == 0;
	journal_close(sh, applied);
	if (sh->env) {
		mdb_env_sync(sh->env, 1);
		mdb_env_close(sh->env);
	}
	pthread_rwlock_destroy(&sh->resize);
	pthread_mutex_destroy(&sh->qlock);
	pthread_cond_destroy(&sh->qcond);
	pthread_cond_destroy(&sh->gather);
}

/* Hold DIR/lock for the life of the store: one daemon per directory. */
static int lock_dir(struct store *st)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/lock", st->dir);
	st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0) {
		int err = errno;
		log_error("cannot open %s: %s", path, strerror(err));
		return -err;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB)) {
		log_error("%s is in use by another countfs process", st->dir);
		return -EBUSY;
	}
	return 0;
}

/* A directory made with more shards than asked would hide videos. */
static int check_extra_shards(struct store *st)
{
	char path[4096];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/shard-%u", st->dir, st->nshards);
	if (stat(path, &sb) == 0) {
		log_error("%s holds more than %u shards; use the shards= it "
			  "was made with",
			  st->dir, st->nshards);
		return -EINVAL;
	}
	return 0;
}

int store_open(const struct store_config *cfg, struct store **out)
{
	struct store *st;
	int rc;

	if (cfg->shards < 1 || cfg->shards > STORE_MAX_SHARDS)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cfg = *cfg;
	st->lock_fd = -1;
	st->nshards = cfg->shards;
	st->dir = strdup(cfg->dir);
	st->cfg.dir = st->dir;
	st->shards = calloc(cfg->shards, sizeof(*st->shards));
	pthread_mutex_init(&st->bg_lock, NULL);
	mono_cond_init(&st->bg_cond);
	pthread_mutex_init(&st->job_lock, NULL);
	pthread_cond_init(&st->job_cond, NULL);
	st->jobs_tail = &st->jobs;
	st->flush_jobs = calloc(cfg->shards, sizeof(*st->flush_jobs));
	pthread_mutex_init(&st->apply_lock, NULL);
	pthread_cond_init(&st->apply_cond, NULL);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	st->apply_max = cpus > 1 ? (unsigned)cpus : 1;
	if (!st->dir || !st->shards || !st->flush_jobs) {
		rc = -ENOMEM;
		log_error("cannot open %s: %s", cfg->dir, strerror(-rc));
		goto fail;
	}
	if (mkdir(st->dir, 0700) && errno != EEXIST) {
		rc = -errno;
		log_error("cannot create %s: %s", st->dir, strerror(errno));
		goto fail;
	}
	if ((rc = format_claim(st)) || (rc = lock_dir(st)) ||
	    (rc = check_extra_shards(st)) || (rc = store_check(st)))
		goto fail;
	if (st->making && (rc = store_mark_making(st, true)))
		goto fail;
	for (unsigned i = 0; i < st->nshards; i++)
		if ((rc = shard_open(st, &st->shards[i], i)))
			goto fail;
	if ((rc = identity_open(st)) || (rc = format_stamp(st)))
		goto fail;
	if (st->making && (rc = store_mark_making(st, false)))
		goto fail;
	if ((rc = helpers_start(st)) ||
	    (rc = -pthread_create(&st->bg, NULL, store_background, st))) {
		log_error("cannot start the store's threads: %s",
			  strerror(-rc));
		goto fail;
	}
	st->bg_running = true;
	*out = st;
	return 0;
fail:
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->bg_running) {
		pthread_mutex_lock(&st->bg_lock);
		st->bg_stop = true;
		pthread_cond_signal(&st->bg_cond);
		pthread_mutex_unlock(&st->bg_lock);
		pthread_join(st->bg, NULL);
	}
	helpers_stop(st);
	for (unsigned i = 0; st->shards && i < st->nshards; i++)
		shard_close(&st->shards[i]);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	pthread_mutex_destroy(&st->bg_lock);
	pthread_cond_destroy(&st->bg_cond);
	pthread_mutex_destroy(&st->job_lock);
	pthread_cond_destroy(&st->job_cond);
	pthread_mutex_destroy(&st->apply_lock);
	pthread_cond_destroy(&st->apply_cond);
	free(st->shards);
	free(st->flush_jobs);
	free(st->dir);
	free(st);
}

/* Pages of @sh that LMDB's freelist holds for reuse (as mdb_stat -f
 * counts them): each record is a list of page numbers, its count first. */
static uint64_t free_pages(struct shard *sh)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t n = 0;

	if (shard_txn_begin(sh, MDB_RDONLY, &txn))
		return 0;
	if (mdb_cursor_open(txn, 0, &c) == 0) {
		while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0)
			if (v.mv_size >= sizeof(size_t))
				n += *(const size_t *)v.mv_data;
		mdb_cursor_close(c);
	}
	shard_txn_abort(sh, txn);
	return n;
}

void store_get_stats(struct store *st, struct store_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->events = atomic_load(&st->events);
	out->deduplicated = atomic_load(&st->deduplicated);
	out->commits = atomic_load(&st->commits);
	out->fsyncs = atomic_load(&st->fsyncs);
	out->map_grows = atomic_load(&st->map_grows);
	out->expired = atomic_load(&st->expired);
	for (unsigned i = 0; i < st->nshards; i++)
		out->journal += atomic_load(&st->shards[i].j.unapplied);
	for (unsigned i = 0; i < st->nshards; i++) {
		struct shard *sh = &st->shards[i];
		MDB_envinfo info;
		MDB_stat ms;
		/* Both read the meta pages inside the map, which shard_grow
		 * may be unmapping and mapping again. */
		pthread_rwlock_rdlock(&sh->resize);
		mdb_env_info(sh->env, &info);
		mdb_env_stat(sh->env, &ms);
		pthread_rwlock_unlock(&sh->resize);
		out->pending += pending_count(sh);
		uint64_t pages = info.me_last_pgno + 1, free = free_pages(sh);
		free = free < pages ? free : pages;
		out->bytes_used += (pages - free) * ms.ms_psize;
		out->bytes_free += free * ms.ms_psize;
		out->map_bytes += info.me_mapsize;
	}
}
