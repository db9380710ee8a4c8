/*
 * fs.c - the FUSE operations: paths to nodes, writes to events, reads to
 * numbers.
 *
 * They are libfuse's low-level operations: a request names an inode
 * (inode.c: the path the kernel looked up, parsed once) and is answered
 * with a fuse_reply_*() call.  Names, attributes and absent names are
 * cached by the kernel for a second (ENTRY_TIMEOUT, ATTR_TIMEOUT,
 * NEGATIVE_TIMEOUT), so a stat sees a series' mtime at most a second
 * late, as it did with libfuse's high-level API; contents never are.
 *
 * Every file is opened with direct_io: reads are never served from the
 * page cache, and the file's size (0, as in /proc) does not cut them.
 * A read at offset 0 computes the content afresh and keeps it with the
 * open file, so that a reader walking through it in pieces sees one
 * consistent snapshot; pread() at 0 on a persistent fd always sees the
 * current count.
 *
 * A write is split into lines.  The complete ones are parsed first - any
 * bad line refuses the whole write with EINVAL and records nothing - and
 * then recorded in one call to the store.  An unfinished last line is kept
 * with the open file description and finished by the next write, or by
 * release - the last close of that description, not flush, which comes
 * with every close() of every copy of the fd (dup, a forked child).
 *
 * With -o ingest=skip, /ingest drops its bad lines instead (counted by
 * reason and logged) and records the others, so that a buffered writer
 * such as nginx loses no good line to a bad one.  A line is dropped
 * whole, when it ends.  What the store refuses (EOVERFLOW, ENOSPC) is no
 * bad line: it fails the write whole in either mode.
 *
 * release reaches the daemon just after close() returned, so a read that
 * follows a close could overtake it: a flush that leaves a tail marks the
 * file (flushed_tail), and a read of the same series waits for the
 * release (at most TAIL_WAIT_MS; a dup'd copy may keep the file open).
 */
#include "fs.h"

#include "../common/log.h"
#include "../common/mono.h"
#include "../common/notify.h"
#include "inode.h"
#include "line.h"
#include "path.h"
#include "series.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* How long a read waits for the release of a file whose unfinished line
 * was flushed by a close(); longer only when another copy of the fd keeps
 * the file open, and then once per such close. */
#define TAIL_WAIT_MS 50
/* An unfinished line may hold LINE_MAX_BYTES and the '\r' of a CRLF. */
#define TAIL_MAX (LINE_MAX_BYTES + 1)
/* What the kernel may cache, in seconds: the values libfuse's high-level
 * API was given, so that nothing a user sees changed with the move. */
#define ENTRY_TIMEOUT 1.0
#define ATTR_TIMEOUT 1.0
#define NEGATIVE_TIMEOUT 1.0
/* A directory entry's inode number when it is not known, as libfuse's
 * high-level API gives it (d_ino of a readdir). */
#define DIRENT_UNKNOWN_INO 0xffffffffu

struct open_file {
	struct node node; /* video and type point into names below */
	char video[STORE_VIDEO_MAX + 1], type[STORE_TYPE_MAX + 1];
	char *path; /* for log lines */

	pthread_mutex_t lock; /* guards everything below */
	char *tail;	      /* unfinished line, TAIL_MAX capacity */
	size_t tail_len;
	pid_t tail_tid;	  /* the thread of the last write: the writer
			   * that log lines name */
	pid_t tail_pid;	  /* its process, once looked up (0: not yet) */
	bool tail_killed; /* its writer died of a signal since it grew */
	bool discard;	  /* drop up to the next '\n': a refused long line */
	atomic_bool tail_shared;  /* a read gave up waiting: another fd */
	atomic_bool flushed_tail; /* a close() left tail_len > 0; see top */
	/* With flushed_tail, under countfs.files_lock: the video an /ingest
	 * tail names (len -1 while it is not written out yet). */
	char tail_video[STORE_VIDEO_MAX];
	int tail_video_len;
	char *snap; /* content served to reads at offset > 0 */
	size_t snap_len;

	struct open_file *prev, *next; /* in countfs.files */

	/* A directory of videos read in pieces (readdir with offsets). */
	unsigned walk_shard;
	char walk_after[STORE_VIDEO_MAX + 1];
	off_t walk_off;

	/* Any other directory, listed whole at offset 0 (NUL-separated
	 * names) and served by position; list_pos/list_at: where the last
	 * readdir ended, so that the next resumes there. */
	bool listed;
	char *names;
	size_t names_len, names_cap;
	off_t list_pos;
	size_t list_at;

	/* A series' count as this handle last read it (a total: poll and
	 * the live files compare with it); under lock. */
	int64_t seen;
	bool has_seen;
	bool answered;	  /* follow, when/N: a read was answered */
	bool nonblock;	  /* opened O_NONBLOCK: a read that would wait is
			   * EAGAIN */
	size_t live_sent; /* follow: bytes of snap given so far */
	struct live_watch pw; /* its poller, linked while one waits */
};

static struct countfs *context(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Inode numbers are the inodes' addresses; the root's is 1. */
static struct inode *inode_of(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return context(req)->inodes.root;
	return (struct inode *)(uintptr_t)ino;
}

static fuse_ino_t ino_of(struct countfs *c, const struct inode *in)
{
	return in == c->inodes.root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)in;
}

static struct open_file *file_of(struct fuse_file_info *fi)
{
	return (struct open_file *)(uintptr_t)fi->fh;
}

/* The file's unfinished line no longer waits for a release; with
 * files_lock held. */
static void tail_unflushed_locked(struct countfs *c, struct open_file *of)
{
	if (atomic_exchange(&of->flushed_tail, false))
		atomic_fetch_sub(&c->flushed_tails, 1);
}

static void tail_unflushed(struct countfs *c, struct open_file *of)
{
	if (!atomic_load(&of->flushed_tail))
		return;
	pthread_mutex_lock(&c->files_lock);
	tail_unflushed_locked(c, of);
	pthread_mutex_unlock(&c->files_lock);
}

/* ---- attributes and directories ---------------------------------- */

/*
 * A node's mtime (and ctime, atime): for what holds counts, the last
 * change of its series (a video's directories: of any of its series), so
 * that find -newer, make and staleness alerts see a counter move; /stats
 * and /global files, computed when read, the time of the getattr; the
 * rest, and series not changed since 0.5.0, the mount time.
 */
static time_t node_mtime(struct countfs *c, const struct node *n)
{
	uint32_t when = 0;

	if (n->kind == NODE_STATS || n->kind == NODE_TOP_WINDOW ||
	    (n->global && !node_is_dir(n)))
		return time(NULL);
	if (n->video && !n->global &&
	    store_changed(c->store, n->video, n->video_len, n->type,
			  n->type_len, &when) == 0 &&
	    when)
		return (time_t)when;
	return c->started;
}

/* The attributes of @in; -o uid=, gid= and umask= apply to all. */
static void inode_stat(struct countfs *c, const struct inode *in,
		       struct stat *sb)
{
	const struct node n = in->node;

