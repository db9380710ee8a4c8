/*
 * series.h - what a counter file reads: one aggregate as text, or a
 * series of them, one line per step.
 */
#ifndef COUNTFS_SERIES_H
#define COUNTFS_SERIES_H

#include "fs.h"
#include "path.h"

#include <stddef.h>

/* The text of @fn of @a, "<number>\n", into @buf of @cap bytes: its
 * length, 0 for nothing (min, max or avg of no events). */
int format_agg(char *buf, size_t cap, enum agg_fn fn,
	       const struct store_agg *a);

/*
 * The content of the series file @n (n->series), read now: a malloc'd
 * buffer into *@out (NULL when empty) and its length into *@len.  One
 * line "<t> <value>\n" per step t = start, start + step, ... < end,
 * value what range/<t>-<min(t + step, end)> reads now, "-" where that
 * reads nothing.  0 or a negative errno.
 */
int series_content(struct countfs *c, const struct node *n, char **out,
		   size_t *len);

#endif
