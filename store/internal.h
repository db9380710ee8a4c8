/*
 * internal.h - what the files of store/ share: the shard, key encodings
 * and the helpers around LMDB.  Nothing outside store/ includes it.
 *
 * Databases of a shard (one LMDB environment; keys.h has the layouts):
 *   series   "video\0type" -> head (id, change time, total, open packs)
 *   names    u64 id -> "video\0type"
 *   packs    u8 level | u32 start | u32 id -> pack (a level's buckets)
 *   dedup    u64 id | event id -> u32 time it is forgotten
 *   dedupx   u32 time forgotten | u64 id | event id -> empty; ids to forget
 *   pending  u8 repl shard | u64 id | u8 level | u32 t -> u32 time first
 *            marked; minute buckets and totals not yet replicated
 *            (repl_shards > 0)
 *   tops     u8 level | u32 bucket | type -> the top list of a minute,
 *            hour or day bucket of one event type (top.c)
 *   meta     "shards", "shard", "format", "repl_shards", ... -> u32
 */
#ifndef COUNTFS_STORE_INTERNAL_H
#define COUNTFS_STORE_INTERNAL_H

#include "jscan.h"
#include "keys.h"
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* The data format this countfs writes; it reads FORMAT_OLDEST up to it
 * and upgrades older directories in place (format.c has the history). */
#define FORMAT_VERSION 4
#define FORMAT_OLDEST 1

/* A request waiting for the group commit of its shard. */
struct commit_req {
	const struct store_event *ev;
	size_t n;
	uint32_t now;
	size_t deduped; /* events (an entry's n) not counted: ids seen */
	int rc;
	bool one_by_one; /* apply event by event: folded, a sum overflowed */
	uint64_t ticket; /* its place in the shard's queue */
	struct commit_req *next;
};

/*
 * A group commit (commit.c), the one both the LMDB request queue of a
 * shard and the journal's fdatasync use.  A caller joins, takes a ticket
 * (a number that only grows: a request's place in the queue, a journal
 * record's sequence number) and waits for a round that serves it; the
 * first to find no leader leads a round that serves every ticket taken
 * so far, while the others sleep.
 *
 *	group_join(g);				// g->lock held from here
 *	...take a ticket...
 *	while (group_turn(g, ticket, gathers)) {	// lead a round
 *		unlock, do the work, lock;
 *		group_end(g, ok ? upto : 0);	// 0: it served nothing
 *	}
 *	group_leave(g);				// g->lock released
 *
 * group_turn() returns false once the ticket was served; a round that
 * failed serves nothing and its callers lead one in turn (a caller whose
 * own round failed may stop there with its error).  group_lead() and
 * group_unlead() hold the leadership for something else (a write over
 * several shards); rounds wait meanwhile.  journal_rotate() takes the
 * sync group's lock alone, to switch files between rounds.
 */
struct group {
	pthread_mutex_t lock;
	pthread_cond_t turn;   /* a round ended */
	pthread_cond_t arrive; /* a caller joined while the leader gathers */
	uint64_t served;       /* every ticket up to here was served */
	size_t arrived;	       /* callers joined since the last round began */
	size_t last_round;     /* callers the last round served */
	bool leading, gathering;
};

void group_init(struct group *g);
void group_destroy(struct group *g);
void group_join(struct group *g);
bool group_turn(struct group *g, uint64_t ticket, bool gathers);
void group_end(struct group *g, uint64_t upto);
void group_leave(struct group *g);
void group_lead(struct group *g);
void group_unlead(struct group *g);

/* A shard's journal (journal.c): sync=second writes wait here, already
 * acknowledged, until a leader applies them to LMDB in one batch. */
struct journal {
	pthread_mutex_t lock; /* guards all but unapplied */
	int fd[2];	      /* DIR/shard-K/journal-0 and -1 */
	uint64_t size[2];     /* bytes in each */
	unsigned active;      /* the one appended to */
	unsigned char *buf;   /* records not yet taken by a leader */
	size_t len, cap, events;
	uint64_t room;	      /* map room the records of buf may need */
	unsigned char *spare; /* an empty buffer to swap in */
	size_t spare_cap;
	uint64_t seq;		  /* of the last record written */
	struct group sync; /* sync=always: served = records on disk */
	atomic_size_t unapplied;  /* acknowledged, not yet committed */
	bool opened;
	bool keep_files; /* records were dropped from memory: never cut */
	bool full;	 /* an apply found the map full: take no records */
};

