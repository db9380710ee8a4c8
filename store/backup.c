/*
 * backup.c - a consistent copy of a data directory, taken while a daemon
 * writes to it (or not), that a daemon can start from.
 *
 * A shard's state is its LMDB plus the journal records numbered above
 * the last one LMDB applied (meta "journal", committed with the buckets).
 * Each shard is copied in this order:
 *
 *   1. both journal files are read into memory;
 *   2. LMDB is copied by mdb_env_copy2(MDB_CP_COMPACT): one read
 *      transaction, a snapshot whatever the daemon commits meanwhile (its
 *      reader slot keeps the pages it reads from being reused); the
 *      copy says which record it applied last, S;
 *   3. the copy's journal is the records read in 1 numbered S+1, S+2, ...
 *      up to the first number missing.
 *
 * Why nothing acknowledged before the backup began is lost: a record
 * above S was not applied when LMDB was copied, so not when the journals
 * were read either, and a journal file is emptied only once every record
 * in it is applied and synced (journal_rotate): the record was in the
 * bytes read in 1.  Records written while 1 ran may be cut short or in
 * only one of the two files; the copy stops at the first gap, so what it
 * holds is a prefix of the shard's writes: a state the daemon was in.
 * The other order (LMDB, then journals) would lose the records applied,
 * and emptied from the files, between the two steps.  A restart of the
 * copy replays its journal as after a kill -9 (by number, once), with the
 * daemon's own retention settings.
 *
 * The copy is then judged exactly as store_open() judges a directory
 * (store_check(), read-only), so a copy that would not start is reported
 * now, not at the restore.
 *
 * DEST/backup-unfinished is made (durably) before anything else and
 * removed last: a backup killed midway leaves a copy with some shards, or
 * without its identity, that a daemon (format_claim()) and countfs-backup
 * refuse; without the mark a daemon would start it as a clone of part of
 * the counts, or, without any shard yet, as a new directory.
 */
#include "internal.h"

#include "../common/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files of DIR itself that are not copied: the daemon's lock, its mark
 * of a directory being made, temporary files of an identity. */
static bool skipped(const char *name)
{
	size_t n = strlen(name);

	return strcmp(name, "lock") == 0 || strcmp(name, "creating") == 0 ||
	       (n > 4 && strcmp(name + n - 4, ".tmp") == 0);
}

/* Make @dest, or take it if it is an empty directory; *@made says
 * whether it was made here (and may be removed on failure). */
