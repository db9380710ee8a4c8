/*
 * shard.c - the store's API: opening and closing it and its LMDB
 * environments, which way a write goes, the map's growth, meta, stats.
 *
 * Each shard is an LMDB environment in DIR/shard-K, opened with MDB_NOSYNC
 * under sync=second: a commit is a write() into the page cache (safe from
 * a killed process) and the background thread syncs each second.  Most
 * writes are appended to the shard's journal (journal.c) and applied
 * later; the rest go to the shard's group commit (commit.c), whose leader
 * applies the journal first, then the queued requests in one transaction.
 */
#include "internal.h"

#include "../common/hash.h"
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
	switch (rc) { /* LMDB passes system errors on: those that say */
	case EEXIST: /* mdb_env_copy*()'s O_EXCL */
	case ENOSPC:
	case ENOMEM:
	case EACCES:
	case EROFS:
	case EIO:
		return -rc;
	}
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
	return (unsigned)(fnv1a(FNV1A_INIT, video, len) % n);
}

unsigned store_shard_of(const struct store *st, const char *video, size_t len)
{
	return store_hash_shard(video, len, st->nshards);
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
		return lmdb_errno(rc);
	if (fstat(fd, &sb))
		return -errno;
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
	return -rc;
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
		rc = lmdb_errno(mdb_env_set_mapsize(sh->env, sh->map_size * 2));
	if (rc == 0) {
		sh->map_size *= 2;
		atomic_fetch_add(&sh->st->map_grows, 1);
		log_info("shard %u: map grown to %llu MiB", sh->index,
			 (unsigned long long)(sh->map_size >> 20));
	}
	pthread_rwlock_unlock(&sh->resize);
	return store_errno(rc, "growing the LMDB map");
}