/* Events a journal holds before a helper is asked to apply them; at
 * twice this, writers wait for the apply. */
#define JOURNAL_BATCH 49152
#define JOURNAL_SPARE_MAX (1u << 20)
/* The longest a sync=always leader waits for its group to fill, in the
 * LMDB group commit and the journal's (commit.c). */
#define GATHER_NS 150000

/* A sum or count beyond this marks its shard "big": no more journal
 * batches. */
#define SUM_BIG (INT64_C(1) << 62)

struct shard {
	struct store *st;
	unsigned index;
	MDB_env *env;
	MDB_dbi series, names, packs, dedup, dedupx, meta, pending, tops;
	uint64_t map_size; /* guarded by resize (write side) */

	/* Every transaction holds resize for reading; growing the map takes
	 * it for writing, as LMDB needs no live transaction for that. */
	pthread_rwlock_t resize;

	struct group commit; /* its lock guards queue and tickets */
	struct commit_req *queue, **queue_tail;
	uint64_t tickets;

	atomic_bool dirty; /* committed since the last fsync */
	atomic_bool big;   /* a sum or count passed SUM_BIG (meta "big") */
	unsigned psize;	   /* LMDB page size */
	bool flush_queued; /* a helper will apply the journal; job_lock */
	struct journal j;
};

struct store {
	struct store_config cfg;
	char *dir;
	char identity[STORE_IDENTITY_LEN + 1]; /* see identity.c */
	int lock_fd;
	struct shard *shards;
	unsigned nshards;

	pthread_t bg;
	bool bg_running;
	pthread_mutex_t bg_lock; /* guards bg_stop */
	pthread_cond_t bg_cond;
	bool bg_stop;

	pthread_mutex_t job_lock; /* guards jobs, helpers_stop, flush_queued */
	pthread_cond_t job_cond;  /* a job was queued, or stop */
	struct shard_job *jobs, **jobs_tail;
	struct shard_job *flush_jobs; /* one per shard */

	pthread_mutex_t apply_lock; /* guards applying */
	pthread_cond_t apply_cond;
	unsigned applying, apply_max; /* journals being applied; at most */
	pthread_t *helpers;
	unsigned nhelpers;
	bool helpers_stop;

	atomic_uint_fast64_t events, deduplicated, commits, fsyncs, map_grows,
	    expired, top_reads, top_unsure;
	/* The latest now of a retention pass, set before it deletes: a range
	 * read answers at no earlier now, or it could miss a bucket deleted
	 * between its clock reading and its transaction (query.c). */
	atomic_uint_fast32_t expire_now;
	bool making; /* DIR is new: DIR/creating marks it until identity */
	bool no_tops; /* COUNTFS_BENCH_NO_TOPS=1: no top lists kept (bench) */
	uint32_t stamped;	/* DIR/format as found; 0: none (format.c) */
	uint32_t upgraded_from; /* oldest shard format below FORMAT_VERSION */
};

#define IDENTITY_FILE "identity" /* DIR/identity: see identity.c */
#define FORMAT_FILE "format"	 /* DIR/format: see format.c */
#define MAKING_FILE "creating"	 /* DIR/creating: see damage.c */
#define UNFINISHED_FILE "backup-unfinished" /* see backup.c */
/* The files the daemon makes in a shard directory (shard.c, journal.c):
 * what a cut-short making removes (damage.c) and a backup clears. */
#define SHARD_FILES_N 4
extern const char *const shard_files[SHARD_FILES_N];

/* -EUCLEAN, logged, when @dir is a copy countfs-backup did not finish
 * (DIR/backup-unfinished): it holds part of the counts, or none. */
int backup_unfinished(const char *dir);

/* Write DIR/@name holding @text through a fsynced temporary file renamed
 * over it, the directory fsynced after: a crash leaves the old file or
 * the new one.  0 or a negative errno (logged). */
int store_write_file(const char *dir, const char *name, const char *text);

