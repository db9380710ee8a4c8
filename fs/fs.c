/*
 * fs.c - the FUSE operations: paths to nodes, writes to events, reads to
 * numbers.
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
};

static struct countfs *context(void)
{
	return fuse_get_context()->private_data;
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

static int fs_getattr(const char *path, struct stat *sb,
		      struct fuse_file_info *fi)
{
	struct countfs *c = context();
	struct node n;

	/* With nullpath_ok an open file's calls (fstat, ftruncate,
	 * lseek(SEEK_END)) come without a path: the handle has the node. */
	if (!path && fi)
		n = file_of(fi)->node;
	else if (!path || path_parse(path, &n) || (n.global && !c->repl) ||
		 !path_steps_ok(&n, wall_seconds()))
		return -ENOENT;
	memset(sb, 0, sizeof(*sb));
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
	return 0;
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
	pthread_mutex_destroy(&of->lock);
	free(of->path);
	free(of->tail);
	free(of->snap);
	free(of);
}

/* A handle that owns a copy of its node, so that handlers need no path. */
static int file_new(const char *path, const struct node *n,
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

	struct countfs *c = context();
	pthread_mutex_lock(&c->files_lock);
	of->next = c->files;
	if (of->next)
		of->next->prev = of;
	c->files = of;
	pthread_mutex_unlock(&c->files_lock);
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct node n;
	int rc;

	if (path_parse(path, &n) || (n.global && !context()->repl) ||
	    !path_steps_ok(&n, wall_seconds()))
		return -ENOENT;
	if (node_is_dir(&n))
		return -EISDIR;
	if ((fi->flags & O_ACCMODE) != O_RDONLY && !node_is_writable(&n))
		return n.global ? -EROFS : -EACCES;
	if ((rc = file_new(path, &n, fi)))
		return rc;
	fi->direct_io = 1;
	return 0;
}

static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct node n;

	if (path_parse(path, &n) || (n.global && !context()->repl) ||
	    !path_steps_ok(&n, wall_seconds()))
		return -ENOENT;
	if (!node_is_dir(&n))
		return -ENOTDIR;
	return file_new(path, &n, fi);
}

static int fs_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	file_free(context(), file_of(fi));
	return 0;
}

struct lister {
	void *buf;
	fuse_fill_dir_t filler;
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

static void fill(void *buf, fuse_fill_dir_t filler, const char *const *names,
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
	fuse_fill_dir_t filler; /* NULL: only move on, up to @until */
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
		       fuse_fill_dir_t filler, off_t off)
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

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	static const char *const root[] = {"videos", "ingest", "stats", "top",
					   "global"};
	static const char *const video[] = {"views", "range", "series",
					    "events"};
	static const char *const type[] = {"count", "sum",   "min",   "max",
					   "avg",   "range", "series"};
	struct countfs *c = context();
	struct lister l = {buf, filler};
	const struct node n = file_of(fi)->node;

	if (n.kind == NODE_VIDEOS && !n.global)
		return read_videos(c, file_of(fi), buf, filler, off);

	(void)path, (void)off, (void)flags;
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
	case NODE_VIDEO:
		FILL(buf, filler, video);
		return 0;
	case NODE_EVENTS:
		if (n.global)
			return repl_list_types(c->repl, n.video, n.video_len,
					       list_name, &l);
		return store_list_types(c->store, n.video, n.video_len,
					list_name, &l);
	case NODE_TYPE:
		FILL(buf, filler, type);
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
	}
	if (rc)
		return rc;
	len = format_agg(num, sizeof(num), n->fn, &a);
	if (len > 0 && !(of->snap = strndup(num, (size_t)len)))
		return -ENOMEM;
	of->snap_len = (size_t)(len > 0 ? len : 0);
	return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct countfs *c = context();
	struct open_file *of = file_of(fi);
	uint64_t t0 = stats_now_ns();
	int rc = 0;

	(void)path;
	pthread_mutex_lock(&of->lock);
	if (off == 0 || (!of->snap && of->snap_len == 0))
		rc = snapshot(c, of);
	if (rc == 0) {
		if ((size_t)off < of->snap_len) {
			if (size > of->snap_len - (size_t)off)
				size = of->snap_len - (size_t)off;
			memcpy(buf, of->snap + off, size);
			rc = (int)size;
		}
	}
	pthread_mutex_unlock(&of->lock);
	atomic_fetch_add_explicit(&c->stats.reads, 1, memory_order_relaxed);
	stats_observe(&c->stats.read_latency, stats_now_ns() - t0);
	return rc;
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
	static const char *const endings[] = {"",	"0",	 "1",	 "a",
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
			const char *buf, size_t size)
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
	of->tail_tid = fuse_get_context()->pid;
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

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct countfs *c = context();
	struct open_file *of = file_of(fi);
	uint64_t t0 = stats_now_ns();
	int rc;

	(void)path, (void)off;
	if (size > INT_MAX)
		size = INT_MAX;
	pthread_mutex_lock(&of->lock);
	rc = write_locked(c, of, buf, size);
	pthread_mutex_unlock(&of->lock);
	if (rc == 0) {
		atomic_fetch_add_explicit(&c->stats.writes, 1,
					  memory_order_relaxed);
		rc = (int)size;
	}
	stats_observe(&c->stats.write_latency, stats_now_ns() - t0);
	return rc;
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
static int fs_flush(const char *path, struct fuse_file_info *fi)
{
	struct countfs *c = context();
	struct open_file *of = file_of(fi);
	pid_t tid = fuse_get_context()->pid;

	(void)path;
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
	return 0;
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

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct open_file *of = file_of(fi);

	(void)path;
	finish_tail(context(), of);
	file_free(context(), of);
	return 0;
}

