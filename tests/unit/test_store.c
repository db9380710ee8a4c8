/*
 * test_store.c - the store without FUSE: recording, totals, ranges at
 * every level, retention, dedup, overflow, map growth, group commit.
 * Prints TAP.  Each test uses a fresh directory under $TMPDIR.
 */
#include "../../common/log.h"
#include "../../store/jscan.h"
#include "../../store/store.h"
#include "rand.h"
#include "tap.h"
#include "tmpdir.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* 2026-11-27 00:00:00 UTC, a day boundary. */
#define DAY0 1795737600u

static char *fresh_dir(void)
{
	return fresh_dir_named("unit");
}

static enum store_sync sync_mode = STORE_SYNC_SECOND;

/* A store of @shards shards tracking @repls replication shards. */
static struct store *open_repl(const char *dir, unsigned shards,
				unsigned repls)
{
	struct store_config cfg;
	struct store *st = NULL;

	store_config_defaults(&cfg);
	cfg.sync = sync_mode;
	cfg.dir = dir;
	cfg.shards = shards;
	cfg.repl_shards = repls;
	cfg.retain_interval = 3600; /* tests expire by hand */
	if (store_open(&cfg, &st))
		return NULL;
	return st;
}

static struct store *open_store(const char *dir, unsigned shards)
{
	return open_repl(dir, shards, 0);
}

static struct store_event ev(const char *video, const char *type, int64_t value,
			     uint32_t ts)
{
	return (struct store_event){.video = video,
				    .video_len = (uint8_t)strlen(video),
				    .type = type,
				    .type_len = (uint8_t)strlen(type),
				    .value = value,
				    .n = 1,
				    .ts = ts};
}

static int rec(struct store *st, const char *video, const char *type,
	       int64_t value, uint32_t ts, uint32_t now)
{
	struct store_event e = ev(video, type, value, ts);
	return store_record(st, &e, 1, now, NULL);
}

static int64_t count_range(struct store *st, const char *video, uint32_t s,
			   uint32_t e, uint32_t now)
{
	struct store_agg a;
	if (store_range(st, video, strlen(video), "views", 5, s, e, now, &a))
		return -1;
	return a.count;
}

/* Where a video lives, on disk and in MySQL, is FNV-1a 64 of its bytes
 * modulo the shard count: a change to the hash would strand every stored
 * count.  The reference values are FNV-1a's published ones. */
static void test_shard_hash(void)
{
	is_int(store_hash_shard("", 0, 1000), 0xcbf29ce484222325ULL % 1000,
	       "the shard of the empty id is FNV-1a 64's offset basis mod n");
	is_int(store_hash_shard("a", 1, 1000), 0xaf63dc4c8601ec8cULL % 1000,
	       "the shard of \"a\" is FNV-1a 64 (\"a\") mod n");
	is_int(store_hash_shard("foobar", 6, 4096), 2024,
	       "the shard of \"foobar\" is FNV-1a 64 (\"foobar\") mod 4096");
	is_int(store_hash_shard("dQw4w9WgXcQ", 11, 7), 2,
	       "a video id's shard of 7 is FNV-1a 64 of its bytes mod 7");
}

static void test_totals(void)
{
	char *dir = fresh_dir();
	struct store *st = open_store(dir, 4);
	struct store_agg a;
	uint32_t now = DAY0 + 5000;

	ok(st != NULL, "store opens in a new directory");
	rec(st, "v1", "lat", 5, now, now);
	rec(st, "v1", "lat", -3, now, now);
	rec(st, "v1", "lat", 10, now - 100, now);
	store_total(st, "v1", 2, "lat", 3, &a);
	is_int(a.count, 3, "total count adds every event");
	is_int(a.sum, 12, "total sum adds the values");
	is_int(a.min, -3, "min follows the values");
	is_int(a.max, 10, "max follows the values");
	store_total(st, "v2", 2, "lat", 3, &a);
	is_int(a.count, 0, "a series never recorded reads zero");
	store_close(st);

	st = open_store(dir, 4);
	store_total(st, "v1", 2, "lat", 3, &a);
	is_int(a.sum, 12, "totals survive close and reopen");
	store_close(st);
	ok(open_store(dir, 2) == NULL, "reopening with other shards= fails");
	st = open_store(dir, 4);
	ok(open_store(dir, 4) == NULL, "a second open of one directory fails");
	store_close(st);
	rmrf(dir);
	free(dir);
}

static void test_ranges(void)
{
	char *dir = fresh_dir();
	struct store *st = open_store(dir, 1);
	uint32_t now = DAY0 + 10 * 86400 + 7200 + 1234; /* 10 days on */

	/* One event a minute apart over the last 30 minutes, seconds 7 in. */
	for (uint32_t t = now - 1800; t < now; t += 60)
		rec(st, "v", "views", 1, t, now);
	is_int(count_range(st, "v", now - 1800, now, now), 30,
	       "a range inside the second window is exact");
	is_int(count_range(st, "v", now - 1799, now, now), 29,
	       "the range start is exact to the second");
	is_int(count_range(st, "v", now - 1800, now - 1799, now), 1,
	       "a one-second range holds its event");
	is_int(count_range(st, "v", now - 1800, now - 1740, now), 1,
	       "end is exclusive");

	/* Old events: 3 days back (minutes kept, seconds not). */
	uint32_t old = DAY0 + 7 * 86400 + 3600 + 90; /* 01:01:30 */
	rec(st, "w", "views", 1, old, now);
	rec(st, "w", "views", 1, old + 20, now);
	is_int(count_range(st, "w", old - 29, old + 60, now), 0,
	       "outside the second window a minute counts only when its "
	       "start lies in the range");
	is_int(count_range(st, "w", old - 90, old - 29, now), 2,
	       "a minute whose start is in the range counts whole");
	is_int(count_range(st, "w", old - 30, old - 29, now), 2,
	       "even a one-second range at a minute start");

	/* 120 days back: only days are kept. */
	uint32_t ancient = DAY0 - 120 * 86400 + 5 * 3600;
	rec(st, "x", "views", 1, ancient, now);
	is_int(count_range(st, "x", ancient - 5 * 3600,
			   ancient - 5 * 3600 + 86400, now),
	       1, "a whole-day range is exact however old");
	is_int(count_range(st, "x", ancient - 3600, ancient + 3600, now), 0,
	       "a range without a day start misses a day-only event");

	/* A year of days plus edges: the decomposition adds up. */
	for (int d = 0; d < 365; d += 7)
		rec(st, "y", "views", 2, DAY0 - (uint32_t)d * 86400 + 60, now);
	is_int(count_range(st, "y", DAY0 - 364 * 86400, DAY0 + 86400, now), 53,
	       "a year-long range counts every day once");
	struct store_agg a;
	store_range(st, "y", 1, "views", 5, 0, UINT32_MAX, now, &a);
	is_int(a.sum, 106, "range sums values");
	store_close(st);
	rmrf(dir);
	free(dir);
}

static void test_retention(void)
{
	char *dir = fresh_dir();
	struct store *st = open_store(dir, 2);
	uint32_t now = DAY0 + 3600 + 30;
	struct store_agg a;
	struct store_stats ss;

	for (int i = 0; i < 10; i++)
		rec(st, "v", "views", 1, now + (uint32_t)i, now + 10);
	is_int(count_range(st, "v", now + 5, now + 10, now + 10), 5,
	       "fresh seconds answer a mid-minute range");
	/* An event of the next minute pushes that minute's seconds out of
	 * the series' head to the packs, where retention deletes them. */
	rec(st, "v", "views", 1, now + 40, now + 41);
	store_total(st, "v", 1, "views", 5, &a); /* applies the journal */
	uint32_t later = now + 2 * 3600;
	ok(store_expire(st, later) == 0, "a retention pass runs");
	store_get_stats(st, &ss);
	ok(ss.expired >= 10, "expired second buckets are counted (%llu)",
	   (unsigned long long)ss.expired);
	is_int(count_range(st, "v", now + 5, now + 10, later), 0,
	       "after retention the partial minute is not counted");
	is_int(count_range(st, "v", now - 30, now + 30, later), 10,
	       "the minute bucket still counts whole");
	store_total(st, "v", 1, "views", 5, &a);
	is_int(a.count, 11, "retention never touches totals");
	ok(store_check_ts(st, now - 10, now) == 0, "a recent @ts is allowed");
	ok(store_check_ts(st, now + 300, now) == 0,
	   "@ts 5 minutes ahead is ok");
	is_int(store_check_ts(st, now + 301, now), -ERANGE,
	       "@ts further ahead is refused");
	ok(store_check_ts(st, 0, now) == 0,
	   "with days kept forever any past @ts is allowed");
	store_close(st);
	rmrf(dir);
	free(dir);
}