static int dest_open(const char *dest, bool *made)
{
	DIR *d;
	struct dirent *e;
	bool empty = true;

	*made = false;
	if (mkdir(dest, 0700) == 0) {
		*made = true;
		return 0;
	}
	if (errno != EEXIST) {
		int err = errno;
		log_error("cannot create %s: %s", dest, strerror(err));
		return -err;
	}
	if (!(d = opendir(dest))) {
		int err = errno;
		log_error("%s: %s", dest, strerror(err));
		return -err;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	closedir(d);
	if (!empty) {
		log_error("%s is not empty: a backup goes into a new or empty "
			  "directory",
			  dest);
		return -ENOTEMPTY;
	}
	return 0;
}

/* Remove the files of shard @k made in @dest (its directory stays). */
static void shard_clear(const char *dest, unsigned k)
{
	char path[4200];

	for (size_t i = 0; i < SHARD_FILES_N; i++) {
		snprintf(path, sizeof(path), "%s/shard-%u/%s", dest, k,
			 shard_files[i]);
		unlink(path);
	}
}

int backup_unfinished(const char *dir)
{
	char path[4200];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/" UNFINISHED_FILE, dir);
	if (lstat(path, &sb)) /* unreadable DIR: told by what reads it */
		return 0;
	log_error("%s is a copy that countfs-backup did not finish (it holds "
		  "%s): part of the counts at most; remove it and take the "
		  "backup again",
		  dir, UNFINISHED_FILE);
	return -EUCLEAN;
}

/* Remove what a failed backup made in @dest (nothing else); the mark
 * goes last, so that a kill meanwhile still leaves a refused copy. */
static void dest_remove(const char *dir, const char *dest, unsigned nshards,
			bool made)
{
	char path[4200];
	DIR *d = opendir(dir);
	struct dirent *e;

	for (unsigned k = 0; k < nshards; k++) {
		shard_clear(dest, k);
		snprintf(path, sizeof(path), "%s/shard-%u", dest, k);
		rmdir(path);
	}
	while (d && (e = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dest, e->d_name);
		if (!skipped(e->d_name)) /* copy_top()'s: DIR's regular files */
			unlink(path);
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s/" UNFINISHED_FILE, dest);
	unlink(path);
	if (made)
		rmdir(dest);
}

/* How many shard-K directories @dir holds, from shard-0 on. */
static unsigned count_shards(const char *dir)
{
	char path[4200];
	struct stat sb;
	unsigned n = 0;

	for (; n < STORE_MAX_SHARDS; n++) {
		snprintf(path, sizeof(path), "%s/shard-%u", dir, n);
		if (stat(path, &sb) || !S_ISDIR(sb.st_mode))
			break;
	}
	return n;
}

/* Copy the LMDB of shard directory @src into @dst (step 2).  -EAGAIN
 * when the daemon grew its map after our open (MDB_MAP_RESIZED): the
 * copy's read transaction cannot begin; a new open sees the new size. */
static int copy_lmdb(const char *src, const char *dst)
{
	MDB_env *env;
	int rc;

	if ((rc = mdb_env_create(&env)))
		return store_errno(lmdb_errno(rc), src);
	if ((rc = mdb_env_set_maxdbs(env, 16)) == 0 &&
	    (rc = mdb_env_open(env, src, MDB_RDONLY, 0600)) == 0)
		rc = mdb_env_copy2(env, dst, MDB_CP_COMPACT);
	mdb_env_close(env);
	/* Not an error to convert: the one LMDB code that means "again". */
	if (rc == MDB_MAP_RESIZED) {
		log_info("%s: the daemon grew its map meanwhile; copying "
			 "again",
			 src);
		return -EAGAIN;
	}
	if (rc) {
		log_error("copying the LMDB of %s: %s", src, mdb_strerror(rc));
		rc = lmdb_errno(rc);
		return rc == -EEXIST ? rc : store_errno(rc, dst);
	}
	return 0;
}

/* Write @len bytes to the new file @path and fsync it. */
static int write_new(const char *path, const unsigned char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -errno : write_synced(fd, buf, len);

	if (fd >= 0 && close(fd) && rc == 0)
		rc = -errno;
	if (rc)
		log_error("cannot write %s: %s", path, strerror(-rc));
	return rc;
}

/* fsync a file written by someone else (LMDB's copy). */
static int sync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0 || fsync(fd))
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc)
		log_error("cannot sync %s: %s", path, strerror(-rc));
	return rc;
}

/*
 * Step 3: into @out, the records of @f (both files, as read in step 1)
 * numbered from @applied + 1 on without a gap.  *@records, *@events get
 * how many.  -EAGAIN when a record follows a gap: files read while the
 * daemon switched from one to the other, or lost records (damage).
 */
static int compose(struct jfile f[2], uint64_t applied, unsigned char **out,
		   size_t *len, size_t *records, size_t *events)
{
	struct jfile *o[2] = {&f[0], &f[1]};
	uint64_t want = applied + 1;

	*out = malloc(f[0].scan.good + f[1].scan.good + 1);
	*len = *records = *events = 0;
	if (!*out)
		return -ENOMEM;
	if (f[1].scan.records &&
	    (!f[0].scan.records || f[1].scan.first_seq < f[0].scan.first_seq))
		o[0] = &f[1], o[1] = &f[0];
	for (unsigned i = 0; i < 2; i++) {
		for (size_t off = 0; off < o[i]->scan.good;) {
			struct jrec_head h;
			memcpy(&h, o[i]->buf + off, sizeof(h));
			if (h.seq == want) {
				memcpy(*out + *len, o[i]->buf + off, h.len);
				*len += h.len;
				(*records)++;
				*events += jrec_entries(&h);
				want++;
			}
			if (h.seq > want)
				return -EAGAIN;
			off += h.len;
		}
	}
	return 0;
}