/*
 * Format and ownership of DIR (format.c), all logged when refused:
 * format_claim() runs before anything in DIR is made: -EUCLEAN for a
 * copy countfs-backup did not finish, -ENOTEMPTY for a
 * non-empty directory that is not a data directory, -ENOTSUP when
 * DIR/format is newer than FORMAT_VERSION.  format_check() refuses a
 * newer @format found at @where (-ENOTSUP).  format_shard() checks a
 * shard's meta "format" and sets it to FORMAT_VERSION inside @txn, the
 * transaction that opens (and creates) its databases, upgrading an older
 * shard (0 or a negative errno, -ENOSPC for a full map).  format_stamp()
 * writes DIR/format once every shard is at FORMAT_VERSION.
 */
int format_claim(struct store *st);
int format_check(uint32_t format, const char *where);
int format_shard(struct shard *sh, MDB_txn *txn);
int format_stamp(struct store *st);

/* Read DIR/identity, or make it if missing (the shards are open). */
int identity_open(struct store *st);

/*
 * Errors inside store/: a function returns 0 or a negative errno, and
 * answers anything else through out-parameters.  An LMDB code becomes an
 * errno where the mdb_* call returns, by lmdb_errno(): MDB_NOTFOUND is
 * -ENOENT, MDB_KEYEXIST -EEXIST, a full map -ENOSPC (shard_write() grows
 * it and runs again), a full reader table -EAGAIN, LMDB's system errors
 * their own errno when it says something (EEXIST, ENOSPC, ENOMEM,
 * EACCES, EROFS, EIO); anything else (a damaged page, a misuse) is logged with
 * LMDB's text and is -EIO.  A record of the wrong shape is damaged():
 * logged, -EIO.
 */
int lmdb_errno(int rc);
int damaged(const struct shard *sh, const char *what);

/* Log a failed @what (not for -ENOENT); returns @rc, a negative errno. */
int store_errno(int rc, const char *what);

/* Begin a read-only transaction under the shard's resize lock; end it
 * with shard_txn_abort().  (Writes go through shard_write().) */
int shard_txn_begin(struct shard *sh, unsigned flags, MDB_txn **txn);
void shard_txn_abort(struct shard *sh, MDB_txn *txn);

/*
 * The one way store/ writes LMDB (commit.c): run @fn(sh, txn, arg) in a
 * write transaction of @sh and commit it.  When the map is full (-ENOSPC
 * from @fn or from the commit) the transaction is aborted, the map
 * doubled while the disk has room, and @fn run again from the start: it
 * must not keep anything from a run that was aborted.  @fn returns 0 or a
 * negative errno; anything but 0 aborts.  Returns 0 or a negative errno.
 */
typedef int shard_write_fn(struct shard *sh, MDB_txn *txn, void *arg);
int shard_write(struct shard *sh, shard_write_fn *fn, void *arg);

/* Queue @req on @sh and return once a leader (maybe this thread) ran it;
 * a leader first applies the shard's journal.  A request of no events
 * only waits for that. */
int shard_commit(struct shard *sh, struct commit_req *req);

/* A write over several shards, all or nothing (commit.c): @req holds one
 * request per shard (n == 0 where it has no events); the caller must not
 * lead any shard.  A storage error in a commit after the first can still
 * leave a part recorded (README, Limits); an overflow never does. */
int commit_atomic(struct store *st, struct commit_req *req, size_t *deduped);

/* Have a helper thread apply the journal of @sh soon. */
void shard_flush_async(struct shard *sh);

/* Sync @sh to disk if it changed since the last sync. */
int shard_sync(struct shard *sh);
void shard_clear_readers(struct shard *sh);

/* Read or write a small value of the meta database; a missing value
 * reads as zeroes. */
int meta_get(struct shard *sh, const char *name, void *v, size_t len);
int meta_put(struct shard *sh, MDB_txn *txn, const char *name, const void *v,
	     size_t len);

/* Does this request qualify for the journal (journal.c)? */
bool journal_eligible(const struct store *st, const struct store_event *ev,
		      size_t n);

