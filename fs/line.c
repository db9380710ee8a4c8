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

/* [value] [@ts] [#id] from *s to end. */
static int parse_tail(const char *s, const char *end, struct line *out,
		      const char **why)
{
	const char *f;
	size_t n;
	int stage = 0; /* 0: value next, 1: @ts next, 2: #id next, 3: done */

	out->value = 1;
	out->has_ts = false;
	out->id = NULL;
	out->id_len = 0;
	while ((n = next_field(&s, end, &f)) > 0) {
		uint64_t ts;
		int rc;

		if (f[0] == '@' && stage <= 1) {
			rc = parse_digits(f + 1, n - 1, UINT32_MAX, &ts);
			if (rc) {
				out->fault = LINE_BAD_TS;
				*why = rc == -ERANGE ? "timestamp too large"
						     : "timestamp is not @"
						       "digits";
				return -EINVAL;
			}
			out->has_ts = true;
			out->ts = (int64_t)ts;
			stage = 2;
		} else if (f[0] == '#' && stage <= 2) {
			if (n - 1 < 1 || n - 1 > 64) {
				out->fault = LINE_BAD_ID;
				*why = "event id must be 1-64 bytes";
				return -EINVAL;
			}
			for (size_t i = 1; i < n; i++) {
				if (!id_char(f[i])) {
					out->fault = LINE_BAD_ID;
					*why = "event id may hold only "
					       "[A-Za-z0-9_.:-]";
					return -EINVAL;
				}
			}
			out->id = f + 1;
			out->id_len = (uint8_t)(n - 1);
			stage = 3;
		} else if (stage == 0 && f[0] != '@' && f[0] != '#') {
			rc = parse_value(f, n, &out->value);
			if (rc) {
				out->fault = LINE_BAD_VALUE;
				*why = rc == -ERANGE
					   ? "value does not fit in 64 bits"
					   : "value is not an integer";
				return -EINVAL;
			}
			stage = 1;
		} else {
			out->fault = LINE_BAD_FIELDS;
			*why = "expected [value] [@ts] [#id], in that order";
			return -EINVAL;
		}
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
