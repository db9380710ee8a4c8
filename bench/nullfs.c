/*
 * nullfs.c - the do-nothing FUSE filesystem that countfs is measured
 * against: the ceiling of the interface itself.
 *
 * Same libfuse, same mount and session options as countfs (default
 * permissions, direct_io, nullpath_ok, the same thread pool, the same
 * timeouts), the same tree shape: every path under /videos exists, a
 * directory when its last component is a video, type or "events"/"range",
 * a file otherwise.  write() returns its size, read() returns "0\n".
 *
 *   $ ./bench/nullfs MOUNTPOINT -f
 */
#define FUSE_USE_VERSION 314
#include <fuse.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Files are the components countfs uses for files; the rest are dirs. */
static int is_file(const char *path)
{
	static const char *const files[] = {"views", "count", "sum", "min",
					    "max",   "avg",   "ingest", "stats"};
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (strcmp(base, files[i]) == 0)
			return 1;
	/* range/S-E under a video is a file (a count). */
	const char *r = strstr(path, "/range/");
	return r && !strstr(path, "/events/") && !strchr(r + 7, '/');
}

static int null_getattr(const char *path, struct stat *sb,
			struct fuse_file_info *fi)
{
	(void)fi;
	memset(sb, 0, sizeof(*sb));
	if (path && is_file(path)) {
		sb->st_mode = S_IFREG | 0644;
		sb->st_nlink = 1;
	} else {
		sb->st_mode = S_IFDIR | 0755;
		sb->st_nlink = 2;
	}
	return 0;
}

static int null_open(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	fi->direct_io = 1;
	return 0;
}

static int null_read(const char *path, char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)path, (void)fi;
	if (off > 0 || size < 2)
		return 0;
	memcpy(buf, "0\n", 2);
	return 2;
}

static int null_write(const char *path, const char *buf, size_t size,
		      off_t off, struct fuse_file_info *fi)
{
	(void)path, (void)buf, (void)off, (void)fi;
	return (int)size;
}

static int null_truncate(const char *path, off_t size,
			 struct fuse_file_info *fi)
{
	(void)path, (void)size, (void)fi;
	return 0;
}

static int null_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path, (void)fi;
	return 0;
}

static void *null_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = 1;
	cfg->attr_timeout = 1;
	cfg->negative_timeout = 1;
	cfg->nullpath_ok = 1;
	cfg->direct_io = 1;
	return NULL;
}

static const struct fuse_operations null_ops = {
    .init = null_init,
    .getattr = null_getattr,
    .open = null_open,
    .read = null_read,
    .write = null_write,
    .truncate = null_truncate,
    .flush = null_flush,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);

	for (int i = 0; i < argc; i++)
		fuse_opt_add_arg(&args, argv[i]);
	fuse_opt_add_arg(&args, "-odefault_permissions,fsname=nullfs,"
				"subtype=nullfs,max_threads=64,no_rofd_flush");
	int rc = fuse_main(args.argc, args.argv, &null_ops, NULL);
	fuse_opt_free_args(&args);
	return rc;
}