/* Judge the data directory before anything in it changes (damage.c):
 * 0, or -EUCLEAN when it is damaged and cfg.recover is not set.  A
 * directory whose making a crash cut short (DIR/creating, no identity)
 * is made again; st->making tells store_open() to mark a new one. */
int store_check(struct store *st);

/* Mark DIR as being made (@on) until its identity is written, or take
 * the mark away: a start cut short in between then starts it afresh. */
int store_mark_making(struct store *st, bool on);

/* Write all of @buf to @fd, then fsync it: 0 or a negative errno. */
int write_synced(int fd, const void *buf, size_t len);

/* Copy @src to the new file @dst, on disk before it returns; a missing
 * @src copies nothing (damage.c). */
int copy_file(const char *src, const char *dst);

/* fsync the directory @dir so that a rename in it is durable. */
int sync_dir(const char *dir);

/* What a shard's meta says of it; zeroes when not known yet. */
struct shard_meta {
	uint64_t applied; /* the last journal record in LMDB */
	uint32_t shards;  /* the shard count it was made with */
	uint32_t index;	  /* its own index; UINT32_MAX: not known */
	uint32_t format;  /* its data format (format.c) */
};

/* Read the LMDB of shard directory @dir into *@m without writing to it.
 * Returns false, with the reason in @why, when it cannot be used
 * (damage.c). */
bool read_lmdb(const char *dir, struct shard_meta *m, char *why, size_t len);

/* A journal file of a shard, as found: read_journal() fills all but
 * @path, and judges the bytes with journal_scan(). */
struct jfile {
	char path[4096];
	bool missing;
	unsigned char *buf;
	size_t len;
	struct jscan scan;
};

int read_journal(struct jfile *jf);

/* Open the journal files in @dir and apply what they hold beyond what
 * LMDB has; the shard's databases are open. */
int journal_open(struct shard *sh, const char *dir);

/* Close the files, emptied when @applied_all (and LMDB synced). */
void journal_close(struct shard *sh, bool applied_all);

/* Write the events of one shard to its journal: 0 once they are there
 * (acknowledged) or must go the direct way instead (*@direct: the shard
 * is "big" or its map cannot grow; nothing was written), or a negative
 * errno. */
int journal_append(struct shard *sh, const struct store_event *ev, size_t n,
		   uint32_t now, bool *direct);

/* Apply what the journal holds; only a leader (or open/close) calls it. */
int journal_apply(struct shard *sh);

/* Make every acknowledged write of @sh visible to reads. */
int journal_settle(struct shard *sh);

/* Each second: switch files, apply, sync, empty the old file. */
void journal_rotate(struct shard *sh);

/* A read-only transaction that sees every acknowledged write. */
int shard_read_begin(struct shard *sh, MDB_txn **txn);

/* Double the map of @sh (shard_write() on a full map, journal_room()
 * ahead of one); the caller holds no transaction of @sh. */
int shard_grow(struct shard *sh);

/* Apply up to @nreq requests inside @txn (record.c), folded together;
 * *@used gets how many (at least one: more while the fold stays small).
 * Returns 0 or a negative errno: -EOVERFLOW concerns these requests
 * alone, -ENOSPC is a full map (grow it and apply them again). */
int shard_apply(struct shard *sh, MDB_txn *txn, struct commit_req *req,
		size_t nreq, size_t *used);

/* Read the head of a series (only its id, time and total with
 * @total_only); -ENOENT when the pair was never recorded. */
int series_lookup(struct shard *sh, MDB_txn *txn, const char *video,
		  size_t vlen, const char *type, size_t tlen, struct head *h,
		  bool total_only);

/* Mark every minute bucket and total pending again when the directory was
 * tracked for another number of replication shards (pending.c). */
int pending_setup(struct shard *sh, MDB_txn *txn);

/* Mark bucket (@id, @level, @t) pending for replication shard @repl. */
int pending_mark(struct shard *sh, MDB_txn *txn, unsigned repl, uint64_t id,
		 unsigned level, uint32_t t, uint32_t now);

/* Upgrade a shard of format @from (1 or 2) to format 3 inside @txn, the
 * one that opens its databases (upgrade.c): 0 or a negative errno
 * (-ENOSPC: the map is full; grow it and open again). */
int upgrade_shard(struct shard *sh, MDB_txn *txn, uint32_t from);