	memset(sb, 0, sizeof(*sb));
	sb->st_ino = ino_of(c, in);
	sb->st_uid = c->uid;
	sb->st_gid = c->gid;
	sb->st_atime = sb->st_mtime = sb->st_ctime = node_mtime(c, &n);
	if (node_is_dir(&n)) {
		sb->st_mode = S_IFDIR | 0755;
		sb->st_nlink = 2;
	} else {
		sb->st_mode = S_IFREG | (node_is_writable(&n) ? 0644 : 0444);
		sb->st_nlink = 1;
	}
	if (c->set_mode)
		sb->st_mode = (sb->st_mode & S_IFMT) | (0777 & ~c->umask);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	const struct inode *in = inode_of(req, ino);
	struct stat sb;

	(void)fi;
	/* An open-ended series the kernel holds may have grown past its
	 * most steps since the lookup. */
	if (!path_steps_ok(&in->node, wall_seconds())) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	inode_stat(context(req), in, &sb);
	fuse_reply_attr(req, &sb, ATTR_TIMEOUT);
}

/*
 * The kernel holds one more reference to the inode it gets: a name that
 * names nothing is cached as absent for NEGATIVE_TIMEOUT, as is /global
 * without replication; a reply the kernel did not take (the lookup was
 * interrupted) gives the reference back.
 */
