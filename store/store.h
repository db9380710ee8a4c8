/*
 * store.h - countfs's local store: event counters in LMDB shards.
 *
 * A store is a directory of N LMDB environments ("shards").  A video and all
 * of its event types live in the shard chosen by store_shard_of(), a stable
 * FNV-1a hash of the video id, so one video is always one transaction.
 *
 * Each (video, type) pair is a series with a numeric id.  A series keeps one
 * aggregate (count, sum, min, max) per bucket at four levels - second,
 * minute, hour, day - plus a total; every event updates all of them in the
 * same transaction, so a reader sees either all or none of it.  A range
 * query is answered from a handful of buckets: whole days in the middle,
 * then hours, minutes and seconds at each edge, one cursor scan per level
 * and edge (query.c).
 *
 * Writes go through each shard's journal (journal.c): a request is
 * appended to DIR/shard-K/journal-N and acknowledged - at once with
 * STORE_SYNC_SECOND, after an fdatasync shared by the writers waiting
 * with STORE_SYNC_ALWAYS - and a leader applies ~100 ms of requests to
 * LMDB in one transaction.  Reads apply a shard's journal first, so every
 * acknowledged write is visible to them.  Requests with an event id or a
 * value (n * value, for an event of n > 1) beyond 2^32 are applied
 * directly instead, by group commit:
 * concurrent store_record() calls on one shard are applied by whichever
 * caller becomes the leader, in one LMDB transaction (fsynced before
 * anyone is answered with STORE_SYNC_ALWAYS).  Either way a write reaches
 * the kernel before store_record() returns, so a killed daemon loses
 * nothing it acknowledged, and a background thread syncs each second.
 *
 * Errors: every call returns 0 or a negative errno.  LMDB's codes are mapped
 * where they are returned (lmdb_errno() in shard.c), and what failed is
 * logged with LMDB's text when it is unexpected.
 *
 * Threads: every call is safe from any thread once store_open() returned.
 * store_open() and store_close() must not race with anything.
 */
#ifndef COUNTFS_STORE_H
#define COUNTFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_level { STORE_SEC, STORE_MIN, STORE_HOUR, STORE_DAY, STORE_LEVELS };

/* Bucket width of each level, in seconds: 1, 60, 3600, 86400. */
extern const uint32_t store_level_size[STORE_LEVELS];

enum store_sync { STORE_SYNC_SECOND, STORE_SYNC_ALWAYS };

#define STORE_VIDEO_MAX 128
#define STORE_TYPE_MAX 32
#define STORE_ID_MAX 64
#define STORE_MAX_SHARDS 256

struct store_config {
	const char *dir; /* created if missing */
	unsigned shards; /* 1..STORE_MAX_SHARDS */
	enum store_sync sync;
	uint32_t keep[STORE_LEVELS]; /* seconds a level is kept, 0 = ever */
	uint32_t dedup_window;	     /* seconds an event id is remembered */
	uint64_t map_size;	     /* initial LMDB map size per shard */
	unsigned retain_interval;    /* seconds between retention passes */
	unsigned repl_shards;	     /* MySQL shards to track changes for;
					0: no replication, nothing tracked */
	const char *recover; /* NULL: refuse a damaged directory; else start
				anyway, keeping what is dropped here */
};

/* Fill @cfg with the documented defaults (dir "data", 4 shards, ...). */
void store_config_defaults(struct store_config *cfg);

/* The most events one struct store_event may stand for (a line's *n). */
#define STORE_N_MAX (UINT64_C(1) << 32)

/* @n events of one value at once (a line's *n; 1 for a plain event).
 * Strings are not NUL-terminated and are borrowed: they must stay valid
 * until store_record() returns.  The caller has validated them (see
 * fs/line.h), set @n (1..STORE_N_MAX: 0 is refused, never taken for 1)
 * and resolved @ts (arrival time when the line had none).  With @id the
 * n events are deduplicated as one: all of them count, or none. */
struct store_event {
	const char *video;
	const char *type;
	const char *id; /* NULL: no event id, never deduplicated */
	uint8_t video_len, type_len, id_len;
	int64_t value;
	uint64_t n;
	uint32_t ts;
};

