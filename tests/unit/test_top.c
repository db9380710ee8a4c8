/*
 * test_top.c - store_top() against a brute-force ranking of every video's
 * store_range(), on Zipf(1.1) traffic over 100,000 videos spread over 31
 * days, for windows of a minute, an hour, a day, 30 days and random ones;
 * then inputs made to defeat the lists' bound (many equal counts), where
 * the answer must say it is unsure and still print exact counts; and the
 * lists after a restart and after retention.  Prints TAP.
 *
 * COUNTFS_SEED=N reruns one draw.
 */
#include "../../common/log.h"
#include "../../store/store.h"
#include "rand.h"
#include "tap.h"
#include "tmpdir.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NVIDEOS 100000
#define TOPN 20
#define DAY 86400u

static double *cdf;	/* Zipf(1.1) by rank */
static uint32_t *perm;	/* rank -> video number */
static bool *seen;	/* videos with an event */
static uint32_t now;

static void zipf_setup(void)
{
	double sum = 0;

	cdf = malloc(NVIDEOS * sizeof(*cdf));
	perm = malloc(NVIDEOS * sizeof(*perm));
	seen = calloc(NVIDEOS, sizeof(*seen));
	for (int i = 0; i < NVIDEOS; i++) {
		sum += 1.0 / pow(i + 1, 1.1);
		cdf[i] = sum;
		perm[i] = (uint32_t)i;
	}
	for (int i = 0; i < NVIDEOS; i++)
		cdf[i] /= sum;
	for (int i = NVIDEOS - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rnd() % (uint64_t)(i + 1)), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}

static uint32_t zipf_video(void)
{
	double u = (double)(rnd() >> 11) / 9007199254740992.0;
	int lo = 0, hi = NVIDEOS - 1;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return perm[lo];
}

static char names[NVIDEOS][8];

/* Record @n Zipf events of @type with times in [from, to). */
static int feed(struct store *st, const char *type, size_t n, uint32_t from,
		uint32_t to)
{
	struct store_event ev[1000];

	for (size_t done = 0; done < n;) {
		size_t k = n - done < 1000 ? n - done : 1000;
		for (size_t i = 0; i < k; i++) {
			uint32_t v = zipf_video();
			seen[v] = true;
			ev[i] = (struct store_event){
			    .video = names[v],
			    .video_len = 6,
			    .type = type,
			    .type_len = (uint8_t)strlen(type),
			    .value = 1,
			    .n = 1,
			    .ts = from + (uint32_t)(rnd() % (to - from))};
		}
		int rc = store_record(st, ev, k, now, NULL);
		if (rc)
			return rc;
		done += k;
	}
	return 0;
}

static bool row_before(const struct store_top_row *a,
		       const struct store_top_row *b)
{
	if (a->count != b->count)
		return a->count > b->count;
	return strcmp(a->video, b->video) < 0;
}

/* The brute-force top @n of @type over every video with an event. */
static unsigned brute(struct store *st, const char *type, uint32_t s,
		      uint32_t e, unsigned n, struct store_top_row *rows)
{
	unsigned got = 0;

	for (uint32_t v = 0; v < NVIDEOS; v++) {
		struct store_agg a;
		if (!seen[v] || store_range(st, names[v], 6, type, strlen(type),
					    s, e, now, &a) ||
		    a.count == 0)
			continue;
		struct store_top_row r = {.count = a.count, .video_len = 6};
		memcpy(r.video, names[v], 7);
		if (got == n && !row_before(&r, &rows[n - 1]))
			continue;
		unsigned i = got < n ? got++ : n - 1;
		for (; i > 0 && row_before(&r, &rows[i - 1]); i--)
			rows[i] = rows[i - 1];
		rows[i] = r;
	}
	return got;
}

static bool same_rows(const struct store_top_row *a, unsigned na,
		      const struct store_top_row *b, unsigned nb)
{
	if (na != nb)
		return false;
	for (unsigned i = 0; i < na; i++)
		if (a[i].count != b[i].count || strcmp(a[i].video, b[i].video))
			return false;
	return true;
}

static void show(const char *what, const struct store_top_row *r, unsigned n)
{
	printf("#   %s:", what);
	for (unsigned i = 0; i < n && i < 25; i++)
		printf(" %lld %s", (long long)r[i].count, r[i].video);
	printf("\n");
}