static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct countfs *c = context(req);
	struct fuse_entry_param e = {0};
	struct inode *in;
	int rc = inode_lookup(&c->inodes, inode_of(req, parent), name, &in);

	/* Names /global without replication, or an open-ended series that
	 * has grown past its most steps: absent. */
	if (rc == 0 && ((in->node.global && !c->repl) ||
			!path_steps_ok(&in->node, wall_seconds()))) {
		inode_forget(&c->inodes, in, 1);
		rc = -ENOENT;
	}
	if (rc == -ENOENT) {
		e.entry_timeout = NEGATIVE_TIMEOUT;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	e.ino = ino_of(c, in);
	e.attr_timeout = ATTR_TIMEOUT;
	e.entry_timeout = ENTRY_TIMEOUT;
	inode_stat(c, in, &e.attr);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		inode_forget(&c->inodes, in, 1);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(&context(req)->inodes, inode_of(req, ino), nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		inode_forget(&context(req)->inodes,
			     inode_of(req, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

/* ---- open and close ---------------------------------------------- */

static void file_free(struct countfs *c, struct open_file *of)
{
	if (!of)
		return;
	pthread_mutex_lock(&c->files_lock);
	if (of->prev)
		of->prev->next = of->next;
	else
		c->files = of->next;
	if (of->next)
		of->next->prev = of->prev;
	pthread_mutex_unlock(&c->files_lock);
	live_unpoll(&c->live, &of->pw);
	if (of->node.kind == NODE_FOLLOW || of->node.kind == NODE_WHEN)
		atomic_fetch_sub(&c->live_files, 1);
	pthread_mutex_destroy(&of->lock);
	free(of->path);
	free(of->tail);
	free(of->snap);
	free(of->names);
	free(of);
}

/* A handle that owns a copy of its node, so that handlers need no path. */
static int file_new(struct countfs *c, const char *path, const struct node *n,
		    struct fuse_file_info *fi)
{
	struct open_file *of = calloc(1, sizeof(*of));

	if (!of || !(of->path = strdup(path))) {
		free(of);
		return -ENOMEM;
	}
	pthread_mutex_init(&of->lock, NULL);
	of->node = *n;
	memcpy(of->video, n->video ? n->video : "", n->video_len);
	memcpy(of->type, n->type ? n->type : "", n->type_len);
	of->node.video = of->video;
	of->node.type = of->type;
	fi->fh = (uintptr_t)of;
	if (n->kind == NODE_FOLLOW || n->kind == NODE_WHEN)
		atomic_fetch_add(&c->live_files, 1);

	pthread_mutex_lock(&c->files_lock);
	of->next = c->files;
	if (of->next)
		of->next->prev = of;
	c->files = of;
	pthread_mutex_unlock(&c->files_lock);
	return 0;
}

static void release_file(struct countfs *c, struct open_file *of);

/*
 * Every file is opened with direct_io (see the top); a read-only one
 * without flush (no_rofd_flush of the high-level API): a close() of it
 * leaves no line to wait for.  An open the kernel did not take (it was
 * interrupted) is released at once.
 */
static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct countfs *c = context(req);
	const struct inode *in = inode_of(req, ino);
	const struct node n = in->node;
	int rc;

	if (!path_steps_ok(&n, wall_seconds()))
		rc = -ENOENT;
	else if (node_is_dir(&n))
		rc = -EISDIR;
	else if ((fi->flags & O_ACCMODE) != O_RDONLY && !node_is_writable(&n))
		rc = n.global ? -EROFS : -EACCES;
	else
		rc = file_new(c, in->path, &n, fi);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->direct_io = 1;
	file_of(fi)->nonblock = fi->flags & O_NONBLOCK;
	if ((fi->flags & O_ACCMODE) == O_RDONLY)
		fi->noflush = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		release_file(c, file_of(fi));
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct countfs *c = context(req);
	const struct inode *in = inode_of(req, ino);
	int rc = !path_steps_ok(&in->node, wall_seconds()) ? -ENOENT
		 : node_is_dir(&in->node) ? file_new(c, in->path, &in->node, fi)
					  : -ENOTDIR;

	if (rc)
		fuse_reply_err(req, -rc);
	else if (fuse_reply_open(req, fi) == -ENOENT)
		file_free(c, file_of(fi));
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	(void)ino;
	file_free(context(req), file_of(fi));
	fuse_reply_err(req, 0);
}

/*
 * The content walkers below fill a directory as libfuse's high-level
 * API let them: a name with offset 0 lists the whole directory into the
 * handle, served by position (fill_dir, serve_list); a name with its own
 * offset goes into the reply, and 1 says the reply is full.
 */
typedef int (*fill_dir_t)(void *buf, const char *name, const struct stat *st,
			  off_t off, int flags);

struct lister {
	void *buf;
	fill_dir_t filler;
};

static int list_name(void *arg, const char *name, size_t len)
{
	struct lister *l = arg;
	char s[STORE_VIDEO_MAX + 1];

	if (len > STORE_VIDEO_MAX)
		return 0;
	memcpy(s, name, len);
	s[len] = 0;
	return l->filler(l->buf, s, NULL, 0, 0);
}

static void fill(void *buf, fill_dir_t filler, const char *const *names,
		 size_t n)
{
	for (size_t i = 0; i < n; i++)
		filler(buf, names[i], NULL, 0, 0);
}

#define FILL(buf, filler, names)                                               \
	fill(buf, filler, names, sizeof(names) / sizeof(names[0]))

struct video_lister {
	struct open_file *d;
	void *buf;
	fill_dir_t filler; /* NULL: only move on, up to @until */
	off_t until;
};

static int list_video(void *arg, const char *name, size_t len)
{
	struct video_lister *vl = arg;
	struct open_file *d = vl->d;
	char s[STORE_VIDEO_MAX + 1];

	if (len > STORE_VIDEO_MAX)
		return 0;
	memcpy(s, name, len);
	s[len] = 0;
	if (!vl->filler ? d->walk_off >= vl->until
			: vl->filler(vl->buf, s, NULL, d->walk_off + 1, 0))
		return 1; /* full, or far enough: resume here next time */
	memcpy(d->walk_after, s, len + 1);
	d->walk_off++;
	return 0;
}

/*
 * /videos can hold millions of names, so it is read in pieces: each
 * entry's offset is its position, and the handle remembers the shard and
 * the last video given, so the next call resumes with one cursor seek.
 * Memory stays at one kernel buffer whatever the size of the directory.
 */
static int read_videos(struct countfs *c, struct open_file *d, void *buf,
		       fill_dir_t filler, off_t off)
{
	struct video_lister vl = {d, buf, filler, 0};
	int rc;

	if (off == 0 || off != d->walk_off) {
		d->walk_shard = 0;
		d->walk_after[0] = 0;
		d->walk_off = 2;
		if (off == 0 && (filler(buf, ".", NULL, 1, 0) ||
				 filler(buf, "..", NULL, 2, 0)))
			return 0;
		if (off > 2) { /* a seek: walk up to it without filling */
			struct video_lister skip = {d, NULL, NULL, off};
			if ((rc = store_walk_videos(c->store, &d->walk_shard,
						    d->walk_after, list_video,
						    &skip)))
				return rc;
		}
	}
	return store_walk_videos(c->store, &d->walk_shard, d->walk_after,
				 list_video, &vl);
}

static int list_dir(struct countfs *c, struct open_file *d, void *buf,
		    fill_dir_t filler, off_t off)
{
	static const char *const root[] = {"videos", "ingest", "stats", "top",
					   "global"};
	static const char *const video[] = {"views",  "range", "series",
					    "events", "follow", "when"};
	static const char *const type[] = {"count",  "sum",    "min",
					   "max",    "avg",    "range",
					   "series", "follow", "when"};
	struct lister l = {buf, filler};
	const struct node n = d->node;

	if (n.kind == NODE_VIDEOS && !n.global)
		return read_videos(c, d, buf, filler, off);

	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	switch (n.kind) {
	case NODE_ROOT:
		fill(buf, filler, root, c->repl ? 5 : 4);
		return 0;
	case NODE_GLOBAL:
		filler(buf, "videos", NULL, 0, 0);
		filler(buf, "top", NULL, 0, 0);
		return 0;
	case NODE_VIDEOS:
		if (n.global)
			return repl_list_videos(c->repl, list_name, &l);
		return 0; /* handled above */
	case NODE_VIDEO: /* follow and when are local only */
		fill(buf, filler, video, n.global ? 4 : 6);
		return 0;
	case NODE_EVENTS:
		if (n.global)
			return repl_list_types(c->repl, n.video, n.video_len,
					       list_name, &l);
		return store_list_types(c->store, n.video, n.video_len,
					list_name, &l);
	case NODE_TYPE:
		fill(buf, filler, type, n.global ? 7 : 9);
		return 0;
	case NODE_WINDOW:
	case NODE_STEP:
		fill(buf, filler, agg_fn_names, AGG_FNS);
		return 0;
	default: /* range/, series/, series/S-E, top/: any window, step or
		  * type can be named */
		return 0;
	}
}

/* One readdir's reply, and the handle it lists into. */
struct dir_reply {
	fuse_req_t req;
	struct open_file *d;
	char *buf; /* the reply, @size bytes */
	size_t size, len;
	int error;
};

static int list_add(struct open_file *d, const char *name)
{
	size_t n = strlen(name) + 1;

	if (d->names_len + n > d->names_cap) {
		size_t cap = d->names_cap ? d->names_cap * 2 : 256;
		while (cap < d->names_len + n)
			cap *= 2;
		char *p = realloc(d->names, cap);
		if (!p)
			return -ENOMEM;
		d->names = p;
		d->names_cap = cap;
	}
	memcpy(d->names + d->names_len, name, n);
	d->names_len += n;
	return 0;
}

static int fill_dir(void *arg, const char *name, const struct stat *st,
		    off_t off, int flags)
{
	struct dir_reply *r = arg;
	struct stat sb = {.st_ino = DIRENT_UNKNOWN_INO};
	size_t n;

	(void)st, (void)flags;
	if (off == 0) {
		r->d->listed = true;
		if ((r->error = list_add(r->d, name)))
			return 1;
		return 0;
	}
	n = fuse_add_direntry(r->req, r->buf + r->len, r->size - r->len, name,
			      &sb, off);
	if (n > r->size - r->len)
		return 1;
	r->len += n;
	return 0;
}

/* The listed names from position @off on, as many as the reply holds;
 * each entry's offset is its position + 1. */
static void serve_list(struct dir_reply *r, off_t off)
{
	struct open_file *d = r->d;
	struct stat sb = {.st_ino = DIRENT_UNKNOWN_INO};
	off_t pos = 0;
	size_t at = 0;

	if (d->list_pos > 0 && off >= d->list_pos) {
		pos = d->list_pos;
		at = d->list_at;
	}
	for (; pos < off && at < d->names_len; pos++)
		at += strlen(d->names + at) + 1;
	while (at < d->names_len) {
		const char *name = d->names + at;
		size_t n = fuse_add_direntry(r->req, r->buf + r->len,
					     r->size - r->len, name, &sb,
					     pos + 1);
		if (n > r->size - r->len)
			break;
		r->len += n;
		at += strlen(name) + 1;
		pos++;
	}
	d->list_pos = pos;
	d->list_at = at;
}

/* Offset 0 (a first read, a rewinddir) lists the directory afresh. */
static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dir_reply r = {req, file_of(fi), malloc(size), size, 0, 0};
	struct open_file *d = r.d;
	int rc = 0;

	(void)ino;
	if (!r.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (off == 0)
		d->listed = false;
	if (!d->listed) {
		d->names_len = 0;
		d->list_pos = 0;
		d->list_at = 0;
		rc = list_dir(context(req), d, &r, fill_dir, off);
		if (rc == 0)
			rc = r.error;
		if (rc)
			d->listed = false;
	}
	if (rc == 0 && d->listed)
		serve_list(&r, off);
	pthread_mutex_unlock(&d->lock);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, r.buf, r.len);
	free(r.buf);
}

/* ---- reading ----------------------------------------------------- */

/* Might the unfinished line of @w hold events of @n's series?  With
 * files_lock held. */
static bool tail_touches(const struct open_file *w, const struct node *n)
{
	if (w->node.kind == NODE_INGEST) /* its lines name their video */
		return w->tail_video_len < 0 ||
		       ((size_t)w->tail_video_len == n->video_len &&
			memcmp(w->tail_video, n->video, n->video_len) == 0);
	return w->node.video_len == n->video_len &&
	       w->node.type_len == n->type_len &&
	       memcmp(w->video, n->video, n->video_len) == 0 &&
	       memcmp(w->type, n->type, n->type_len) == 0;
}

/*
 * Before reading a counter, let a close() that left an unfinished line of
 * its series be recorded: wait for that file's release, at most
 * TAIL_WAIT_MS; a file still open through another fd then stops being
 * waited for.  One atomic load when no close left a line.
 */
static void wait_for_tails(struct countfs *c, const struct open_file *self)
{
	const struct node *n = &self->node;
	struct timespec until;
	bool waited = false;

	if (atomic_load(&c->flushed_tails) == 0)
		return;
	until = mono_deadline(TAIL_WAIT_MS * 1000000ull);
	pthread_mutex_lock(&c->files_lock);
	for (;;) {
		struct open_file *w;
		for (w = c->files; w; w = w->next)
			if (w != self && atomic_load(&w->flushed_tail) &&
			    tail_touches(w, n))
				break;
		if (!w)
			break;
		if (waited) { /* timed out: kept open by another fd */
			atomic_store(&w->tail_shared, true);
			tail_unflushed_locked(c, w);
			continue;
		}
		if (pthread_cond_timedwait(&c->tails_cond, &c->files_lock,
					   &until) == ETIMEDOUT)
			waited = true;
	}
	pthread_mutex_unlock(&c->files_lock);
}

/* Compute the content of @of now into of->snap. */
static int snapshot(struct countfs *c, struct open_file *of)
{
	const struct node *n = &of->node;
	struct store_agg a;
	char num[64];
	int rc, len;

	free(of->snap);
	of->snap = NULL;
	of->snap_len = 0;
	if (n->kind == NODE_STATS)
		return stats_render(&c->stats, c->store, c->repl, &of->snap,
				    &of->snap_len);
	if (n->kind == NODE_INGEST)
		return 0;
	if (n->kind == NODE_TOP_WINDOW)
		return top_render(c, n, &of->snap, &of->snap_len);
	if (!n->global)
		wait_for_tails(c, of);
	if (n->series)
		return series_content(c, n, &of->snap, &of->snap_len);
	if (n->global && n->windowed) {
		uint32_t end = n->open_end ? wall_seconds() + 1 : n->end;
		rc = repl_range(c->repl, n->video, n->video_len, n->type,
				n->type_len, n->start, end, &a);
	} else if (n->global) {
		rc = repl_total(c->repl, n->video, n->video_len, n->type,
				n->type_len, &a);
	} else if (n->windowed) {
		uint32_t now = wall_seconds();
		uint32_t end = n->open_end ? now + 1 : n->end;
		rc = store_range(c->store, n->video, n->video_len, n->type,
				 n->type_len, n->start, end, now, &a);
	} else {
		rc = store_total(c->store, n->video, n->video_len, n->type,
				 n->type_len, &a);
		of->seen = a.count;
		of->has_seen = rc == 0;
	}
	if (rc)
		return rc;
	len = format_agg(num, sizeof(num), n->fn, &a);
	if (len > 0 && !(of->snap = strndup(num, (size_t)len)))
		return -ENOMEM;
	of->snap_len = (size_t)(len > 0 ? len : 0);
	return 0;
}

/* What a read answers: up to @size bytes of the snapshot from @off,
 * copied (in @small when they fit), so that the reply is sent after the
 * file's lock is dropped.  NULL with *@len 0: nothing (EOF), or no
 * memory (-ENOMEM in *@rc). */
static char *snap_piece(struct open_file *of, size_t size, off_t off,
			char *small, size_t cap, size_t *len, int *rc)
{
	char *out = small;

	*len = 0;
	if ((size_t)off >= of->snap_len)
		return NULL;
	if (size > of->snap_len - (size_t)off)
		size = of->snap_len - (size_t)off;
	if (size > cap && !(out = malloc(size))) {
		*rc = -ENOMEM;
		return NULL;
	}
	memcpy(out, of->snap + off, size);
	*len = size;
	return out;
}

/* Send what snap_piece() gave, or the error @rc; free its copy. */
static void reply_piece(fuse_req_t req, int rc, char *out, const char *small,
			size_t len)
{
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, out, len);
	if (out != small)
		free(out);
}

/* ---- live reads: follow, when/N ----------------------------------- */

/* A read parked until its series' count satisfies it (live.c). */
struct parked {
	struct live_watch w; /* first: the registry's link */
	struct live *live;
	fuse_req_t req;
	struct open_file *of;
	size_t size;
};

/*
 * Answer a parked read that this thread unlinked: the count, or EOF
 * (@count < 0).  The file's state is updated under its lock, which the
 * parking read held until its interrupt function was set; the reply goes
 * after, since the reader may then close the file.
 */
static void parked_answer(struct live_watch *w, int64_t count)
{
	struct parked *p = (struct parked *)w;
	struct open_file *of = p->of;
	char num[32];
	size_t len = 0;

	pthread_mutex_lock(&of->lock);
	if (count >= 0) {
		int n = snprintf(num, sizeof(num), "%" PRId64 "\n", count);
		char *text = strndup(num, (size_t)n);
		if (text) {
			free(of->snap);
			of->snap = text;
			of->snap_len = (size_t)n;
			of->seen = count;
			of->has_seen = true;
			of->answered = true;
			len = (size_t)n < p->size ? (size_t)n : p->size;
			of->live_sent = len;
		}
	}
	pthread_mutex_unlock(&of->lock);
	fuse_req_interrupt_func(p->req, NULL, NULL);
	fuse_reply_buf(p->req, count >= 0 ? num : NULL, len);
	free(p);
}

/*
 * The read this thread is parking, while it sets the interrupt function:
 * libfuse calls the function from fuse_req_interrupt_func() itself when
 * the interrupt came first, and there a reply would free the request
 * under the lock libfuse still holds.  park() answers it then.
 */
static _Thread_local const struct parked *parking;
static _Thread_local bool parking_interrupted;

/* Ctrl-C, timeout(1): a read still parked ends with EINTR at once.
 * Called with libfuse's lock of the request held. */
static void parked_interrupted(fuse_req_t req, void *data)
{
	struct parked *p = data;

	if (!live_remove(p->live, &p->w))
		return;
	if (parking == p) {
		parking_interrupted = true;
		return;
	}
	fuse_reply_err(req, EINTR);
	free(p);
}

/* Park @req until the count satisfies it; with the file's lock held, so
 * that an answer waits for the interrupt function to be set. */
static void park(struct countfs *c, fuse_req_t req, struct open_file *of,
		 size_t size)
{
	const struct node *n = &of->node;
	struct parked *p;
	struct store_agg a;
	int rc;

	/* O_NONBLOCK (set at open: FUSE does not see a later fcntl): EAGAIN
	 * unless the count would answer now; then the wake thread does. */
	if (of->nonblock &&
	    store_total(c->store, n->video, n->video_len, n->type, n->type_len,
			&a) == 0 &&
	    (n->kind == NODE_WHEN ? a.count < n->at_least
				  : a.count == of->seen)) {
		fuse_reply_err(req, EAGAIN);
		return;
	}
	if (!(p = calloc(1, sizeof(*p)))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p->w.when = n->kind == NODE_WHEN;
	p->w.at_least = n->at_least;
	p->w.count = of->seen;
	p->w.fire = parked_answer;
	p->live = &c->live;
	p->req = req;
	p->of = of;
	p->size = size;
	rc = live_add(&c->live, &p->w, n->video, n->video_len, n->type,
		      n->type_len);
	if (rc) { /* live reads have ended: EOF */
		free(p);
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	/* From here on p may be answered (and freed) at any time. */
	parking = p;
	parking_interrupted = false;
	fuse_req_interrupt_func(req, parked_interrupted, p);
	parking = NULL;
	if (parking_interrupted) { /* unlinked by this thread: its own */
		fuse_reply_err(req, EINTR);
		free(p);
	}
}

/*
 * follow: the first read of a handle answers the count at once; each
 * later one waits for a count other than the last it answered (the rest
 * of an answer cut short by a small read comes first).  when/N: a read at
 * offset 0 answers the count once it is >= N; the rest is a file.
 */
static void live_read(struct countfs *c, fuse_req_t req, struct open_file *of,
		      size_t size, off_t off)
{
	bool follow = of->node.kind == NODE_FOLLOW;
	char small[64], *out = NULL;
	size_t len = 0, from = (size_t)off;
	int rc = 0;

	pthread_mutex_lock(&of->lock);
	if (follow && of->answered && of->live_sent < of->snap_len) {
		from = of->live_sent;
	} else if (follow && of->answered) {
		park(c, req, of, size);
		pthread_mutex_unlock(&of->lock);
		return;
	} else if (!follow && of->answered && off > 0) {
		/* the rest of the answer, then EOF */
	} else {
		if ((rc = snapshot(c, of)) == 0 && !follow &&
		    of->seen < of->node.at_least) {
			park(c, req, of, size);
			pthread_mutex_unlock(&of->lock);
			return;
		}
		of->answered = rc == 0;
		from = 0;
	}
	if (rc == 0)
		out = snap_piece(of, size, (off_t)from, small, sizeof(small),
				 &len, &rc);
	if (follow)
		of->live_sent = from + len;
	pthread_mutex_unlock(&of->lock);
	reply_piece(req, rc, out, small, len);
}

void fs_end_live(struct countfs *c)
{
	live_stop(&c->live);
}

void fs_stop_live(struct countfs *c)
{
	live_end(&c->live);
}

unsigned fs_live_files(struct countfs *c)
{
	return atomic_load(&c->live_files);
}

/* Replied once the file's lock is dropped: the reader may close the
 * file as soon as it has its answer, and the release free it. */
static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct countfs *c = context(req);
	struct open_file *of = file_of(fi);
	uint64_t t0 = stats_now_ns();
	char small[256], *out = NULL;
	size_t len = 0;
	int rc = 0;

	(void)ino;
	if (node_is_live(&of->node)) {
		live_read(c, req, of, size, off);
		return;
	}
	pthread_mutex_lock(&of->lock);
	if (off == 0 || (!of->snap && of->snap_len == 0))
		rc = snapshot(c, of);
	if (rc == 0)
		out = snap_piece(of, size, off, small, sizeof(small), &len, &rc);
	pthread_mutex_unlock(&of->lock);
	reply_piece(req, rc, out, small, len);
	atomic_fetch_add_explicit(&c->stats.reads, 1, memory_order_relaxed);
	stats_observe(&c->stats.read_latency, stats_now_ns() - t0);
}

/* ---- writing ----------------------------------------------------- */

struct batch {
	struct store_event *ev;
	size_t n, cap;
	struct store_event small[8];
};

static int batch_push(struct batch *b, const struct store_event *e)
{
	if (b->n == b->cap) {
		size_t cap = b->cap * 4;
		struct store_event *ev;
		if (b->ev == b->small) {
			ev = malloc(cap * sizeof(*ev));
			if (ev)
				memcpy(ev, b->small, sizeof(b->small));
		} else {
			ev = realloc(b->ev, cap * sizeof(*ev));
		}
		if (!ev)
			return -ENOMEM;
		b->ev = ev;
		b->cap = cap;
	}
	b->ev[b->n++] = *e;
	return 0;
}

/* Does a write to @of drop its bad lines rather than refuse them all?
 * Only /ingest, only with -o ingest=skip: counter files are always all or
 * nothing. */
static bool skips_bad_lines(const struct countfs *c, const struct open_file *of)
{
	return c->ingest_skip && of->node.kind == NODE_INGEST;
}

static enum drop drop_of(enum line_fault f)
{
	switch (f) {
	case LINE_BAD_VIDEO:
		return DROP_BAD_VIDEO;
	case LINE_BAD_TYPE:
		return DROP_BAD_TYPE;
	case LINE_BAD_VALUE:
		return DROP_BAD_VALUE;
	case LINE_BAD_TS:
		return DROP_BAD_TIMESTAMP;
	case LINE_BAD_ID:
		return DROP_BAD_ID;
	case LINE_BAD_MULT:
		return DROP_BAD_MULT;
	case LINE_TOO_LONG:
		return DROP_TOO_LONG;
	default:
		return DROP_BAD_FIELDS;
	}
}

/* A bad line as a write refusal (all or nothing). */
static enum refusal refusal_of(enum drop d)
{
	return d == DROP_TOO_LONG    ? REFUSED_TOO_LONG
	       : d == DROP_TIMESTAMP ? REFUSED_TIMESTAMP
				     : REFUSED_LINE;
}

/* Parse one line of @of into an event: 0, or -EINVAL with *@why (a
 * sentence for the log) and *@kind set. */
static int parse_one(struct countfs *c, struct open_file *of, const char *s,
		     size_t len, uint32_t now, struct store_event *e,
		     const char **why, enum drop *kind)
{
	struct line ln;
	int rc;

	if (of->node.kind == NODE_INGEST)
		rc = line_parse_ingest(s, len, &ln, why);
	else
		rc = line_parse(s, len, &ln, why);
	if (rc) {
		*kind = drop_of(ln.fault);
		return rc;
	}
	if (ln.has_ts && store_check_ts(c->store, ln.ts, now)) {
		*kind = DROP_TIMESTAMP;
		*why = "@ts is before the oldest kept bucket or more than 5 "
		       "minutes ahead";
		return -EINVAL;
	}
	*e = (struct store_event){
	    .video = ln.video ? ln.video : of->video,
	    .video_len = ln.video ? ln.video_len : of->node.video_len,
	    .type = ln.type ? ln.type : of->type,
	    .type_len = ln.type ? ln.type_len : of->node.type_len,
	    .id = ln.id,
	    .id_len = ln.id_len,
	    .value = ln.value,
	    .n = ln.n,
	    .ts = ln.has_ts ? (uint32_t)ln.ts : now,
	};
	return 0;
}

/* Per-type counters, one update per run of events of the same type; a
 * line of *n counts n events. */
static void count_types(struct fs_stats *s, const struct store_event *ev,
			size_t n)
{
	for (size_t i = 0, j; i < n; i = j) {
		uint64_t events = ev[i].n;
		for (j = i + 1; j < n && ev[j].type_len == ev[i].type_len &&
				memcmp(ev[j].type, ev[i].type, ev[i].type_len) == 0;
		     j++)
			events += ev[j].n;
		stats_count_type(s, ev[i].type, ev[i].type_len, events);
	}
}

static pid_t tgid_of(pid_t tid);

/* The process of the last writer, for a log line: libfuse gives the
 * thread's id, which is not the pid of a multi-threaded writer.  Read
 * from /proc when a refusal is logged or a close leaves a tail (the
 * thread may be gone by the release that refuses it), then kept. */
static int writer_pid(struct open_file *of)
{
	if (!of->tail_pid)
		of->tail_pid = tgid_of(of->tail_tid);
	return (int)of->tail_pid;
}

/* The lines a write drops under ingest=skip: counted and logged only
 * once the rest is recorded, so that a write that fails (and may be
 * retried) counts nothing. */
struct drops {
	uint64_t n[DROP_KINDS];
	size_t total;
	const char *why, *line; /* the first one, for the log */
	size_t len;
};

static void drops_note(struct drops *d, enum drop kind, const char *why,
		       const char *line, size_t len)
{
	if (d->total++ == 0) {
		d->why = why;
		d->line = line;
		d->len = len;
	}
	d->n[kind]++;
}

static void drops_account(struct countfs *c, struct open_file *of,
			  const struct drops *d, size_t lines)
{
	if (!d->total)
		return;
	for (int k = 0; k < DROP_KINDS; k++)
		if (d->n[k])
			atomic_fetch_add(&c->stats.dropped[k], d->n[k]);
	log_warn("%s: %zu of %zu lines dropped (ingest=skip); the first: "
		 "%s: \"%.*s\" (pid %d)",
		 of->path, d->total, lines, d->why,
		 (int)(d->len > 80 ? 80 : d->len), d->line, writer_pid(of));
}

/* A write refused for a bad line (all or nothing). */
static void refuse_line(struct countfs *c, struct open_file *of, enum drop kind,
			const char *why, const char *s, size_t len)
{
	atomic_fetch_add(&c->stats.refused[refusal_of(kind)], 1);
	log_warn("%s: write refused (EINVAL): %s: \"%.*s\" (pid %d)", of->path,
		 why, (int)(len > 80 ? 80 : len), s, writer_pid(of));
}

/* The store refused a batch: never a matter of one line, so the write
 * fails whole in either mode. */
static void refuse_batch(struct countfs *c, struct open_file *of, int rc)
{
	if (rc == -EOVERFLOW) {
		atomic_fetch_add(&c->stats.refused[REFUSED_OVERFLOW], 1);
		log_warn("%s: write refused (EOVERFLOW): a sum would exceed "
			 "64 bits (pid %d)",
			 of->path, writer_pid(of));
	} else {
		atomic_fetch_add(&c->stats.refused[REFUSED_STORAGE], 1);
		log_error("%s: write failed: %s (pid %d)", of->path,
			  strerror(-rc), writer_pid(of));
	}
}

/*
 * Parse and record the complete lines in @s (@len bytes, each ending in
 * '\n' except, with @final, the last).  All or nothing; under ingest=skip
 * the bad lines are dropped and the rest is recorded all or nothing.  Log
 * lines name the process of of->tail_tid, the writer.
 */
static int record_lines(struct countfs *c, struct open_file *of, const char *s,
			size_t len, bool final)
{
	struct batch b = {.ev = NULL, .n = 0, .cap = 8};
	bool skip = skips_bad_lines(c, of);
	struct drops d = {0};
	struct store_event e;
	uint32_t now = wall_seconds();
	size_t lines = 0;
	int rc = 0;

	b.ev = b.small;
	while (len > 0 && rc == 0) {
		const char *nl = memchr(s, '\n', len), *why;
		size_t n = nl ? (size_t)(nl - s) : len;
		enum drop kind;
		if (!nl && !final)
			break;
		rc = parse_one(c, of, s, n, now, &e, &why, &kind);
		if (rc == 0) {
			rc = batch_push(&b, &e);
		} else if (skip) {
			drops_note(&d, kind, why, s, n);
			rc = 0;
		} else {
			refuse_line(c, of, kind, why, s, n);
		}
		lines++;
		s += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
	}
	if (rc == 0 && b.n)
		rc = store_record(c->store, b.ev, b.n, now, NULL);
	if (rc == 0 && b.n)
		live_changed(&c->live, b.ev, b.n);
	if (rc && rc != -EINVAL) {
		refuse_batch(c, of, rc);
	} else if (rc == 0) {
		atomic_fetch_add(&c->stats.lines, lines);
		count_types(&c->stats, b.ev, b.n);
		drops_account(c, of, &d, lines);
	}
	if (b.ev != b.small)
		free(b.ev);
	return rc;
}

/* Can an unfinished line of @len bytes still become a valid line? */
static bool tail_fits(const char *data, size_t len)
{
	return len <= LINE_MAX_BYTES ||
	       (len == TAIL_MAX && data[len - 1] == '\r');
}

/*
 * Can the unfinished line @t still become a valid line?  It can when it
 * parses with one of a few endings added (the rest of a number, of a name,
 * of the fields an /ingest line needs).  One that cannot is refused at
 * once, as a line over 4 KiB is, instead of making every later write of
 * the file fail when it is finished.
 */
static bool tail_viable(const struct open_file *of, const char *t, size_t len)
{
	/* "x a 0": a video begun with dots only (".", "..") needs more. */
	/* "1": "*" begun (and "*0": leading zeros are allowed). */
	static const char *const endings[] = {"",   "0",    "1",    "a",
					      " a", " a 0", "x a 0"};
	char buf[TAIL_MAX + 8];
	const char *why;
	struct line ln;

	if (len == 0)
		return true;
	for (size_t i = 0; i < sizeof(endings) / sizeof(endings[0]); i++) {
		size_t n = strlen(endings[i]);
		memcpy(buf, t, len);
		memcpy(buf + len, endings[i], n);
		if (of->node.kind == NODE_INGEST
			? line_parse_ingest(buf, len + n, &ln, &why) == 0
			: line_parse(buf, len + n, &ln, &why) == 0)
			return true;
	}
	return false;
}

/*
 * An unfinished line grew past 4 KiB: nothing of it is kept, neither its
 * start nor the rest that later writes bring (up to its '\n').  Refused
 * with EINVAL, or under ingest=skip dropped and counted.
 */
static void drop_long_tail(struct countfs *c, struct open_file *of, bool skip)
{
	if (skip)
		atomic_fetch_add(&c->stats.dropped[DROP_TOO_LONG], 1);
	else
		atomic_fetch_add(&c->stats.refused[REFUSED_TOO_LONG], 1);
	log_warn("%s: %s: line longer than 4096 bytes (pid %d)", of->path,
		 skip ? "line dropped (ingest=skip)" : "write refused (EINVAL)",
		 writer_pid(of));
	of->tail_len = 0;
	of->discard = true;
}

/*
 * The lines of a write that strict parsing refuses, before anything is
 * recorded: an unfinished line too long or that cannot become valid.
 * Under ingest=skip there is no such refusal: a long line is dropped
 * after the rest is recorded, and a hopeless one is dropped when it ends.
 */
static int refuse_tail(struct countfs *c, struct open_file *of, const char *t,
		       size_t len)
{
	if (!tail_fits(t, len)) {
		drop_long_tail(c, of, false);
		return -EINVAL;
	}
	if (!tail_viable(of, t, len)) {
		atomic_fetch_add(&c->stats.refused[REFUSED_LINE], 1);
		log_warn("%s: write refused (EINVAL): an unfinished line that "
			 "cannot become valid: \"%.*s\" (pid %d)",
			 of->path, (int)(len > 80 ? 80 : len), t,
			 writer_pid(of));
		return -EINVAL;
	}
	return 0;
}

static int write_locked(struct countfs *c, struct open_file *of,
			const char *buf, size_t size, pid_t tid)
{
	bool skip = skips_bad_lines(c, of), discarding = of->discard;
	const char *data = buf;
	char *joined = NULL;
	size_t len = size;
	int rc;

	if (!of->tail && !(of->tail = malloc(TAIL_MAX)))
		return -ENOMEM;
	tail_unflushed(c, of);
	atomic_store(&of->tail_shared, false);
	of->tail_killed = false;
	of->tail_tid = tid;
	of->tail_pid = 0;
	if (of->discard) {
		/* The rest of a line refused as too long: dropped. */
		const char *nl = memchr(buf, '\n', size);
		if (!nl)
			return 0;
		of->discard = false;
		len = size -= (size_t)(nl + 1 - buf);
		data = buf = nl + 1;
	}
	if (of->tail_len) {
		if (!(joined = malloc(of->tail_len + size))) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(joined, of->tail, of->tail_len);
		memcpy(joined + of->tail_len, buf, size);
		data = joined;
		len = of->tail_len + size;
	}
	const char *last = memrchr(data, '\n', len);
	size_t done = last ? (size_t)(last - data) + 1 : 0;
	const char *rest = data + done;

	if (!skip && (rc = refuse_tail(c, of, rest, len - done)))
		goto out;
	/* A write that fails here changes nothing, its tail included: the
	 * writer may send it again. */
	if (done && (rc = record_lines(c, of, data, done, false)))
		goto out;
	if (!tail_fits(rest, len - done)) {
		drop_long_tail(c, of, true);
	} else {
		memmove(of->tail, rest, len - done);
		of->tail_len = len - done;
	}
out:
	/* Still inside a dropped long line: a retry of this write must not
	 * take that line's rest for a line of its own. */
	if (rc && discarding)
		of->discard = true;
	free(joined);
	return rc;
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct countfs *c = context(req);
	struct open_file *of = file_of(fi);
	uint64_t t0 = stats_now_ns();
	int rc;

	(void)ino, (void)off;
	if (size > INT_MAX)
		size = INT_MAX;
	pthread_mutex_lock(&of->lock);
	rc = write_locked(c, of, buf, size, fuse_req_ctx(req)->pid);
	pthread_mutex_unlock(&of->lock);
	if (rc == 0) {
		atomic_fetch_add_explicit(&c->stats.writes, 1,
					  memory_order_relaxed);
		fuse_reply_write(req, size);
	} else {
		fuse_reply_err(req, -rc);
	}
	stats_observe(&c->stats.write_latency, stats_now_ns() - t0);
}

/*
 * Did thread @tid die of a signal?  A flush from an exiting task comes
 * from do_exit(), which has already set the task's exit code: the 52nd
 * field of /proc/TID/stat (Linux 3.5 on), a wait status.
 */
/* Read the start of /proc/TID/@name into @buf, NUL-terminated; false
 * when the thread is gone or the file cannot be read. */
static bool read_proc(pid_t tid, const char *name, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)tid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

static int killed_by(pid_t tid)
{
	char buf[1024], *p;
	int field = 2, code = 0;

	if (!read_proc(tid, "stat", buf, sizeof(buf)))
		return 0;
	/* The command name may hold spaces and parentheses. */
	if (!(p = strrchr(buf, ')')))
		return 0;
	for (p++; *p && field < 52; p++)
		field += *p == ' ';
	if (field == 52)
		code = atoi(p);
	return code & 0x7f; /* WTERMSIG */
}

/* Are threads @a and @b of one process?  By their Tgid in /proc; a thread
 * gone from /proc is compared by its id alone. */
static pid_t tgid_of(pid_t tid)
{
	char buf[512], *p;

	if (!read_proc(tid, "status", buf, sizeof(buf)))
		return tid;
	p = strstr(buf, "\nTgid:");
	return p ? (pid_t)atoi(p + 7) : tid;
}

static bool same_process(pid_t a, pid_t b)
{
	return a == b || tgid_of(a) == tgid_of(b);
}

/*
 * Every close() of every copy of the fd: the unfinished line stays with
 * the open file (its last close is release).  The process that wrote it,
 * dying of a signal, marks it, so that release drops rather than records
 * a half line; a daemon that cannot see the writer (another pid
 * namespace: pid 0) records it.
 */
static void flush_file(struct countfs *c, struct open_file *of, pid_t tid)
{
	pthread_mutex_lock(&of->lock);
	if (of->tail_len && !of->tail_killed && killed_by(tid) &&
	    same_process(tid, of->tail_tid))
		of->tail_killed = true;
	if (of->tail_len)
		writer_pid(of);
	/* Once a read found the file held open by another fd, its closes
	 * no longer make reads wait (a shell's children each close one). */
	if (of->tail_len && !atomic_load(&of->tail_shared) &&
	    !atomic_load(&of->flushed_tail)) {
		size_t v = 0;
		while (v < of->tail_len && of->tail[v] != ' ' &&
		       of->tail[v] != '\t')
			v++;
		pthread_mutex_lock(&c->files_lock);
		of->tail_video_len = -1;
		if (of->node.kind == NODE_INGEST && v > 0 && v < of->tail_len &&
		    v <= STORE_VIDEO_MAX) {
			memcpy(of->tail_video, of->tail, v);
			of->tail_video_len = (int)v;
		}
		atomic_store(&of->flushed_tail, true);
		atomic_fetch_add(&c->flushed_tails, 1);
		pthread_mutex_unlock(&c->files_lock);
	}
	pthread_mutex_unlock(&of->lock);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	flush_file(context(req), file_of(fi), fuse_req_ctx(req)->pid);
	fuse_reply_err(req, 0);
}

/* The last close: record the unfinished line, as if it ended in '\n'
 * (its errors reach no caller: they are logged and counted). */
static void finish_tail(struct countfs *c, struct open_file *of)
{
	pthread_mutex_lock(&of->lock);
	if (of->tail_len && of->tail_killed) {
		atomic_fetch_add(&c->stats.refused[REFUSED_KILLED], 1);
		log_warn("%s: an unfinished line (%zu bytes, no newline) of a "
			 "writer killed by a signal was not recorded (pid %d)",
			 of->path, of->tail_len, writer_pid(of));
	} else if (of->tail_len) {
		record_lines(c, of, of->tail, of->tail_len, true);
	}
	of->tail_len = 0;
	tail_unflushed(c, of);
	pthread_mutex_unlock(&of->lock);
	pthread_mutex_lock(&c->files_lock);
	pthread_cond_broadcast(&c->tails_cond);
	pthread_mutex_unlock(&c->files_lock);
}

static void release_file(struct countfs *c, struct open_file *of)
{
	finish_tail(c, of);
	file_free(c, of);
}

/* A release that says it flushes (fi->flush) is a last close the kernel
 * sent no flush for. */
static void fs_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct countfs *c = context(req);

	(void)ino;
	if (fi->flush)
		flush_file(c, file_of(fi), fuse_req_ctx(req)->pid);
	release_file(c, file_of(fi));
	fuse_reply_err(req, 0);
}

/* ---- the rest of POSIX -------------------------------------------- */

/* echo > views truncates first: to 0 there is nothing to do, but say
 * yes; any other size would promise content a counter cannot have. */
static int node_truncate(const struct node *n, off_t size)
{
	if (node_is_dir(n))
		return -EISDIR;
	if (n->global)
		return -EROFS;
	if (!node_is_writable(n))
		return -EACCES;
	return size == 0 ? 0 : -EINVAL;
}

/*
 * As libfuse's high-level API did it: modes and owners are refused
 * (EACCES), then a truncate, then the times, which are taken and
 * ignored (touch works); the reply is the attributes after.
 */
static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int valid, struct fuse_file_info *fi)
{
	struct countfs *c = context(req);
	const struct inode *in = inode_of(req, ino);
	struct stat sb;
	int rc = 0;

	(void)fi;
	if (valid & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		rc = -EACCES;
	else if (valid & FUSE_SET_ATTR_SIZE)
		rc = node_truncate(&in->node, attr->st_size);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	inode_stat(c, in, &sb);
	fuse_reply_attr(req, &sb, ATTR_TIMEOUT);
}

/* The tree is fixed: no new names of any kind, no modes or owners. */
static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	fuse_reply_err(req, EACCES);
}

