/*
 * main.c - countfs's command line: options, checks, then the mount loop.
 *
 * Options are parsed with a fuse_opt table into struct options, checked
 * (a bad value exits 1 with a sentence saying what is allowed), turned
 * into the store's configuration; the mountpoint and libfuse's options
 * are checked next.  Only then is the store opened (and the data
 * directory made), once before mounting so that a bad data directory
 * fails here, in the terminal, and not after daemonizing.  It is opened
 * for real in init.
 */
#include "fs.h"
#include "line.h"

#include "../common/log.h"
#include "../common/mono.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

struct options {
	char *data, *shards, *sync, *dedup, *log_level, *mapsize;
	char *host, *mysql, *global_cache, *ingest, *top;
	char *keep[STORE_LEVELS];
	char *retain;
	char *recover; /* recover=KEEP */
	char *arg[3]; /* SOURCE and MOUNTPOINT, in the order given */
	int nargs, show_help, show_version, foreground, recover_flag;
	int set_uid, set_gid, set_mode; /* uid=, gid=, umask= given */
	int uid, gid;
	unsigned umask;
};

#define OPTION(t, p)                                                           \
	{                                                                      \
		t, offsetof(struct options, p), 1                              \
	}
enum { KEY_FOREGROUND, KEY_IGNORE, KEY_SYNC_FLAG, KEY_RECOVER };

static const struct fuse_opt option_spec[] = {
    OPTION("data=%s", data),
    OPTION("shards=%s", shards),
    OPTION("sync=%s", sync),
    OPTION("dedup=%s", dedup),
    OPTION("keep_seconds=%s", keep[STORE_SEC]),
    OPTION("keep_minutes=%s", keep[STORE_MIN]),
    OPTION("keep_hours=%s", keep[STORE_HOUR]),
    OPTION("keep_days=%s", keep[STORE_DAY]),
    OPTION("retain_interval=%s", retain),
    OPTION("mapsize=%s", mapsize),
    OPTION("log_level=%s", log_level),
    OPTION("host=%s", host),
    OPTION("mysql=%s", mysql),
    OPTION("global_cache=%s", global_cache),
    OPTION("ingest=%s", ingest),
    OPTION("top=%s", top),
    OPTION("recover=%s", recover),
    FUSE_OPT_KEY("recover", KEY_RECOVER),
    OPTION("-h", show_help),
    OPTION("--help", show_help),
    OPTION("help", show_help),
    OPTION("-V", show_version),
    OPTION("--version", show_version),
    /* The owner, group and modes libfuse's high-level API set. */
    OPTION("uid=", set_uid),
    {"uid=%d", offsetof(struct options, uid), 0},
    OPTION("gid=", set_gid),
    {"gid=%d", offsetof(struct options, gid), 0},
    OPTION("umask=", set_mode),
    {"umask=%o", offsetof(struct options, umask), 0},
    /* The rest of its options had no effect here (every file is
     * direct_io, the timeouts were fixed): taken and ignored, so that a
     * mount line that gave them still mounts. */
    FUSE_OPT_KEY("kernel_cache", KEY_IGNORE),
    FUSE_OPT_KEY("auto_cache", KEY_IGNORE),
    FUSE_OPT_KEY("noauto_cache", KEY_IGNORE),
    FUSE_OPT_KEY("no_rofd_flush", KEY_IGNORE),
    FUSE_OPT_KEY("entry_timeout=", KEY_IGNORE),
    FUSE_OPT_KEY("attr_timeout=", KEY_IGNORE),
    FUSE_OPT_KEY("ac_attr_timeout=", KEY_IGNORE),
    FUSE_OPT_KEY("negative_timeout=", KEY_IGNORE),
    FUSE_OPT_KEY("noforget", KEY_IGNORE),
    FUSE_OPT_KEY("remember=", KEY_IGNORE),
    FUSE_OPT_KEY("-f", KEY_FOREGROUND),
    FUSE_OPT_KEY("-d", KEY_FOREGROUND),
    FUSE_OPT_KEY("debug", KEY_FOREGROUND),
    FUSE_OPT_KEY("sync", KEY_SYNC_FLAG),
    FUSE_OPT_KEY("_netdev", KEY_IGNORE),
    FUSE_OPT_KEY("nofail", KEY_IGNORE),
    FUSE_OPT_KEY("noauto", KEY_IGNORE),
    FUSE_OPT_KEY("user", KEY_IGNORE),
    FUSE_OPT_KEY("users", KEY_IGNORE),
    FUSE_OPT_END,
};

