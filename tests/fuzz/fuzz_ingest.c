/*
 * fuzz_ingest.c - libFuzzer target: an /ingest write split into lines as
 * the daemon splits it, each parsed with line_parse_ingest().  Accepted
 * lines must name a valid video and type inside the buffer.
 */
#include "../../fs/line.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *s = (const char *)data, *end = s + size;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		const char *why = NULL;
		struct line ln;
		int rc = line_parse_ingest(s, len, &ln, &why);

		if (rc != 0 && rc != -EINVAL)
			abort();
		if (rc == 0 &&
		    (!line_video_ok(ln.video, ln.video_len) ||
		     !line_type_ok(ln.type, ln.type_len) || ln.video < s ||
		     ln.type + ln.type_len > s + len))
			abort();
		s += len + (nl != NULL);
	}
	return 0;
}