static void test_dedup_overflow(void)
{
	char *dir = fresh_dir();
	struct store *st = open_store(dir, 1);
	uint32_t now = DAY0 + 100;
	struct store_event e[3] = {ev("v", "t", 1, now), ev("v", "t", 1, now),
				   ev("v", "t", 1, now)};
	struct store_agg a;
	size_t dd;

	e[0].id = "abc", e[0].id_len = 3;
	e[1].id = "abc", e[1].id_len = 3;
	e[2].id = "abd", e[2].id_len = 3;
	store_record(st, e, 3, now, &dd);
	is_int(dd, 1, "an id twice in one write is counted once");
	store_record(st, e, 1, now + 599, &dd);
	is_int(dd, 1, "an id within the window is not counted again");
	store_expire(st, now + 600);
	store_record(st, e, 1, now + 600, &dd);
	is_int(dd, 0, "after the window the id counts again");
	store_total(st, "v", 1, "t", 1, &a);
	is_int(a.count, 3, "dedup leaves exactly the distinct events");

	rec(st, "o", "t", INT64_MAX, now, now);
	is_int(rec(st, "o", "t", 1, now, now), -EOVERFLOW,
	       "a sum past 64 bits is refused");
	store_total(st, "o", 1, "t", 1, &a);
	is_int(a.count, 1, "a refused overflow records nothing");

	/* A new series made by a refused request is rolled back: the id it
	 * had must not stick to it (the next new series gets that id). */
	struct store_event two[2] = {ev("n1", "t", 1, now), ev("o", "t", 1, now)};
	is_int(store_record(st, two, 2, now, NULL), -EOVERFLOW,
	       "a request with an overflow is refused whole");
	rec(st, "n2", "t", 5, now, now);
	rec(st, "n1", "t", 7, now, now);
	store_total(st, "n1", 2, "t", 1, &a);
	is_int(a.sum, 7, "a series whose first request was refused counts alone");
	store_total(st, "n2", 2, "t", 1, &a);
	is_int(a.sum, 5, "the series made after it keeps its own id");
	store_close(st);
	rmrf(dir);
	free(dir);
}

static int count_name(void *arg, const char *name, size_t len)
{
	(void)name, (void)len;
	(*(int *)arg)++;
	return 0;
}

static void test_growth_and_lists(void)
{
	char *dir = fresh_dir();
	struct store_config cfg;
	struct store *st = NULL;
	struct store_stats ss;
	struct store_agg a;
	static char names[20000][12];
	static struct store_event evs[20000];
	uint32_t now = DAY0 + 10;

	store_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.shards = 2;
	cfg.map_size = 1 << 20;
	ok(store_open(&cfg, &st) == 0, "store opens with a 1 MiB map");
	for (int i = 0; i < 20000; i++) {
		snprintf(names[i], sizeof(names[i]), "vid%d", i);
		evs[i] = ev(names[i], "views", 1, now);
	}
	is_int(store_record(st, evs, 20000, now, NULL), 0,
	       "20000 new videos in one call fit after the map grows");
	store_get_stats(st, &ss);
	ok(ss.map_grows > 0, "the map grew (%llu times)",
	   (unsigned long long)ss.map_grows);
	store_total(st, "vid19999", 8, "views", 5, &a);
	is_int(a.count, 1, "the last video is there");

	rec(st, "vid1", "likes", 1, now, now);
	int n = 0;
	store_list_videos(st, count_name, &n);
	is_int(n, 20000, "every video is listed once");
	n = 0;
	store_list_types(st, "vid1", 4, count_name, &n);
	is_int(n, 2, "a video lists its types");
	store_close(st);
	rmrf(dir);
	free(dir);
}

struct hammer {
	struct store *st;
	int fails;
};

static void *hammer(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < 2000; i++)
		if (rec(h->st, "hot", "views", 1, DAY0, DAY0))
			h->fails++;
	return NULL;
}

static void test_concurrency(void)
{
	char *dir = fresh_dir();
	struct store *st = open_store(dir, 2);
	struct hammer h[8];
	pthread_t t[8];
	struct store_agg a;
	int fails = 0;

	for (int i = 0; i < 8; i++) {
		h[i] = (struct hammer){st, 0};
		pthread_create(&t[i], NULL, hammer, &h[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		fails += h[i].fails;
	}
	is_int(fails, 0, "8 concurrent writers never fail");
	store_total(st, "hot", 3, "views", 5, &a);
	is_int(a.count, 16000, "8 x 2000 concurrent events give 16000");
	store_close(st);
	rmrf(dir);
	free(dir);
}

/*
 * fdatasync as the store (and LMDB) sees it: the real one, after
 * sync_delay_us.  On tmpfs an fdatasync costs nothing, so a writer would
 * never find one running to share; with a disk's delay group commit can
 * be tested on any file system.
 */
static atomic_int sync_delay_us;

int fdatasync(int fd)
{
	int us = atomic_load(&sync_delay_us);

	if (us)
		usleep((useconds_t)us);
	return (int)syscall(SYS_fdatasync, fd);
}

struct syncer {
	struct store *st;
	int writes, fails;
};

static void *syncer(void *arg)
{
	struct syncer *s = arg;
	for (int i = 0; i < s->writes; i++)
		if (rec(s->st, "g", "views", 1, DAY0, DAY0))
			s->fails++;
	return NULL;
}

/* fsyncs of @st during @writers threads' @each writes. */
static uint64_t fsyncs_during(struct store *st, int writers, int each)
{
	struct syncer s[8];
	pthread_t t[8];
	struct store_stats before, after;
	int fails = 0;

	store_get_stats(st, &before);
	for (int i = 0; i < writers; i++) {
		s[i] = (struct syncer){st, each, 0};
		pthread_create(&t[i], NULL, syncer, &s[i]);
	}
	for (int i = 0; i < writers; i++) {
		pthread_join(t[i], NULL);
		fails += s[i].fails;
	}
	store_get_stats(st, &after);
	is_int(fails, 0, "%d writer(s) x %d writes, none fails", writers, each);
	return after.fsyncs - before.fsyncs;
}

/*
 * What group commit promises with sync=always: a write is answered only
 * after an fsync that covers it (a writer alone waits for one per write),
 * and writers waiting at once share one (fewer fsyncs than writes).
 */
static void test_group_commit(void)
{
	char *dir = fresh_dir();
	enum store_sync saved = sync_mode;
	struct store_agg a;

	sync_mode = STORE_SYNC_ALWAYS;
	struct store *st = open_store(dir, 1);
	atomic_store(&sync_delay_us, 2000);
	uint64_t alone = fsyncs_during(st, 1, 50);
	ok(alone >= 50, "alone, each of 50 writes waits for an fsync (%llu)",
	   (unsigned long long)alone);
	uint64_t shared = fsyncs_during(st, 8, 100);
	ok(shared >= 1 && shared * 2 <= 800,
	   "8 writers share fsyncs: %llu for 800 writes",
	   (unsigned long long)shared);
	atomic_store(&sync_delay_us, 0);
	store_total(st, "g", 1, "views", 5, &a);
	is_int(a.count, 850, "every write counted once");
	store_close(st);
	sync_mode = saved;
	rmrf(dir);
	free(dir);
}

static uint64_t pending_rows(struct store *st)
{
	struct store_stats ss;

	store_get_stats(st, &ss);
	return ss.pending;
}

/* Read and acknowledge batches of @max rows of replication shard @repl
 * until a cycle ends; the rows read go to @rows (up to @cap).  Returns how
 * many were read, or -1 when a call fails or a cycle never ends. */
static long drain(struct store *st, unsigned repl, size_t max,
		  struct store_row *rows, size_t cap)
{
	struct store_feed *f;
	struct store_row batch[64];
	size_t total = 0, n;
	bool end = false;

	store_flush(st); /* what the journals hold becomes pending */
	if (store_feed_open(st, repl, &f))
		return -1;
	for (int i = 0; i < 10000 && !end; i++) {
		if (store_feed_read(f, batch, max, &n, &end) ||
		    store_feed_ack(f, batch, n))
			break;
		for (size_t r = 0; r < n && total + r < cap; r++)
			rows[total + r] = batch[r];
		total += n;
	}
	store_feed_close(f);
	return end ? (long)total : -1;
}

static const struct store_row *find_row(const struct store_row *rows,
					size_t n, const char *video,
					bool total)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].video, video) == 0 && rows[i].total == total)
			return &rows[i];
	return NULL;
}