/* store_top's first @n against brute force for [s, e): equal when sure;
 * else each printed count exact and in order.  Returns sure. */
static bool check_window(struct store *st, const char *type, uint32_t s,
			 uint32_t e, unsigned n, const char *what)
{
	struct store_top_row got[STORE_TOP_MAX], want[STORE_TOP_MAX];
	unsigned ngot = 0, nwant;
	bool sure = false;
	int rc = store_top(st, type, strlen(type), s, e, now, n, got, &ngot,
			   &sure);

	nwant = brute(st, type, s, e, n, want);
	if (rc || !sure) {
		bool fine = rc == 0;
		for (unsigned i = 0; fine && i < ngot; i++) {
			struct store_agg a;
			fine = store_range(st, got[i].video, got[i].video_len,
					   type, strlen(type), s, e, now,
					   &a) == 0 &&
			       a.count == got[i].count &&
			       (i == 0 || row_before(&got[i - 1], &got[i]));
		}
		ok(fine, "%s [%u, %u): unsure, every count exact, in order",
		   what, s, e);
		return false;
	}
	bool eq = same_rows(got, ngot, want, nwant);
	ok(eq, "%s [%u, %u): top %u equals brute force (%u rows)", what, s,
	   e, n, nwant);
	if (!eq) {
		show("got ", got, ngot);
		show("want", want, nwant);
	}
	return true;
}

static void zipf_windows(struct store *st)
{
	static const struct {
		uint32_t len;
		const char *what;
	} fixed[] = {{60, "1 minute"},
		     {3600, "1 hour"},
		     {DAY, "1 day"},
		     {30 * DAY, "30 days"}};
	unsigned unsure = 0, random = 40;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		bool sure = check_window(st, "views", now - fixed[i].len, now,
					 TOPN, fixed[i].what);
		ok(sure, "%s: the answer is proven exact", fixed[i].what);
	}
	/* The same, ending a little in the past, cut mid-minute. */
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check_window(st, "views", now - 37 - fixed[i].len, now - 37,
			     TOPN, fixed[i].what);
	for (unsigned i = 0; i < random; i++) {
		uint32_t a = now - (uint32_t)between(0, 31 * DAY);
		uint32_t b = a + (uint32_t)between(1, now + 60 - a);
		unsure += !check_window(st, "views", a, b,
					(unsigned)between(1, 60), "random");
	}
	printf("# %u of %u random windows unsure\n", unsure, random);
	ok(unsure <= random / 4, "most random windows are proven exact");
}

/* Equal counts defeat the bound: 1000 videos (250 a shard, more than a
 * list holds), 1 event each, in one minute. */
static void flat(struct store *st)
{
	static struct store_event ev[1000];
	struct store_top_row got[STORE_TOP_MAX];
	unsigned n;
	bool sure = true;
	static char nm[1000][8];
	uint32_t m = now - now % 60 - 600;

	for (int i = 0; i < 1000; i++) {
		snprintf(nm[i], sizeof(nm[i]), "f%05d", 999 - i);
		ev[i] = (struct store_event){.video = nm[i],
					     .video_len = 6,
					     .type = "flat",
					     .type_len = 4,
					     .value = 1,
					     .n = 1,
					     .ts = m + (uint32_t)(i % 60)};
	}
	ok(store_record(st, ev, 1000, now, NULL) == 0, "flat: recorded");
	ok(store_top(st, "flat", 4, m, m + 60, now, 20, got, &n, &sure) == 0,
	   "flat: top read");
	is_int(n, 20, "flat: 20 rows");
	ok(!sure, "flat: 1000 equal counts in one minute: unsure");
	bool ones = true;
	for (unsigned i = 0; i < n; i++)
		ones = ones && got[i].count == 1;
	ok(ones, "flat: each count exact (1)");
	/* A window of fewer videos than the list holds: sure. */
	ok(store_top(st, "flat", 4, m, m + 60, now, 1000, got, &n, &sure) == 0,
	   "flat: top 1000 read");
	ok(n >= 128 && !sure, "flat: top 1000: %u rows, unsure", n);

	/* The video that wrote last, twice more: above B, so listed. */
	struct store_event two[2] = {ev[0], ev[0]};
	ok(store_record(st, two, 2, now, NULL) == 0, "flat: two more");
	ok(store_top(st, "flat", 4, m, m + 60, now, 1, got, &n, &sure) == 0,
	   "flat: top 1");
	ok(n == 1 && got[0].count == 3 && strcmp(got[0].video, nm[0]) == 0 &&
	       sure,
	   "flat: the one with 3 is first and the answer sure");
	/* Seconds of the minute: bounded by the minute's list. */
	ok(store_top(st, "flat", 4, m + 1, m + 2, now, 5, got, &n, &sure) == 0,
	   "flat: a second's top");
	ok(n >= 1 && got[0].count == 1, "flat: a second holds 1 each");
}