/* An aggregate.  With count == 0, min and max are meaningless. */
struct store_agg {
	int64_t count, sum, min, max;
};

struct store_stats {
	uint64_t events;       /* events counted */
	uint64_t deduplicated; /* events acknowledged but not counted */
	uint64_t commits;      /* LMDB write transactions committed */
	uint64_t fsyncs;       /* forced syncs of a shard */
	uint64_t map_grows;    /* times a shard's map was enlarged */
	uint64_t expired;      /* buckets removed by retention */
	uint64_t bytes_used;   /* pages in use across shards, in bytes */
	uint64_t bytes_free;   /* pages free for reuse in the files, bytes */
	uint64_t map_bytes;    /* sum of the shards' map sizes */
	uint64_t pending;      /* rows waiting for replication */
	uint64_t journal;      /* events acknowledged, not yet in LMDB */
	uint64_t top_reads;    /* store_top() calls answered */
	uint64_t top_unsure;   /* of those, answers that could miss a video */
};

struct store;

/*
 * Open (creating if needed) the store described by @cfg and start its
 * background thread (fsync each second, retention).  Refuses a non-empty
 * directory that is not a data directory (-ENOTEMPTY), one of a data
 * format newer than this countfs reads (-ENOTSUP), both before anything
 * in it changes; a directory made with another shard count (-EINVAL) or
 * in use by another process (-EBUSY), and a damaged one (-EUCLEAN, each
 * problem logged, nothing modified) unless @cfg->recover names where to
 * keep what is set aside (see damage.c).  An older format is upgraded in
 * place (format.c).  Stale reader slots left by a killed process are
 * cleared.  Every failure is logged, once: the caller need not say it
 * again.  On success *@out owns everything; release with store_close().
 */
int store_open(const struct store_config *cfg, struct store **out);

/* Stop the background thread, fsync every shard and close it.  NULL ok. */
void store_close(struct store *st);

/*
 * The identity of the data directory: 32 lowercase hex digits (128 random
 * bits) made when the directory was created and kept in DIR/identity
 * (identity.c).  store_open() refuses a damaged identity file with -EINVAL
 * and gives a directory made before identities existed a new one.
 */
#define STORE_IDENTITY_LEN 32
const char *store_identity(const struct store *st);

/*
 * Copy the data directory @dir into @dest, while a daemon writes to @dir
 * or not (backup.c): each shard's LMDB as of one read transaction
 * (compacted) with the journal records it had not applied, then the files
 * of @dir itself (its identity, ...).  @dest is made, or must be an empty
 * directory (-ENOTEMPTY).  The copy holds every write acknowledged before
 * the call, and of those acknowledged during it a prefix per shard; it is
 * judged as store_open() would judge it before 0 is returned.  On failure
 * what was made in @dest is removed.  *@shards gets the shard count.
 * Takes no lock: safe beside a running daemon.
 */
int store_backup(const char *dir, const char *dest, unsigned *shards);

/* The shard that holds @video: FNV-1a 64 of its bytes, modulo shards. */
unsigned store_shard_of(const struct store *st, const char *video, size_t len);

/*
 * Is @ts an acceptable event time at wall-clock time @now?  From the start
 * of the oldest bucket still kept up to 5 minutes ahead: 0 or -ERANGE.
 */
int store_check_ts(const struct store *st, int64_t ts, uint32_t now);

/*
 * Record the @n entries of @ev, each ev[i].n events (count grows by n,
 * sum by n * value), all or nothing per shard: either every entry of a
 * shard is in its journal record (or committed transaction), or none is.
 * Entries whose id was seen for the same series less than dedup_window
 * seconds before @now are acknowledged and not counted; *@deduped (may be
 * NULL) gets the events they stood for.  Returns once the events are
 * durable against a killed process (and fsynced with STORE_SYNC_ALWAYS).
 * Errors: -EINVAL (an entry's n is 0 or past STORE_N_MAX; nothing
 * recorded), -EOVERFLOW (n * value, a sum or a count would overflow 64
 * bits; nothing of that shard recorded), -ENOSPC, -EDQUOT (a shard holds
 * as many series as it can), -EIO, -ENOMEM.
 */
