/*
 * fuzz_path.c - libFuzzer target: the path parser.  Any NUL-terminated
 * path gives 0 or -ENOENT; a parsed node's names are valid and point into
 * the path, and a window has start < end unless it is open.
 */
#include "../../fs/line.h"
#include "../../fs/path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *path = malloc(size + 1);
	struct node n;

	if (!path)
		return 0;
	memcpy(path, data, size);
	path[size] = 0;
	int rc = path_parse(path, &n);
	if (rc != 0 && rc != -ENOENT)
		abort();
	if (rc == 0) {
		if (n.video && !line_video_ok(n.video, n.video_len))
			abort();
		if (n.type && !line_type_ok(n.type, n.type_len))
			abort();
		if (n.windowed && !n.open_end && n.start >= n.end)
			abort();
		if (n.kind == NODE_AGG && (int)n.fn >= AGG_FNS)
			abort();
	}
	free(path);
	return 0;
}
