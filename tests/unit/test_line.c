/*
 * test_line.c - the line and path parsers, case by case.  Prints TAP.
 */
#include "../../fs/line.h"
#include "../../fs/path.h"
#include "tap.h"

#include <errno.h>
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
	ok(path_parse("/ingest", &n) == 0 && n.kind == NODE_INGEST &&
	       node_is_writable(&n),
	   "/ingest is writable");
	ok(path_parse("/stats", &n) == 0 && n.kind == NODE_STATS &&
	       !node_is_writable(&n),
	   "/stats is read-only");
}

static void test_live_paths(void)
{
	struct node n;

	ok(path_parse("/videos/abc/follow", &n) == 0 &&
	       n.kind == NODE_FOLLOW && n.type_len == 5 &&
	       memcmp(n.type, "views", 5) == 0 && n.fn == AGG_COUNT &&
	       node_is_live(&n) && !node_is_dir(&n) && !node_is_writable(&n),
	   "a video's follow: its views, live, a read-only file");
	ok(path_parse("/videos/abc/events/likes/follow", &n) == 0 &&
	       n.kind == NODE_FOLLOW && n.type_len == 5 &&
	       memcmp(n.type, "likes", 5) == 0,
	   "a type's follow");
	ok(path_parse("/videos/abc/when", &n) == 0 && n.kind == NODE_WHENS &&
	       node_is_dir(&n) && !node_is_live(&n),
	   "when is a directory");
	ok(path_parse("/videos/abc/when/0", &n) == 0 && n.kind == NODE_WHEN &&
	       n.at_least == 0 && node_is_live(&n) && !node_is_dir(&n),
	   "when/0");
	ok(path_parse("/videos/abc/events/likes/when/9223372036854775807",
		      &n) == 0 &&
	       n.kind == NODE_WHEN && n.at_least == INT64_MAX,
	   "when/2^63-1 (a type's)");
	static const char *const bad[] = {
	    "/videos/abc/when/9223372036854775808", "/videos/abc/when/01",
	    "/videos/abc/when/-1", "/videos/abc/when/1x", "/videos/abc/when/1/2",
	    "/videos/abc/follow/x", "/global/videos/abc/follow",
	    "/global/videos/abc/when", "/global/videos/abc/events/t/when/3",
	    "/videos/abc/range/1-2/follow", "/videos/abc/events/t/range/1-2/when",
	    "/videos/abc/when/99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(path_parse(bad[i], &n), -ENOENT, "%s is ENOENT", bad[i]);
	ok(path_parse("/videos/abc/events/follow/follow", &n) == 0 &&
	       n.kind == NODE_FOLLOW && n.type_len == 6,
	   "a type named follow has its own follow");
}

int main(void)
{
	test_lines();
	test_faults();
	test_names();
	test_paths();
	test_live_paths();
	return tap_done();
}
