/*
 * fs.h - the FUSE face of countfs: the context every handler reaches as
 * the session's user data, and the low-level operations table.
 */
#ifndef COUNTFS_FS_H
#define COUNTFS_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "../replicate/replicate.h"
#include "../store/store.h"
#include "inode.h"
#include "live.h"
#include "stats.h"

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

/*
 * The daemon's one context.  Everything but the store is set by main()
 * before the session starts and read-only afterwards; the store is opened
 * in init (after daemonizing) and closed in destroy.
 */
struct countfs {
	struct store_config store_cfg;
	struct store *store;
	struct repl_config repl_cfg; /* option_file NULL: no MySQL */
	struct repl *repl;	     /* opened in init after the store */
	const char *mountpoint; /* real path, for the log */
	bool foreground;
	bool ingest_skip; /* -o ingest=skip: /ingest drops its bad lines */
	unsigned top_n;	  /* -o top=N: lines of a /top file */
	bool failed; /* init could not open the store */
	time_t started;
	uid_t uid;	 /* every file's owner (-o uid=, else the mounter) */
	gid_t gid;	 /* and group (-o gid=) */
	bool set_mode;	 /* -o umask=: every mode is 0777 & ~umask */
	unsigned umask;
	struct fuse_session *se;
	struct inode_table inodes; /* what the kernel holds; own lock */
	struct live live;	   /* parked reads and pollers; own lock */
	struct fs_stats stats; /* atomics: no lock */

	pthread_mutex_t files_lock; /* guards files; after an open_file's lock */
	struct open_file *files;    /* every open handle, freed in destroy */
	pthread_cond_t tails_cond;  /* a release finished a file's tail */
	atomic_uint flushed_tails;  /* files whose tail waits for release */
	atomic_uint live_files;	    /* open follow and when/N files */
};

extern const struct fuse_lowlevel_ops countfs_ops;

/* The session loop is over: answer every parked read with EOF while the
 * kernel still listens (before fuse_session_unmount). */
void fs_end_live(struct countfs *c);

/* A stop was asked for: answer every parked read with EOF now, and every
 * later follow or when read at once, while the loop still serves. */
void fs_stop_live(struct countfs *c);

/* How many follow and when/N files are open: at stop, their readers
 * are still to read EOF (and close). */
unsigned fs_live_files(struct countfs *c);

/* Is @dir a countfs mount (main.c)?  Its source in @source. */
bool countfs_mounted(const char *dir, char *source, size_t len);

struct node;

/* The content of /top/T/S-E or /global/top/T/S-E, @n at most c->top_n
 * lines "<count> <video>\n", malloc'd into *@out (fs/top.c). */
int top_render(struct countfs *c, const struct node *n, char **out,
	       size_t *len);

#endif