/* Read every record an upgrade would rewrite, writing nothing, inside the
 * read-only @txn of a shard of format 1 or 2 (damage.c): 0, or a negative
 * errno (-EIO for a record of the wrong shape or a page LMDB cannot read,
 * -ENOTSUP for a series id format 3 cannot hold) with what stops the
 * upgrade in @why, which the caller logs. */
int upgrade_walk(MDB_txn *txn, char *why, size_t len);

/* The aggregate of bucket (@level, @t) of the series whose head is @h:
 * what its open pack and the packs database hold (query.c); 0 or a
 * negative errno. */
int series_bucket(struct shard *sh, MDB_txn *txn, const struct head *h,
		  unsigned level, uint32_t t, struct store_agg *out);

/*
 * The windows of a range read (query.c).  range_window(): the leaf
 * boundaries [*@from, *@to) of [start, end) at @now (or the last
 * retention pass's now, if later), read once a transaction began.
 * range_cut(): the pieces of [from, to), coarsest level first: @fn gets
 * each (level, a, b) whose @level buckets starting in [a, b) the window
 * counts whole (second pieces are any seconds).  series_range(): the
 * aggregate of [from, to) of the series whose head is @h, inside @txn;
 * -EOVERFLOW when its sum does not fit in 64 bits, with the count, min
 * and max still in *@out (/top ranks by counts alone).
 */
void range_window(struct store *st, uint32_t start, uint32_t end,
		  uint32_t now, uint64_t *from, uint64_t *to);
typedef void range_piece_fn(void *arg, int level, uint64_t a, uint64_t b);
void range_cut(int level, uint64_t x, uint64_t y, range_piece_fn *fn,
	       void *arg);
int series_range(struct shard *sh, MDB_txn *txn, const struct head *h,
		 uint64_t from, uint64_t to, struct store_agg *out);

/*
 * Top lists being updated inside one write transaction (top.c): each
 * list touched is read once, updated in memory for every series whose
 * bucket count changed (tops_note(), with the bucket's new exact count)
 * and written once by tops_flush().  tops_free() drops what was not
 * flushed.  Levels other than STORE_MIN..STORE_DAY are ignored.
 */
struct tops;
int tops_begin(struct shard *sh, MDB_txn *txn, struct tops **out);
int tops_note(struct tops *t, unsigned level, uint32_t bucket,
	      const char *type, size_t tlen, uint64_t id, int64_t count);
int tops_flush(struct tops *t);
void tops_free(struct tops *t);

/* Build every top list of a shard of format 3 from its packs and heads,
 * inside the @txn that upgrades it to format 4 (top.c). */
int tops_build(struct shard *sh, MDB_txn *txn);

/* Delete the top lists of @level past its horizon, while @budget lasts
 * (retain.c); *@more when some remain. */
int tops_expire(struct shard *sh, MDB_txn *txn, int level, uint32_t now,
		int *budget, bool *more);

/* Rows pending in @sh, all replication shards. */
uint64_t pending_count(struct shard *sh);

/* Start the helpers and the background thread, or stop them
 * (threads.c); threads_stop() is safe on a store they never started. */
int threads_start(struct store *st);
void threads_stop(struct store *st);

/* Start of the oldest bucket of @level still kept at @now (may be < 0). */
static inline int64_t level_horizon(const struct store_config *cfg, int level,
				    uint32_t now)
{
	return cfg->keep[level] ? (int64_t)now - cfg->keep[level] : INT64_MIN;
}

static inline uint32_t bucket_of(int level, uint32_t t)
{
	return t - t % store_level_size[level];
}

/* Is every bucket of the @level pack at @start past the horizon at @now? */
static inline bool pack_expired(const struct store_config *cfg, int level,
				uint32_t start, uint32_t now)
{
	return (int64_t)start + pack_width[level] - store_level_size[level] <
	       level_horizon(cfg, level, now);
}

/* Is the @level bucket holding time @t kept at @now? */
static inline bool bucket_kept(const struct store_config *cfg, int level,
			       uint32_t t, uint32_t now)
{
	return bucket_of(level, t) >= level_horizon(cfg, level, now);
}

#endif