int store_record(struct store *st, const struct store_event *ev, size_t n,
		 uint32_t now, size_t *deduped);

/* The all-time aggregate of a series; zeroes when it has no events. */
int store_total(struct store *st, const char *video, size_t vlen,
		const char *type, size_t tlen, struct store_agg *out);

/*
 * The aggregate of the events with start <= t < end, at @now (or the now
 * of the last retention pass, if later).  The time axis is cut into
 * leaves: days, then hours, minutes and seconds, each level from the
 * first whole bucket of the level above inside its keep window; a leaf
 * counts when its start lies in [start, end).  So a range is exact to the
 * second when @start is at or after the first whole minute inside
 * keep_seconds, adjacent ranges always add up, and days older than
 * keep_days count nothing.  -EOVERFLOW only when the range's own sum does
 * not fit in 64 bits.
 */
int store_range(struct store *st, const char *video, size_t vlen,
		const char *type, size_t tlen, uint32_t start, uint32_t end,
		uint32_t now, struct store_agg *out);

/*
 * A range per step, in one read: @out[i] gets what store_range() reads
 * for [t, min(t + step, end)) with t = start + i * step, for the @n =
 * store_series_len() steps, all from one read transaction at @now.  The
 * steps add up to store_range(start, end): their windows, each end moved
 * to its leaf boundary, follow each other.  Each level's packs are read
 * once for all the steps, so a month by hours costs about one range read
 * plus a pack per day.  -EINVAL when @n is not the step count, -EOVERFLOW
 * when a step's sum does not fit in 64 bits, -ENOMEM.
 */
int store_series(struct store *st, const char *video, size_t vlen,
		 const char *type, size_t tlen, uint32_t start, uint32_t end,
		 uint32_t step, uint32_t now, struct store_agg *out, size_t n);

/* Steps of a series: ceil((end - start) / step); 0 when step is 0 or
 * start >= end. */
uint64_t store_series_len(uint32_t start, uint32_t end, uint32_t step);

/*
 * The videos with the most events of @type in the window [start, end) at
 * @now, each with its exact count there (what store_range() reads for
 * it): at most @n rows (1..STORE_TOP_MAX) into @rows, by count
 * descending, then video id in byte order; videos with no event in the
 * window are left out.  *@nrows gets the number of rows.
 *
 * Answered from each shard's top lists (top.c): every minute, hour and
 * day bucket of every type keeps its TOP_K (128) series with the most
 * events.  For each shard, B is the sum over the window's leaves of each
 * leaf's 128th largest count (0 when the leaf's bucket has fewer than
 * 128 videos; a second leaf uses its minute's list): a video in no list
 * has at most B events in the window.  The answer is exact (*@sure, may
 * be NULL) when every shard's B is 0, or when @n rows are returned and
 * every B is below the last row's count; otherwise a video of at most B
 * events can be missing.
 */
#define STORE_TOP_MAX 1000
struct store_top_row {
	int64_t count;
	uint8_t video_len;
	char video[STORE_VIDEO_MAX + 1]; /* NUL-terminated */
};
int store_top(struct store *st, const char *type, size_t tlen,
	      uint32_t start, uint32_t end, uint32_t now, unsigned n,
	      struct store_top_row *rows, unsigned *nrows, bool *sure);

/*
 * When a series last changed: the wall time (arrival, not @ts) of the last
 * write that counted one of its events; a write whose events were all
 * duplicates changes nothing.  With @type NULL, the latest change of any
 * type of @video.  *@when is 0 when not known: never written, or not
 * written since the directory was made by a countfs older than 0.5.0.
 */
int store_changed(struct store *st, const char *video, size_t vlen,
		  const char *type, size_t tlen, uint32_t *when);

/* Called once per name by the listings below; nonzero stops the walk. */
typedef int (*store_name_fn)(void *arg, const char *name, size_t len);

/* Every video with at least one recorded event, shard by shard. */
int store_list_videos(struct store *st, store_name_fn fn, void *arg);

