/*
 * test_line.c - the line and path parsers, case by case.  Prints TAP.
 */
#include "../../fs/line.h"
#include "../../fs/path.h"
#include "rand.h"
#include "tap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *s, struct line *ln)
{
	const char *why;
	return line_parse(s, strlen(s), ln, &why);
}

static int ingest(const char *s, struct line *ln)
{
	const char *why;
	return line_parse_ingest(s, strlen(s), ln, &why);
}

static void test_lines(void)
{
	struct line ln;
	char big[5000];

	ok(parse("", &ln) == 0 && ln.value == 1 && !ln.has_ts && !ln.id,
	   "an empty line is one event of value 1");
	ok(parse("42", &ln) == 0 && ln.value == 42, "a value");
	ok(parse("-7", &ln) == 0 && ln.value == -7, "a negative value");
	ok(parse("+7", &ln) == 0 && ln.value == 7, "a value with a plus sign");
	ok(parse("9223372036854775807", &ln) == 0 && ln.value == INT64_MAX,
	   "the largest value");
	ok(parse("-9223372036854775808", &ln) == 0 && ln.value == INT64_MIN,
	   "the smallest value");
	is_int(parse("9223372036854775808", &ln), -EINVAL,
	       "a value past 64 bits is refused");
	ok(parse("@1764000000", &ln) == 0 && ln.has_ts && ln.ts == 1764000000 &&
	       ln.value == 1,
	   "a timestamp alone");
	ok(parse("5 @1764000000 #req-1:a.b_c", &ln) == 0 && ln.value == 5 &&
	       ln.id_len == 11 && memcmp(ln.id, "req-1:a.b_c", 11) == 0,
	   "value, timestamp and id");
	ok(parse("#x", &ln) == 0 && ln.id_len == 1 && ln.value == 1,
	   "an id alone");
	ok(parse("  3\t@10  ", &ln) == 0 && ln.value == 3 && ln.ts == 10,
	   "blanks around fields");
	ok(parse("3\r", &ln) == 0 && ln.value == 3, "a CRLF ending");
	is_int(parse("abc", &ln), -EINVAL, "a word is refused");
	is_int(parse("1.5", &ln), -EINVAL, "a decimal is refused");
	is_int(parse("1 2", &ln), -EINVAL, "two values are refused");
	is_int(parse("@", &ln), -EINVAL, "an empty timestamp is refused");
	is_int(parse("@-5", &ln), -EINVAL, "a negative timestamp is refused");
	is_int(parse("@99999999999", &ln), -EINVAL,
	       "a timestamp past 32 bits is refused");
	is_int(parse("#", &ln), -EINVAL, "an empty id is refused");
	is_int(parse("#a/b", &ln), -EINVAL, "an id with / is refused");
	memset(big, 'a', 65);
	big[0] = '#';
	big[66] = 0;
	big[65] = 'a';
	is_int(parse(big, &ln), -EINVAL, "an id of 65 bytes is refused");
	big[65] = 0;
	is_int(parse(big, &ln), 0, "an id of 64 bytes is taken");
	is_int(parse("#a @5", &ln), -EINVAL, "fields out of order are refused");
	is_int(parse("@5 3", &ln), -EINVAL, "a value after @ts is refused");
	is_int(parse("1\0002", &ln), 0, "parsing stops at the given length");
	const char nul[] = "1\0";
	const char *why;
	is_int(line_parse(nul, 2, &ln, &why), -EINVAL, "a NUL byte is refused");
	memset(big, '1', sizeof(big));
	is_int(line_parse(big, 4097, &ln, &why), -EINVAL,
	       "a line over 4096 bytes is refused");
	memset(big, ' ', 4096);
	is_int(line_parse(big, 4096, &ln, &why), 0,
	       "a line of exactly 4096 bytes is taken");

	ok(ingest("abc views", &ln) == 0 && ln.video_len == 3 &&
	       ln.type_len == 5 && ln.value == 1,
	   "an ingest line with video and type");
	ok(ingest("a.b-c_D likes -3 @100 #i", &ln) == 0 && ln.value == -3 &&
	       ln.ts == 100 && ln.id_len == 1,
	   "an ingest line with every field");
	is_int(ingest("abc", &ln), -EINVAL, "ingest needs a type");
	is_int(ingest("", &ln), -EINVAL, "ingest needs a video");
	is_int(ingest("abc Views", &ln), -EINVAL, "types are lowercase");
	is_int(ingest(".. views", &ln), -EINVAL, "the video .. is refused");
	is_int(ingest("a b 1 2", &ln), -EINVAL, "ingest refuses extra fields");
}

