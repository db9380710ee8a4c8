/*
 * line.c - strict parsers for event lines and names.
 */
#include "line.h"

#include <errno.h>
#include <string.h>

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static bool video_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static bool id_char(char c) { return video_char(c) || c == ':'; }

bool line_video_ok(const char *s, size_t len)
{
	if (len < 1 || len > 128)
		return false;
	if ((len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!video_char(s[i]))
			return false;
	return true;
}

bool line_type_ok(const char *s, size_t len)
{
	if (len < 1 || len > 32)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Digits only, at least one, no overflow past @limit. */
static int parse_digits(const char *s, size_t len, uint64_t limit,
			uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (limit - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int line_duration(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	static const char units[] = "smhd";
	static const uint64_t mult[] = {1, 60, 3600, 86400};
	const char *u = len ? memchr(units, s[len - 1], 4) : NULL;
	uint64_t v, m = u ? mult[u - units] : 1;

	if (parse_digits(s, u ? len - 1 : len, max / m, &v))
		return -EINVAL;
	*out = v * m;
	return 0;
}

static int parse_value(const char *s, size_t len, int64_t *out)
{
	bool neg = len > 0 && s[0] == '-';
	uint64_t mag;
	int rc;

	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		s++;
		len--;
	}
	rc = parse_digits(s, len, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX,
			  &mag);
	if (rc)
		return rc;
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

/* Split off the next field: skip blanks, return its start and length. */
static size_t next_field(const char **s, const char *end, const char **field)
{
	const char *p = *s;

	while (p < end && is_space(*p))
		p++;
	*field = p;
	while (p < end && !is_space(*p))
		p++;
	*s = p;
	return (size_t)(p - *field);
}

/* *n: digits (leading zeros allowed, as in the value and @ts), 1..2^32. */
static int parse_n(const char *f, size_t len, struct line *out,
		   const char **why)
{
	int rc = parse_digits(f + 1, len - 1, LINE_N_MAX, &out->n);

	if (rc == 0 && out->n > 0)
		return 0;
	out->fault = LINE_BAD_MULT;
	*why = rc == -ERANGE ? "*n past 2^32 (4294967296)"
	       : rc	     ? "*n is not *digits"
			     : "*n must be at least 1";
	return -EINVAL;
}

/* @ts: digits, at most 2^32 - 1. */
static int parse_ts(const char *f, size_t len, struct line *out,
		    const char **why)
{
	uint64_t ts;
	int rc = parse_digits(f + 1, len - 1, UINT32_MAX, &ts);

	if (rc) {
		out->fault = LINE_BAD_TS;
		*why = rc == -ERANGE ? "timestamp too large"
				     : "timestamp is not @digits";
		return -EINVAL;
	}
	out->has_ts = true;
	out->ts = (int64_t)ts;
	return 0;
}

/* #id: 1-64 bytes of [A-Za-z0-9_.:-]. */
static int parse_id(const char *f, size_t len, struct line *out,
		    const char **why)
{
	if (len - 1 < 1 || len - 1 > 64) {
		out->fault = LINE_BAD_ID;
		*why = "event id must be 1-64 bytes";
		return -EINVAL;
	}
	for (size_t i = 1; i < len; i++) {
		if (!id_char(f[i])) {
			out->fault = LINE_BAD_ID;
			*why = "event id may hold only [A-Za-z0-9_.:-]";
			return -EINVAL;
		}
	}
	out->id = f + 1;
	out->id_len = (uint8_t)(len - 1);
	return 0;
}

/* The fields of the tail, in the order they must come. */
enum field { F_VALUE, F_N, F_TS, F_ID, F_DONE };

static enum field field_of(char c)
{
	return c == '*' ? F_N : c == '@' ? F_TS : c == '#' ? F_ID : F_VALUE;
}

/* [value] [*n] [@ts] [#id] from *s to end. */
static int parse_tail(const char *s, const char *end, struct line *out,
		      const char **why)
{
	const char *f;
	size_t len;
	enum field next = F_VALUE; /* the first field that may still come */

	out->value = 1;
	out->n = 1;
	out->has_ts = false;
	out->id = NULL;
	out->id_len = 0;
	while ((len = next_field(&s, end, &f)) > 0) {
		enum field k = field_of(f[0]);
		int rc;

		if (k < next) {
			out->fault = LINE_BAD_FIELDS;
			*why = "expected [value] [*n] [@ts] [#id], in that "
			       "order";
			return -EINVAL;
		}
		switch (k) {
		case F_VALUE:
			rc = parse_value(f, len, &out->value);
			if (rc) {
				out->fault = LINE_BAD_VALUE;
				*why = rc == -ERANGE
					   ? "value does not fit in 64 bits"
					   : "value is not an integer";
				return -EINVAL;
			}
			break;
		case F_N:
			rc = parse_n(f, len, out, why);
			break;
		case F_TS:
			rc = parse_ts(f, len, out, why);
			break;
		default:
			rc = parse_id(f, len, out, why);
			break;
		}
		if (rc)
			return rc;
		next = k + 1;
	}
	return 0;
}

/* A CRLF ending is taken as LF; then lines over the limit are refused
 * (the limit counts the line without its ending). */
static int line_trim(const char *s, size_t *len, struct line *out,
		     const char **why)
{
	if (*len > 0 && s[*len - 1] == '\r')
		(*len)--;
	if (*len > LINE_MAX_BYTES) {
		out->fault = LINE_TOO_LONG;
		*why = "line longer than 4096 bytes";
		return -EINVAL;
	}
	return 0;
}

int line_parse(const char *s, size_t len, struct line *out, const char **why)
{
	if (line_trim(s, &len, out, why))
		return -EINVAL;
	out->video = out->type = NULL;
	out->video_len = out->type_len = 0;
	return parse_tail(s, s + len, out, why);
}

int line_parse_ingest(const char *s, size_t len, struct line *out,
		      const char **why)
{
	const char *end, *f;
	size_t n;

	if (line_trim(s, &len, out, why))
		return -EINVAL;
	end = s + len;
	n = next_field(&s, end, &f);
	if (!line_video_ok(f, n)) {
		out->fault = LINE_BAD_VIDEO;
		*why = n ? "video must be 1-128 bytes of [A-Za-z0-9_.-]"
			 : "ingest line needs <video> <type>";
		return -EINVAL;
	}
	out->video = f;
	out->video_len = (uint8_t)n;
	n = next_field(&s, end, &f);
	if (!line_type_ok(f, n)) {
		out->fault = LINE_BAD_TYPE;
		*why = n ? "type must be 1-32 bytes of [a-z0-9_]"
			 : "ingest line needs <video> <type>";
		return -EINVAL;
	}
	out->type = f;
	out->type_len = (uint8_t)n;
	return parse_tail(s, end, out, why);
}
