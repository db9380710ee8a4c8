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
 *   /videos/V/series, .../series/S-E         SERIES (views)
 *   /videos/V/series/S-E/STEP                AGG (views, count, series)
 *   /videos/V/events/T/series[/S-E]          SERIES
 *   /videos/V/events/T/series/S-E/STEP       STEP
 *   /videos/V/events/T/series/S-E/STEP/{count,...} AGG (series)
 *   /ingest, /stats                          INGEST, STATS
 *   /top                                     TOP
 *   /top/T                                   TOP_TYPE
 *   /top/T/S-E                               TOP_WINDOW (type T, window)
 *   /global                                  GLOBAL
 *   /global/videos/..., /global/top/...      as without, with global
 *
 * Parsing is pure: names point into the path; "S-" is open-ended (the
 * window then ends at the time of the read).  A series' STEP is seconds
 * or a duration (90, 5m, 1h, 1d; no leading zero), at least 1 s, and
 * makes at most SERIES_STEPS_MAX steps (an open-ended window is judged
 * when read: path_steps_ok()).
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
	NODE_SERIES,
	NODE_STEP,
	NODE_TOP,
	NODE_TOP_TYPE,
	NODE_TOP_WINDOW,
};

#define SERIES_STEPS_MAX 100000

enum agg_fn { AGG_COUNT, AGG_SUM, AGG_MIN, AGG_MAX, AGG_AVG, AGG_FNS };

extern const char *const agg_fn_names[AGG_FNS];

struct node {
	enum node_kind kind;
	enum agg_fn fn;
	bool windowed; /* a range: start..end (or ..now) */
	bool global;   /* under /global: answered from MySQL, read-only */
	bool open_end;
	bool series; /* a series: a range per @step in start..end */
	const char *video, *type;
	uint8_t video_len, type_len;
	uint32_t start, end, step;
};

/* Parse @path; 0, or -ENOENT for anything that names nothing. */
int path_parse(const char *path, struct node *out);

/* Does @n name something at time @now?  A series of an open-ended
 * window names nothing once it would pass SERIES_STEPS_MAX steps. */
bool path_steps_ok(const struct node *n, uint32_t now);

/* The end of @n's window for a read at @now: an open end is now + 1. */
uint32_t node_end(const struct node *n, uint32_t now);

/* Is @n a directory?  A file that takes appended events? */
bool node_is_dir(const struct node *n);
bool node_is_writable(const struct node *n);

#endif