/* A name the tree has (which lookup may hide: /global without MySQL)
 * exists; any other cannot be made. */
static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct countfs *c = context(req);
	struct inode *in;

	(void)mode;
	if (inode_lookup(&c->inodes, inode_of(req, parent), name, &in)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	inode_forget(&c->inodes, in, 1);
	fuse_reply_err(req, EEXIST);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EACCES);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	fuse_reply_err(req, EACCES);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	(void)link, (void)parent, (void)name;
	fuse_reply_err(req, EACCES);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	fuse_reply_err(req, EACCES);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, EACCES);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = sv.f_frsize = 4096;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

/* Does @n read a series' total, so that poll can say when it moved? */
static bool node_has_count(const struct node *n)
{
	return !n->global &&
	       ((n->kind == NODE_AGG && !n->windowed) || node_is_live(n));
}

/*
 * A counter file is readable (POLLIN) when its series' count is not the
 * one its handle last read (or it never read); follow also when an
 * answer was cut short, when/N when the count is >= N or it answered.
 * Else the poll handle waits in the registry for the count to move.
 * Every other file is always ready, as the kernel answers for a
 * filesystem without poll; its handle is freed (libfuse 3.14 leaks the
 * handles of a filesystem without poll: Go's runtime epolls every file).
 */