static void test_pending(void)
{
	char *dir = fresh_dir();
	struct store *st = open_repl(dir, 2, 2);
	static struct store_row rows[64];
	struct store_feed *f;
	uint32_t now = DAY0 + 600;
	size_t n;
	bool end;

	ok(st != NULL, "store opens with replication on");
	is_int(store_feed_open(st, 2, &f), -EINVAL,
	       "no feed for a replication shard beyond repl_shards");
	rec(st, "a", "views", 1, now, now);
	rec(st, "a", "views", 1, now + 1, now);
	rec(st, "b", "views", 5, now - 120, now);
	store_flush(st);
	is_int(pending_rows(st), 4, "one minute row and one total per series pend");

	/* The feed of a's replication shard: read, and an increment lands
	 * before the ack. */
	unsigned ra = store_hash_shard("a", 1, 2);
	bool same = store_hash_shard("b", 1, 2) == ra;
	ok(store_feed_open(st, ra, &f) == 0, "a feed opens");
	size_t got = 0;
	const struct store_row *ta = NULL;
	for (int i = 0; i < 8; i++) {
		ok(store_feed_read(f, rows + got, 64 - got, &n, &end) == 0,
		   "a read succeeds");
		if (n && find_row(rows + got, n, "a", true)) {
			ta = find_row(rows + got, n, "a", true);
			rec(st, "a", "views", 1, now + 2, now);
			store_flush(st);
		}
		ok(store_feed_ack(f, rows + got, n) == 0, "its ack succeeds");
		got += n;
		if (end)
			break;
	}
	ok(end, "the cycle ends");
	is_int(got, same ? 4 : 2,
	       "a video's rows pend for its replication shard only");
	ok(ta && ta->agg.count == 2 && ta->agg.sum == 2,
	   "the pending total of a carries its absolute aggregate");
	const struct store_row *ma = find_row(rows, got, "a", false);
	ok(ma && ma->minute == now - now % 60 && ma->agg.count == 2,
	   "a's minute row names its minute and carries its count");
	is_int(pending_rows(st), same ? 2 : 4,
	       "rows changed between read and ack stay pending");

	/* The next cycle reads them again, now with the increment. */
	ok(store_feed_read(f, rows, 64, &n, &end) == 0, "a new cycle reads");
	ta = find_row(rows, n, "a", true);
	ok(ta && ta->agg.count == 3, "the changed total is read again, new");
	ok(store_feed_ack(f, rows, n) == 0, "and acknowledged");
	store_feed_close(f);
	ok(drain(st, ra, 64, rows, 64) == 0, "nothing is left for a's shard");
	ok(drain(st, !ra, 64, rows, 64) == (same ? 0 : 2),
	   "the other shard's feed has b's rows");
	is_int(pending_rows(st), 0, "acknowledged rows are gone");
	store_close(st);

	st = open_repl(dir, 2, 3);
	ok(st != NULL, "reopen with 3 replication shards");
	is_int(pending_rows(st), 4, "a new shard count marks every row again");
	store_close(st);
	st = open_repl(dir, 2, 0);
	ok(st != NULL, "reopen without replication");
	is_int(pending_rows(st), 0, "without replication nothing is tracked");
	is_int(store_feed_open(st, 0, &f), -EINVAL,
	       "and no feed opens");
	store_close(st);
	rmrf(dir);
	free(dir);
}

/* Batches come from the store's shards in turn, each resuming after its
 * last acknowledged row: every row once per cycle, none starved. */
static void test_feed_turns(void)
{
	enum { SHARDS = 4, VIDEOS = 40, MAX = 3 };
	char *dir = fresh_dir();
	struct store *st = open_repl(dir, SHARDS, 1);
	struct store_row rows[MAX], again[MAX];
	struct store_feed *f;
	uint32_t now = DAY0 + 1200;
	int left[SHARDS] = {0}, seen[VIDEOS][2] = {{0}};
	size_t n, n2;
	bool end = false, end2, turns_ok = true, one_shard = true;
	int last = -1, batches = 0;

	for (int v = 0; v < VIDEOS; v++) {
		char name[8];
		snprintf(name, sizeof(name), "t%d", v);
		rec(st, name, "views", 1, now, now);
		left[store_shard_of(st, name, strlen(name))] += 2;
	}
	store_flush(st);
	ok(store_feed_open(st, 0, &f) == 0, "a feed opens");

	/* A read not acknowledged is read again. */
	ok(store_feed_read(f, rows, MAX, &n, &end) == 0 && n == MAX,
	   "a first batch is read");
	ok(store_feed_read(f, again, MAX, &n2, &end2) == 0 && n2 == n,
	   "a second read without an ack");
	bool same = true;
	for (size_t i = 0; i < n; i++)
		same = same && strcmp(rows[i].video, again[i].video) == 0 &&
		       rows[i].total == again[i].total;
	ok(same, "reads the same rows again");
	is_int(store_feed_ack(f, rows, n), -EINVAL,
	       "rows of an earlier read are refused");
	is_int(store_feed_ack(f, again, n - 1), -EINVAL,
	       "so is a part of the last read");
	is_int(pending_rows(st), 2 * VIDEOS, "and nothing was unmarked");
	memcpy(rows, again, sizeof(rows));

	for (;;) {
		int s = store_shard_of(st, rows[0].video,
				       strlen(rows[0].video));
		for (size_t i = 1; i < n; i++)
			one_shard = one_shard &&
				    (int)store_shard_of(st, rows[i].video,
							strlen(rows[i].video)) == s;
		/* The shard after the last one that still has rows. */
		if (last >= 0) {
			int want = last;
			do
				want = (want + 1) % SHARDS;
			while (left[want] == 0 && want != last);
			turns_ok = turns_ok && s == want;
		}
		for (size_t i = 0; i < n; i++) {
			int v = atoi(rows[i].video + 1);
			seen[v][rows[i].total]++;
		}
		left[s] -= (int)n;
		last = s;
		batches++;
		bool sum_left = false;
		for (int i = 0; i < SHARDS; i++)
			sum_left = sum_left || left[i] > 0;
		if (end) {
			ok(!sum_left, "the cycle ends after the last row");
			break;
		}
		if (store_feed_ack(f, rows, n) ||
		    store_feed_read(f, rows, MAX, &n, &end) || n == 0 ||
		    batches > 2 * VIDEOS) {
			ok(false, "reads and acks go on until the cycle ends");
			break;
		}
	}
	ok(store_feed_ack(f, rows, n) == 0, "the last batch is acknowledged");
	ok(one_shard, "each batch comes from one shard of the store");
	ok(turns_ok, "the shards take turns, %d batches", batches);
	bool once = true;
	for (int v = 0; v < VIDEOS; v++)
		once = once && seen[v][0] == 1 && seen[v][1] == 1;
	ok(once, "every row was read once in the cycle");
	is_int(pending_rows(st), 0, "and unmarked by its ack");
	ok(store_feed_read(f, rows, MAX, &n, &end) == 0 && n == 0 && end,
	   "with nothing pending, a read ends a cycle at once");
	rec(st, "t7", "views", 1, now, now);
	store_flush(st);
	ok(store_feed_read(f, rows, MAX, &n, &end) == 0 && n == 2,
	   "a change is read by the next cycle");
	ok(rows[0].agg.count == 2 && rows[1].agg.count == 2,
	   "with its absolute count");
	ok(store_feed_ack(f, rows, n) == 0 &&
	   store_feed_read(f, rows, MAX, &n, &end) == 0 && n == 0 && end,
	   "then the cycle ends");
	store_feed_close(f);
	store_close(st);
	rmrf(dir);
	free(dir);
}