/* What a refused line reports as wrong: ingest=skip counts drops by it. */
static void test_faults(void)
{
	static const struct {
		const char *line;
		enum line_fault fault;
	} cases[] = {
	    {"", LINE_BAD_VIDEO},
	    {"a/b views", LINE_BAD_VIDEO},
	    {".. views", LINE_BAD_VIDEO},
	    {"abc", LINE_BAD_TYPE},
	    {"abc Views", LINE_BAD_TYPE},
	    {"a b x", LINE_BAD_VALUE},
	    {"a b 99999999999999999999", LINE_BAD_VALUE},
	    {"a b 1 @x", LINE_BAD_TS},
	    {"a b 1 @99999999999", LINE_BAD_TS},
	    {"a b 1 #", LINE_BAD_ID},
	    {"a b 1 #a/b", LINE_BAD_ID},
	    {"a b 1 2", LINE_BAD_FIELDS},
	    {"a b #i @5", LINE_BAD_FIELDS},
	    {"a b *0", LINE_BAD_MULT},
	    {"a b 1 *4294967297", LINE_BAD_MULT},
	    {"a b *", LINE_BAD_MULT},
	    {"a b *x", LINE_BAD_MULT},
	    {"a b 1 @5 *2", LINE_BAD_FIELDS},
	    {"a b *2 *2", LINE_BAD_FIELDS},
	};
	char big[4200];
	const char *why;
	struct line ln;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ln.fault = LINE_FAULTS;
		ok(ingest(cases[i].line, &ln) == -EINVAL &&
		       ln.fault == cases[i].fault,
		   "the fault of \"%s\"", cases[i].line);
	}
	memset(big, 'a', sizeof(big));
	ok(line_parse_ingest(big, sizeof(big), &ln, &why) == -EINVAL &&
	       ln.fault == LINE_TOO_LONG,
	   "a line over 4096 bytes is too long before anything else");
	ok(line_parse("#a/b", 4, &ln, &why) == -EINVAL &&
	       ln.fault == LINE_BAD_ID,
	   "a counter file's line has faults too");
}

