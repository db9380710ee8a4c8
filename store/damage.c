/*
 * damage.c - a data directory is judged before anything in it changes.
 *
 * A crash (kill -9, power loss) can leave only this: both journal files
 * holding records (one was being emptied), and the newest record cut
 * short (a write() that did not finish: a kill stops a large write()
 * between pages, a power loss anywhere).  The journal's replay handles
 * those.  Anything else was done to the directory from outside - a
 * flipped byte, a file cut or deleted, a shard directory removed - and
 * serving it would answer with counts silently short.  So store_open()
 * first reads every shard without writing (LMDB read-only, no lock file;
 * the journals with journal_scan()), and when something is wrong it
 * logs one line per problem, naming the file, and refuses: nothing in the
 * directory has been modified.
 *
 * The operator may then start anyway with cfg.recover, a directory to
 * keep what is set aside: the shard's journal files are copied there
 * whole, a damaged data.mdb is moved there (a new, empty one is made), a
 * journal is cut at its damage, and each problem and what it cost is
 * written to RECOVER/DAMAGE and to the log.  What survives is applied as
 * usual.
 */
#include "internal.h"
#include "jscan.h"

#include "../common/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct check {
	struct store *st;
	unsigned problems;
	bool rdir_made;
	int rc; /* of the recovery itself */
};

static int make_rdir(struct check *c)
{
	const char *r = c->st->cfg.recover;

	if (c->rdir_made)
		return 0;
	if (mkdir(r, 0700) && errno != EEXIST) {
		int err = errno;
		log_error("cannot create the recovery directory %s: %s", r,
			  strerror(err));
		return -err;
	}
	c->rdir_made = true;
	return 0;
}

/* Log a line; when recovering, add it to RECOVER/DAMAGE too. */
static void vnote(struct check *c, enum log_level lvl, const char *fmt,
		  va_list ap)
{
	char line[1024], path[4200];

	vsnprintf(line, sizeof(line), fmt, ap);
	log_msg(lvl, "%s", line);
	if (!c->st->cfg.recover || make_rdir(c))
		return;
	snprintf(path, sizeof(path), "%s/DAMAGE", c->st->cfg.recover);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "a");
	if (fd >= 0 && !f)
		close(fd);
	if (f) {
		fprintf(f, "%s\n", line);
		fclose(f);
	}
}

/* One problem found: an error line. */
static void __attribute__((format(printf, 2, 3)))
problem(struct check *c, const char *fmt, ...)
{
	va_list ap;

	c->problems++;
	va_start(ap, fmt);
	vnote(c, LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
}

/* What recovery did about it: a warning. */
static void __attribute__((format(printf, 2, 3)))
done(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(c, LOG_LVL_WARN, fmt, ap);
	va_end(ap);
}

static int copy_fd(int in, int out)
{
	char buf[65536];
	ssize_t r;

	while ((r = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t w, done = 0; done < r; done += w)
			if ((w = write(out, buf + done, (size_t)(r - done))) < 0)
				return -errno;
	return r < 0 ? -errno : 0;
}

int write_synced(int fd, const void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t w = write(fd, (const char *)buf + done, len - done);
		if (w < 0)
			return -errno;
		done += (size_t)w;
	}
	return fsync(fd) ? -errno : 0;
}

int copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc;

	if (in < 0)
		return errno == ENOENT ? 0 : -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	rc = out < 0 ? -errno : copy_fd(in, out);
	if (rc == 0 && fsync(out))
		rc = -errno;
	close(in);
	if (out >= 0)
		close(out);
	if (rc)
		log_error("cannot keep a copy of %s in %s: %s", src, dst,
			  strerror(-rc));
	return rc;
}

/* Where the files of shard @k are kept: RECOVER/shard-K/@name. */
static int kept(struct check *c, unsigned k, const char *name, char *path,
		size_t len)
{
	int rc = make_rdir(c);

	if (rc)
		return rc;
	snprintf(path, len, "%s/shard-%u", c->st->cfg.recover, k);
	if (mkdir(path, 0700) && errno != EEXIST) {
		rc = -errno;
		log_error("cannot create %s: %s", path, strerror(errno));
		return rc;
	}
	snprintf(path, len, "%s/shard-%u/%s", c->st->cfg.recover, k, name);
	return 0;
}