/* Fits an 80x24 terminal; countfs(8) has the rest. */
static void usage(void)
{
	fputs("usage: countfs [SOURCE] MOUNTPOINT [-f] [-d] [-o opt,...]\n"
	      "An event counter service as a filesystem; see countfs(8).\n"
	      "  -o data=DIR          where the LMDB shards live (default "
	      "./data)\n"
	      "  -o shards=N          1-256, fixed when DIR is made (default 4)\n"
	      "  -o sync=MODE         always (fsync before each ack) or second "
	      "(default)\n"
	      "  -o dedup=DUR         how long an #id is remembered, <= 365d (default "
	      "10m)\n"
	      "  -o keep_seconds=DUR  per-second buckets kept (default 1h)\n"
	      "  -o keep_minutes=DUR  per-minute buckets kept (default 7d)\n"
	      "  -o keep_hours=DUR    per-hour buckets kept (default 90d)\n"
	      "  -o keep_days=DUR     per-day buckets kept (default forever)\n"
	      "  -o retain_interval=DUR  between retention passes (default "
	      "10s)\n"
	      "  -o mapsize=SIZE      first LMDB map per shard, grows (default "
	      "64M)\n"
	      "  -o log_level=LEVEL   error, warn, info (default) or debug\n"
	      "  -o mysql=FILE        replicate to the [shardN] groups of this "
	      "mode-600 file\n"
	      "  -o host=NAME         this host's id in MySQL (default: the "
	      "hostname)\n"
	      "  -o global_cache=MS   reuse a /global answer this long "
	      "(default 1000)\n"
	      "  -o recover[=KEEP]    start a damaged DIR, setting aside the "
	      "damage in KEEP\n"
	      "  -o ingest=MODE       strict (default) or skip: drop bad "
	      "/ingest lines\n"
	      "  -o top=N             lines of a /top file, 1-1000 (default "
	      "100)\n"
	      "  -o allow_other       let others in: all read, the owner writes; "
	      "countfs(8)\n"
	      "  -o uid=N,gid=N,umask=M  the files' owner, group, mode 0777&~M "
	      "(all of them)\n"
	      "  -f, -d               foreground (-d: debug FUSE); "
	      "-V, --version: the version\n"
	      "DUR: N[s|m|h|d] or forever (keep_*); SIZE: N[K|M|G]; "
	      "libfuse: max_threads=N\n",
	      stdout);
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct options *o = data;

	(void)outargs;
	if (key == FUSE_OPT_KEY_NONOPT) {
		/* Kept aside: mount.fuse3 passes SOURCE MOUNTPOINT. */
		if (o->nargs < 3)
			o->arg[o->nargs] = strdup(arg);
		o->nargs++;
		return 0;
	}
	if (key == KEY_FOREGROUND) {
		o->foreground = 1;
		return 1; /* libfuse needs it too */
	}
	if (key == KEY_RECOVER) {
		o->recover_flag = 1; /* where: chosen once DIR is known */
		return 0;
	}
	if (key == KEY_SYNC_FLAG) {
		/* The kernel's synchronous-mount flag would mount silently
		 * and mean nothing here: the user meant sync=always. */
		fprintf(stderr, "countfs: sync is not valid without a value: "
				"use sync=always or sync=second\n");
		return -1;
	}
	return key == KEY_IGNORE ? 0 : 1;
}