/* A row whose bucket retention removed reads count 0 and its ack unmarks
 * it: nothing to push, nothing left pending. */
static void test_feed_expired(void)
{
	char *dir = fresh_dir();
	struct store *st = open_repl(dir, 1, 1);
	struct store_row rows[8];
	struct store_agg a;
	uint32_t t = DAY0 + 60;
	long n;

	rec(st, "x", "views", 1, t, t);
	/* A later hour's minute pushes the first one's pack out of the
	 * head, into the packs that retention deletes. */
	rec(st, "x", "views", 1, t + 2 * 3600, t + 2 * 3600);
	store_total(st, "x", 1, "views", 5, &a); /* applies the journal */
	ok(store_expire(st, t + 8 * 86400) == 0, "a retention pass runs");
	n = drain(st, 0, 8, rows, 8);
	is_int(n, 3, "both minutes and the total were pending");
	bool zero = false;
	for (long i = 0; i < n; i++)
		if (!rows[i].total && rows[i].minute == t)
			zero = rows[i].agg.count == 0;
	ok(zero, "the expired minute reads count 0");
	is_int(pending_rows(st), 0, "and is unmarked by its ack");
	store_close(st);
	rmrf(dir);
	free(dir);
}

static int64_t total_count(struct store *st, const char *video)
{
	struct store_agg a;
	if (store_total(st, video, strlen(video), "views", 5, &a))
		return -1;
	return a.count;
}

/* In a child: open @dir, record @n events over ten videos (reading one
 * total, which applies the journal, after @read_after of them), then die
 * without closing, as a killed daemon would. */
static void die_after(const char *dir, int n, int read_after, uint32_t now)
{
	fflush(stdout); /* TSan's _exit flushes the child's copy of it */
	pid_t pid = fork();
	if (pid == 0) {
		struct store *st = open_store(dir, 2);
		if (!st)
			_exit(1);
		for (int i = 0; i < n; i++) {
			char v[8];
			snprintf(v, sizeof(v), "j%d", i % 10);
			if (rec(st, v, "views", 1, now, now))
				_exit(1);
			if (i + 1 == read_after)
				total_count(st, "j0");
		}
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0,
	       "the child recorded its events");
}

static int64_t all_counts(struct store *st)
{
	int64_t sum = 0;
	for (int i = 0; i < 10; i++) {
		char v[8];
		snprintf(v, sizeof(v), "j%d", i);
		sum += total_count(st, v);
	}
	return sum;
}

static void test_journal(void)
{
	char *dir = fresh_dir();
	uint32_t now = DAY0 + 5000;
	char path[512];

	die_after(dir, 1000, 0, now);
	struct store *st = open_store(dir, 2);
	is_int(all_counts(st), 1000,
	       "a killed process's journal is applied at open, once");
	store_close(st);

	/* Applied (by the read) but the files not yet emptied when it
	 * died: the applied records must not count twice. */
	die_after(dir, 800, 500, now);
	st = open_store(dir, 2);
	is_int(all_counts(st), 1800, "applied records are not applied again");
	store_close(st);

	snprintf(path, sizeof(path), "%s/shard-0/journal-0", dir);
	FILE *f = fopen(path, "r");
	fseek(f, 0, SEEK_END);
	is_int(ftell(f), 0, "a clean close leaves the journal empty");
	fclose(f);

	/* A torn record at the end (power loss) is ignored: a length of 48
	 * bytes, and only 15 of them. */
	static const char torn[] = "\x30\0\0\0torn record";
	f = fopen(path, "a");
	is_int(fwrite(torn, 1, sizeof(torn) - 1, f), 15,
	       "a torn record is appended");
	fclose(f);
	struct stat sb;
	is_int(stat(path, &sb) ? -1 : sb.st_size, 15, "the journal holds it");
	st = open_store(dir, 2);
	ok(st != NULL, "a journal with a torn tail opens");
	is_int(all_counts(st), 1800, "the torn tail adds nothing");

	/* Writes with an #id or a huge value go the direct way, in order
	 * with what the journal holds. */
	struct store_event e = ev("j1", "views", INT64_C(1) << 40, now);
	is_int(store_record(st, &e, 1, now, NULL), 0, "a huge value records");
	rec(st, "j1", "views", 1, now, now);
	struct store_agg a;
	store_total(st, "j1", 2, "views", 5, &a);
	is_int(a.sum, 180 + (INT64_C(1) << 40) + 1, "both paths add up");
	store_close(st);
	rmrf(dir);
	free(dir);
}

static int count_video(void *arg, const char *name, size_t len)
{
	(void)name;
	(void)len;
	(*(long *)arg)++;
	return 0;
}

/* A journal batch larger than one transaction's fold is applied in
 * several, each noting its last record; a replay after a kill too. */
static void test_journal_chunks(void)
{
	char *dir = fresh_dir();
	uint32_t now = DAY0 + 5000;
	static char names[40000][8];
	static struct store_event e[1000];

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct store *st = open_store(dir, 1);
		for (int r = 0; st && r < 40; r++) {
			for (int i = 0; i < 1000; i++) {
				int k = r * 1000 + i;
				snprintf(names[k], sizeof(names[k]), "c%d", k);
				e[i] = ev(names[k], "views", k, now);
			}
			if (store_record(st, e, 1000, now, NULL))
				_exit(1);
		}
		_exit(st ? 0 : 1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0,
	       "40 writes of 1,000 new videos each");
	struct store *st = open_store(dir, 1);
	long videos = 0;
	store_list_videos(st, count_video, &videos);
	is_int(videos, 40000, "all 40,000 videos are there after the replay");
	struct store_agg a;
	store_total(st, "c39999", 6, "views", 5, &a);
	is_int(a.sum, 39999, "the last one with its value");
	store_close(st);
	rmrf(dir);
	free(dir);
}

/* /stats reads the shards' LMDB figures while writers grow the maps: an
 * unlocked read of a map being remapped crashed. */
struct stats_spin {
	struct store *st;
	_Atomic int stop;
	_Atomic unsigned long reads;
};

static void *stats_spin(void *arg)
{
	struct stats_spin *s = arg;
	struct store_stats ss;

	while (!s->stop) {
		store_get_stats(s->st, &ss);
		s->reads++;
	}
	return NULL;
}