/* Keep a copy of both journal files of shard @k (once). */
static int keep_journals(struct check *c, unsigned k, bool *done)
{
	char src[4096], dst[4096];
	int rc = 0;

	for (unsigned f = 0; f < 2 && !*done && rc == 0; f++) {
		char name[16];
		snprintf(name, sizeof(name), "journal-%u", f);
		snprintf(src, sizeof(src), "%s/shard-%u/%s", c->st->dir, k,
			 name);
		if ((rc = kept(c, k, name, dst, sizeof(dst))) == 0)
			rc = copy_file(src, dst);
	}
	*done = true;
	return rc;
}

/* Move @name of shard @k into the recovery directory. */
static int set_aside(struct check *c, unsigned k, const char *name)
{
	char src[4096], dst[4096];
	int rc;

	snprintf(src, sizeof(src), "%s/shard-%u/%s", c->st->dir, k, name);
	if (access(src, F_OK))
		return 0;
	if ((rc = kept(c, k, name, dst, sizeof(dst))))
		return rc;
	if (access(dst, F_OK) == 0) {
		log_error("%s exists already: not overwritten", dst);
		return -EEXIST;
	}
	if (rename(src, dst) == 0)
		return 0;
	if (errno != EXDEV) {
		rc = -errno;
		log_error("cannot move %s to %s: %s", src, dst, strerror(-rc));
		return rc;
	}
	if ((rc = copy_file(src, dst)) == 0 && unlink(src))
		rc = -errno;
	return rc;
}

/* An LMDB result as an errno, with LMDB's own words for a failure in
 * @why: the refusal names them. */
static int lmdb_why(int rc, char *why, size_t len)
{
	if (rc)
		snprintf(why, len, "%s", mdb_strerror(rc));
	return lmdb_errno(rc);
}

/* A u32 or u64 of the meta database; a missing one reads as 0.  0, or a
 * negative errno with what is wrong in @why. */
static int meta_read(MDB_txn *txn, MDB_dbi meta, const char *name, void *out,
		     size_t len, char *why, size_t wlen)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc = lmdb_why(mdb_get(txn, meta, &k, &v), why, wlen);

	memset(out, 0, len);
	if (rc == 0 && v.mv_size != len) {
		snprintf(why, wlen, "meta \"%s\" is %zu bytes, not %zu", name,
			 v.mv_size, len);
		return -EIO;
	}
	if (rc == 0)
		memcpy(out, v.mv_data, len);
	return rc == -ENOENT ? 0 : rc;
}

bool read_lmdb(const char *dir, struct shard_meta *m, char *why, size_t len)
{
	char path[4200];
	struct stat sb;
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_envinfo info;
	MDB_stat ms;
	MDB_dbi meta;
	char msg[256] = "";
	int rc;

	*m = (struct shard_meta){.index = UINT32_MAX};
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &sb)) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return false;
	}
	if (sb.st_size == 0) {
		snprintf(why, len, "%s is empty", path);
		return false;
	}
	if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 16)) ||
	    (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK, 0600))) {
		snprintf(why, len, "%s: LMDB cannot open it: %s", path,
			 mdb_strerror(rc));
		goto bad;
	}
	mdb_env_info(env, &info);
	mdb_env_stat(env, &ms);
	uint64_t need = (uint64_t)(info.me_last_pgno + 1) * ms.ms_psize;
	if ((uint64_t)sb.st_size < need) {
		snprintf(why, len,
			 "%s is %lld bytes, shorter than the %llu bytes its "
			 "pages need: it was cut",
			 path, (long long)sb.st_size, (unsigned long long)need);
		goto bad;
	}
	if ((rc = lmdb_why(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), msg,
			   sizeof(msg))))
		goto unreadable;
	rc = lmdb_why(mdb_dbi_open(txn, "meta", 0, &meta), msg, sizeof(msg));
	if (rc == -ENOENT) /* made, then killed before its first commit */
		rc = 0;
	else if (rc == 0 &&
		 (rc = meta_read(txn, meta, "journal", &m->applied,
				 sizeof(m->applied), msg, sizeof(msg))) == 0 &&
		 (rc = meta_read(txn, meta, "format", &m->format,
				 sizeof(m->format), msg, sizeof(msg))) == 0)
		rc = meta_read(txn, meta, "shards", &m->shards,
			       sizeof(m->shards), msg, sizeof(msg));
	if (rc == 0 && m->shards) {
		MDB_val mk = {5, "shard"}, mv;
		if (lmdb_errno(mdb_get(txn, meta, &mk, &mv)) == 0 &&
		    mv.mv_size == sizeof(m->index))
			memcpy(&m->index, mv.mv_data, sizeof(m->index));
	}
	if (rc) {
		mdb_txn_abort(txn);
		goto unreadable;
	}
	/* An upgrade must not stop halfway on damage (upgrade.c). */
	if (m->format && m->format < 3 &&
	    upgrade_walk(txn, msg, sizeof(msg))) {
		mdb_txn_abort(txn);
		snprintf(why, len,
			 "%s: a record of data format %u cannot be read, so "
			 "it cannot be upgraded: %s",
			 path, m->format, msg);
		goto bad;
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return true;
unreadable:
	snprintf(why, len, "%s: its meta database cannot be read: %s", path,
		 msg);
bad:
	if (env)
		mdb_env_close(env);
	return false;
}