/* N with an optional unit from @units (each with its multiplier). */
static int parse_scaled(const char *s, const char *units, const uint64_t *mult,
			uint64_t max, uint64_t *out)
{
	char *end;
	uint64_t v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		const char *u = strchr(units, *end);
		if (!u || end[1])
			return -EINVAL;
		if (v > max / mult[u - units])
			return -EINVAL;
		v *= mult[u - units];
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int bad(const char *what, const char *value, const char *allowed)
{
	fprintf(stderr, "countfs: %s=%s is not valid: %s\n", what, value,
		allowed);
	return -EINVAL;
}

static int parse_duration(const char *s, bool forever_ok, uint32_t *out)
{
	uint64_t v;

	if (forever_ok && strcmp(s, "forever") == 0) {
		*out = 0;
		return 0;
	}
	if (line_duration(s, strlen(s), UINT32_MAX, &v) || v == 0)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/*
 * The option @name=@s, a duration of at most @max seconds (or forever when
 * @forever_ok), in *@out; else exit-worthy, with @allowed as the reason.
 * Every duration needs its unit: a bare number is refused, since nobody
 * can tell whether dedup=10 meant seconds or minutes.
 */
static int duration_option(const char *name, const char *s, bool forever_ok,
			   uint32_t max, const char *allowed, uint32_t *out)
{
	char why[160];

	if (s[0] && strspn(s, "0123456789") == strlen(s)) {
		snprintf(why, sizeof(why), "give a unit, e.g. %.20ss, %.20sm "
			 "or %.20sd", s, s, s);
		return bad(name, s, why);
	}
	if (parse_duration(s, forever_ok, out) || *out > max)
		return bad(name, s, allowed);
	return 0;
}

/* The longest dedup window: ids are kept that long, one entry each. */
#define DEDUP_MAX (365u * 86400)

static int check_keep(struct countfs *c, struct options *o)
{
	static const char *const names[STORE_LEVELS] = {
	    "keep_seconds", "keep_minutes", "keep_hours", "keep_days"};
	static const char *const defaults[STORE_LEVELS] = {"1h", "7d", "90d",
							   "forever"};
	uint32_t *keep = c->store_cfg.keep;
	char why[160];

	for (int l = 0; l < STORE_LEVELS; l++)
		if (o->keep[l] &&
		    duration_option(names[l], o->keep[l], true, UINT32_MAX,
				    "give a duration such as 3600s, 90m, 48h, "
				    "30d, or forever",
				    &keep[l]))
			return -EINVAL;
	/* A level must cover at least one bucket of the next one up. */
	for (int l = 0; l + 1 < STORE_LEVELS; l++) {
		uint32_t next = store_level_size[l + 1];
		if (keep[l] && keep[l] < next)
			return bad(names[l], o->keep[l],
				   "keep a level at least one bucket of the "
				   "next level (60s, 60m, 24h)");
		if ((keep[l] == 0 && keep[l + 1] != 0) ||
		    (keep[l] && keep[l + 1] && keep[l + 1] < keep[l])) {
			/* Name the one that was given (or the coarser). */
			int blame = o->keep[l + 1] ? l + 1 : l;
			int other = blame == l ? l + 1 : l;
			snprintf(why, sizeof(why),
				 "a coarser level must be kept at least as "
				 "long as a finer one (%s is %s)",
				 names[other],
				 o->keep[other] ? o->keep[other]
						: defaults[other]);
			return bad(names[blame], o->keep[blame], why);
		}
	}
	return 0;
}

/* An absolute copy of @path, in *@out (the daemon leaves its cwd). */
static int absolute(const char *path, char **out)
{
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return (*out = strdup(path)) ? 0 : -ENOMEM;
	if (!getcwd(cwd, sizeof(cwd)) ||
	    asprintf(out, "%s/%s", cwd, path) < 0)
		return -ENOMEM;
	return 0;
}

static bool host_ok(const char *h)
{
	size_t n = strlen(h);

	return n >= 1 && n <= REPL_HOST_MAX &&
	       strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789_.:-") == n;
}

static int check_replication(struct countfs *c, struct options *o)
{
	struct repl_config *rc = &c->repl_cfg;
	static char hostname[256];
	char why[512];
	uint64_t v;

	rc->cache_ms = 1000;
	if (o->global_cache) {
		static const uint64_t one[] = {1};
		if (parse_scaled(o->global_cache, "", one, 3600000, &v))
			return bad("global_cache", o->global_cache,
				   "give milliseconds, from 0 to 3600000");
		rc->cache_ms = (unsigned)v;
	}
	if (o->host) {
		if (!host_ok(o->host))
			return bad("host", o->host,
				   "use 1-64 bytes of [A-Za-z0-9_.:-]");
		rc->host = o->host;
	} else if (o->mysql) {
		/* Never a made-up default: every host given one would share
		 * it in MySQL. */
		if (gethostname(hostname, sizeof(hostname) - 1)) {
			fprintf(stderr, "countfs: cannot read the hostname "
					"(%s); give -o host=NAME\n",
				strerror(errno));
			return -EINVAL;
		}
		if (!host_ok(hostname)) {
			fprintf(stderr,
				"countfs: the hostname '%s' cannot be the "
				"host's id in MySQL (it must be 1-64 bytes of "
				"[A-Za-z0-9_.:-]); give -o host=NAME\n",
				hostname);
			return -EINVAL;
		}
		rc->host = hostname;
	}
	if (!o->mysql)
		return 0;
	char *file;
	if (absolute(o->mysql, &file))
		return -ENOMEM;
	free(o->mysql);
	o->mysql = file;
	if (repl_check(file, &rc->shards, why, sizeof(why))) {
		fprintf(stderr, "countfs: mysql=%s is not usable: %s\n", file,
			why);
		return -EINVAL;
	}
	rc->option_file = file;
	c->store_cfg.repl_shards = rc->shards;
	return 0;
}

/* Is @path a directory, or could mkdir make it? */
static bool parent_is_dir(const char *path)
{
	struct stat sb;
	char *copy = strdup(path), *slash;
	bool ok;

	if (stat(path, &sb) == 0) {
		free(copy);
		return S_ISDIR(sb.st_mode);
	}
	if (!copy || !(slash = strrchr(copy, '/'))) {
		free(copy);
		return false;
	}
	*slash = '\0';
	ok = stat(copy[0] ? copy : "/", &sb) == 0 && S_ISDIR(sb.st_mode);
	free(copy);
	return ok;
}

/*
 * recover[=KEEP]: where what is damaged is kept, absolute; by default
 * DIR/recovered-YYYYmmdd-HHMMSS (UTC), chosen once so that the preflight
 * and the real open agree.  Made only when damage is found.
 */
static int check_recover(struct countfs *c, struct options *o)
{
	char stamp[32], *where;
	time_t now = time(NULL);
	struct tm tm;
	bool dflt = !o->recover;

	if (o->recover && !o->recover[0])
		return bad("recover", "", "give a directory, or no value");
	if (dflt && !o->recover_flag)
		return 0;
	if (dflt) {
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
		if (asprintf(&where, "%s/recovered-%s", c->store_cfg.dir,
			     stamp) < 0)
			return -ENOMEM;
	} else if (absolute(o->recover, &where)) {
		return -ENOMEM;
	}
	free(o->recover);
	o->recover = where;
	/* DIR itself may not exist yet: the default is checked by use. */
	if (!dflt && !parent_is_dir(where))
		return bad("recover", where,
			   "give a directory whose parent exists");
	size_t n = strlen(c->store_cfg.dir);
	if (strncmp(where, c->store_cfg.dir, n) == 0 &&
	    strncmp(where + n, "/shard-", 7) == 0)
		return bad("recover", where,
			   "keep what is set aside outside the shards");
	c->store_cfg.recover = where;
	return 0;
}

/* [SOURCE] MOUNTPOINT, as mount.fuse3 gives them: no more, no less. */
static int check_args(const struct options *o)
{
	if (o->nargs > 2) {
		fprintf(stderr, "countfs: too many arguments: give [SOURCE] "
				"MOUNTPOINT; see countfs --help\n");
		return -EINVAL;
	}
	if (o->nargs == 0) {
		fprintf(stderr, "countfs: no mountpoint given; see countfs "
				"--help\n");
		return -EINVAL;
	}
	return 0;
}

/*
 * Choose the data directory, absolute in store_cfg.dir (the daemon leaves
 * the current directory when it goes to the background).  A SOURCE means
 * countfs was started as mount(8) starts it: mount.fuse3 runs "countfs
 * SOURCE MOUNTPOINT -o OPTIONS" from wherever mount ran, / at boot.  Then
 * a SOURCE with a slash is the data directory and a bare word a label,
 * and the directory must be absolute: a relative one would be made
 * wherever that was.
 */
static int check_data(struct countfs *c, struct options *o)
{
	const char *source = o->nargs == 2 ? o->arg[0] : NULL;
	const char *what = o->data ? "data=" : "SOURCE ";
	char *dir;

	if (o->data && !o->data[0])
		return bad("data", "", "give a directory");
	if (source && !o->data && strchr(source, '/') &&
	    !(o->data = strdup(source)))
		return -ENOMEM;
	if (source && !o->data) {
		fprintf(stderr, "countfs: SOURCE %s is a label and no data= is "
				"given: with a SOURCE, as mount(8) gives it, "
				"name an absolute data directory as SOURCE or "
				"in -o data=\n",
			source);
		return -EINVAL;
	}
	if (source && o->data[0] != '/') {
		fprintf(stderr, "countfs: %s%s is not valid: with a SOURCE, as "
				"mount(8) gives it, the data directory must be "
				"an absolute path (mount runs countfs from a "
				"directory of its own)\n",
			what, o->data);
		return -EINVAL;
	}
	if (absolute(o->data ? o->data : c->store_cfg.dir, &dir))
		return bad("data", o->data ? o->data : c->store_cfg.dir,
			   "cannot make it an absolute path");
	free(o->data);
	o->data = dir;
	c->store_cfg.dir = dir;
	return 0;
}

static int check_options(struct countfs *c, struct options *o)
{
	struct store_config *sc = &c->store_cfg;
	uint64_t v;
	int rc;

	if ((rc = check_args(o)) || (rc = check_data(c, o)))
		return rc;
	if (o->shards) {
		static const uint64_t one[] = {1};
		if (parse_scaled(o->shards, "", one, STORE_MAX_SHARDS, &v) ||
		    v < 1)
			return bad("shards", o->shards,
				   "give a number from 1 to 256");
		sc->shards = (unsigned)v;
	}
	if (o->sync) {
		if (strcmp(o->sync, "always") == 0)
			sc->sync = STORE_SYNC_ALWAYS;
		else if (strcmp(o->sync, "second") == 0)
			sc->sync = STORE_SYNC_SECOND;
		else
			return bad("sync", o->sync, "use always or second");
	}
	if (o->dedup &&
	    duration_option("dedup", o->dedup, false, DEDUP_MAX,
			    "give a duration from 1s to 365d, such as 600s or "
			    "10m",
			    &sc->dedup_window))
		return -EINVAL;
	if (o->retain) {
		uint32_t r;
		if (duration_option("retain_interval", o->retain, false, 86400,
				    "give a duration from 1s to 1d, such as "
				    "10s",
				    &r))
			return -EINVAL;
		sc->retain_interval = r;
	}
	if (o->mapsize) {
		static const uint64_t mult[] = {1ULL << 10, 1ULL << 20,
						1ULL << 30, 1ULL << 40};
		if (parse_scaled(o->mapsize, "KMGT", mult, 1ULL << 44, &v) ||
		    v < (1ULL << 20))
			return bad("mapsize", o->mapsize,
				   "give a size of at least 1M, such as 64M "
				   "or 4G");
		sc->map_size = v;
	}
	if ((rc = check_replication(c, o)) || (rc = check_recover(c, o)))
		return rc;
	if (o->ingest && strcmp(o->ingest, "skip") == 0)
		c->ingest_skip = true;
	else if (o->ingest && strcmp(o->ingest, "strict") != 0)
		return bad("ingest", o->ingest, "use strict or skip");
	if (o->top) {
		static const uint64_t one[] = {1};
		if (parse_scaled(o->top, "", one, STORE_TOP_MAX, &v) || v < 1)
			return bad("top", o->top,
				   "give a number from 1 to 1000");
		c->top_n = (unsigned)v;
	}
	if (o->log_level && log_parse_level(o->log_level, &log_level))
		return bad("log_level", o->log_level,
			   "use error, warn, info or debug");
	return check_keep(c, o);
}

/*
 * Is @dir (a real path) a countfs mount already?  Its source, the data
 * directory, in @source.  Mount points in mountinfo escape ' ', '\t',
 * '\n' and '\\' as \ooo.
 */
bool countfs_mounted(const char *dir, char *source, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, mnt[PATH_MAX], type[64], src[PATH_MAX];
	size_t cap = 0;
	bool found = false;

	while (f && !found && getline(&line, &cap, f) > 0) {
		char *dash = strstr(line, " - ");
		size_t j = 0;
		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(dash, " - %63s %4095s", type, src) != 2)
			continue;
		for (size_t i = 0; mnt[i]; j++) {
			unsigned ch;
			if (mnt[i] == '\\' && sscanf(mnt + i + 1, "%3o", &ch) == 1)
				mnt[j] = (char)ch, i += 4;
			else
				mnt[j] = mnt[i++];
		}
		mnt[j] = '\0';
		found = strcmp(mnt, dir) == 0 && strcmp(type, "fuse.countfs") == 0;
	}
	if (found) {
		size_t n = strnlen(src, len - 1);
		memcpy(source, src, n);
		source[n] = '\0';
	}
	free(line);
	if (f)
		fclose(f);
	return found;
}

/* @path made real (symlinks and .. resolved) when it or at least its
 * parent exists, else a copy of it; NULL without memory.  Free it. */
static char *real_path(const char *path)
{
	char *r = realpath(path, NULL), *parent, *out = NULL;
	const char *slash = strrchr(path, '/');

	if (r || !slash)
		return r ? r : strdup(path);
	parent = strndup(path, (size_t)(slash - path));
	r = parent ? realpath(parent[0] ? parent : "/", NULL) : NULL;
	if (!r || asprintf(&out, "%s%s", r, slash) < 0)
		out = strdup(path);
	free(r);
	free(parent);
	return out;
}

/* Does directory @dir hold a countfs data directory's shard or format
 * line?  Mounting on it would hide it from its own daemon's tools. */
static bool holds_data(const char *dir)
{
	static const char stamp[] = "countfs data format ";
	char path[PATH_MAX + 32], line[sizeof(stamp)] = "";
	struct stat sb;
	int fd;

	snprintf(path, sizeof(path), "%s/shard-0/data.mdb", dir);
	if (stat(path, &sb) == 0)
		return true;
	snprintf(path, sizeof(path), "%s/format", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return false;
	ssize_t n = read(fd, line, sizeof(line) - 1);
	close(fd);
	return n == (ssize_t)sizeof(line) - 1 && strcmp(line, stamp) == 0;
}

/*
 * The mountpoint, before anything is made: an existing directory, not a
 * countfs mount already, and not holding the data directory (the daemon
 * would wait on itself).  /dev/fd/N is a FUSE device mount.fuse3 opened.
 */
static int check_mountpoint(const char *mnt, const char *data)
{
	char real[PATH_MAX], source[PATH_MAX];
	struct stat sb;
	size_t n;

	if (strncmp(mnt, "/dev/fd/", 8) == 0)
		return 0;
	if (stat(mnt, &sb) || !realpath(mnt, real)) {
		int err = errno;
		fprintf(stderr, "countfs: cannot mount on %s: %s%s\n", mnt,
			strerror(err),
			err == ENOTCONN ? " (a countfs that died there? "
					  "fusermount3 -u it first)"
					: "");
		return -err;
	}
	if (!S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "countfs: cannot mount on %s: not a "
				"directory\n", mnt);
		return -ENOTDIR;
	}
	if (countfs_mounted(real, source, sizeof(source))) {
		fprintf(stderr, "countfs: %s is a countfs mount already (of "
				"%s): unmount it first, or pick another "
				"mountpoint\n", real, source);
		return -EBUSY;
	}
	if (holds_data(real)) {
		fprintf(stderr, "countfs: cannot mount on %s: it is a countfs "
				"data directory; pick another mountpoint\n",
			real);
		return -EEXIST;
	}
	char *rdata = real_path(data);
	n = strlen(real);
	bool inside = rdata && strncmp(rdata, real, n) == 0 &&
		      (rdata[n] == '/' || rdata[n] == '\0' || n == 1);
	free(rdata);
	if (inside)
		return bad("data", data, "the data directory cannot be inside "
					 "the mountpoint");
	return 0;
}

/*
 * Open and close the store once, and claim the host name in MySQL for
 * the directory's identity, to fail early and in the terminal.  This is
 * where the data directory is made: after every other check.  The store
 * logs why it refuses; that line is the only one.
 */
static int preflight(struct countfs *c)
{
	struct store *st;
	char why[1024];
	int rc = store_open(&c->store_cfg, &st);

	if (rc)
		return rc;
	if (c->repl_cfg.option_file &&
	    (rc = repl_claim(&c->repl_cfg, store_identity(st), why,
			     sizeof(why)))) {
		if (rc == -EEXIST)
			fprintf(stderr, "countfs: %s\n", why);
		else
			fprintf(stderr, "countfs: cannot claim host name %s "
					"in MySQL: %s\n",
				c->repl_cfg.host, strerror(-rc));
	}
	store_close(st);
	return rc;
}

/* A loop ended by SIGTERM, SIGINT or SIGHUP is a clean unmount. */
static bool clean_exit(int rc)
{
	return rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP ||
	       rc == -SIGTERM || rc == -SIGINT || rc == -SIGHUP;
}

/*
 * After the loop, with live reads ended (a follow or when read now
 * answers EOF at once): a follow reader answered a count just before the
 * stop reads again, and that read would wait in the kernel's queue until
 * the unmount ended it with ECONNABORTED (or come after it: ENOTCONN).
 * Answer requests here, one at a time, while follow or when files are
 * open, then until the queue stays empty for 50 ms; 2 s at the most, and
 * not after an unmount (the device then reads ENODEV).
 */
static void drain(struct fuse_session *se, struct countfs *c)
{
	struct fuse_buf buf = {0};
	struct timespec end = mono_deadline(2000000000ull), now;
	struct pollfd p = {fuse_session_fd(se), POLLIN, 0};

	while (!fuse_session_exited(se)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		int r = poll(&p, 1, 50);
		if (r == 0 && fs_live_files(c) == 0)
			break;
		if (r <= 0)
			continue; /* EINTR: a second signal sets exited */
		if (!(p.revents & POLLIN))
			break;
		int n = fuse_session_receive_buf(se, &buf);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			break;
		fuse_session_process_buf(se, &buf);
	}
	free(buf.mem);
}

/*
 * A stop (SIGTERM, SIGINT, SIGHUP) ends live reads before the loop: the
 * handler only wakes the stopper thread, which answers every parked read
 * with EOF (and every later follow or when read at once), waits up to 2 s
 * for the follow and when files to close, and then ends the loop.  Were
 * the loop ended first, a follow reader answered just before would read
 * again into a queue nobody serves (ECONNABORTED at the unmount), and
 * libfuse drops a request a worker read as it was told to end.
 */
struct stopper {
	struct fuse_session *se;
	struct countfs *c;
	pthread_t main, thread;
	int fd;	      /* eventfd: a signal came, or serve() is done */
	bool started;
	atomic_bool loop_done;
};

static struct stopper stopper = {.fd = -1};
static volatile sig_atomic_t stop_signal; /* the first stop signal */

static void on_stop_signal(int sig)
{
	uint64_t one = 1;
	int saved = errno;

	if (!stop_signal)
		stop_signal = sig;
	if (write(stopper.fd, &one, sizeof(one)) < 0) {
		/* full or closed: a stop is under way already */
	}
	errno = saved;
}

static void *stopper_thread(void *arg)
{
	struct stopper *s = arg;
	uint64_t n;

	while (read(s->fd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	if (!stop_signal) /* serve() is done: the loop ended by itself */
		return NULL;
	fs_stop_live(s->c);
	for (int i = 0; i < 200 && fs_live_files(s->c) > 0; i++)
		usleep(10000);
	fuse_session_exit(s->se);
	/* Wake the loop: the main thread waits for its workers in sem_wait
	 * (or reads /dev/fuse, single-threaded), which a signal ends; again
	 * should it have been just about to wait. */
	while (!atomic_load(&s->loop_done)) {
		pthread_kill(s->main, SIGHUP);
		usleep(100000);
	}
	return NULL;
}

/* Our handlers for the stop signals, and the stopper; -1 on failure. */
static int stopper_start(struct fuse_session *se, struct countfs *c)
{
	struct sigaction sa = {.sa_handler = on_stop_signal};
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigset_t block, old;

	stopper.se = se;
	stopper.c = c;
	stopper.main = pthread_self();
	if ((stopper.fd = eventfd(0, EFD_CLOEXEC)) < 0)
		return -1;
	/* The stopper itself takes no stop signal. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int rc = pthread_create(&stopper.thread, NULL, stopper_thread,
				&stopper);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		close(stopper.fd);
		stopper.fd = -1;
		return -1;
	}
	stopper.started = true;
	sigemptyset(&sa.sa_mask); /* no SA_RESTART: the wait must end */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	return 0;
}

static void stopper_end(void)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	uint64_t one = 1;

	if (!stopper.started)
		return;
	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGHUP, &dfl, NULL);
	if (write(stopper.fd, &one, sizeof(one)) < 0)
		log_warn("cannot wake the stopper: %s", strerror(errno));
	pthread_join(stopper.thread, NULL);
	close(stopper.fd);
	stopper.fd = -1;
	stopper.started = false;
}

/*
 * Daemonize unless -f, and serve the mount until unmounted or signalled.
 * Done by hand rather than with fuse_main() to pick the thread pool and
 * to exit 0 after a clean unmount by signal.
 */
static int serve(struct fuse_session *se, struct fuse_cmdline_opts *opts,
		 struct countfs *c)
{
	struct fuse_loop_config *loop;
	int rc = 1;

	if (fuse_daemonize(opts->foreground))
		goto out_unmount;
	if (stopper_start(se, c))
		goto out_unmount;
	if (opts->singlethread) {
		rc = fuse_session_loop(se);
	} else {
		loop = fuse_loop_cfg_create();
		/* Always one /dev/fuse per worker: the kernel finds the
		 * request a reply answers by a scan of its device's
		 * in-flight list, which holds every parked follow read.  On
		 * one shared device, appends beside 10,000 parked reads ran
		 * at 0.69-0.80x; with clone_fd at 0.96-1.0x, and nothing
		 * else measured moved (bench/analysis.md). */
		fuse_loop_cfg_set_clone_fd(loop, 1);
		fuse_loop_cfg_set_max_threads(loop, opts->max_threads);
		if (opts->max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(loop,
						       opts->max_idle_threads);
		rc = fuse_session_loop_mt(se, loop);
		fuse_loop_cfg_destroy(loop);
	}
	atomic_store(&stopper.loop_done, true);
	if (stop_signal)
		rc = 0; /* stopped as asked */
	/* A lazy unmount ends with the last file closed; the kernel may then
	 * answer a worker's read ECONNABORTED rather than ENODEV. */
	char source[8];
	if (rc == -ECONNABORTED && c->mountpoint &&
	    !countfs_mounted(c->mountpoint, source, sizeof(source)))
		rc = 0;
	fs_end_live(c);
	drain(se, c);
	rc = clean_exit(rc) && !c->failed ? 0 : 1;
	stopper_end();
out_unmount:
	fuse_session_unmount(se);
	return rc;
}

/*
 * Is the data directory @dir absent (*@absent), or empty but for a new
 * filesystem's lost+found?  Then all that this start makes in it is its
 * own, to be removed if the start fails.
 */
static bool dir_is_new(const char *dir, bool *absent)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	*absent = !d && errno == ENOENT;
	if (!d)
		return *absent;
	while (empty && (e = readdir(d)))
		empty = strcmp(e->d_name, ".") == 0 ||
			strcmp(e->d_name, "..") == 0 ||
			strcmp(e->d_name, "lost+found") == 0;
	closedir(d);
	return empty;
}

/* Remove the entries of @dir, and of its directories when @top (a
 * data directory is two levels deep); lost+found is left alone. */
static void remove_entries(const char *dir, bool top)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX + 256];

	while (d && (e = readdir(d))) {
		const char *n = e->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 ||
		    (top && strcmp(n, "lost+found") == 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, n);
		if (top && e->d_type == DT_DIR) {
			remove_entries(path, false);
			rmdir(path);
		} else {
			unlink(path);
		}
	}
	if (d)
		closedir(d);
}

