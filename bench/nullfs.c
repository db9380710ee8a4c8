/*
 * nullfs.c - the do-nothing FUSE filesystem that countfs is measured
 * against: the ceiling of the interface itself.
 *
 * Same libfuse and low-level API as countfs, same session and mount
 * options (default_permissions, the thread pool of 64, a /dev/fuse per
 * worker (clone_fd), idle threads from the command line), the same
 * timeouts (a second for names and attributes), files opened with
 * direct_io and read-only ones without
 * flush.  Every path exists: a file when its last component is one of
 * countfs's file names (follow included), or range/S-E or when/N outside
 * any events directory; a directory otherwise (series/S-E/STEP is not
 * mirrored: no bench reads it here).  write() returns its size, read()
 * returns "0\n" (follow too: it never blocks).
 *
 * Nothing is kept per inode: an inode number is a hash of its parent's
 * number and its name, with its kind in the two low bits.  A path keeps
 * its number, lookup and getattr cost no table, and forget frees nothing
 * (libfuse answers it), so memory stays flat however many names the kernel
 * holds.  Two of n names held at once share a number with a chance of
 * about n^2 / 2^62 (2e-7 for a million).
 *
 *   $ ./bench/nullfs MOUNTPOINT -f
 */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "../common/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* As countfs's fs/fs.c; every name exists, so none is cached absent. */
#define ENTRY_TIMEOUT 1.0
#define ATTR_TIMEOUT 1.0

/* An inode's kind, in its number's two low bits (the root is a K_DIR). */
enum kind {
	K_DIR,	  /* a directory */
	K_RANGE,  /* a range directory outside events: its entries are files */
	K_EVENTS, /* an events directory or one below it: range is a K_DIR */
	K_FILE,
};

static enum kind kind_of(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? K_DIR : (enum kind)(ino & 3);
}

/* The components countfs uses for files. */
static int is_file_name(const char *name)
{
	static const char *const files[] = {
	    "views", "count", "sum",   "min",  "max",
	    "avg",   "ingest", "stats", "follow"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (strcmp(name, files[i]) == 0)
			return 1;
	return 0;
}

static enum kind child_kind(enum kind parent, const char *name)
{
	if (parent == K_RANGE || is_file_name(name))
		return K_FILE;
	if (parent == K_EVENTS || strcmp(name, "events") == 0)
		return K_EVENTS;
	return strcmp(name, "range") == 0 || strcmp(name, "when") == 0
		       ? K_RANGE
		       : K_DIR;
}

/* Above 1 (the root) and below 2^63. */
static fuse_ino_t child_ino(fuse_ino_t parent, const char *name, enum kind k)
{
	uint64_t h = fnv1a(fnv1a(FNV1A_INIT, &parent, sizeof(parent)), name,
			   strlen(name));

	return ((h >> 4) + 1) << 2 | k;
}

/* Who owns every file: the user who mounted, as in countfs. */
struct owner {
	uid_t uid;
	gid_t gid;
};

static void null_stat(fuse_req_t req, fuse_ino_t ino, struct stat *sb)
{
	const struct owner *o = fuse_req_userdata(req);

	memset(sb, 0, sizeof(*sb));
	sb->st_ino = ino;
	sb->st_uid = o->uid;
	sb->st_gid = o->gid;
	if (kind_of(ino) == K_FILE) {
		sb->st_mode = S_IFREG | 0644;
		sb->st_nlink = 1;
	} else {
		sb->st_mode = S_IFDIR | 0755;
		sb->st_nlink = 2;
	}
}

static void null_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = {0};

	if (kind_of(parent) == K_FILE) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	e.ino = child_ino(parent, name, child_kind(kind_of(parent), name));
	e.attr_timeout = ATTR_TIMEOUT;
	e.entry_timeout = ENTRY_TIMEOUT;
	null_stat(req, e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void null_getattr(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct stat sb;

	null_stat(req, ino, &sb);
	fuse_reply_attr(req, &sb, ATTR_TIMEOUT);
}

/* Any truncate (echo > views) succeeds; modes and times are ignored. */
static void null_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			 int valid, struct fuse_file_info *fi)
{
	null_getattr(req, ino, fi);
}

static void null_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fi->direct_io = 1;
	if ((fi->flags & O_ACCMODE) == O_RDONLY)
		fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void null_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	if (off > 0 || size < 2)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, "0\n", 2);
}

static void null_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		       size_t size, off_t off, struct fuse_file_info *fi)
{
	fuse_reply_write(req, size);
}

/* flush and release: nothing to finish. */
static void null_close(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* Every directory lists empty. */
static void null_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	fuse_reply_buf(req, NULL, 0);
}

static const struct fuse_lowlevel_ops null_ops = {
    .lookup = null_lookup,
    .getattr = null_getattr,
    .setattr = null_setattr,
    .open = null_open,
    .read = null_read,
    .write = null_write,
    .flush = null_close,
    .release = null_close,
    .readdir = null_readdir,
};

/* Daemonize unless -f, and serve until unmounted, as countfs does. */
static int serve(struct fuse_session *se, struct fuse_cmdline_opts *opts)
{
	struct fuse_loop_config *loop;
	int rc;

	if (fuse_daemonize(opts->foreground) || fuse_set_signal_handlers(se))
		return 1;
	if (opts->singlethread) {
		rc = fuse_session_loop(se);
	} else {
		loop = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(loop, 1); /* as countfs */
		fuse_loop_cfg_set_max_threads(loop, opts->max_threads);
		if (opts->max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(loop,
						       opts->max_idle_threads);
		rc = fuse_session_loop_mt(se, loop);
		fuse_loop_cfg_destroy(loop);
	}
	fuse_remove_signal_handlers(se);
	return rc != 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_cmdline_opts opts = {0};
	struct owner owner = {getuid(), getgid()};
	struct fuse_session *se;
	int rc = 1;

	/* countfs's options: max_threads before the user's, so that they
	 * may change it; the tree's own after. */
	fuse_opt_add_arg(&args, argv[0]);
	fuse_opt_add_arg(&args, "-omax_threads=64");
	for (int i = 1; i < argc; i++)
		fuse_opt_add_arg(&args, argv[i]);
	fuse_opt_add_arg(&args, "-odefault_permissions,fsname=nullfs,"
				"subtype=nullfs");
	if (fuse_parse_cmdline(&args, &opts) || !opts.mountpoint) {
		fprintf(stderr, "usage: %s MOUNTPOINT [-f]\n", argv[0]);
		goto out;
	}
	se = fuse_session_new(&args, &null_ops, sizeof(null_ops), &owner);
	if (se) {
		if (fuse_session_mount(se, opts.mountpoint) == 0) {
			rc = serve(se, &opts);
			fuse_session_unmount(se);
		}
		fuse_session_destroy(se);
	}
out:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return rc;
}