int shard_sync(struct shard *sh)
{
	if (!atomic_exchange(&sh->dirty, false))
		return 0;
	pthread_rwlock_rdlock(&sh->resize);
	int rc = lmdb_errno(mdb_env_sync(sh->env, 1));
	pthread_rwlock_unlock(&sh->resize);
	atomic_fetch_add(&sh->st->fsyncs, 1);
	if (rc) {
		atomic_store(&sh->dirty, true);
		return store_errno(rc, "fsync of a shard");
	}
	return 0;
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

/* One shard's events by its journal, or directly when they cannot. */
static int journal_or_commit(struct shard *sh, const struct store_event *ev,
			     size_t n, uint32_t now)
{
	bool direct;
	int rc = journal_append(sh, ev, n, now, &direct);

	if (rc == 0 && direct) {
		struct commit_req req = {.ev = ev, .n = n, .now = now};
		rc = shard_commit(sh, &req);
	}
	return rc;
}

/*
 * A write whose events fall in several shards.  By the journals when it
 * may (appending is cheap, so the caller does every shard itself; helpers
 * apply the batches); all or nothing (commit_atomic()) when it has an
 * #id or a large value, or a shard it names is "big" (an overflow is
 * possible there).
 */
static int record_shards(struct store *st, const struct store_event *ev,
			 size_t n, uint32_t now, bool journal, size_t *deduped)
{
	unsigned ns = st->nshards;
	size_t *start = malloc((ns + 1) * sizeof(*start));
	struct commit_req *req = calloc(ns, sizeof(*req));
	struct store_event *part = NULL;
	int rc = -ENOMEM;

	if (!start || !req || !(part = split(st, ev, n, start)))
		goto out;
	for (unsigned s = 0; s < ns; s++) {
		req[s] = (struct commit_req){.ev = part + start[s],
					     .n = start[s + 1] - start[s],
					     .now = now};
		if (req[s].n && atomic_load(&st->shards[s].big))
			journal = false;
	}
	if (!journal) {
		rc = commit_atomic(st, req, deduped);
		goto out;
	}
	rc = 0;
	for (unsigned s = 0; s < ns; s++) {
		int src = req[s].n ? journal_or_commit(&st->shards[s],
						       req[s].ev, req[s].n, now)
				   : 0;
		if (src && rc == 0)
			rc = src;
	}
out:
	free(start);
	free(req);
	free(part);
	return rc;
}

int store_record(struct store *st, const struct store_event *ev, size_t n,
		 uint32_t now, size_t *deduped)
{
	size_t dd = 0, i;
	int rc = 0;

	for (i = 0; i < n; i++)
		if (ev[i].n < 1 || ev[i].n > STORE_N_MAX)
			return -EINVAL;
	bool journal = journal_eligible(st, ev, n);
	if (n > 0) {
		unsigned first = store_shard_of(st, ev[0].video,
						ev[0].video_len);
		for (i = 1; i < n; i++)
			if (store_shard_of(st, ev[i].video, ev[i].video_len) !=
			    first)
				break;
		struct shard *sh = &st->shards[first];
		struct commit_req req = {.ev = ev, .n = n, .now = now};
		if (i < n) /* several shards */
			rc = record_shards(st, ev, n, now, journal, &dd);
		else if (journal) /* the common case: one shard, no copy */
			rc = journal_or_commit(sh, ev, n, now);
		else if ((rc = shard_commit(sh, &req)) == 0)
			dd = req.deduped;
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
	rc = lmdb_errno(mdb_get(txn, sh->meta, &k, &v));
	if (rc == 0 && v.mv_size == len)
		memcpy(out, v.mv_data, len);
	else if (rc == 0)
		rc = damaged(sh, name);
	shard_txn_abort(sh, txn);
	return rc == -ENOENT ? 0 : store_errno(rc, "reading meta");
}

int meta_put(struct shard *sh, MDB_txn *txn, const char *name, const void *v,
	     size_t len)
{
	MDB_val k = {strlen(name), (void *)name}, d = {len, (void *)v};

	return lmdb_errno(mdb_put(txn, sh->meta, &k, &d, 0));
}

/* Read or initialise a u32 in the meta database. */
static int meta_u32(struct shard *sh, MDB_txn *txn, const char *name,
		    uint32_t want, const char *what)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc = lmdb_errno(mdb_get(txn, sh->meta, &k, &v));

	if (rc == -ENOENT)
		return meta_put(sh, txn, name, &want, sizeof(want));
	if (rc)
		return rc;
	uint32_t have;
	if (v.mv_size != sizeof(have))
		return damaged(sh, name);
	memcpy(&have, v.mv_data, sizeof(have));
	if (have != want) {
		log_error("shard %u was made with %s%u, not %u; use the same "
			  "value or a new data directory",
			  sh->index, what, have, want);
		return -EINVAL;
	}
	return 0;
}

/* The transaction that opens (and makes) the databases of a shard, checks
 * its meta and upgrades an older format (upgrade.c). */
static int open_dbs(struct shard *sh, MDB_txn *txn, void *arg)
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
	    {"tops", offsetof(struct shard, tops)},
	};
	int rc = 0;

	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]) && !rc; i++)
		rc = lmdb_errno(mdb_dbi_open(txn, dbs[i].name, MDB_CREATE,
				     (MDB_dbi *)((char *)sh + dbs[i].off)));
	if (!rc)
		rc = format_shard(sh, txn);
	if (!rc)
		rc = meta_u32(sh, txn, "shards", sh->st->nshards, "shards=");
	if (!rc)
		rc = meta_u32(sh, txn, "shard", sh->index, "shard index ");
	if (!rc)
		rc = pending_setup(sh, txn);
	/* What it writes (a new shard's meta; an upgrade's format and
	 * databases) is synced by journal_open()'s shard_sync(), also under
	 * sync=second, before format_stamp() writes DIR/format: shards
	 * first, then the stamp. */
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
	group_init(&sh->commit);
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
	mdb_env_set_maxdbs(sh->env, 16);
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
	if ((rc = shard_write(sh, open_dbs, NULL)))
		goto fail;
	MDB_stat ms;
	mdb_env_stat(sh->env, &ms);
	sh->psize = ms.ms_psize;
	if ((rc = journal_open(sh, path)))
		return rc;
	return 0;
fail:
	if (rc > 0 || rc < -4095) { /* from mdb_env_*() */
		log_error("opening LMDB environment %s: %s", path,
			  mdb_strerror(rc));
		rc = lmdb_errno(rc);
	}
	if (sh->env)
		mdb_env_close(sh->env);
	sh->env = NULL;
	return rc;
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
	group_destroy(&sh->commit);
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
	pthread_mutex_init(&st->apply_lock, NULL);
	pthread_cond_init(&st->apply_cond, NULL);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	st->apply_max = cpus > 1 ? (unsigned)cpus : 1;
	/* make bench's reference run only: /top is wrong once it is used. */
	const char *no_tops = getenv("COUNTFS_BENCH_NO_TOPS");
	st->no_tops = no_tops && strcmp(no_tops, "1") == 0;
	if (st->no_tops)
		log_warn("COUNTFS_BENCH_NO_TOPS=1: top lists are not kept; "
			 "/top on %s is wrong from now on", cfg->dir);
	if (!st->dir || !st->shards) {
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
	if ((rc = threads_start(st)))
		goto fail;
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
	threads_stop(st);
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
	out->top_reads = atomic_load(&st->top_reads);
	out->top_unsure = atomic_load(&st->top_unsure);
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
