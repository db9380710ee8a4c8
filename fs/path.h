/*
 * path.h - the countfs tree: a path to what it names.
 *
 *   /                                        ROOT
 *   /videos                                  VIDEOS
 *   /videos/V                                VIDEO
 *   /videos/V/views                          AGG (type views, count)
 *   /videos/V/range                          RANGES (type views)
 *   /videos/V/range/S-E                      AGG (views, count, window)
 *   /videos/V/events                         EVENTS
 *   /videos/V/events/T                       TYPE
 *   /videos/V/events/T/{count,...}           AGG
 *   /videos/V/events/T/range                 RANGES
 *   /videos/V/events/T/range/S-E             WINDOW
 *   /videos/V/events/T/range/S-E/{count,...} AGG (window)
 *   /videos/V/follow, .../events/T/follow    FOLLOW (the count, live)
 *   /videos/V/when, .../events/T/when        WHENS
 *   /videos/V/when/N, .../events/T/when/N    WHEN (the count once >= N)
 *   /ingest, /stats                          INGEST, STATS
 *   /global                                  GLOBAL
 *   /global/videos/...                       as /videos/..., with global
 *                                            (no follow, no when)
 *
 * Parsing is pure: names point into the path; "S-" is open-ended (the
 * window then ends at the time of the read).
 */
#ifndef COUNTFS_PATH_H
#define COUNTFS_PATH_H

#include <stdbool.h>
#include <stdint.h>

enum node_kind {
	NODE_ROOT,
	NODE_VIDEOS,
	NODE_VIDEO,
	NODE_EVENTS,
	NODE_TYPE,
	NODE_RANGES,
	NODE_WINDOW,
	NODE_AGG,
	NODE_INGEST,
	NODE_STATS,
	NODE_GLOBAL,
	NODE_FOLLOW,
	NODE_WHENS,
	NODE_WHEN,
};

enum agg_fn { AGG_COUNT, AGG_SUM, AGG_MIN, AGG_MAX, AGG_AVG, AGG_FNS };

extern const char *const agg_fn_names[AGG_FNS];

struct node {
	enum node_kind kind;
	enum agg_fn fn;
	bool windowed; /* a range: start..end (or ..now) */
	bool global;   /* under /global: answered from MySQL, read-only */
	bool open_end;
	const char *video, *type;
	uint8_t video_len, type_len;
	uint32_t start, end;
	int64_t at_least; /* WHEN: N */
};

/* Parse @path; 0, or -ENOENT for anything that names nothing. */
int path_parse(const char *path, struct node *out);

/* Is @n a directory?  A file that takes appended events? */
bool node_is_dir(const struct node *n);
bool node_is_writable(const struct node *n);

/* Does a read of @n wait for its count (follow, when/N)? */
bool node_is_live(const struct node *n);

#endif