static void test_stats_during_growth(void)
{
	static char names[4000][12];
	static struct store_event evs[4000];
	uint32_t now = DAY0 + 10;
	uint64_t grows = 0;
	int fails = 0;

	for (int i = 0; i < 4000; i++) {
		snprintf(names[i], sizeof(names[i]), "g%d", i);
		evs[i] = ev(names[i], "views", 1, now);
	}
	/* One write of 4000 events wants a map of 64 times its journal
	 * record: from 64 KiB, seven grows in a row.  The crash is a matter
	 * of timing, so 16 rounds; TSan cannot see into LMDB anyway, and is
	 * slow: 4 there. */
#ifdef __SANITIZE_THREAD__
	const int rounds = 4;
#else
	const int rounds = 16;
#endif
	for (int round = 0; round < rounds; round++) {
		char *dir = fresh_dir();
		struct store_config cfg;
		struct stats_spin spin = {0};
		struct store_stats ss;
		pthread_t t;

		store_config_defaults(&cfg);
		cfg.dir = dir;
		cfg.shards = 1;
		cfg.map_size = 64 << 10;
		if (store_open(&cfg, &spin.st)) {
			fails++;
			continue;
		}
		pthread_create(&t, NULL, stats_spin, &spin);
		while (spin.reads == 0)
			sched_yield();
		fails += store_record(spin.st, evs, 4000, now, NULL) != 0;
		store_flush(spin.st);
		spin.stop = 1;
		pthread_join(t, NULL);
		store_get_stats(spin.st, &ss);
		grows += ss.map_grows;
		store_close(spin.st);
		rmrf(dir);
		free(dir);
	}
	is_int(fails, 0, "writers that grow the map never fail");
	ok(grows >= (uint64_t)rounds, "/stats read while the maps grew %llu times",
	   (unsigned long long)grows);
}

/* Append a record numbered @seq of @n events to @b at @off; its end.
 * With @mult, each event stands for mult[i] events (JREC_MULT); without,
 * the record is as countfs 0.6.0 wrote it. */
static size_t put_rec_n(unsigned char *b, size_t off, uint64_t seq, uint32_t n,
			const char *video, const uint64_t *mult)
{
	struct jrec_head h = {0, 0, seq, DAY0, n | (mult ? JREC_MULT : 0)};
	size_t p = off + sizeof(h);

	for (uint32_t i = 0; i < n; i++) {
		struct jrec_event e = {1, DAY0, (uint8_t)strlen(video), 5};
		memcpy(b + p, &e, sizeof(e));
		p += sizeof(e);
		if (mult) {
			uint32_t more = (uint32_t)(mult[i] - 1);
			memcpy(b + p, &more, sizeof(more));
			p += sizeof(more);
		}
		memcpy(b + p, video, e.vlen);
		memcpy(b + p + e.vlen, "views", 5);
		p += e.vlen + 5;
	}
	h.len = (uint32_t)(p - off);
	memcpy(b + off, &h, sizeof(h));
	h.check = jrec_check(b + off + JREC_CHECKED_FROM,
			     h.len - JREC_CHECKED_FROM);
	memcpy(b + off, &h, sizeof(h));
	return p;
}

static size_t put_rec(unsigned char *b, size_t off, uint64_t seq, uint32_t n,
		      const char *video)
{
	return put_rec_n(b, off, seq, n, video, NULL);
}

/* The pure judge of journal bytes: a torn tail against damage. */
static void test_jscan(void)
{
	static unsigned char b[4096], c[4096];
	size_t at[6], len = 0;
	struct jscan js;

	for (int r = 0; r < 5; r++) {
		at[r] = len;
		len = put_rec(b, len, 11 + r, 1 + r, r % 2 ? "vid" : "video");
	}
	at[5] = len;
	journal_scan(b, len, &js);
	ok(js.status == JSCAN_OK && js.good == len && js.records == 5 &&
	       js.events == 15 && js.first_seq == 11 && js.last_seq == 15,
	   "five whole records read OK");
	journal_scan(b, len - 7, &js);
	ok(js.status == JSCAN_TORN && js.good == at[4] && js.records == 4,
	   "a last record cut short is a torn tail (%s)", js.why);
	journal_scan(b, at[4] + 10, &js);
	ok(js.status == JSCAN_TORN && js.good == at[4],
	   "a last header cut short is a torn tail");
	memcpy(c, b, len);
	memset(c + len, 0, 100);
	journal_scan(c, len + 100, &js);
	ok(js.status == JSCAN_TORN && js.good == len,
	   "zero bytes after the last record are a torn tail");

	memcpy(c, b, len);
	c[at[1] + 30] ^= 0x10;
	journal_scan(c, len, &js);
	ok(js.status == JSCAN_CORRUPT && js.good == at[1] && js.records == 1,
	   "a flipped byte mid-file is damage at its record (%s)", js.why);
	memcpy(c, b, len);
	c[at[4] + 30] ^= 0x10;
	journal_scan(c, len, &js);
	ok(js.status == JSCAN_CORRUPT && js.good == at[4],
	   "a flipped byte in a whole last record is damage, not a tear");
	memcpy(c, b, len);
	c[at[2] + 1] ^= 0x04; /* its length now runs past the end */
	journal_scan(c, len, &js);
	ok(js.status == JSCAN_CORRUPT && js.good == at[2],
	   "a length flipped to overrun the file, with records after it, "
	   "is damage (%s)",
	   js.why);
	memcpy(c, b, len);
	c[at[2]] ^= 0x01;
	journal_scan(c, len, &js);
	ok(js.status == JSCAN_CORRUPT && js.good == at[2],
	   "a length flipped shorter is damage");
	memcpy(c, b, at[3]);
	size_t l2 = put_rec(c, at[3], 12, 1, "video");
	journal_scan(c, l2, &js);
	ok(js.status == JSCAN_CORRUPT && js.good == at[3],
	   "a number below the one before is damage");
	journal_scan(b, 0, &js);
	ok(js.status == JSCAN_OK && js.records == 0, "an empty file is OK");

	/* Numbers grow across restarts: damage in a file's first record
	 * must not hide the whole records after it from a resync. */
	size_t at1 = put_rec(c, 0, 5000000, 3, "video");
	size_t end1 = put_rec(c, at1, 5000001, 3, "video");
	end1 = put_rec(c, end1, 5000002, 3, "video");
	c[10] ^= 0x40;
	journal_scan(c, end1, &js);
	ok(js.status == JSCAN_CORRUPT && js.good == 0,
	   "damage in the first record of a file of high numbers");
	is_int(journal_resync(c, end1, 0, 4999999), at1,
	       "a resync above what LMDB applied finds the next record");
	is_int(journal_resync(c, end1, 0, 0), at1,
	       "and so does one that knows no number");
}

static int open_cfg(const char *dir, unsigned shards, const char *recover,
		    struct store **st)
{
	struct store_config cfg;

	store_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.shards = shards;
	cfg.retain_interval = 3600;
	cfg.recover = recover;
	*st = NULL;
	return store_open(&cfg, st);
}

static size_t slurp(const char *path, unsigned char **out)
{
	FILE *f = fopen(path, "rb");
	size_t n = 0, cap = 1 << 16;
	unsigned char *b = malloc(cap);

	while (f && b) {
		if (n == cap && !(b = realloc(b, cap *= 2)))
			break;
		size_t r = fread(b + n, 1, cap - n, f);
		if (r == 0)
			break;
		n += r;
	}
	if (f)
		fclose(f);
	*out = b;
	return n;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		if (n)
			fwrite(b, 1, n, f);
		fclose(f);
	}
}

/* A digest of every file a store keeps (journals and data.mdb). */
static uint64_t digest(const char *dir, unsigned shards)
{
	static const char *const names[] = {"data.mdb", "journal-0",
					    "journal-1"};
	uint64_t h = 0;

	for (unsigned k = 0; k < shards; k++)
		for (int i = 0; i < 3; i++) {
			char path[512];
			unsigned char *b;
			snprintf(path, sizeof(path), "%s/shard-%u/%s", dir, k,
				 names[i]);
			size_t n = slurp(path, &b);
			struct stat sb;
			h = h * 31 + (stat(path, &sb) ? 7 : n + 1);
			h = h * 31 + jrec_check(b, n);
			free(b);
		}
	return h;
}

/* A directory whose shard-0/journal-0 holds what a killed writer left. */
static char *damaged_dir(size_t *jlen)
{
	char *dir = fresh_dir(), path[512];
	unsigned char *b;

	die_after(dir, 1000, 0, DAY0 + 5000);
	snprintf(path, sizeof(path), "%s/shard-0/journal-0", dir);
	*jlen = slurp(path, &b);
	free(b);
	return dir;
}

