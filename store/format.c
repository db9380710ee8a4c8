/*
 * format.c - which data format a directory holds, and whether a directory
 * is a data directory at all.
 *
 * Every change to what countfs keeps on disk bumps FORMAT_VERSION:
 *   1  countfs 0.1.0 to 0.4.0 (0.3.0 added the journals and 0.4.0
 *      DIR/identity without a bump: a daemon of an older release then
 *      read what it did not understand, hence this file)
 *   2  countfs 0.5.0: DIR/format, and the time each series last changed
 *   3  countfs 0.6.0: a head per series and packs of buckets (keys.h);
 *      shards of 1 and 2 are rewritten by upgrade.c
 *   4  countfs 0.7.0: the top lists of every minute, hour and day bucket
 *      (top.c); a shard of 1 to 3 gets them built from its packs
 * The format is kept twice: in each shard's meta "format" (u32), which
 * every release checks, and in DIR/format, one line "countfs data format
 * N", which can be read without LMDB and marks the directory as countfs's.
 *
 * A daemon refuses a directory whose DIR/format or any shard is newer than
 * it reads, before changing anything (the shards are read by damage.c's
 * read-only pass).  An older one is upgraded in place: each shard's meta
 * is set in the transaction that opens its databases, creating the new
 * ones, then DIR/format is written.  A crash in between leaves shards of
 * both formats and no DIR/format: the next start finishes the upgrade.
 * From the first upgraded shard on, a daemon of format 1 refuses the
 * directory (its meta check wants 1).
 */
#include "internal.h"

#include "../common/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef COUNTFS_VERSION
#define COUNTFS_VERSION "(unknown)"
#endif

#define STAMP_PREFIX "countfs data format "

/* The release that first wrote each format. */
static const char *const first_release[FORMAT_VERSION + 1] = {
    [1] = "0.1.0",
    [2] = "0.5.0",
    [3] = "0.6.0",
    [4] = "0.7.0",
};

int format_check(uint32_t format, const char *where)
{
	if (format <= FORMAT_VERSION)
		return 0;
	log_error("%s was written by a newer countfs (data format %u); this "
		  "countfs %s reads formats %u to %u",
		  where, format, COUNTFS_VERSION, FORMAT_OLDEST,
		  FORMAT_VERSION);
	return -ENOTSUP;
}

/* Is @name one that countfs makes in a data directory?  Its files and
 * shards, its lock, its mark of a directory being made, a temporary file
 * of DIR/identity or DIR/format, what -o recover set aside by default,
 * and a new filesystem's lost+found. */
static bool name_is_ours(const char *name)
{
	size_t digits;

	if (strncmp(name, "shard-", 6) == 0) {
		digits = strspn(name + 6, "0123456789");
		return digits > 0 && name[6 + digits] == '\0';
	}
	return strcmp(name, FORMAT_FILE) == 0 ||
	       strcmp(name, IDENTITY_FILE) == 0 ||
	       strcmp(name, MAKING_FILE) == 0 || strcmp(name, "lock") == 0 ||
	       strcmp(name, "lost+found") == 0 ||
	       strcmp(name, FORMAT_FILE ".tmp") == 0 ||
	       strcmp(name, IDENTITY_FILE ".tmp") == 0 ||
	       strncmp(name, "recovered-", 10) == 0;
}

/* Is entry @name of @dir proof that @dir is a data directory: a shard
 * holding an LMDB, or DIR/format starting with its line?  A name alone
 * proves nothing (~/.ssh may hold a file named identity). */
static bool name_proves(const char *dir, const char *name)
{
	char path[4200], line[sizeof(STAMP_PREFIX)] = "";
	struct stat sb;
	ssize_t n = 0;
	int fd;

	if (strncmp(name, "shard-", 6) == 0) {
		snprintf(path, sizeof(path), "%s/%s/data.mdb", dir, name);
		return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
	}
	if (strcmp(name, FORMAT_FILE))
		return false;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd >= 0) {
		n = read(fd, line, sizeof(line) - 1);
		close(fd);
	}
	return n == (ssize_t)sizeof(line) - 1 && strcmp(line, STAMP_PREFIX) == 0;
}

/*
 * Refuse a directory that holds something countfs does not make, unless
 * it is proven a data directory (name_proves(); then what else is there -
 * a KEEP of -o recover, a note of the operator's - is left alone): it is
 * not countfs's, and countfs would fill it with shards.  The first such
 * entry is named.  One holding only names of ours is a data directory,
 * one a start made in part (see damage.c), or empty.
 */