/*
 * The same walk in pieces, for a directory read in several calls: start
 * at shard *@shard after video @after ("" for the start of that shard;
 * a buffer of STORE_VIDEO_MAX + 1 bytes).  When @fn returns nonzero the
 * walk stops; *@shard and @after, which @fn is expected to keep at the
 * last video it accepted, say where to resume.
 */
int store_walk_videos(struct store *st, unsigned *shard, char *after,
		      store_name_fn fn, void *arg);

/* Every event type recorded for @video. */
int store_list_types(struct store *st, const char *video, size_t vlen,
		     store_name_fn fn, void *arg);

/* Run one retention pass now (the background thread does it on its own). */
int store_expire(struct store *st, uint32_t now);

/* ---- replication feed -------------------------------------------------
 *
 * With repl_shards > 0 every minute bucket and every total that changes is
 * marked pending for the replication shard of its video (FNV-1a 64 of the
 * id modulo repl_shards) in the same transaction as the change; a bucket
 * changed a thousand times between two pushes is one row.  When
 * repl_shards differs from what the directory was tracked with, every
 * minute bucket and total is marked again at open (a full resend).
 *
 * A feed hands one replication shard's pending rows to its replicator,
 * each with the current absolute aggregate of its bucket.  The replicator
 * pushes them, then acknowledges them: a row is unmarked only if its
 * bucket did not change since it was read (its count still matches), so
 * an increment that lands meanwhile is pushed again, never lost.  A row
 * whose bucket retention removed reads with count 0: acknowledge it
 * without pushing it, and it is gone.
 *
 * The feed takes the store's shards in turn, a batch of rows from one at
 * a time, each in key order from where its last acknowledged batch ended,
 * so one busy shard does not starve the others.  A cycle ends when every
 * shard was read to its end since the cycle began: every row pending when
 * it began has been returned, and once acknowledged is in the replica.
 * Rows that were read but not acknowledged (the push failed) are read
 * again by the next store_feed_read().
 */
struct store_row {
	char video[STORE_VIDEO_MAX + 1]; /* NUL-terminated */
	char type[STORE_TYPE_MAX + 1];
	bool total;	  /* a total, else the minute starting at @minute */
	uint32_t minute;
	uint32_t marked;  /* when the row was first marked pending */
	struct store_agg agg;
	/* Private to the feed (pending.c): which pending row this is, for
	 * store_feed_ack().  Not part of the API: do not read or set it. */
	struct {
		uint64_t read, series;
		uint32_t time;
		uint8_t level;
	} feed_private;
};

/* The replication shard of @video: FNV-1a 64 of its bytes mod @n. */
unsigned store_hash_shard(const char *video, size_t len, unsigned n);

/* Apply every shard's journal now (the background thread does it every
 * 100 ms): pending rows then include every acknowledged write.  The feed
 * reads LMDB as it is, without this. */
int store_flush(struct store *st);

struct store_feed;

/* A feed of the rows pending for replication shard @repl < repl_shards
 * (-EINVAL otherwise), starting a cycle.  One thread uses a feed at a
 * time; feeds of different shards run in parallel.  The store must
 * outlive it: release with store_feed_close(). */
int store_feed_open(struct store *st, unsigned repl, struct store_feed **out);

/*
 * Read up to @max > 0 pending rows into @rows, all from one shard of the
 * store: the next shard in turn that this cycle has not read to its end.
 * A read after one whose rows were not acknowledged reads them again.
 * *@n gets the count; *@cycle_end is set when acknowledging these rows
 * ends the cycle (with *@n 0 it has ended: nothing was left to read, and
 * the next read begins a new cycle).
 */
int store_feed_read(struct store_feed *f, struct store_row *rows,
		    size_t max, size_t *n, bool *cycle_end);

/*
 * Acknowledge the @n rows of the last read, once they reached the
 * replica: unmark each that is unchanged since, and move the feed past
 * them.  Acknowledge all of a read's rows at once; -EINVAL for rows of
 * another read.  An error leaves the feed where it was.
 */
int store_feed_ack(struct store_feed *f, const struct store_row *rows,
		   size_t n);

/* NULL is fine. */
void store_feed_close(struct store_feed *f);

/* Counters since open; bytes figures are read from LMDB now. */
void store_get_stats(struct store *st, struct store_stats *out);

#endif