/* *n: 1 <= n <= 2^32, digits only, after the value, before @ts. */
static void test_mult(void)
{
	static const char *const refused[] = {
	    "*0",	 "*-1",	      "*",	 "*1x",	      "*4294967297",
	    "*+5",	 "* 5",	      "*1.5",	 "*99999999999999999999999",
	    "*2 3",	 "1 @5 *2",   "1 #i *2", "1 *2 *2",   "*2 *2",
	    "1 *2 @5 *2", "*2 1",     "*00",	 "1 *0x10",   "1 *1e3",
	};
	const char *why;
	struct line ln;

	ok(parse("", &ln) == 0 && ln.n == 1, "no *n is one event");
	ok(parse("5 @10", &ln) == 0 && ln.n == 1, "nor with other fields");
	ok(parse("*1", &ln) == 0 && ln.n == 1 && ln.value == 1, "*1");
	ok(parse("*1000", &ln) == 0 && ln.n == 1000 && ln.value == 1,
	   "*n alone: n events of value 1");
	ok(parse("*4294967296", &ln) == 0 && ln.n == UINT64_C(4294967296),
	   "*2^32 is the largest");
	ok(parse("*4294967295", &ln) == 0 && ln.n == UINT32_MAX, "*2^32-1");
	ok(parse("-3 *7 @10 #id", &ln) == 0 && ln.value == -3 && ln.n == 7 &&
	       ln.ts == 10 && ln.id_len == 2,
	   "value, *n, @ts and #id");
	ok(parse("*7 #id", &ln) == 0 && ln.n == 7 && ln.id_len == 2,
	   "*n and #id");
	ok(parse("*007", &ln) == 0 && ln.n == 7,
	   "leading zeros, as in the value and @ts");
	ok(parse("*04294967296", &ln) == 0 && ln.n == UINT64_C(4294967296),
	   "leading zeros before 2^32");
	ok(parse("\t*3\t", &ln) == 0 && ln.n == 3, "blanks around *n");
	ok(ingest("abc views 5 *3 @10", &ln) == 0 && ln.n == 3 &&
	       ln.value == 5,
	   "/ingest takes *n");
	ok(ingest("abc views *3", &ln) == 0 && ln.n == 3 && ln.value == 1,
	   "/ingest takes *n without a value");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		ln.fault = LINE_FAULTS;
		int rc = parse(refused[i], &ln);
		ok(rc == -EINVAL &&
		       (ln.fault == LINE_BAD_MULT || ln.fault == LINE_BAD_FIELDS),
		   "\"%s\" is refused (%d, fault %d)", refused[i], rc,
		   (int)ln.fault);
	}
	ln.fault = LINE_FAULTS;
	ok(line_parse("*0", 2, &ln, &why) == -EINVAL &&
	       ln.fault == LINE_BAD_MULT && strstr(why, "at least 1"),
	   "*0 says why");
	ok(line_parse("*4294967297", 11, &ln, &why) == -EINVAL &&
	       ln.fault == LINE_BAD_MULT && strstr(why, "2^32"),
	   "*2^32+1 says why");
}

/*
 * A property over random lines: "[value] *N [@ts]" with N drawn near the
 * edges (0, 1, 2^32, 2^32 + 1, ...) or anywhere, written with 0-3
 * leading zeros, is taken exactly when 1 <= N <= 2^32, and then gives N.
 * And a *n moved anywhere but its place is refused.
 */
static void test_mult_random(void)
{
	static const uint64_t edges[] = {0, 1, 2, 9, 10, UINT32_MAX,
					 UINT64_C(4294967296),
					 UINT64_C(4294967297), UINT64_MAX};
	const char *seed = getenv("COUNTFS_SEED");
	int bad = 0, bad_order = 0;
	char buf[128];
	struct line ln;

	rng_state = seed ? strtoull(seed, NULL, 10) : 7;
	for (int i = 0; i < 20000; i++) {
		uint64_t n = rnd() % 3 ? edges[rnd() % 9]
				       : rnd() >> (rnd() % 64);
		int zeros = (int)(rnd() % 4), len = 0;
		if (rnd() % 2)
			len += snprintf(buf + len, sizeof(buf) - (size_t)len,
					"%" PRId64 " ", (int64_t)rnd());
		len += snprintf(buf + len, sizeof(buf) - (size_t)len, "*%.*s%"
				PRIu64, zeros, "000", n);
		if (rnd() % 2)
			snprintf(buf + len, sizeof(buf) - (size_t)len, " @%u",
				 (unsigned)(rnd() % 100000));
		bool want = n >= 1 && n <= UINT64_C(4294967296);
		int rc = parse(buf, &ln);
		if (want ? rc != 0 || ln.n != n
			 : rc != -EINVAL || ln.fault != LINE_BAD_MULT) {
			if (!bad++)
				printf("# \"%s\": %d, n %" PRIu64 "\n", buf,
				       rc, ln.n);
		}
		/* The same *n after @ts or #id, or before a value. */
		static const char *const after[] = {"@5 ", "#i ", "@5 #i "};
		int k = (int)(rnd() % 4);
		if (k < 3)
			snprintf(buf, sizeof(buf), "%s*%" PRIu64, after[k],
				 n ? n : 1);
		else
			snprintf(buf, sizeof(buf), "*%" PRIu64 " -4",
				 n ? n : 1);
		if (parse(buf, &ln) != -EINVAL) {
			if (!bad_order++)
				printf("# \"%s\" was taken\n", buf);
		}
	}
	ok(!bad, "20000 random *n: taken exactly within 1..2^32 (%d wrong)",
	   bad);
	ok(!bad_order, "*n out of its place is always refused (%d wrong)",
	   bad_order);
}