int read_journal(struct jfile *jf)
{
	struct stat sb;
	int fd = open(jf->path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0) {
		jf->missing = errno == ENOENT;
		return jf->missing ? 0 : -errno;
	}
	if (fstat(fd, &sb)) {
		rc = -errno;
	} else if (sb.st_size > 0) {
		jf->buf = malloc((size_t)sb.st_size);
		if (!jf->buf)
			rc = -ENOMEM;
		while (rc == 0 && jf->len < (size_t)sb.st_size) {
			ssize_t r = pread(fd, jf->buf + jf->len,
					  (size_t)sb.st_size - jf->len,
					  (off_t)jf->len);
			if (r < 0)
				rc = -errno;
			if (r <= 0)
				break;
			jf->len += (size_t)r;
		}
	}
	close(fd);
	if (rc)
		log_error("cannot read %s: %s", jf->path, strerror(-rc));
	journal_scan(jf->buf, jf->len, &jf->scan);
	return rc;
}

/* Where the numbers of the records newer than LMDB break off. */
struct seq_break {
	uint64_t want, found; /* found < want: a number seen before */
	unsigned file;	      /* in o[file] */
	size_t off;	      /* of that record */
};

/*
 * The records newer than @applied, older file first, must be numbered
 * applied+1, applied+2, ... : a gap is records lost, a number seen again
 * would be applied twice.  Returns false and fills *@br at the first
 * break.
 */
static bool seq_unbroken(struct jfile *o[2], uint64_t applied,
			 struct seq_break *br)
{
	uint64_t want = applied + 1;

	for (unsigned i = 0; i < 2; i++) {
		const unsigned char *b = o[i]->buf;
		for (size_t off = 0; off < o[i]->scan.good;) {
			struct jrec_head h;
			memcpy(&h, b + off, sizeof(h));
			if (h.seq > applied && h.seq != want) {
				*br = (struct seq_break){want, h.seq, i, off};
				return false;
			}
			want += h.seq > applied;
			off += h.len;
		}
	}
	return true;
}

/* The number the records after damage in @jf must be above: its last
 * whole one before the damage, else what LMDB applied (numbers keep
 * growing across restarts: journal_resync() needs a bound near them). */
static uint64_t resync_after(const struct jfile *jf, uint64_t applied)
{
	return jf->scan.last_seq > applied ? jf->scan.last_seq : applied;
}

/* Take the damaged stretches out of @jf's bytes (each up to the next
 * whole record); how many bytes went. */
static size_t drop_damage(struct jfile *jf, uint64_t applied)
{
	size_t dropped = 0;

	while (jf->scan.status == JSCAN_CORRUPT) {
		size_t at = jf->scan.good;
		size_t next = journal_resync(jf->buf, jf->len, at,
					     resync_after(jf, applied));
		memmove(jf->buf + at, jf->buf + next, jf->len - next);
		jf->len -= next - at;
		dropped += next - at;
		journal_scan(jf->buf, jf->len, &jf->scan);
	}
	return dropped;
}