/* Copy shard @k of @dir into @dest (steps 1 to 3). */
static int backup_shard(const char *dir, const char *dest, unsigned k,
			uint32_t *shards)
{
	char src[4096], dst[4096], file[4200], why[4700];
	struct jfile f[2];
	unsigned char *jbuf = NULL;
	size_t jlen = 0, records = 0, events = 0;
	struct shard_meta m = {0};
	uint64_t applied;
	int rc = 0;

	snprintf(src, sizeof(src), "%s/shard-%u", dir, k);
	snprintf(dst, sizeof(dst), "%s/shard-%u", dest, k);
	memset(f, 0, sizeof(f));
	for (unsigned i = 0; i < 2 && rc == 0; i++) {
		snprintf(f[i].path, sizeof(f[i].path),
			 "%s/shard-%u/journal-%u", dir, k, i);
		rc = read_journal(&f[i]);
		/* A torn tail is a write in progress; worse is a file read
		 * while it was emptied and written again, or damage. */
		if (rc == 0 && f[i].scan.status == JSCAN_CORRUPT)
			rc = -EAGAIN;
	}
	if (rc == 0 && mkdir(dst, 0700) && errno != EEXIST) {
		rc = -errno;
		log_error("cannot create %s: %s", dst, strerror(errno));
	}
	if (rc == 0)
		rc = copy_lmdb(src, dst);
	if (rc == 0 && !read_lmdb(dst, &m, why, sizeof(why))) {
		log_error("the copy of %s cannot be read: %s", src, why);
		rc = -EIO;
	}
	applied = m.applied;
	if (rc == 0)
		*shards = m.shards;
	if (rc == 0)
		rc = compose(f, applied, &jbuf, &jlen, &records, &events);
	if (rc == 0) {
		snprintf(file, sizeof(file), "%s/data.mdb", dst);
		rc = sync_file(file);
	}
	for (unsigned i = 0; i < 2 && rc == 0; i++) {
		snprintf(file, sizeof(file), "%s/journal-%u", dst, i);
		rc = write_new(file, i == 0 ? jbuf : NULL, i == 0 ? jlen : 0);
	}
	if (rc == 0)
		rc = sync_dir(dst);
	if (rc == 0)
		log_info("shard %u: LMDB as of journal record %llu, then %zu "
			 "records (%zu events) from the journal",
			 k, (unsigned long long)applied, records, events);
	free(jbuf);
	free(f[0].buf);
	free(f[1].buf);
	return rc;
}

/*
 * Copy shard @k, again while its journals cannot be read whole and in
 * sequence, or its map grew under the copy (-EAGAIN): a daemon switching
 * files or emptying one between two reads (rare: once a second, for
 * microseconds) clears up at once; damage stays and is refused.
 */
#define BACKUP_TRIES 10

static int backup_shard_retry(const char *dir, const char *dest, unsigned k,
			      uint32_t *shards)
{
	int rc = -EAGAIN;

	for (int t = 0; t < BACKUP_TRIES && rc == -EAGAIN; t++) {
		if (t) {
			shard_clear(dest, k);
			usleep(50000);
		}
		rc = backup_shard(dir, dest, k, shards);
	}
	if (rc == -EAGAIN) {
		log_error("%s/shard-%u: its journal is damaged or misses "
			  "records (%d reads); start countfs on it to see "
			  "what is wrong (countfs(8), DAMAGE)",
			  dir, k, BACKUP_TRIES);
		rc = -EUCLEAN;
	}
	return rc;
}

/* Copy the regular files of @dir itself (its identity, ...) to @dest. */
static int copy_top(const char *dir, const char *dest)
{
	char src[4200], dst[4200];
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d) {
		rc = -errno;
		log_error("%s: %s", dir, strerror(-rc));
		return rc;
	}
	while (rc == 0 && (e = readdir(d))) {
		struct stat sb;
		snprintf(src, sizeof(src), "%s/%s", dir, e->d_name);
		if (skipped(e->d_name) || lstat(src, &sb) || !S_ISREG(sb.st_mode))
			continue;
		snprintf(dst, sizeof(dst), "%s/%s", dest, e->d_name);
		rc = copy_file(src, dst);
	}
	closedir(d);
	return rc;
}

/* Make @dest/backup-unfinished, on disk before any shard is copied. */
static int mark_unfinished(const char *dest)
{
	static const char text[] = "countfs-backup has not finished this copy: "
				   "countfs refuses to start on it\n";
	char path[4200];
	int rc;

	snprintf(path, sizeof(path), "%s/" UNFINISHED_FILE, dest);
	rc = write_new(path, (const unsigned char *)text, sizeof(text) - 1);
	return rc ? rc : sync_dir(dest);
}

/* The copy is whole and on disk: take the mark away, durably. */
static int mark_finished(const char *dest)
{
	char path[4200];
	int rc = 0;

	snprintf(path, sizeof(path), "%s/" UNFINISHED_FILE, dest);
	if (unlink(path)) {
		rc = -errno;
		log_error("cannot remove %s: %s", path, strerror(-rc));
	}
	return rc ? rc : sync_dir(dest);
}