static void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct countfs *c = context(req);
	struct open_file *of = file_of(fi);
	const struct node *n = &of->node;
	unsigned ready = POLLOUT | POLLWRNORM;
	bool when = n->kind == NODE_WHEN, in;
	struct store_agg a;
	int64_t seen;
	int rc;

	(void)ino;
	if (!node_has_count(n)) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, ready | POLLIN | POLLRDNORM);
		return;
	}
	rc = store_total(c->store, n->video, n->video_len, n->type,
			 n->type_len, &a);
	pthread_mutex_lock(&of->lock);
	seen = of->seen;
	/* A when/N fd is readable only once its read would not block. */
	if (rc)
		in = true;
	else if (when)
		in = of->answered || a.count >= n->at_least;
	else if (!of->has_seen)
		in = true;
	else
		in = a.count != seen ||
		     (n->kind == NODE_FOLLOW && of->live_sent < of->snap_len);
	pthread_mutex_unlock(&of->lock);
	if (in) {
		ready |= POLLIN | POLLRDNORM;
		if (ph)
			fuse_pollhandle_destroy(ph);
	} else if (ph) {
		live_poll(&c->live, &of->pw, ph, when, seen, n->at_least,
			  n->video, n->video_len, n->type, n->type_len);
	}
	fuse_reply_poll(req, ready);
}