static void test_names(void)
{
	char v[130];

	memset(v, 'x', sizeof(v));
	ok(line_video_ok(v, 128), "a video of 128 bytes");
	ok(!line_video_ok(v, 129), "not 129 bytes");
	ok(!line_video_ok(v, 0), "not empty");
	ok(!line_video_ok(".", 1) && !line_video_ok("..", 2), "not . or ..");
	ok(line_video_ok("...", 3), "... is a fine video");
	ok(!line_video_ok("a b", 3) && !line_video_ok("a\xff", 2),
	   "no blanks, no bytes past ASCII");
	ok(line_type_ok("page_view2", 10), "a type");
	ok(!line_type_ok("a-b", 3), "types have no dash");
	ok(!line_type_ok(v, 33) && line_type_ok(v, 32),
	   "types are at most 32 bytes");
}

static void test_paths(void)
{
	struct node n;

	ok(path_parse("/", &n) == 0 && n.kind == NODE_ROOT, "/");
	ok(path_parse("/videos", &n) == 0 && n.kind == NODE_VIDEOS, "/videos");
	ok(path_parse("/videos/abc", &n) == 0 && n.kind == NODE_VIDEO &&
	       n.video_len == 3,
	   "/videos/abc");
	ok(path_parse("/videos/abc/views", &n) == 0 && n.kind == NODE_AGG &&
	       n.fn == AGG_COUNT && n.type_len == 5 && !n.windowed &&
	       node_is_writable(&n),
	   "views is the writable count of type views");
	ok(path_parse("/videos/abc/range/10-20", &n) == 0 &&
	       n.kind == NODE_AGG && n.windowed && n.start == 10 &&
	       n.end == 20 && !node_is_writable(&n),
	   "a views range is a read-only count");
	ok(path_parse("/videos/abc/range/10-", &n) == 0 && n.open_end,
	   "an open-ended range");
	is_int(path_parse("/videos/abc/range/20-10", &n), -ENOENT,
	       "start after end is ENOENT");
	is_int(path_parse("/videos/abc/range/10-10", &n), -ENOENT,
	       "an empty range is ENOENT");
	is_int(path_parse("/videos/abc/range/-10", &n), -ENOENT,
	       "a missing start is ENOENT");
	is_int(path_parse("/videos/abc/range/1x-10", &n), -ENOENT,
	       "a non-numeric start is ENOENT");
	is_int(path_parse("/videos/abc/range/1-99999999999", &n), -ENOENT,
	       "an end past 32 bits is ENOENT");
	ok(path_parse("/videos/abc/events/likes/sum", &n) == 0 &&
	       n.kind == NODE_AGG && n.fn == AGG_SUM && n.type_len == 5 &&
	       node_is_writable(&n),
	   "a typed sum is writable");
	ok(path_parse("/videos/abc/events/likes/range/5-9/avg", &n) == 0 &&
	       n.kind == NODE_AGG && n.fn == AGG_AVG && n.windowed,
	   "a typed window aggregate");
	ok(path_parse("/videos/abc/events/likes/range/5-9", &n) == 0 &&
	       n.kind == NODE_WINDOW && node_is_dir(&n),
	   "a typed window is a directory");
	is_int(path_parse("/videos/abc/events/Likes", &n), -ENOENT,
	       "an invalid type is ENOENT");
	is_int(path_parse("/videos/abc/events/likes/median", &n), -ENOENT,
	       "an unknown aggregate is ENOENT");
	is_int(path_parse("/videos/abc/views/x", &n), -ENOENT,
	       "nothing below a file");
	is_int(path_parse("/videos/a b/views", &n), -ENOENT,
	       "an invalid video is ENOENT");
	is_int(path_parse("/other", &n), -ENOENT, "an unknown top is ENOENT");
	ok(path_parse("/top", &n) == 0 && n.kind == NODE_TOP && node_is_dir(&n),
	   "/top is a directory");
	ok(path_parse("/top/likes", &n) == 0 && n.kind == NODE_TOP_TYPE &&
	       n.type_len == 5 && node_is_dir(&n),
	   "/top/likes is a directory");
	ok(path_parse("/top/likes/5-9", &n) == 0 &&
	       n.kind == NODE_TOP_WINDOW && n.start == 5 && n.end == 9 &&
	       !node_is_dir(&n) && !node_is_writable(&n),
	   "/top/likes/5-9 is a read-only file");
	ok(path_parse("/global/top/views/5-", &n) == 0 &&
	       n.kind == NODE_TOP_WINDOW && n.global && n.open_end,
	   "/global/top/views/5- is open-ended");
	is_int(path_parse("/top/Likes/5-9", &n), -ENOENT,
	       "/top: an invalid type is ENOENT");
	is_int(path_parse("/top/likes/9-5", &n), -ENOENT,
	       "/top: an empty window is ENOENT");
	is_int(path_parse("/top/likes/5-9/x", &n), -ENOENT,
	       "/top: nothing below a window");
	ok(path_parse("/ingest", &n) == 0 && n.kind == NODE_INGEST &&
	       node_is_writable(&n),
	   "/ingest is writable");
	ok(path_parse("/stats", &n) == 0 && n.kind == NODE_STATS &&
	       !node_is_writable(&n),
	   "/stats is read-only");
}