/* Damage other than a torn tail: refused, nothing changed; recover
 * keeps a copy and starts. */
static __attribute__((unused)) void test_damage(void)
{
	char path[512], keep[600];
	unsigned char *b, *k;
	struct store *st;
	size_t len;

	char *dir = damaged_dir(&len);
	ok(len > 1000, "the killed writer left %zu bytes of journal", len);
	snprintf(path, sizeof(path), "%s/shard-0/journal-0", dir);
	slurp(path, &b);
	b[len / 2] ^= 0x20;
	spit(path, b, len);
	uint64_t before = digest(dir, 2);
	is_int(open_cfg(dir, 2, NULL, &st), -EUCLEAN,
	       "a flipped byte mid-journal is refused");
	store_close(st);
	ok(digest(dir, 2) == before, "and nothing was changed");
	snprintf(keep, sizeof(keep), "%s/kept", dir);
	is_int(open_cfg(dir, 2, keep, &st), 0, "recover starts it");
	int64_t n = all_counts(st);
	ok(n >= 999 && n <= 1000,
	   "with all but the damaged record (%lld of 1000)", (long long)n);
	store_close(st);
	snprintf(keep, sizeof(keep), "%s/kept/shard-0/journal-0", dir);
	size_t klen = slurp(keep, &k);
	ok(klen == len && memcmp(k, b, len) == 0,
	   "a copy of the damaged journal is kept");
	free(k);
	free(b);
	is_int(open_cfg(dir, 2, NULL, &st), 0, "then it opens as usual");
	store_close(st);
	rmrf(dir);
	free(dir);

	dir = damaged_dir(&len);
	snprintf(path, sizeof(path), "%s/shard-1/data.mdb", dir);
	ok(truncate(path, 0) == 0, "data.mdb emptied");
	before = digest(dir, 2);
	is_int(open_cfg(dir, 2, NULL, &st), -EUCLEAN,
	       "a zero-length data.mdb is refused");
	store_close(st);
	ok(digest(dir, 2) == before, "and nothing was changed");
	snprintf(keep, sizeof(keep), "%s/kept", dir);
	is_int(open_cfg(dir, 2, keep, &st), 0, "recover starts it");
	store_close(st);
	snprintf(keep, sizeof(keep), "%s/kept/shard-1/data.mdb", dir);
	struct stat sb;
	ok(stat(keep, &sb) == 0 && sb.st_size == 0,
	   "the damaged data.mdb is kept");
	rmrf(dir);
	free(dir);

	dir = damaged_dir(&len);
	snprintf(path, sizeof(path), "%s/shard-1", dir);
	snprintf(keep, sizeof(keep), "%s/gone", dir);
	ok(rename(path, keep) == 0, "shard-1 taken away");
	is_int(open_cfg(dir, 2, NULL, &st), -EUCLEAN,
	       "a missing shard directory is refused");
	store_close(st);
	ok(access(path, F_OK) != 0, "and not made again");
	rmrf(dir);
	free(dir);
}

/* Both journal files holding records is what a crash leaves while one is
 * being emptied: it opens.  The older one cut short is damage. */
static __attribute__((unused)) void test_two_files(void)
{
	char j0[512], j1[512];
	unsigned char *b;
	struct store *st;
	size_t len, half = 0;

	char *dir = damaged_dir(&len);
	snprintf(j0, sizeof(j0), "%s/shard-0/journal-0", dir);
	snprintf(j1, sizeof(j1), "%s/shard-0/journal-1", dir);
	slurp(j0, &b);
	while (half < len / 2) {
		struct jrec_head h;
		memcpy(&h, b + half, sizeof(h));
		half += h.len;
	}
	spit(j1, b, half);
	spit(j0, b + half, len - half);
	is_int(open_cfg(dir, 2, NULL, &st), 0,
	       "records split over both files open");
	is_int(all_counts(st), 1000, "and all count");
	store_close(st);
	rmrf(dir);
	free(dir);

	dir = damaged_dir(&len);
	snprintf(j0, sizeof(j0), "%s/shard-0/journal-0", dir);
	snprintf(j1, sizeof(j1), "%s/shard-0/journal-1", dir);
	spit(j1, b, half - 5);
	spit(j0, b + half, len - half);
	is_int(open_cfg(dir, 2, NULL, &st), -EUCLEAN,
	       "the older file cut short while the newer holds records is "
	       "refused");
	store_close(st);
	rmrf(dir);
	free(dir);

	/* The newer file starting again with records the older holds: they
	 * would count twice. */
	dir = damaged_dir(&len);
	snprintf(j0, sizeof(j0), "%s/shard-0/journal-0", dir);
	snprintf(j1, sizeof(j1), "%s/shard-0/journal-1", dir);
	struct jrec_head h;
	memcpy(&h, b, sizeof(h));
	spit(j1, b, half);
	spit(j0, b + half - h.len, len - half + h.len);
	is_int(open_cfg(dir, 2, NULL, &st), -EUCLEAN,
	       "a record in both files is refused");
	store_close(st);
	char keep[600];
	snprintf(keep, sizeof(keep), "%s/kept", dir);
	is_int(open_cfg(dir, 2, keep, &st), 0, "recover starts it");
	is_int(all_counts(st), 1000, "counting each record once");
	store_close(st);
	free(b);
	rmrf(dir);
	free(dir);
}

/* Room in the map follows what an apply can create, not journal bytes. */
static void test_room(void)
{
	char *dir = fresh_dir();
	struct store *st;
	struct store_stats ss;
	static struct store_event e[100000];
	uint32_t now = DAY0 + 5000;

	is_int(open_cfg(dir, 1, NULL, &st), 0, "a store with a 64 MiB map");
	for (int i = 0; i < 100000; i++)
		e[i] = ev("empty", "views", 1, now);
	is_int(store_record(st, e, 100000, now, NULL), 0,
	       "100,000 empty lines to one file in one write");
	store_get_stats(st, &ss);
	is_int(ss.map_bytes, 64 << 20, "the map did not grow for them");
	is_int(total_count(st, "empty"), 100000, "all counted");
	store_close(st);
	rmrf(dir);
	free(dir);
}

/* A first start cut short while making the directory is made again; a
 * copy of another shard's data.mdb is refused, nothing changed. */