/* ---- life cycle ---------------------------------------------------- */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct countfs *c = userdata;
	int rc;

	(void)conn;
	if (!c->foreground)
		log_use_syslog();
	rc = store_open(&c->store_cfg, &c->store);
	if (rc) {
		log_error("cannot open the store in %s: %s; unmounting",
			  c->store_cfg.dir, strerror(-rc));
		c->failed = true;
		fuse_session_exit(c->se);
		return;
	}
	if (c->repl_cfg.option_file) {
		rc = repl_open(&c->repl_cfg, c->store, &c->repl);
		if (rc) {
			log_error("cannot start replication: %s; unmounting",
				  strerror(-rc));
			c->failed = true;
			fuse_session_exit(c->se);
			return;
		}
		log_info("replicating as host %s to %u MySQL shards (%s)",
			 c->repl_cfg.host, c->repl_cfg.shards,
			 c->repl_cfg.option_file);
	}
	if ((rc = live_start(&c->live, c->store, c->mountpoint)))
		log_warn("cannot start live reads (follow, when, poll): %s; "
			 "they answer EOF",
			 strerror(-rc));
	log_info("countfs %s serving %s, data in %s, %u shards, sync=%s",
		 COUNTFS_VERSION, c->mountpoint, c->store_cfg.dir,
		 c->store_cfg.shards,
		 c->store_cfg.sync == STORE_SYNC_ALWAYS ? "always" : "second");
	notify_service("READY=1\nSTATUS=serving");
}

