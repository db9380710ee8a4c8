/*
 * mapresized.c - an LD_PRELOAD shim for countfs-backup: its first
 * mdb_env_copy2() fails as when the daemon grew the map of the shard
 * between the backup's open and its read transaction: the empty
 * data.mdb made, then MDB_MAP_RESIZED.  The later calls are LMDB's.
 *
 *   $ cc -shared -fPIC -o mapresized.so tests/helpers/mapresized.c -ldl
 *   $ LD_PRELOAD=./mapresized.so countfs-backup DATA DEST
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#define MDB_MAP_RESIZED (-30785) /* lmdb.h; only store/ includes it */

int mdb_env_copy2(void *env, const char *path, unsigned flags)
{
	static int calls;
	int (*real)(void *, const char *, unsigned) =
	    (int (*)(void *, const char *, unsigned))dlsym(RTLD_NEXT,
							   "mdb_env_copy2");
	char file[PATH_MAX];
	int fd;

	if (calls++ > 0)
		return real(env, path, flags);
	snprintf(file, sizeof(file), "%s/data.mdb", path);
	if ((fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0)
		close(fd);
	return MDB_MAP_RESIZED;
}