static int dur(const char *s, uint64_t *v)
{
	return line_duration(s, strlen(s), UINT32_MAX, v);
}

static void test_durations(void)
{
	uint64_t v = 7;

	ok(dur("90", &v) == 0 && v == 90, "a bare number is seconds");
	ok(dur("90s", &v) == 0 && v == 90, "s is seconds");
	ok(dur("5m", &v) == 0 && v == 300, "m is minutes");
	ok(dur("1h", &v) == 0 && v == 3600, "h is hours");
	ok(dur("1d", &v) == 0 && v == 86400, "d is days");
	ok(dur("0", &v) == 0 && v == 0, "0 is a duration (callers refuse it)");
	ok(dur("4294967295", &v) == 0 && v == UINT32_MAX, "2^32 - 1 seconds");
	is_int(dur("4294967296", &v), -EINVAL, "2^32 seconds is past the max");
	ok(dur("49710d", &v) == 0 && v == 49710ull * 86400, "49710 days fit");
	is_int(dur("49711d", &v), -EINVAL, "49711 days do not");
	is_int(dur("99999999999999999999999m", &v), -EINVAL,
	       "digits past 64 bits");
	is_int(dur("", &v), -EINVAL, "empty");
	is_int(dur("m", &v), -EINVAL, "a unit alone");
	is_int(dur("5M", &v), -EINVAL, "an upper-case unit");
	is_int(dur("5w", &v), -EINVAL, "an unknown unit");
	is_int(dur("5mm", &v), -EINVAL, "two units");
	is_int(dur("-5", &v), -EINVAL, "a sign");
	is_int(dur("1h30m", &v), -EINVAL, "a compound duration");
}