/* Ties by video id in byte order, and an empty window. */
static void ties(struct store *st)
{
	static const char *v[] = {"b", "a", "c", "ab", "a"};
	struct store_event ev[5];
	struct store_top_row got[10];
	unsigned n;
	bool sure;
	uint32_t t = now - now % 60 - 120;

	for (int i = 0; i < 5; i++)
		ev[i] = (struct store_event){.video = v[i],
					     .video_len = (uint8_t)strlen(v[i]),
					     .type = "tie",
					     .type_len = 3,
					     .value = 1,
					     .n = 1,
					     .ts = t + 5};
	ok(store_record(st, ev, 5, now, NULL) == 0, "ties: recorded");
	ok(store_top(st, "tie", 3, t, t + 60, now, 10, got, &n, &sure) == 0,
	   "ties: read");
	ok(n == 4 && sure && got[0].count == 2 &&
	       strcmp(got[0].video, "a") == 0 &&
	       strcmp(got[1].video, "ab") == 0 &&
	       strcmp(got[2].video, "b") == 0 &&
	       strcmp(got[3].video, "c") == 0,
	   "ties: 2 a, then 1 ab, b, c");
	ok(store_top(st, "tie", 3, t + 6, t + 60, now, 10, got, &n, &sure) ==
		   0 &&
	       n == 0 && sure,
	   "ties: a window without events is empty");
	ok(store_top(st, "none", 4, 0, now, now, 10, got, &n, &sure) == 0 &&
	       n == 0,
	   "ties: an unknown type is empty");
	ok(store_top(st, "tie", 3, t, t + 60, now, 0, got, &n, &sure) ==
	       -EINVAL,
	   "ties: n = 0 is EINVAL");
}

int main(void)
{
	const char *seed = getenv("COUNTFS_SEED");
	struct store_config cfg;
	struct store *st;
	char *dir = fresh_dir_named("top");

	log_level = LOG_LVL_ERROR;
	rng_state = seed ? strtoull(seed, NULL, 10) : (uint64_t)time(NULL);
	printf("# COUNTFS_SEED=%llu\n", (unsigned long long)rng_state);
	now = (uint32_t)time(NULL);
	for (int i = 0; i < NVIDEOS; i++)
		snprintf(names[i], sizeof(names[i]), "v%05d", i);
	zipf_setup();
	store_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.shards = 4;
	cfg.retain_interval = 3600;
	if (!dir || store_open(&cfg, &st)) {
		ok(0, "store opens");
		return tap_done();
	}
	/* Spread over 31 days, an hour's peak and a busy last minute. */
	ok(feed(st, "views", 300000, now - 31 * DAY, now) == 0,
	   "300,000 views over 31 days");
	ok(feed(st, "views", 100000, now - 3600, now) == 0,
	   "100,000 over the last hour");
	ok(feed(st, "views", 30000, now - 90, now) == 0,
	   "30,000 over the last 90 seconds");
	zipf_windows(st);
	flat(st);
	ties(st);

	/* A restart keeps the lists. */
	store_close(st);
	ok(store_open(&cfg, &st) == 0, "store opens again");
	check_window(st, "views", now - DAY, now, TOPN, "after restart, 1 day");
	check_window(st, "views", now - 3600, now, TOPN,
		     "after restart, 1 hour");

	/* Retention 8 days on: the minutes of the data are gone, the
	 * answers still match the ranges. */
	now += 8 * DAY;
	ok(store_expire(st, now) == 0, "retention 8 days later");
	check_window(st, "views", now - 30 * DAY, now, TOPN,
		     "after retention, 30 days");
	check_window(st, "views", now - 9 * DAY - 3600, now - 9 * DAY + 600,
		     TOPN, "after retention, an old edge");
	store_close(st);
	rmrf(dir);
	free(dir);
	return tap_done();
}