/*
 * A start that made the data directory (or filled an empty one) and then
 * could not mount - a fsname= the kernel refuses, /dev/fuse closed to
 * this user - leaves nothing behind.  Not with mysql=: the host name is
 * claimed in MySQL for this directory's identity now, and a new one
 * would be refused.
 */
static void unmake_data(const struct countfs *c, bool absent)
{
	if (c->repl_cfg.option_file)
		return;
	remove_entries(c->store_cfg.dir, true);
	if (absent)
		rmdir(c->store_cfg.dir);
}

/*
 * The options countfs gives libfuse: the data directory shows as the
 * mount's source (as sshfs shows its remote), before the user's options
 * so that a fsname= of theirs wins; what the tree relies on, after them.
 */
static int mount_options(struct fuse_args *args, const char *dir)
{
	char *fsname = NULL;
	int rc = fuse_opt_add_opt_escaped(&fsname, dir);

	if (rc == 0) {
		char *arg;
		rc = asprintf(&arg, "-ofsname=%s", fsname) < 0 ? -1 : 0;
		if (rc == 0)
			rc = fuse_opt_insert_arg(args, 1, arg);
		if (rc == 0)
			rc = fuse_opt_insert_arg(args, 1, "-omax_threads=64");
		free(arg);
	}
	free(fsname);
	if (rc == 0)
		rc = fuse_opt_add_arg(args, "-odefault_permissions,"
					    "subtype=countfs");
	return rc;
}