static void test_series_paths(void)
{
	struct node n;

	ok(path_parse("/videos/abc/series", &n) == 0 && n.kind == NODE_SERIES &&
	       node_is_dir(&n),
	   "series/ is a directory");
	ok(path_parse("/videos/abc/series/10-20", &n) == 0 &&
	       n.kind == NODE_SERIES && n.windowed && node_is_dir(&n),
	   "series/S-E is a directory");
	ok(path_parse("/videos/abc/series/10-20/5", &n) == 0 &&
	       n.kind == NODE_AGG && n.series && n.windowed && n.step == 5 &&
	       n.fn == AGG_COUNT && n.type_len == 5 &&
	       memcmp(n.type, "views", 5) == 0 && !node_is_writable(&n),
	   "series/S-E/STEP of a video is a read-only count of views");
	ok(path_parse("/videos/abc/series/10-/1h", &n) == 0 && n.open_end &&
	       n.step == 3600 && n.kind == NODE_AGG,
	   "an open-ended series by hour");
	ok(path_parse("/videos/abc/events/likes/series/0-86400/5m", &n) == 0 &&
	       n.kind == NODE_STEP && node_is_dir(&n) && n.step == 300,
	   "a type's series/S-E/STEP is a directory");
	ok(path_parse("/videos/abc/events/likes/series/0-86400/1d/avg", &n) ==
		   0 &&
	       n.kind == NODE_AGG && n.fn == AGG_AVG && n.series &&
	       n.step == 86400 && n.end == 86400 && !node_is_writable(&n),
	   "a type's series aggregate");
	ok(path_parse("/videos/abc/events/likes/series", &n) == 0 &&
	       n.kind == NODE_SERIES,
	   "a type's series/");
	ok(path_parse("/global/videos/abc/series/0-100000/1", &n) == 0 &&
	       n.global && n.kind == NODE_AGG && n.series,
	   "100,000 steps, under /global");
	is_int(path_parse("/videos/abc/series/0-100001/1", &n), -ENOENT,
	       "100,001 steps are ENOENT");
	ok(path_parse("/videos/abc/series/0-4294967295/42950", &n) == 0,
	   "2^32 - 1 seconds in 42950-second steps (100,000 of them)");
	is_int(path_parse("/videos/abc/series/0-4294967295/42949", &n), -ENOENT,
	       "and in 42949-second steps (100,001)");
	is_int(path_parse("/videos/abc/series/0-10/0", &n), -ENOENT,
	       "step 0 is ENOENT");
	is_int(path_parse("/videos/abc/series/0-10/05", &n), -ENOENT,
	       "a step with a leading zero is ENOENT");
	is_int(path_parse("/videos/abc/series/0-10/0m", &n), -ENOENT,
	       "0m is ENOENT");
	is_int(path_parse("/videos/abc/series/10-10/1", &n), -ENOENT,
	       "start = end is ENOENT");
	is_int(path_parse("/videos/abc/series/20-10/1", &n), -ENOENT,
	       "start > end is ENOENT");
	is_int(path_parse("/videos/abc/series/0-10/1x", &n), -ENOENT,
	       "a bad step is ENOENT");
	is_int(path_parse("/videos/abc/series/0-10/1/count", &n), -ENOENT,
	       "nothing below a video's series file");
	is_int(path_parse("/videos/abc/series/x-10", &n), -ENOENT,
	       "a bad window is ENOENT");
	is_int(path_parse("/videos/abc/events/likes/series/0-10/1/p50", &n),
	       -ENOENT, "percentiles are not files yet");
	is_int(path_parse("/videos/abc/events/likes/series/0-10/1/sum/x", &n),
	       -ENOENT, "nothing below a type's series file");
	ok(path_parse("/videos/abc/series/100-/1", &n) == 0 &&
	       path_steps_ok(&n, 100099) && !path_steps_ok(&n, 100100),
	   "an open-ended series is judged at the time of the read: its "
	   "100,001st step makes it ENOENT");
}

int main(void)
{
	test_lines();
	test_faults();
	test_mult();
	test_mult_random();
	test_names();
	test_paths();
	test_durations();
	test_series_paths();
	return tap_done();
}