static void test_making(void)
{
	char path[600], cmd[1300];
	struct store *st;
	char *dir = fresh_dir();

	/* What a kill during the first start can leave: the mark, a
	 * shard directory with an empty data.mdb, no identity. */
	snprintf(path, sizeof(path), "%s/creating", dir);
	spit(path, (const unsigned char *)"", 0);
	snprintf(path, sizeof(path), "%s/shard-0", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/shard-0/data.mdb", dir);
	spit(path, (const unsigned char *)"", 0);
	is_int(open_cfg(dir, 2, NULL, &st), 0,
	       "a directory whose making was cut short is made again");
	snprintf(path, sizeof(path), "%s/creating", dir);
	ok(access(path, F_OK) != 0, "and the mark is gone once it is made");
	snprintf(path, sizeof(path), "%s/identity", dir);
	ok(access(path, F_OK) == 0, "with its identity");
	rec(st, "a", "views", 1, DAY0 + 10, DAY0 + 10);
	rec(st, "b", "views", 1, DAY0 + 10, DAY0 + 10);
	store_close(st);

	/* Without the mark a missing shard is damage, as before. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/shard-1'", dir);
	ok(system(cmd) == 0, "shard-1 removed");
	is_int(open_cfg(dir, 2, NULL, &st), -EUCLEAN,
	       "a made directory missing a shard is refused");

	/* shard-1 as a copy of shard-0: refused before anything changes. */
	snprintf(cmd, sizeof(cmd), "cp -a '%s/shard-0' '%s/shard-1'", dir, dir);
	ok(system(cmd) == 0, "shard-0 copied as shard-1");
	uint64_t before = digest(dir, 2);
	is_int(open_cfg(dir, 2, NULL, &st), -EUCLEAN,
	       "a shard holding another shard's data.mdb is refused");
	ok(digest(dir, 2) == before, "and nothing in it changed");
	rmrf(dir);
	free(dir);
}

/* ---- *n: one entry for n events of one value ---------------------------- */

static struct store_event evn(const char *video, int64_t value, uint64_t n,
			      uint32_t ts)
{
	struct store_event e = ev(video, "views", value, ts);
	e.n = n;
	return e;
}

static struct store_agg total_of(struct store *st, const char *video)
{
	struct store_agg a = {-1, -1, -1, -1};
	store_total(st, video, strlen(video), "views", 5, &a);
	return a;
}

/* The edges: n of 0 and past 2^32, n * value at the limits of 64 bits,
 * an #id, on the journal's path and the direct one. */
static void test_precount_edges(void)
{
	char *dir = fresh_dir();
	struct store *st = open_store(dir, 2);
	uint32_t now = DAY0 + 100;
	const uint64_t n32 = STORE_N_MAX;
	struct store_event e;
	struct store_agg a;
	size_t dd = 7;

	e = evn("z", 5, 0, now);
	is_int(store_record(st, &e, 1, now, &dd), -EINVAL, "n of 0 is EINVAL");
	e = evn("z", 5, n32 + 1, now);
	is_int(store_record(st, &e, 1, now, NULL), -EINVAL,
	       "n past 2^32 is EINVAL");
	struct store_event two[2] = {evn("z2", 5, 3, now), evn("z", 5, 0, now)};
	is_int(store_record(st, two, 2, now, NULL), -EINVAL,
	       "one bad n refuses the whole write");
	a = total_of(st, "z2");
	is_int(a.count, 0, "and records nothing");

	/* Before any sum passed 2^62: the journal takes writes (a value
	 * of at most 2^32 alone would), so this one must go direct to be
	 * refused at all. */
	e = evn("over", INT64_C(1) << 31, n32, now);
	is_int(store_record(st, &e, 1, now, NULL), -EOVERFLOW,
	       "2^31 *2^32 overflows");
	a = total_of(st, "over");
	is_int(a.count, 0, "and records nothing");

	e = evn("one", 1, n32, now);
	is_int(store_record(st, &e, 1, now, NULL), 0, "1 *2^32 (the journal)");
	a = total_of(st, "one");
	ok(a.count == (int64_t)n32 && a.sum == (int64_t)n32 && a.min == 1 &&
	       a.max == 1,
	   "count and sum 2^32");

	e = evn("max", INT32_MAX, n32, now);
	is_int(store_record(st, &e, 1, now, NULL), 0,
	       "(2^31 - 1) *2^32 (the direct path)");
	a = total_of(st, "max");
	ok(a.count == (int64_t)n32 && a.sum == INT64_MAX - UINT32_MAX &&
	       a.min == INT32_MAX && a.max == INT32_MAX,
	   "sum exact: 2^63 - 2^32 (%lld)", (long long)a.sum);
	e = evn("min", INT32_MIN, n32, now);
	is_int(store_record(st, &e, 1, now, NULL), 0, "-2^31 *2^32");
	a = total_of(st, "min");
	ok(a.count == (int64_t)n32 && a.sum == INT64_MIN, "sum exact: -2^63");
	e = evn("max", 1, 1, now);
	is_int(store_record(st, &e, 1, now, NULL), 0, "a later +1 fits");
	e = evn("max", INT32_MAX, 4, now);
	is_int(store_record(st, &e, 1, now, NULL), -EOVERFLOW,
	       "a sum that n * value pushes past 2^63 overflows");
	a = total_of(st, "max");
	ok(a.count == (int64_t)n32 + 1 && a.sum == INT64_MAX - UINT32_MAX + 1,
	   "and records nothing");
	e = evn("neg", -1, n32, now);
	is_int(store_record(st, &e, 1, now, NULL), 0, "-1 *2^32 (the journal)");
	a = total_of(st, "neg");
	ok(a.count == (int64_t)n32 && a.sum == -(int64_t)n32, "sum -2^32");

	/* A bad entry after good ones, in one shard's request of the
	 * journal's path: nothing of the request. */
	struct store_event mix[3] = {evn("m", 2, 10, now), evn("m", 3, 5, now),
				     evn("m", INT64_MAX, 2, now)};
	is_int(store_record(st, mix, 3, now, NULL), -EOVERFLOW,
	       "INT64_MAX *2 in a request refuses it whole");
	a = total_of(st, "m");
	is_int(a.count, 0, "nothing of it recorded");
	is_int(store_record(st, mix, 2, now, NULL), 0, "the good part records");
	a = total_of(st, "m");
	ok(a.count == 15 && a.sum == 35 && a.min == 2 && a.max == 3,
	   "count 15, sum 35, min 2, max 3");

	/* #id: the entry is one, counted whole or not at all. */
	e = evn("d", 4, 1000, now);
	e.id = "req-1", e.id_len = 5;
	is_int(store_record(st, &e, 1, now, &dd), 0, "*1000 #req-1");
	is_int(dd, 0, "counted");
	is_int(store_record(st, &e, 1, now + 1, &dd), 0, "again");
	is_int(dd, 1000, "deduplicated: all of its 1000 events");
	e.n = 7;
	is_int(store_record(st, &e, 1, now + 2, &dd), 0,
	       "the id again with another n");
	is_int(dd, 7, "is a repeat too");
	a = total_of(st, "d");
	ok(a.count == 1000 && a.sum == 4000, "count 1000, sum 4000");

	/* Over two shards (all or nothing): the repeats count their n. */
	char other[16] = "d";
	for (int i = 0; store_shard_of(st, other, strlen(other)) ==
			store_shard_of(st, "d", 1);
	     i++)
		snprintf(other, sizeof(other), "o%d", i);
	struct store_event pair[2] = {evn("d", 4, 30, now + 3),
				      evn(other, 2, 40, now + 3)};
	pair[0].id = pair[1].id = "req-1";
	pair[0].id_len = pair[1].id_len = 5;
	is_int(store_record(st, pair, 2, now + 3, &dd), 0,
	       "a write over two shards, a seen id and a new one");
	is_int(dd, 30, "deduplicated: the 30 of the seen one");
	a = total_of(st, other);
	ok(a.count == 40 && a.sum == 80, "the other counts 40");

	struct store_stats ss;
	store_get_stats(st, &ss);
	is_int(ss.deduplicated, 1037, "/stats counts the events deduplicated");
	store_close(st);
	rmrf(dir);
	free(dir);
}

/* A store that keeps every level for ever: the background thread's
 * retention pass (at wall-clock time, days after DAY0) changes nothing,
 * so two stores compare at any time. */
static struct store *open_forever(const char *dir, unsigned shards)
{
	struct store_config cfg;
	struct store *st = NULL;

	store_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.shards = shards;
	for (int l = 0; l < STORE_LEVELS; l++)
		cfg.keep[l] = 0;
	return store_open(&cfg, &st) ? NULL : st;
}

struct pc_series {
	const char *video, *type;
};

static const struct pc_series pc_ser[] = {
    {"a", "views"}, {"a", "likes"}, {"b", "views"}, {"c", "watch_ms"}};

static int64_t pc_value(void)
{
	switch (rnd() % 8) {
	case 0:
		return 1;
	case 1:
		return 0;
	case 2:
		return between(-5, 5);
	case 3:
		return (int64_t)(INT64_C(1) << 40) + between(-9, 9); /* direct */
	default:
		return between(-100000, 100000);
	}
}

/*
 * The property: random entries of *n recorded into one store equal, at
 * every total and in random ranges, the same events recorded one by one
 * into another.  Writes of several entries at once, several series and
 * seconds in a write, values that go through the journal and values that
 * go direct.
 */
static void test_precount_model(void)
{
	static struct store_event a[64], b[64 * 48];
	const char *seed = getenv("COUNTFS_SEED");
	char *da = fresh_dir(), *db = fresh_dir();
	struct store *sa = open_forever(da, 3), *sb = open_forever(db, 2);
	uint32_t now = DAY0 + 7200;
	int bad = 0, writes = 0;

	rng_state = seed ? strtoull(seed, NULL, 10) + 99 : 99;
	for (int w = 0; w < 400; w++) {
		size_t na = (size_t)between(1, 64), nb = 0;
		for (size_t i = 0; i < na; i++) {
			const struct pc_series *s = &pc_ser[rnd() % 4];
			uint32_t ts = now - (uint32_t)between(0, 7000);
			a[i] = ev(s->video, s->type, pc_value(), ts);
			a[i].n = (uint64_t)between(1, 48);
			for (uint64_t k = 0; k < a[i].n; k++) {
				b[nb] = a[i];
				b[nb++].n = 1;
			}
		}
		int ra = store_record(sa, a, na, now, NULL);
		int rb = store_record(sb, b, nb, now, NULL);
		writes += ra == 0;
		if (ra != rb && !bad++)
			printf("# write %d: %d with *n, %d one by one\n", w, ra,
			       rb);
	}
	for (size_t s = 0; s < 4; s++) {
		const struct pc_series *p = &pc_ser[s];
		size_t vl = strlen(p->video), tl = strlen(p->type);
		struct store_agg x, y;
		store_total(sa, p->video, vl, p->type, tl, &x);
		store_total(sb, p->video, vl, p->type, tl, &y);
		if (memcmp(&x, &y, sizeof(x)) && !bad++)
			printf("# %s %s: total count %lld sum %lld, one by one "
			       "%lld %lld\n", p->video, p->type,
			       (long long)x.count, (long long)x.sum,
			       (long long)y.count, (long long)y.sum);
		for (int r = 0; r < 200; r++) {
			uint32_t t0 = now - (uint32_t)between(0, 7300);
			uint32_t t1 = t0 + (uint32_t)between(1, 7300);
			store_range(sa, p->video, vl, p->type, tl, t0, t1, now,
				    &x);
			store_range(sb, p->video, vl, p->type, tl, t0, t1, now,
				    &y);
			if ((x.count != y.count || x.sum != y.sum ||
			     (x.count && (x.min != y.min || x.max != y.max))) &&
			    !bad++)
				printf("# %s %s range %u-%u: %lld/%lld against "
				       "%lld/%lld\n", p->video, p->type, t0, t1,
				       (long long)x.count, (long long)x.sum,
				       (long long)y.count, (long long)y.sum);
		}
	}
	struct store_stats xa, xb;
	store_get_stats(sa, &xa);
	store_get_stats(sb, &xb);
	ok(writes > 300, "%d of 400 random writes of *n recorded", writes);
	is_int(bad, 0, "*n equals its events one by one: totals, 800 ranges");
	is_int(xa.events, xb.events, "and the events /stats counts");
	store_close(sa);
	store_close(sb);
	rmrf(da);
	rmrf(db);
	free(da);
	free(db);
}

/* A killed writer's journal of *n entries replays them, n each; a
 * record as 0.6.0 wrote it (no JREC_MULT) reads as before. */
static __attribute__((unused)) void test_precount_journal(void)
{
	char *dir = fresh_dir(), path[512];
	uint32_t now = DAY0 + 5000;
	unsigned char *b;

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct store *st = open_store(dir, 2);
		if (!st)
			_exit(1);
		for (int i = 0; i < 100; i++) {
			char v[8];
			snprintf(v, sizeof(v), "j%d", i % 10);
			struct store_event e = evn(v, 3, 1000 + (uint64_t)i, now);
			if (store_record(st, &e, 1, now, NULL))
				_exit(1);
		}
		struct store_event e = evn("j0", 1, STORE_N_MAX, now);
		_exit(store_record(st, &e, 1, now, NULL) ? 1 : 0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0,
	       "a child wrote 101 entries of *n and died");
	/* A backup now copies the journal's records as they are. */
	char *bk = fresh_dir();
	unsigned shards = 0;
	is_int(store_backup(dir, bk, &shards), 0, "a backup of what it left");
	for (int copy = 0; copy < 2; copy++) {
		struct store *st = open_store(copy ? bk : dir, 2);
		int64_t count = 0, sum = 0;
		for (int i = 0; i < 10; i++) {
			char v[8];
			snprintf(v, sizeof(v), "j%d", i);
			struct store_agg a = total_of(st, v);
			count += a.count;
			sum += a.sum;
		}
		/* sum of 1000 + i for i < 100: 104950 */
		ok(count == 104950 + (int64_t)STORE_N_MAX &&
		       sum == 3 * 104950 + (int64_t)STORE_N_MAX,
		   "%s replays n of each (count %lld, sum %lld)",
		   copy ? "the backup's journal" : "the journal",
		   (long long)count, (long long)sum);
		store_close(st);
	}
	rmrf(bk);
	free(bk);
	rmrf(dir);

	/* Hand-made records in a 1-shard directory whose LMDB applied
	 * nothing: one as 0.6.0 wrote it, one with JREC_MULT. */
	struct store *st = open_store(dir, 1);
	store_close(st);
	static unsigned char j[4096];
	uint64_t mult[3] = {1, 5, STORE_N_MAX};
	size_t len = put_rec(j, 0, 1, 4, "old");
	len = put_rec_n(j, len, 2, 3, "new", mult);
	struct jscan js;
	journal_scan(j, len, &js);
	ok(js.status == JSCAN_OK && js.records == 2 && js.events == 7,
	   "the judge reads both (%zu entries)", js.events);
	journal_scan(j, len - 3, &js);
	ok(js.status == JSCAN_TORN && js.records == 1,
	   "a JREC_MULT record cut short is a torn tail");
	snprintf(path, sizeof(path), "%s/shard-0/journal-0", dir);
	spit(path, j, len);
	st = open_store(dir, 1);
	ok(st != NULL, "a directory with both opens");
	struct store_agg a = total_of(st, "old");
	ok(a.count == 4 && a.sum == 4, "the 0.6.0 record counts 4");
	a = total_of(st, "new");
	ok(a.count == 6 + (int64_t)STORE_N_MAX,
	   "the JREC_MULT record counts 1 + 5 + 2^32");
	store_close(st);

	/* What this countfs writes for single events is the 0.6.0 record,
	 * byte for byte (put_rec is that format, written by hand). */
	rmrf(dir);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct store *c = open_store(dir, 1);
		struct store_event e[2] = {evn("old", 1, 1, DAY0),
					   evn("old", 1, 1, DAY0)};
		_exit(c && store_record(c, e, 2, DAY0, NULL) == 0 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	size_t got = slurp(path, &b);
	len = put_rec(j, 0, 1, 2, "old");
	ok(got == len && memcmp(b, j, len) == 0,
	   "single events are written as 0.6.0 wrote them (%zu bytes)", got);
	free(b);
	rmrf(dir);
	free(dir);
}

int main(void)
{
	log_level = LOG_LVL_ERROR;
	test_shard_hash();
	test_totals();
	test_ranges();
	test_retention();
	test_dedup_overflow();
	test_growth_and_lists();
	test_concurrency();
	test_group_commit();
	test_stats_during_growth();
	test_pending();
	test_feed_turns();
	test_feed_expired();
	test_journal();
	test_journal_chunks();
	test_jscan();
#ifndef __SANITIZE_THREAD__
	/* They look at journal files a killed child left, which the
	 * background thread empties once a second: under TSan's slowness the
	 * child can outlive that second.  Files, not threads: ASan runs them. */
	test_damage();
	test_two_files();
#endif
	test_room();
	test_making();
	test_precount_edges();
	test_precount_model();
#ifndef __SANITIZE_THREAD__
	test_precount_journal();
#endif
	sync_mode = STORE_SYNC_ALWAYS;
	test_journal();
	return tap_done();
}
