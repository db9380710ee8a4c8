/*
 * path.c - path to node, one component at a time.
 */
#include "path.h"

#include "line.h"

#include <errno.h>
#include <string.h>

const char *const agg_fn_names[AGG_FNS] = {"count", "sum", "min", "max", "avg"};

struct cursor {
	const char *p;
};

/* The next component of the path, or length 0 at its end. */
static size_t component(struct cursor *c, const char **name)
{
	const char *p = c->p;
	size_t n;

	while (*p == '/')
		p++;
	n = strcspn(p, "/");
	*name = p;
	c->p = p + n;
	return n;
}

static bool is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

static int parse_u32(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;

	/* One name per number: no leading zeros ("0100" is not "100"). */
	if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -ENOENT;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -ENOENT;
	*out = (uint32_t)v;
	return 0;
}

/* "S-E" with S < E, or "S-". */
static int parse_window(const char *s, size_t n, struct node *out)
{
	const char *dash = memchr(s, '-', n);

	if (!dash || parse_u32(s, (size_t)(dash - s), &out->start))
		return -ENOENT;
	size_t rest = n - (size_t)(dash - s) - 1;
	out->windowed = true;
	out->open_end = rest == 0;
	if (out->open_end)
		return 0;
	if (parse_u32(dash + 1, rest, &out->end) || out->start >= out->end)
		return -ENOENT;
	return 0;
}

/* The number of steps of @n's series at @now. */
static uint64_t steps(const struct node *n, uint32_t now)
{
	uint64_t end = node_end(n, now);

	return end <= n->start ? 0 : (end - n->start + n->step - 1) / n->step;
}

/* ".../series[/S-E[/STEP]]", the "series" taken: the kind each names. */
static int parse_series(struct cursor *c, struct node *out)
{
	const char *s;
	size_t n;
	uint64_t step;

	out->kind = NODE_SERIES;
	if ((n = component(c, &s)) == 0)
		return 0;
	if (parse_window(s, n, out))
		return -ENOENT;
	if ((n = component(c, &s)) == 0)
		return 0;
	/* One name per step: "05m" and "0" are not steps. */
	if (s[0] == '0' || line_duration(s, n, UINT32_MAX, &step))
		return -ENOENT;
	out->series = true;
	out->step = (uint32_t)step;
	out->kind = NODE_STEP;
	if (!out->open_end && steps(out, 0) > SERIES_STEPS_MAX)
		return -ENOENT;
	return 0;
}

static int parse_fn(const char *s, size_t n, struct node *out)
{
	for (int i = 0; i < AGG_FNS; i++) {
		if (is(s, n, agg_fn_names[i])) {
			out->kind = NODE_AGG;
			out->fn = (enum agg_fn)i;
			return 0;
		}
	}
	return -ENOENT;
}

/* Below /videos/V/events/T. */
static int parse_type(struct cursor *c, struct node *out)
{
	const char *s;
	size_t n = component(c, &s);

	if (n == 0)
		return 0;
	if (is(s, n, "series")) {
		int rc = parse_series(c, out);
		if (rc || out->kind != NODE_STEP)
			return rc;
		if ((n = component(c, &s)) == 0)
			return 0;
	} else if (is(s, n, "range")) {
		out->kind = NODE_RANGES;
		if ((n = component(c, &s)) == 0)
			return 0;
		if (parse_window(s, n, out))
			return -ENOENT;
		out->kind = NODE_WINDOW;
		if ((n = component(c, &s)) == 0)
			return 0;
	}
	if (parse_fn(s, n, out) || component(c, &s) != 0)
		return -ENOENT;
	return 0;
}

/* Below /videos/V. */
static int parse_video(struct cursor *c, struct node *out)
{
	const char *s;
	size_t n = component(c, &s);

	if (n == 0)
		return 0;
	out->type = "views";
	out->type_len = 5;
	out->fn = AGG_COUNT;
	if (is(s, n, "views")) {
		out->kind = NODE_AGG;
	} else if (is(s, n, "range")) {
		out->kind = NODE_RANGES;
		if ((n = component(c, &s)) == 0)
			return 0;
		if (parse_window(s, n, out))
			return -ENOENT;
		out->kind = NODE_AGG;
	} else if (is(s, n, "series")) {
		if (parse_series(c, out))
			return -ENOENT;
		if (out->kind == NODE_STEP)
			out->kind = NODE_AGG;
	} else if (is(s, n, "events")) {
		out->type = NULL;
		out->type_len = 0;
		out->kind = NODE_EVENTS;
		if ((n = component(c, &s)) == 0)
			return 0;
		if (!line_type_ok(s, n))
			return -ENOENT;
		out->kind = NODE_TYPE;
		out->type = s;
		out->type_len = (uint8_t)n;
		return parse_type(c, out);
	} else {
		return -ENOENT;
	}
	return component(c, &s) == 0 ? 0 : -ENOENT;
}

/* Below /top: a type, then a window. */
static int parse_top(struct cursor *c, struct node *out)
{
	const char *s;
	size_t n;

	out->kind = NODE_TOP;
	if ((n = component(c, &s)) == 0)
		return 0;
	if (!line_type_ok(s, n))
		return -ENOENT;
	out->kind = NODE_TOP_TYPE;
	out->type = s;
	out->type_len = (uint8_t)n;
	if ((n = component(c, &s)) == 0)
		return 0;
	if (parse_window(s, n, out))
		return -ENOENT;
	out->kind = NODE_TOP_WINDOW;
	return component(c, &s) == 0 ? 0 : -ENOENT;
}

int path_parse(const char *path, struct node *out)
{
	struct cursor c = {path};
	const char *s;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->kind = NODE_ROOT;
	if ((n = component(&c, &s)) == 0)
		return 0;
	if (is(s, n, "ingest") || is(s, n, "stats")) {
		out->kind = s[0] == 'i' ? NODE_INGEST : NODE_STATS;
		return component(&c, &s) == 0 ? 0 : -ENOENT;
	}
	if (is(s, n, "global")) {
		out->kind = NODE_GLOBAL;
		out->global = true;
		if ((n = component(&c, &s)) == 0)
			return 0;
	}
	if (is(s, n, "top"))
		return parse_top(&c, out);
	if (!is(s, n, "videos"))
		return -ENOENT;
	out->kind = NODE_VIDEOS;
	if ((n = component(&c, &s)) == 0)
		return 0;
	if (!line_video_ok(s, n))
		return -ENOENT;
	out->kind = NODE_VIDEO;
	out->video = s;
	out->video_len = (uint8_t)n;
	return parse_video(&c, out);
}

uint32_t node_end(const struct node *n, uint32_t now)
{
	return n->open_end ? now + 1 : n->end;
}

bool path_steps_ok(const struct node *n, uint32_t now)
{
	return !n->series || !n->open_end || steps(n, now) <= SERIES_STEPS_MAX;
}

bool node_is_dir(const struct node *n)
{
	return n->kind != NODE_AGG && n->kind != NODE_INGEST &&
	       n->kind != NODE_STATS && n->kind != NODE_TOP_WINDOW;
}

bool node_is_writable(const struct node *n)
{
	return (n->kind == NODE_AGG && !n->windowed && !n->global) ||
	       n->kind == NODE_INGEST;
}
