/*
 * series.c - a range per step, read as one: the store (or MySQL under
 * /global) answers every step of a series in one read, and each becomes
 * a line.  A value is exactly the text of the range file of its step,
 * without its newline; where that text is empty (min, max, avg of no
 * events) the line says "-", so that every step has a line and a line
 * always has two fields.
 */
#include "series.h"

#include "../common/mono.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* The longest line: 10 digits of t, a space, an avg of 20 digits, a
 * sign, a point and 3 decimals, the newline. */
#define LINE_CAP 48

/* avg = sum / count rounded to 3 decimals, trailing zeros dropped. */
static int format_avg(char *buf, size_t cap, const struct store_agg *a)
{
	__int128 scaled = (__int128)a->sum * 1000, q;
	bool neg = scaled < 0;

	if (neg)
		scaled = -scaled;
	q = (scaled + a->count / 2) / a->count;
	unsigned long long whole = (unsigned long long)(q / 1000);
	unsigned frac = (unsigned)(q % 1000);
	const char *sign = neg && q ? "-" : "";

	if (frac == 0)
		return snprintf(buf, cap, "%s%llu\n", sign, whole);
	int digits = 3;
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	return snprintf(buf, cap, "%s%llu.%0*u\n", sign, whole, digits, frac);
}

/* @v in decimal then @end into @buf (room for 22 bytes); the length.
 * By hand: a series formats up to 200,000 numbers per read, and
 * snprintf() would be most of its time. */
static int put_i64(char *buf, int64_t v, char end)
{
	char tmp[20];
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	int n = 0, len = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		buf[len++] = '-';
	while (n)
		buf[len++] = tmp[--n];
	buf[len++] = end;
	return len;
}

int format_agg(char *buf, size_t cap, enum agg_fn fn,
	       const struct store_agg *a)
{
	if (cap < 22)
		return 0;
	switch (fn) {
	case AGG_COUNT:
		return put_i64(buf, a->count, '\n');
	case AGG_SUM:
		return put_i64(buf, a->sum, '\n');
	case AGG_MIN:
		return a->count ? put_i64(buf, a->min, '\n') : 0;
	case AGG_MAX:
		return a->count ? put_i64(buf, a->max, '\n') : 0;
	default:
		return a->count ? format_avg(buf, cap, a) : 0;
	}
}

/* The lines of @n steps of @agg from @start by @step. */
static int render(const struct node *nd, const struct store_agg *agg,
		  size_t n, char **out, size_t *len)
{
	char *buf = malloc(n * LINE_CAP + 1), *p = buf;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		p += put_i64(p, (int64_t)(nd->start + (uint64_t)i * nd->step),
			     ' ');
		int k = format_agg(p, LINE_CAP, nd->fn, &agg[i]);
		if (k > 0) {
			p += k;
		} else {
			*p++ = '-';
			*p++ = '\n';
		}
	}
	*out = buf;
	*len = (size_t)(p - buf);
	return 0;
}

int series_content(struct countfs *c, const struct node *n, char **out,
		   size_t *len)
{
	uint32_t now = wall_seconds(), end = node_end(n, now);
	uint64_t steps = store_series_len(n->start, end, n->step);
	struct store_agg *agg;
	int rc;

	*out = NULL;
	*len = 0;
	if (steps == 0) /* an open end not reached yet */
		return 0;
	if (steps > SERIES_STEPS_MAX) /* an open end that ran past it */
		return -ENOENT;
	if (!(agg = malloc(steps * sizeof(*agg))))
		return -ENOMEM;
	if (n->global)
		rc = repl_series(c->repl, n->video, n->video_len, n->type,
				 n->type_len, n->start, end, n->step, agg,
				 steps);
	else
		rc = store_series(c->store, n->video, n->video_len, n->type,
				  n->type_len, n->start, end, n->step, now, agg,
				  steps);
	if (rc == 0)
		rc = render(n, agg, steps, out, len);
	free(agg);
	return rc;
}
