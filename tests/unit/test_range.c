/*
 * test_range.c - store_range() against a model, around every retention
 * edge: adjacent windows add up, a window where whole minutes of seconds
 * are kept is exact to the second, retention changes no answer, and a sum
 * that fits is read even when a partial sum does not.  Prints TAP.
 *
 * The model: at a given now, the time axis is cut into leaves - days,
 * then hours, minutes and seconds - where level L takes over at its
 * horizon (now - keep_L) rounded up to a whole bucket of the level above
 * (a day for days).  An event counts in [a, b) when the start of its leaf
 * does; days older than keep_days count nothing.
 *
 * COUNTFS_SEED=N reruns one draw of the property test.
 */
#include "../../common/log.h"
#include "../../store/store.h"
#include "rand.h"
#include "range_model.h"
#include "tap.h"
#include "tmpdir.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NEVENTS 3000
#define NTRIPLES 3000
#define NSHOW 5 /* failures described per property */

static char *fresh_dir(void)
{
	return fresh_dir_named("range");
}

static uint32_t clamp32(int64_t t)
{
	return t < 0 ? 0 : t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

/* ---- the model ------------------------------------------------------ */

static const uint64_t size_of[4] = {1, MIN_S, HOUR_S, DAY_S};

static struct event events[NEVENTS];
static int nevents;

/* The aggregate of the events whose leaf starts in [a, b). */
static struct store_agg model_range(const struct model *m, uint32_t a,
				    uint32_t b)
{
	return model_sum(m, events, (size_t)nevents, a, b);
}

/* The aggregate of the events with a <= t < b, by brute force: where
 * every level is kept, each second is a leaf. */
static struct store_agg exact_range(uint32_t a, uint32_t b)
{
	static const struct model every_second = {0, 0, 0, 0};

	return model_sum(&every_second, events, (size_t)nevents, a, b);
}

static int agg_eq(const struct store_agg *x, const struct store_agg *y)
{
	if (x->count != y->count || x->sum != y->sum)
		return 0;
	return x->count == 0 || (x->min == y->min && x->max == y->max);
}

/* Count, sum, min and max of [a, b) and [b, c) make those of [a, c). */
static int adds_up(const struct store_agg *ab, const struct store_agg *bc,
		   const struct store_agg *ac)
{
	struct store_agg s = *ab;

	agg_join(&s, bc);
	return agg_eq(&s, ac);
}

static struct store_agg range(struct store *st, const char *type, uint32_t a,
			      uint32_t b, uint32_t now, int *rc)
{
	struct store_agg r;

	*rc = store_range(st, "v", 1, type, strlen(type), a, b, now, &r);
	return r;
}

static void show(int *shown, const char *what, uint32_t now, uint32_t a,
		 uint32_t b, uint32_t c, const struct store_agg *got,
		 const struct store_agg *want)
{
	if ((*shown)++ >= NSHOW)
		return;
	printf("#   %s: now=%u a=%u b=%u c=%u (a=now%+lld, b=now%+lld)", what,
	       now, a, b, c, (long long)a - now, (long long)b - now);
	printf(" got count=%lld sum=%lld", (long long)got->count,
	       (long long)got->sum);
	if (want)
		printf(" want count=%lld sum=%lld", (long long)want->count,
		       (long long)want->sum);
	printf("\n");
}

/* ---- the property test ---------------------------------------------- */

struct setting {
	const char *name;
	uint32_t keep[4];
};

static const struct setting settings[] = {
    {"defaults", {HOUR_S, 7 * DAY_S, 90 * DAY_S, 0}},
    {"keep_hours=24h keep_minutes=24h", {HOUR_S, DAY_S, DAY_S, 0}},
    {"keep_hours=24h keep_minutes=6h", {HOUR_S, 6 * HOUR_S, DAY_S, 0}},
    {"keep_seconds=keep_minutes=2h", {2 * HOUR_S, 2 * HOUR_S, 90 * DAY_S, 0}},
    {"90s/2h/2d/30d", {90, 2 * HOUR_S, 2 * DAY_S, 30 * DAY_S}},
    {"the least of each: 60s/1h/1d/1d", {MIN_S, HOUR_S, DAY_S, DAY_S}},
    {"days for 400d", {HOUR_S, 7 * DAY_S, 90 * DAY_S, 400 * DAY_S}},
    {"everything forever", {0, 0, 0, 0}},
};

/* Times worth testing at @now: each horizon, each zone start, now. */
static int edges(const uint32_t keep[4], uint32_t now, int64_t *p)
{
	struct model m = model_at(keep, now);
	int n = 0;

	for (int l = 0; l < 4; l++)
		if (keep[l])
			p[n++] = (int64_t)now - keep[l];
	p[n++] = (int64_t)m.zs;
	p[n++] = (int64_t)m.zm;
	p[n++] = (int64_t)m.zh;
	p[n++] = (int64_t)m.zd;
	p[n++] = now;
	return n;
}

/* A time near one of @p[0..n): the same, a second off, or within two
 * buckets of a random level; now and then anywhere in [lo, hi]. */
static int64_t near(const int64_t *p, int n, int64_t lo, int64_t hi)
{
	static const int64_t off[] = {0, 1, -1};
	int64_t base = p[rnd() % (uint64_t)n];
	uint64_t size = size_of[rnd() % 4];

	switch (rnd() % 8) {
	case 0:
		return between(lo, hi);
	case 1:
	case 2: /* on a bucket boundary near the edge, or a second off */
		return (int64_t)(base / (int64_t)size * (int64_t)size) +
		       off[rnd() % 3] + (int64_t)size * between(-1, 1);
	case 3:
		return base + off[rnd() % 3];
	default:
		return base + between(-2 * (int64_t)size, 2 * (int64_t)size);
	}
}

static int ts_ok(struct store *st, int64_t t, uint32_t rec_now)
{
	return store_check_ts(st, t, rec_now) == 0;
}

/* Record events clustered around the edges of every @nows. */
static void record_events(struct store *st, const uint32_t keep[4],
			  uint32_t rec_now, const uint32_t *nows, int nn)
{
	static struct store_event ev[NEVENTS];
	int64_t p[64], lo = (int64_t)rec_now - 400 * (int64_t)DAY_S;
	int np = 0;

	if (keep[3])
		lo = (int64_t)rec_now - keep[3];
	for (int i = 0; i < nn; i++)
		np += edges(keep, nows[i], p + np);
	for (nevents = 0; nevents < NEVENTS;) {
		int64_t t = near(p, np, lo, (int64_t)rec_now + 300);
		if (!ts_ok(st, t, rec_now))
			continue;
		events[nevents] = (struct event){(uint32_t)t, between(-999, 999)};
		ev[nevents] = (struct store_event){
		    .video = "v", .video_len = 1, .type = "t", .type_len = 1,
		    .value = events[nevents].v, .n = 1,
		    .ts = (uint32_t)t};
		nevents++;
	}
	for (int i = 0; i < NEVENTS; i += 500)
		if (store_record(st, ev + i, 500, rec_now, NULL))
			printf("# store_record failed\n");
}

struct triple {
	uint32_t a, b, c;
	struct store_agg ab;
};

static struct triple triples[NTRIPLES];

/* Triples near the edges at @now; a quarter of them where seconds
 * answer (from two minutes before it), for the exact check. */
static void draw_triples(const uint32_t keep[4], uint32_t now)
{
	int64_t p[16], lo = (int64_t)now - 500 * (int64_t)DAY_S;
	int np = edges(keep, now, p);
	int64_t zs = (int64_t)model_at(keep, now).zs;

	for (int i = 0; i < NTRIPLES;) {
		bool recent = rnd() % 4 == 0;
		uint32_t x[3];
		for (int j = 0; j < 3; j++)
			x[j] = clamp32(recent ? between(zs - 120, now + 400)
					      : near(p, np, lo, (int64_t)now + 400));
		if (rnd() % 50 == 0)
			x[rnd() % 3] = rnd() % 2 ? 0 : UINT32_MAX;
		for (int j = 0; j < 2; j++) /* sort three */
			for (int k = 0; k < 2 - j; k++)
				if (x[k] > x[k + 1]) {
					uint32_t s = x[k];
					x[k] = x[k + 1];
					x[k + 1] = s;
				}
		if (x[0] < x[1] && x[1] < x[2])
			triples[i++] = (struct triple){x[0], x[1], x[2], {0}};
	}
}

/* ---- series ---------------------------------------------------------- */

#define NSERIES 150
#define SERIES_STEPS_TESTED 400

/* A step for a window of @len seconds: a level's size (or a second off),
 * one that does not divide it, one past it, or any. */
static uint32_t draw_step(uint32_t len)
{
	switch (rnd() % 8) {
	case 0:
		return 1;
	case 1:
	case 2:
		return (uint32_t)(size_of[rnd() % 4] + (uint64_t)between(-1, 1)) ?: 1;
	case 3:
		return 90;
	case 4: /* the whole window, or more */
		return len + (uint32_t)between(0, 2) * (uint32_t)between(0, 100000);
	default:
		return (uint32_t)between(1, len);
	}
}

/*
 * Random series near the edges at @now: each step reads what
 * store_range() reads for its window and what the model says, and the
 * steps add up to the range of the whole window.
 */
static void check_series(struct store *st, const struct setting *s,
			 uint32_t now, const char *when)
{
	static struct store_agg out[SERIES_STEPS_TESTED];
	struct model m = model_at(s->keep, now);
	int64_t p[16], lo = (int64_t)now - 500 * (int64_t)DAY_S;
	int np = edges(s->keep, now, p), shown = 0;
	int bad_rc = 0, bad_range = 0, bad_model = 0, bad_sum = 0, steps = 0;

	for (int i = 0; i < NSERIES;) {
		static const uint32_t lens[] = {400, 3 * DAY_S, 200 * DAY_S};
		uint32_t a = clamp32(near(p, np, lo, (int64_t)now + 400));
		uint32_t b = clamp32((int64_t)a + between(1, lens[rnd() % 3]));
		if (rnd() % 50 == 0)
			b = UINT32_MAX;
		if (a >= b)
			continue;
		uint32_t step = draw_step(b - a);
		uint64_t n = store_series_len(a, b, step);
		if (n == 0 || n > SERIES_STEPS_TESTED)
			continue;
		i++;
		if (store_series(st, "v", 1, "t", 1, a, b, step, now, out, n)) {
			bad_rc++;
			continue;
		}
		struct store_agg sum = {0, 0, 0, 0};
		for (uint64_t j = 0; j < n; j++) {
			uint32_t x, y;
			int rc;
			series_window(a, b, step, j, &x, &y);
			struct store_agg r = range(st, "t", x, y, now, &rc);
			struct store_agg want = model_range(&m, x, y);
			steps++;
			bad_rc += rc != 0;
			if (!agg_eq(&out[j], &r)) {
				bad_range++;
				show(&shown, "a step is not its range", now, x,
				     y, step, &out[j], &r);
			}
			if (!agg_eq(&out[j], &want)) {
				bad_model++;
				show(&shown, "a step is not the model's", now,
				     x, y, step, &out[j], &want);
			}
			agg_join(&sum, &out[j]);
		}
		int rc;
		struct store_agg whole = range(st, "t", a, b, now, &rc);
		if (rc || !agg_eq(&sum, &whole)) {
			bad_sum++;
			show(&shown, "the steps do not add up", now, a, b, step,
			     &sum, &whole);
		}
	}
	ok(bad_rc == 0, "%s, now=%u, %s: every series read succeeds (%d "
	   "failed)", s->name, now, when, bad_rc);
	ok(bad_range == 0, "%s, now=%u, %s: each of %d steps of %d series "
	   "reads its range (%d differ)", s->name, now, when, steps, NSERIES,
	   bad_range);
	ok(bad_model == 0, "%s, now=%u, %s: each step is the model's (%d "
	   "differ)", s->name, now, when, bad_model);
	ok(bad_sum == 0, "%s, now=%u, %s: the steps add up to the whole "
	   "window (%d do not)", s->name, now, when, bad_sum);
}

/* Every property at @now, on the store and events of @s. */
static void check_at(struct store *st, const struct setting *s, uint32_t now)
{
	struct model m = model_at(s->keep, now);
	int bad_add = 0, bad_model = 0, bad_exact = 0, bad_rc = 0, nexact = 0;
	int bad_kept = 0, shown = 0;

	check_series(st, s, now, "before retention");
	draw_triples(s->keep, now);
	for (int i = 0; i < NTRIPLES; i++) {
		struct triple *t = &triples[i];
		int r1, r2, r3;
		struct store_agg ab = range(st, "t", t->a, t->b, now, &r1);
		struct store_agg bc = range(st, "t", t->b, t->c, now, &r2);
		struct store_agg ac = range(st, "t", t->a, t->c, now, &r3);

		t->ab = ab;
		if (r1 || r2 || r3) {
			bad_rc++;
			continue;
		}
		if (!adds_up(&ab, &bc, &ac)) {
			bad_add++;
			show(&shown, "[a,b)+[b,c) != [a,c)", now, t->a, t->b,
			     t->c, &ac, NULL);
		}
		struct store_agg want = model_range(&m, t->a, t->b);
		if (!agg_eq(&ab, &want)) {
			bad_model++;
			show(&shown, "[a,b) is not the model's", now, t->a,
			     t->b, t->c, &ab, &want);
		}
		if (t->a >= m.zs) {
			nexact++;
			want = exact_range(t->a, t->b);
			if (!agg_eq(&ab, &want)) {
				bad_exact++;
				show(&shown, "[a,b) is not exact", now, t->a,
				     t->b, t->c, &ab, &want);
			}
		}
	}
	ok(bad_rc == 0, "%s, now=%u: every read succeeds (%d failed)", s->name,
	   now, bad_rc);
	ok(bad_add == 0, "%s, now=%u: [a,b) + [b,c) = [a,c) for %d triples "
	   "(%d broke)", s->name, now, NTRIPLES, bad_add);
	ok(bad_model == 0, "%s, now=%u: a leaf counts when its start is in "
	   "[a,b) (%d differ)", s->name, now, bad_model);
	ok(bad_exact == 0, "%s, now=%u: the %d windows from the first whole "
	   "minute of seconds are exact (%d differ)", s->name, now, nexact,
	   bad_exact);

	/* What retention deletes at @now was never read at @now. */
	store_expire(st, now);
	for (int i = 0; i < NTRIPLES; i++) {
		int rc;
		struct store_agg ab = range(st, "t", triples[i].a, triples[i].b,
					    now, &rc);
		if (rc || !agg_eq(&ab, &triples[i].ab)) {
			bad_kept++;
			show(&shown, "retention changed [a,b)", now,
			     triples[i].a, triples[i].b, triples[i].c, &ab,
			     &triples[i].ab);
		}
	}
	ok(bad_kept == 0, "%s, now=%u: a retention pass changes no answer "
	   "(%d changed)", s->name, now, bad_kept);
	check_series(st, s, now, "after retention");
}

static void test_property(const struct setting *s)
{
	char *dir = fresh_dir();
	struct store *st = open_store(dir, s->keep);
	/* A random second of 2026; reads at it and up to three days on. */
	uint32_t rec_now = 1767225600u + (uint32_t)(rnd() % (365 * DAY_S));
	uint32_t nows[3] = {rec_now, rec_now + (uint32_t)between(1, 7200),
			    rec_now + (uint32_t)between(DAY_S, 3 * DAY_S)};

	if (!st) {
		ok(0, "%s: the store opens", s->name);
		return;
	}
	record_events(st, s->keep, rec_now, nows, 3);
	for (int i = 0; i < 3; i++)
		check_at(st, s, nows[i]);
	store_close(st);
	rmrf(dir);
	free(dir);
}

/* ---- the filed examples --------------------------------------------- */

static int64_t count_of(struct store *st, uint32_t a, uint32_t b, uint32_t now)
{
	int rc;
	struct store_agg r = range(st, "t", a, b, now, &rc);
	return rc ? rc : r.count;
}

static int rec1(struct store *st, const char *type, int64_t v, uint32_t t,
		uint32_t now)
{
	struct store_event e = {.video = "v", .video_len = 1, .type = type,
				.type_len = (uint8_t)strlen(type), .value = v,
				.n = 1, .ts = t};
	return store_record(st, &e, 1, now, NULL);
}

/*
 * A window that begins in a zone and ends in the next finer one: its part
 * in the finer zone must come from the finer level, so an event just past
 * its end does not count, and the next window counts it once.
 */
static void test_edges(void)
{
	static const uint32_t keep[4] = {HOUR_S, 7 * DAY_S, 90 * DAY_S, 0};
	char *dir = fresh_dir();
	struct store *st = open_store(dir, keep);
	uint32_t now = 1780000000u / DAY_S * DAY_S; /* midnight: edges whole */
	struct {
		const char *what;
		uint32_t a, len, in, after;
	} c[] = {
	    /* Starts 5 s beyond the last hour, ends 30 s later: the event
	     * 15 s after its end lies in the seconds kept. */
	    {"seconds edge", now - 3605, 30, now - 3590, now - 3560},
	    {"7-day edge", now - 7 * DAY_S - 300, 1800, now - 7 * DAY_S + 60,
	     now - 7 * DAY_S + 1500 + 900},
	    {"90-day edge", now - 90 * DAY_S - 3600, 7 * 3600,
	     now - 90 * DAY_S + 3600, now - 90 * DAY_S + 9 * 3600},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint32_t a = c[i].a, b = a + c[i].len, e = b + c[i].len;

		rec1(st, "t", 1, c[i].in, now);
		rec1(st, "t", 1, c[i].after, now);
		is_int(count_of(st, a, b, now), 1,
		       "%s: [a, b) holds its event, not the one after b",
		       c[i].what);
		is_int(count_of(st, b, e, now), 1,
		       "%s: the next window counts that one", c[i].what);
		is_int(count_of(st, a, e, now), 2,
		       "%s: the two windows add up to their union", c[i].what);
		store_expire(st, now);
		is_int(count_of(st, a, e, now), 2,
		       "%s: the same once retention ran", c[i].what);
		store_close(st);
		rmrf(dir);
		free(dir);
		dir = fresh_dir();
		st = open_store(dir, keep);
	}
	store_close(st);
	rmrf(dir);
	free(dir);
}

/* A read whose clock lags a retention pass (it read the time, then the
 * pass ran) must not use the buckets that pass deleted. */
static void test_lagging_clock(void)
{
	static const uint32_t keep[4] = {HOUR_S, 7 * DAY_S, 90 * DAY_S, 0};
	char *dir = fresh_dir();
	struct store *st = open_store(dir, keep);
	uint32_t now = 1780000000u / DAY_S * DAY_S, m = now - HOUR_S;

	rec1(st, "t", 1, m + 5, now);
	is_int(count_of(st, m, m + 60, now), 1,
	       "an event in the oldest whole minute of seconds counts");
	store_expire(st, now + 30); /* deletes the seconds before m + 30 */
	is_int(count_of(st, m, m + 30, now), 1,
	       "after a pass at a later now, a read at the earlier now answers "
	       "as at the pass's now: [m, m+30) holds the start of m's minute");
	is_int(count_of(st, m + 30, m + 60, now), 0,
	       "and [m+30, m+60) does not");
	is_int(count_of(st, m, m + 60, now), 1, "the two add up");
	store_close(st);
	rmrf(dir);
	free(dir);
}

/* Partial sums past 64 bits, in the order the buckets are read (whole
 * minutes before the seconds at the edges), while the true sum fits. */
static void test_wide_sum(void)
{
	static const uint32_t keep[4] = {HOUR_S, 7 * DAY_S, 90 * DAY_S, 0};
	char *dir = fresh_dir();
	struct store *st = open_store(dir, keep);
	uint32_t now = 1780000000u / DAY_S * DAY_S + 12 * HOUR_S;
	uint32_t m = now - 600 - now % 60; /* a minute start, 10 min ago */
	const int64_t p = INT64_C(1) << 62;
	struct store_agg r;
	int rc;

	/* Recorded in an order whose running sums all fit. */
	ok(rec1(st, "t", -p, m + 70, now) == 0 && rec1(st, "t", p, m + 5, now) == 0 &&
	       rec1(st, "t", p, m - 10, now) == 0,
	   "+2^62 at m-10 and m+5, -2^62 at m+70 are recorded");
	r = range(st, "t", m - 20, m + 80, now, &rc);
	is_int(rc, 0, "a range whose partial sum passes 2^63 - 1 is read");
	is_int(r.sum, p, "its sum is the true one, 2^62");
	is_int(r.count, 3, "its count");
	ok(r.min == -p && r.max == p, "its min and max");
	r = range(st, "t", m - 20, m + 60, now, &rc);
	is_int(rc, -EOVERFLOW, "a range whose true sum, 2^63, does not fit "
	       "is EOVERFLOW");
	struct store_agg st2[2];
	rc = store_series(st, "v", 1, "t", 1, m - 20, m + 80, 100, now, st2, 1);
	ok(rc == 0 && st2[0].sum == p && st2[0].count == 3,
	   "a series of one step reads that range's true sum");
	rc = store_series(st, "v", 1, "t", 1, m - 20, m + 80, 80, now, st2, 2);
	is_int(rc, -EOVERFLOW, "a series whose first step, [m-20, m+60), "
	       "sums to 2^63 is EOVERFLOW");
	rc = store_series(st, "v", 1, "t", 1, m - 20, m + 80, 80, now, st2, 1);
	is_int(rc, -EINVAL, "a series given room for the wrong step count is "
	       "EINVAL");

	/* The least int64 is a sum that fits. */
	ok(rec1(st, "n", 1, m + 70, now) == 0 &&
	       rec1(st, "n", -p, m + 5, now) == 0 &&
	       rec1(st, "n", -p - 1, m - 10, now) == 0,
	   "1, -2^62 and -2^62-1 are recorded");
	r = range(st, "n", m - 20, m + 80, now, &rc);
	is_int(rc, 0, "a range whose sum is INT64_MIN is read");
	ok(r.sum == INT64_MIN, "its sum is INT64_MIN");
	store_close(st);
	rmrf(dir);
	free(dir);
}

int main(void)
{
	const char *seed = getenv("COUNTFS_SEED");

	log_level = LOG_LVL_ERROR;
	rng_state = seed ? strtoull(seed, NULL, 10) : (uint64_t)getpid();
	printf("# COUNTFS_SEED=%llu\n", (unsigned long long)rng_state);
	test_edges();
	test_lagging_clock();
	test_wide_sum();
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		test_property(&settings[i]);
	return tap_done();
}