/*
 * Check everything that can be checked - option values, the mountpoint,
 * libfuse's own options - then make or open the data directory, and only
 * then mount: a mistake leaves nothing behind.
 */
static int start(struct fuse_args *args, struct countfs *c, struct options *o)
{
	struct fuse_cmdline_opts opts = {0};
	struct fuse_session *se = NULL;
	int rc = 1;

	if (check_options(c, o) ||
	    check_mountpoint(o->arg[o->nargs - 1], c->store_cfg.dir) ||
	    fuse_opt_add_arg(args, o->arg[o->nargs - 1]) ||
	    mount_options(args, c->store_cfg.dir) ||
	    fuse_parse_cmdline(args, &opts))
		goto out;
	c->foreground = opts.foreground;
	c->mountpoint = opts.mountpoint;
	se = fuse_session_new(args, &countfs_ops, sizeof(countfs_ops), c);
	if (!se) {
		fprintf(stderr, "countfs: see countfs --help for the options\n");
		goto out;
	}
	c->se = se;
	c->started = time(NULL);
	c->uid = o->set_uid ? (uid_t)o->uid : getuid();
	c->gid = o->set_gid ? (gid_t)o->gid : getgid();
	c->set_mode = o->set_mode;
	c->umask = o->umask;
	bool absent, fresh = dir_is_new(c->store_cfg.dir, &absent);
	if (preflight(c) == 0) {
		if (fuse_session_mount(se, opts.mountpoint) == 0)
			rc = serve(se, &opts, c);
		else if (fresh)
			unmake_data(c, absent);
	}
	/* Runs destroy (store and replication closed) if init ran. */
	fuse_session_destroy(se);
out:
	free(opts.mountpoint);
	return rc;
}

