/*
 * top.c - the content of /top/T/S-E and /global/top/T/S-E: the videos
 * with the most events of type T in the window, "<count> <video>\n",
 * highest first, ties by video id in byte order, at most -o top=N lines.
 * The ranking is the store's (store_top(), store/top.c) or MySQL's
 * (repl_top(), replicate/global.c); this file only words it.
 */
#include "fs.h"

#include "../common/mono.h"
#include "path.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* One line: a count of up to 19 digits, a space, a video, '\n'. */
#define TOP_LINE_MAX (20 + 1 + STORE_VIDEO_MAX + 1)

int top_render(struct countfs *c, const struct node *n, char **out,
	       size_t *len)
{
	unsigned want = c->top_n ? c->top_n : 100, got = 0;
	struct store_top_row *rows = malloc(want * sizeof(*rows));
	uint32_t now = wall_seconds();
	uint32_t end = n->open_end ? now + 1 : n->end;
	char *buf = NULL;
	size_t at = 0;
	int rc;

	*out = NULL;
	*len = 0;
	if (!rows)
		return -ENOMEM;
	if (n->global)
		rc = repl_top(c->repl, n->type, n->type_len, n->start, end,
			      want, rows, &got);
	else
		rc = store_top(c->store, n->type, n->type_len, n->start, end,
			       now, want, rows, &got, NULL);
	if (rc == 0 && got && !(buf = malloc((size_t)got * TOP_LINE_MAX)))
		rc = -ENOMEM;
	for (unsigned i = 0; rc == 0 && i < got; i++)
		at += (size_t)snprintf(buf + at, TOP_LINE_MAX, "%" PRId64 " %s\n",
				       rows[i].count, rows[i].video);
	free(rows);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = at;
	return 0;
}
