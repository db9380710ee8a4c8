/*
 * fuzz_line.c - libFuzzer target: the counter-file line parser.
 * Whatever the bytes, line_parse() returns 0 or -EINVAL, and on success
 * its fields obey the format (id within the line, 1-64 bytes of the id
 * alphabet; ts within 32 bits; *n from 1 to 2^32).
 */
#include "../../fs/line.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *s = (const char *)data, *why = NULL;
	struct line ln;
	int rc = line_parse(s, size, &ln, &why);

	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc == -EINVAL && !why)
		abort();
	if (rc == 0) {
		if (ln.id && (ln.id < s || ln.id + ln.id_len > s + size ||
			      ln.id_len < 1 || ln.id_len > 64))
			abort();
		if (ln.has_ts && (ln.ts < 0 || ln.ts > 0xffffffffLL))
			abort();
		if (ln.n < 1 || ln.n > LINE_N_MAX)
			abort();
		if (memchr(s, 0, size))
			abort(); /* NUL is never valid */
	}
	return 0;
}