static void free_options(struct options *o)
{
	free(o->data), free(o->shards), free(o->sync), free(o->dedup);
	free(o->log_level), free(o->mapsize), free(o->retain);
	free(o->host), free(o->mysql), free(o->global_cache);
	free(o->ingest), free(o->top);
	free(o->recover);
	for (int l = 0; l < STORE_LEVELS; l++)
		free(o->keep[l]);
	for (int i = 0; i < 3; i++)
		free(o->arg[i]);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	static struct countfs c;
	struct options o = {0};
	int rc = 1;

	/* Threads share a few malloc arenas (the store's background thread
	 * also trims them each second): memory stays bounded however many
	 * FUSE threads run large writes at once. */
	mallopt(M_ARENA_MAX, 4);
	/* A journal batch needs a few buffers of megabytes for a moment:
	 * from 4 MiB up they are mapped and unmapped, leaving no high-water
	 * mark (the default threshold climbs to 32 MiB and keeps them in the
	 * heap); the smaller ones are reused from the heap, without the page
	 * faults of fresh mappings. */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	log_detect_journal();
	store_config_defaults(&c.store_cfg);
	pthread_mutex_init(&c.files_lock, NULL);
	mono_cond_init(&c.tails_cond);
	live_init(&c.live);
	if (inode_table_init(&c.inodes))
		return 1;
	if (fuse_opt_parse(&args, &o, option_spec, opt_proc) == -1)
		return 1;
	if (o.show_version) {
		printf("countfs %s (libfuse %s)\n", COUNTFS_VERSION,
		       fuse_pkgversion());
		rc = 0;
	} else if (o.show_help) {
		usage();
		rc = 0;
	} else {
		rc = start(&args, &c, &o);
	}
	fuse_opt_free_args(&args);
	free_options(&o);
	inode_table_free(&c.inodes);
	return rc;
}