static int check_owner(struct store *st)
{
	DIR *d = opendir(st->dir);
	struct dirent *e;
	char stranger[256] = "";
	bool proven = false;

	if (!d) {
		int err = errno;
		log_error("cannot read %s: %s", st->dir, strerror(err));
		return -err;
	}
	while (!proven && (e = readdir(d))) {
		const char *n = e->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		if (!name_is_ours(n)) {
			if (!stranger[0])
				snprintf(stranger, sizeof(stranger), "%s", n);
		} else {
			proven = name_proves(st->dir, n);
		}
	}
	closedir(d);
	if (proven || !stranger[0])
		return 0;
	log_error("%s is not empty and is not a countfs data directory (it "
		  "holds '%s', which countfs does not make, and no shard or "
		  "format line): give data= a new or empty directory",
		  st->dir, stranger);
	return -ENOTEMPTY;
}

/* The N of "countfs data format N\n", all of @line: digits only (no
 * sign, no space: strtoul would take "-1" as ULONG_MAX), at most
 * UINT32_MAX, the newline last.  0 when it is not that. */
static uint32_t parse_stamp(const char *line)
{
	const char *p = line + strlen(STAMP_PREFIX);
	unsigned long v;
	char *end;

	if (strncmp(line, STAMP_PREFIX, strlen(STAMP_PREFIX)) ||
	    *p < '0' || *p > '9')
		return 0;
	errno = 0;
	v = strtoul(p, &end, 10);
	if (errno || v > UINT32_MAX || strcmp(end, "\n") != 0)
		return 0;
	return (uint32_t)v;
}

/* Read DIR/format into st->stamped (0 when there is none). */
static int read_stamp(struct store *st)
{
	char path[4200], line[64];
	uint32_t v;
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/" FORMAT_FILE, st->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		err = errno;
		log_error("cannot read %s: %s", path, strerror(err));
		return -err;
	}
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	line[n > 0 ? n : 0] = '\0';
	v = parse_stamp(line);
	if (n <= 0 || memchr(line, '\0', (size_t)n) || v < FORMAT_OLDEST) {
		log_error("%s is damaged: it must be one line \"" STAMP_PREFIX
			  "N\"; write the line back (" STAMP_PREFIX "%u if "
			  "this countfs made the directory)",
			  path, FORMAT_VERSION);
		return -EINVAL;
	}
	st->stamped = v;
	return format_check(v, st->dir);
}

int format_claim(struct store *st)
{
	int rc = backup_unfinished(st->dir);

	if (rc == 0)
		rc = check_owner(st);
	return rc ? rc : read_stamp(st);
}

int format_shard(struct shard *sh, MDB_txn *txn)
{
	static const char name[] = "format";
	uint32_t want = FORMAT_VERSION, have;
	MDB_val k = {sizeof(name) - 1, (void *)name}, v;
	char where[4200];
	int rc = lmdb_errno(mdb_get(txn, sh->meta, &k, &v));

	if (rc && rc != -ENOENT)
		return rc;
	if (rc == 0) {
		if (v.mv_size != sizeof(have))
			return damaged(sh, "meta \"format\"");
		memcpy(&have, v.mv_data, sizeof(have));
		snprintf(where, sizeof(where), "%s/shard-%u", sh->st->dir,
			 sh->index);
		if ((rc = format_check(have, where)))
			return rc;
		if (have == want)
			return 0;
		if (have < 3 && (rc = upgrade_shard(sh, txn, have)))
			return rc;
		if ((rc = tops_build(sh, txn)))
			return rc;
		if (!sh->st->upgraded_from || have < sh->st->upgraded_from)
			sh->st->upgraded_from = have;
	}
	v.mv_size = sizeof(want);
	v.mv_data = &want;
	return lmdb_errno(mdb_put(txn, sh->meta, &k, &v, 0));
}

int format_stamp(struct store *st)
{
	char line[64];
	int rc;

	if (st->stamped == FORMAT_VERSION)
		return 0;
	snprintf(line, sizeof(line), STAMP_PREFIX "%u\n", FORMAT_VERSION);
	if ((rc = store_write_file(st->dir, FORMAT_FILE, line)))
		return rc;
	if (st->upgraded_from)
		log_info("%s: upgraded from data format %u to %u; a countfs "
			 "older than %s no longer starts on it",
			 st->dir, st->upgraded_from, FORMAT_VERSION,
			 first_release[FORMAT_VERSION]);
	st->stamped = FORMAT_VERSION;
	return 0;
}