static void fs_destroy(void *private_data)
{
	struct countfs *c = private_data;
	size_t open = 0, unfinished = 0;

	notify_service("STOPPING=1");
	live_stop(&c->live); /* done after the loop, unless init failed */
	/* Files still open when a signal ends the session get no release. */
	while (c->files) {
		open++;
		unfinished += c->files->tail_len > 0;
		file_free(c, c->files);
	}
	if (open)
		log_info("%zu files were still open; %zu unfinished lines "
			 "(no final newline yet) were not recorded",
			 open, unfinished);
	repl_close(c->repl);
	c->repl = NULL;
	store_close(c->store);
	c->store = NULL;
	log_summaries(true);
	log_info("unmounted; store closed");
}

const struct fuse_lowlevel_ops countfs_ops = {
    .init = fs_init,
    .destroy = fs_destroy,
    .lookup = fs_lookup,
    .forget = fs_forget,
    .forget_multi = fs_forget_multi,
    .getattr = fs_getattr,
    .setattr = fs_setattr,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .releasedir = fs_releasedir,
    .open = fs_open,
    .read = fs_read,
    .write = fs_write,
    .flush = fs_flush,
    .release = fs_release,
    .create = fs_create,
    .mkdir = fs_mkdir,
    .unlink = fs_unlink,
    .rmdir = fs_unlink,
    .rename = fs_rename,
    .symlink = fs_symlink,
    .link = fs_link,
    .mknod = fs_mknod,
    .statfs = fs_statfs,
    .poll = fs_poll,
};
