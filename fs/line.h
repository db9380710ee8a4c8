/*
 * line.h - the line format of countfs, and the names it accepts.
 *
 *   views, count, ... files:  [value] [*n] [@ts] [#id]
 *   /ingest:                  <video> <type> [value] [*n] [@ts] [#id]
 *
 * Fields are separated by spaces or tabs and come in this order; an empty
 * line is one event of value 1.  "*n" (1 <= n <= 2^32, decimal digits,
 * leading zeros allowed as in the value and @ts) stands for n events of
 * the value at once.  Parsing is strict and never allocates:
 * returned strings point into the caller's buffer.  Pure functions, safe
 * from any thread.
 */
#ifndef COUNTFS_LINE_H
#define COUNTFS_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINE_MAX_BYTES 4096 /* longest line, without its '\n' */
#define LINE_N_MAX (UINT64_C(1) << 32) /* the largest *n */

/* Which part of a refused line is wrong, for /stats. */
enum line_fault {
	LINE_BAD_VIDEO,	 /* missing, or not a video name */
	LINE_BAD_TYPE,	 /* missing, or not a type name */
	LINE_BAD_VALUE,	 /* not a 64-bit integer */
	LINE_BAD_TS,	 /* not @digits, or past 32 bits */
	LINE_BAD_ID,	 /* not 1-64 bytes of [A-Za-z0-9_.:-] */
	LINE_BAD_MULT,	 /* not *digits, or 0, or past 2^32 */
	LINE_BAD_FIELDS, /* fields out of order, or too many */
	LINE_TOO_LONG,	 /* over LINE_MAX_BYTES */
	LINE_FAULTS
};

struct line {
	enum line_fault fault; /* set when a parser returns -EINVAL */
	const char *video, *type, *id; /* id NULL when absent */
	uint8_t video_len, type_len, id_len;
	bool has_ts;
	int64_t value; /* 1 when absent */
	uint64_t n;    /* *n: 1..LINE_N_MAX, 1 when absent */
	int64_t ts;    /* valid with has_ts */
};

/* Parse one line of a counter file (@len bytes, no '\n').  Returns 0, or
 * -EINVAL with *@why set to a static sentence for the log and out->fault
 * to what is wrong. */
int line_parse(const char *s, size_t len, struct line *out, const char **why);

/* Parse one /ingest line: a video, a type, then as line_parse(). */
int line_parse_ingest(const char *s, size_t len, struct line *out,
		      const char **why);

/* 1-128 bytes of [A-Za-z0-9_.-], not "." or "..". */
bool line_video_ok(const char *s, size_t len);

/* 1-32 bytes of [a-z0-9_]. */
bool line_type_ok(const char *s, size_t len);

/* A duration: digits, then a unit s, m, h or d, or none (seconds).
 * 0 with *@out in seconds, or -EINVAL: no digits, another unit, or more
 * than @max seconds. */
int line_duration(const char *s, size_t len, uint64_t max, uint64_t *out);

#endif