/* Judge @dest as store_open() would judge it, changing nothing. */
static int verify(const char *dest, unsigned nshards)
{
	struct store *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		return -ENOMEM;
	store_config_defaults(&st->cfg);
	st->dir = (char *)dest;
	st->cfg.dir = dest;
	st->cfg.shards = st->nshards = nshards;
	rc = store_check(st);
	free(st);
	return rc;
}

/* @path made absolute and without symbolic links, for a @path that may
 * not exist yet: its parent resolved, its last name kept. */
static int resolve(const char *path, char *out, size_t size)
{
	char *copy = strdup(path), *slash, *base, *parent;
	char real[PATH_MAX];
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	while ((slash = strrchr(copy, '/')) && slash > copy && !slash[1])
		*slash = '\0'; /* "dest/" is "dest" */
	slash = strrchr(copy, '/');
	base = slash ? slash + 1 : copy;
	parent = slash ? (slash == copy ? "/" : copy) : ".";
	if (slash)
		*slash = '\0';
	if (!realpath(parent, real))
		rc = -errno;
	else if (!strcmp(base, ".") || !strcmp(base, "..") || !*base)
		rc = realpath(path, out) ? 0 : -errno;
	else if ((size_t)snprintf(out, size, "%s/%s",
				  strcmp(real, "/") ? real : "", base) >= size)
		rc = -ENAMETOOLONG;
	free(copy);
	return rc;
}

/* Whether @a is @b or lies inside it. */
static bool within(const char *a, const char *b)
{
	size_t n = strlen(b);

	return !strncmp(a, b, n) && (a[n] == '\0' || a[n] == '/' || n == 1);
}

/*
 * DIR must be a directory; DEST may not lie inside it (the daemon would
 * take a copy in DIR/shard-4 for a shard too many) nor hold it.
 */
static int check_places(const char *dir, const char *dest)
{
	char rdir[PATH_MAX], rdest[PATH_MAX];
	struct stat sb;
	int rc;

	if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
		rc = stat(dir, &sb) ? -errno : -ENOTDIR;
		log_error("%s: %s", dir, strerror(-rc));
		return rc;
	}
	if (!realpath(dir, rdir))
		return -errno;
	if ((rc = resolve(dest, rdest, sizeof(rdest)))) {
		log_error("%s: %s", dest, strerror(-rc));
		return rc;
	}
	if (within(rdest, rdir) || within(rdir, rdest)) {
		log_error("%s and %s: a backup goes outside the data directory, "
			  "and not around it",
			  dest, dir);
		return -EINVAL;
	}
	return 0;
}

int store_backup(const char *dir, const char *dest, unsigned *nshards)
{
	char path[4200];
	struct stat sb;
	uint32_t shards = 0;
	unsigned n = count_shards(dir);
	bool made;
	int rc;

	*nshards = n;
	if ((rc = check_places(dir, dest)))
		return rc;
	if ((rc = backup_unfinished(dir)))
		return rc;
	snprintf(path, sizeof(path), "%s/" IDENTITY_FILE, dir);
	if (n > 0 && stat(path, &sb) && errno == ENOENT) {
		log_error("%s was made by countfs 0.3.0 (no identity): start "
			  "this countfs on it once, which upgrades it in place, "
			  "then back it up",
			  dir);
		return -EINVAL;
	}
	if (n == 0 || stat(path, &sb)) {
		log_error("%s is not a countfs data directory that a daemon "
			  "started on (no shard-0 or no identity)",
			  dir);
		return -EINVAL;
	}
	if ((rc = dest_open(dest, &made)))
		return rc;
	if ((rc = mark_unfinished(dest))) {
		dest_remove(dir, dest, 0, made);
		return rc;
	}
	for (unsigned k = 0; k < n && rc == 0; k++) {
		uint32_t s = 0;
		rc = backup_shard_retry(dir, dest, k, &s);
		if (rc == 0 && k == 0)
			shards = s;
	}
	if (rc == 0 && shards != n) {
		log_error("%s holds %u shard directories but was made with "
			  "shards=%u",
			  dir, n, shards);
		rc = -EUCLEAN;
	}
	if (rc == 0)
		rc = copy_top(dir, dest);
	if (rc == 0)
		rc = sync_dir(dest);
	if (rc == 0 && (rc = verify(dest, n)))
		log_error("the copy in %s would not start (see above)", dest);
	if (rc == 0)
		rc = mark_finished(dest);
	if (rc)
		dest_remove(dir, dest, n, made);
	return rc;
}