/* ---- the rest of POSIX -------------------------------------------- */

/* echo > views truncates first: to 0 there is nothing to do, but say
 * yes; any other size would promise content a counter cannot have. */
static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct node n;

	if (fi)
		n = file_of(fi)->node;
	else if (!path || path_parse(path, &n))
		return -ENOENT;
	if (node_is_dir(&n))
		return -EISDIR;
	if (n.global)
		return -EROFS;
	if (!node_is_writable(&n))
		return -EACCES;
	return size == 0 ? 0 : -EINVAL;
}

static int fs_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	struct node n;

	(void)tv, (void)fi;
	return path && path_parse(path, &n) ? -ENOENT : 0;
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)path, (void)mode, (void)fi;
	return -EACCES;
}

static int fs_mkdir(const char *path, mode_t mode)
{
	struct node n;

	(void)mode;
	return path_parse(path, &n) ? -EACCES : -EEXIST;
}

static int fs_refuse(const char *path)
{
	(void)path;
	return -EACCES;
}

static int fs_rename(const char *from, const char *to, unsigned flags)
{
	(void)from, (void)to, (void)flags;
	return -EACCES;
}

/* The tree is fixed: no new names of any kind, no modes or owners. */
static int fs_symlink(const char *target, const char *path)
{
	(void)target, (void)path;
	return -EACCES;
}

static int fs_link(const char *from, const char *to)
{
	(void)from, (void)to;
	return -EACCES;
}

static int fs_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)path, (void)mode, (void)dev;
	return -EACCES;
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)path, (void)mode, (void)fi;
	return -EACCES;
}

static int fs_chown(const char *path, uid_t uid, gid_t gid,
		    struct fuse_file_info *fi)
{
	(void)path, (void)uid, (void)gid, (void)fi;
	return -EACCES;
}

static int fs_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = sv->f_frsize = 4096;
	sv->f_namemax = 255;
	return 0;
}

/* Always ready, as the kernel answers for a filesystem without poll; but
 * here the handle a poller asks for (epoll, as Go's runtime does on every
 * file it opens, node_exporter's included) is freed: libfuse 3.14 leaks it
 * when the filesystem has no poll.  Nothing is ever notified. */
static int fs_poll(const char *path, struct fuse_file_info *fi,
		   struct fuse_pollhandle *ph, unsigned *reventsp)
{
	(void)path, (void)fi;
	if (ph)
		fuse_pollhandle_destroy(ph);
	*reventsp = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
	return 0;
}

/* ---- life cycle ---------------------------------------------------- */

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct countfs *c = context();
	int rc;

	(void)conn;
	cfg->entry_timeout = 1;
	cfg->attr_timeout = 1;
	cfg->negative_timeout = 1;
	cfg->nullpath_ok = 1;
	cfg->direct_io = 1;
	if (!c->foreground)
		log_use_syslog();
	rc = store_open(&c->store_cfg, &c->store);
	if (rc) {
		log_error("cannot open the store in %s: %s; unmounting",
			  c->store_cfg.dir, strerror(-rc));
		c->failed = true;
		fuse_exit(fuse_get_context()->fuse);
		return c;
	}
	if (c->repl_cfg.option_file) {
		rc = repl_open(&c->repl_cfg, c->store, &c->repl);
		if (rc) {
			log_error("cannot start replication: %s; unmounting",
				  strerror(-rc));
			c->failed = true;
			fuse_exit(fuse_get_context()->fuse);
			return c;
		}
		log_info("replicating as host %s to %u MySQL shards (%s)",
			 c->repl_cfg.host, c->repl_cfg.shards,
			 c->repl_cfg.option_file);
	}
	log_info("countfs %s serving %s, data in %s, %u shards, sync=%s",
		 COUNTFS_VERSION, c->mountpoint, c->store_cfg.dir,
		 c->store_cfg.shards,
		 c->store_cfg.sync == STORE_SYNC_ALWAYS ? "always" : "second");
	notify_service("READY=1\nSTATUS=serving");
	return c;
}

static void fs_destroy(void *private_data)
{
	struct countfs *c = private_data;
	size_t open = 0, unfinished = 0;

	notify_service("STOPPING=1");
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

const struct fuse_operations countfs_ops = {
    .init = fs_init,
    .destroy = fs_destroy,
    .getattr = fs_getattr,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .releasedir = fs_releasedir,
    .open = fs_open,
    .read = fs_read,
    .write = fs_write,
    .flush = fs_flush,
    .release = fs_release,
    .truncate = fs_truncate,
    .utimens = fs_utimens,
    .create = fs_create,
    .mkdir = fs_mkdir,
    .unlink = fs_refuse,
    .rmdir = fs_refuse,
    .rename = fs_rename,
    .symlink = fs_symlink,
    .link = fs_link,
    .mknod = fs_mknod,
    .chmod = fs_chmod,
    .chown = fs_chown,
    .statfs = fs_statfs,
    .poll = fs_poll,
};