/* Rewrite @jf without its damaged stretches (a copy is kept already). */
static int repair(struct check *c, struct jfile *jf, uint64_t applied)
{
	char tmp[8400];
	size_t dropped = drop_damage(jf, applied);
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.repaired", jf->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	rc = fd < 0 ? -errno : write_synced(fd, jf->buf, jf->len);
	if (fd >= 0)
		close(fd);
	if (rc == 0 && rename(tmp, jf->path))
		rc = -errno;
	if (rc) {
		log_error("cannot rewrite %s: %s", jf->path, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	done(c, "%s: %zu damaged bytes dropped, %zu records kept", jf->path,
	     dropped, jf->scan.records);
	return 0;
}

/* Judge the journals of shard @k; when recovering, cut them at damage. */
static int check_journals(struct check *c, unsigned k, uint64_t applied,
			  bool lmdb_ok)
{
	struct jfile f[2];
	bool copied = false, recover = c->st->cfg.recover != NULL;
	int rc = 0;

	memset(f, 0, sizeof(f));
	for (unsigned i = 0; i < 2 && rc == 0; i++) {
		snprintf(f[i].path, sizeof(f[i].path), "%s/shard-%u/journal-%u",
			 c->st->dir, k, i);
		rc = read_journal(&f[i]);
	}
	for (unsigned i = 0; i < 2 && rc == 0; i++) {
		if (f[i].missing && lmdb_ok && applied > 0)
			problem(c,
				"%s is missing, but LMDB has applied journal "
				"records up to number %llu: it was deleted",
				f[i].path, (unsigned long long)applied);
		if (f[i].scan.status != JSCAN_CORRUPT)
			continue;
		size_t cut = f[i].scan.good;
		size_t next = journal_resync(f[i].buf, f[i].len, cut,
					     resync_after(&f[i], applied));
		char after[96] = "nothing readable follows";
		if (next < f[i].len)
			snprintf(after, sizeof(after),
				 "whole records follow from byte %zu", next);
		problem(c, "%s is damaged at byte %zu of %zu: %s; %s",
			f[i].path, cut, f[i].len, f[i].scan.why, after);
		if (recover && !(rc = keep_journals(c, k, &copied)))
			rc = repair(c, &f[i], applied);
		if (!recover) /* judge the rest as if the damage were gone */
			drop_damage(&f[i], applied);
	}
	/* The older file first; a cut-short record may end only the newer. */
	struct jfile *o[2] = {&f[0], &f[1]};
	if (f[1].scan.records &&
	    (!f[0].scan.records || f[1].scan.first_seq < f[0].scan.first_seq))
		o[0] = &f[1], o[1] = &f[0];
	if (rc == 0 && o[0]->scan.records && o[1]->scan.records &&
	    o[0]->scan.status == JSCAN_TORN) {
		problem(c,
			"%s ends at byte %zu in %s, but %s holds later "
			"records: it was cut, not torn by a crash (%zu bytes "
			"of a record left)",
			o[0]->path, o[0]->scan.good, o[0]->scan.why, o[1]->path,
			o[0]->len - o[0]->scan.good);
		if (recover && !(rc = keep_journals(c, k, &copied)) &&
		    truncate(o[0]->path, (off_t)o[0]->scan.good))
			rc = -errno;
	}
	struct seq_break br;
	if (rc == 0 && lmdb_ok && !seq_unbroken(o, applied, &br)) {
		struct jfile *jf = o[br.file];
		if (br.found > br.want)
			problem(c,
				"%s: records %llu to %llu are missing (LMDB "
				"applied up to %llu): %llu acknowledged writes "
				"are lost",
				jf->path, (unsigned long long)br.want,
				(unsigned long long)br.found - 1,
				(unsigned long long)applied,
				(unsigned long long)(br.found - br.want));
		else
			problem(c,
				"%s: at byte %zu, record %llu comes again "
				"after %llu (LMDB applied up to %llu)",
				jf->path, br.off, (unsigned long long)br.found,
				(unsigned long long)br.want - 1,
				(unsigned long long)applied);
		/* The replay takes a number only once (take_newer). */
		if (recover)
			rc = keep_journals(c, k, &copied);
	}
	free(f[0].buf);
	free(f[1].buf);
	return rc;
}

/* Judge shard @k; @established: the directory has shards already.
 * -EINVAL when it was made with another shard count. */
static int check_shard(struct check *c, unsigned k, bool established)
{
	char dir[4096], why[4600];
	struct stat sb;
	uint64_t applied = 0;
	bool copied = false;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/shard-%u", c->st->dir, k);
	if (stat(dir, &sb)) {
		if (errno != ENOENT || !established)
			return errno == ENOENT ? 0 : -errno;
		problem(c,
			"%s is missing, but the directory was made already "
			"(other shards or its identity exist): the counts of "
			"its videos are gone",
			dir);
		if (c->st->cfg.recover)
			done(c, "%s will be made again, empty", dir);
		return 0;
	}
	struct shard_meta m;
	bool lmdb_ok = read_lmdb(dir, &m, why, sizeof(why));
	if (lmdb_ok && (rc = format_check(m.format, dir)))
		return rc;
	if (lmdb_ok && m.shards && m.shards != c->st->nshards) {
		log_error("%s was made with shards=%u, not %u; use the same "
			  "value or a new data directory",
			  c->st->dir, m.shards, c->st->nshards);
		return -EINVAL;
	}
	if (lmdb_ok && m.index != UINT32_MAX && m.index != k) {
		/* A copy of another shard's file: its counts are not this
		 * shard's videos', and its journal number is another's. */
		snprintf(why, sizeof(why),
			 "%s/data.mdb is shard %u's, not shard %u's", dir,
			 m.index, k);
		lmdb_ok = false;
	}
	applied = m.applied;
	if (!lmdb_ok) {
		problem(c, "%s", why);
		if (c->st->cfg.recover &&
		    (rc = keep_journals(c, k, &copied)) == 0 &&
		    (rc = set_aside(c, k, "data.mdb")) == 0)
			done(c,
			     "%s/data.mdb set aside: the shard starts empty, "
			     "with what its journal holds",
			     dir);
		if (c->st->cfg.recover && rc)
			return rc;
	}
	return check_journals(c, k, applied, lmdb_ok);
}

static bool shard_exists(const struct store *st, unsigned k)
{
	char path[4096];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/shard-%u", st->dir, k);
	return stat(path, &sb) == 0;
}

/* Was DIR made already: does it hold any of its shards, or its identity
 * (written once every shard was made)?  Then a missing shard is damage. */
static bool established(const struct store *st)
{
	char path[4096];
	struct stat sb;

	for (unsigned k = 0; k < st->nshards; k++)
		if (shard_exists(st, k))
			return true;
	snprintf(path, sizeof(path), "%s/" IDENTITY_FILE, st->dir);
	return stat(path, &sb) == 0;
}

/* Durably create or remove DIR/creating. */
int store_mark_making(struct store *st, bool on)
{
	char path[4096];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/" MAKING_FILE, st->dir);
	if (on) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || fsync(fd))
			rc = -errno;
		if (fd >= 0)
			close(fd);
	} else if (unlink(path) && errno != ENOENT) {
		rc = -errno;
	}
	if (rc == 0 && (fd = open(st->dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		if (fsync(fd))
			rc = -errno;
		close(fd);
	}
	if (rc)
		log_error("%s: %s", path, strerror(-rc));
	return rc;
}

const char *const shard_files[SHARD_FILES_N] = {"data.mdb", "lock.mdb",
					       "journal-0", "journal-1"};

/* Remove what a start cut short while making DIR left: its shards' files
 * (nothing was served from them: the making ends before the mount). */
static int unmake(struct store *st)
{
	char path[4200];

	for (unsigned k = 0; k < st->nshards; k++) {
		for (size_t i = 0; i < SHARD_FILES_N; i++) {
			snprintf(path, sizeof(path), "%s/shard-%u/%s", st->dir,
				 k, shard_files[i]);
			if (unlink(path) && errno != ENOENT)
				return -errno;
		}
		snprintf(path, sizeof(path), "%s/shard-%u", st->dir, k);
		if (rmdir(path) && errno != ENOENT) {
			log_error("cannot remove %s: %s", path,
				  strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int store_check(struct store *st)
{
	struct check c = {.st = st};
	char path[4096];
	struct stat sb;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/" MAKING_FILE, st->dir);
	if (stat(path, &sb) == 0) {
		snprintf(path, sizeof(path), "%s/" IDENTITY_FILE, st->dir);
		if (stat(path, &sb) == 0) { /* made; the mark outlived it */
			if ((rc = store_mark_making(st, false)))
				return rc;
		} else {
			log_warn("%s: a start stopped while making it; making "
				 "it again",
				 st->dir);
			if ((rc = unmake(st)))
				return rc;
		}
	}
	bool est = established(st);
	st->making = !est;

	/* The shards that exist first: one of them may say the directory
	 * was made with another shards=, which explains the missing ones. */
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned k = 0; k < st->nshards && rc == 0; k++)
			if (shard_exists(st, k) == (pass == 0))
				rc = check_shard(&c, k, est);
	if (rc) /* the recovery itself failed: stop before any change */
		return rc;
	if (c.problems == 0)
		return 0;
	if (st->cfg.recover) {
		log_warn("%s: %u problem(s); what was damaged is kept in %s "
			 "(see its DAMAGE); starting with what is left",
			 st->dir, c.problems, st->cfg.recover);
		return 0;
	}
	log_error("%s is damaged (%u problem%s above): refusing to start, "
		  "nothing was changed; to start with what is left, keeping a "
		  "copy of what is dropped, use -o recover (see countfs(8))",
		  st->dir, c.problems, c.problems == 1 ? "" : "s");
	return -EUCLEAN;
}
