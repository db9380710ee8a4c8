/*
 * tmpdir.h - a fresh directory under /tmp for a unit test's store, and
 * its removal.
 */
#ifndef COUNTFS_TMPDIR_H
#define COUNTFS_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A new empty directory /tmp/countfs-@name.XXXXXX, malloc'd; NULL when
 * it cannot be made. */
static inline char *fresh_dir_named(const char *name)
{
	char tmpl[128];
	char *d;

	snprintf(tmpl, sizeof(tmpl), "/tmp/countfs-%s.XXXXXX", name);
	d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

static inline void rmrf(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

#endif
