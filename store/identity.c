/*
 * identity.c - the identity of a data directory.
 *
 * DIR/identity holds one line made when the directory is created,
 * "<32 hex digits> <creation time, Unix seconds>\n": 128 random bits from
 * getrandom().  Replication claims its host= name in MySQL for this
 * identity, so that two data directories (or one wiped and made again)
 * can never write rows under one host name.  The file is written once,
 * through a temporary file that is fsynced and renamed, the directory
 * fsynced after: a crash leaves either no identity or a whole one.  It is
 * never rewritten: one that cannot be read or parsed is refused, since a
 * guessed identity would give the directory's host name away.
 */
#include "internal.h"

#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IDENTITY_LINE_MAX 64

const char *store_identity(const struct store *st)
{
	return st->identity;
}

/* Is @line "<32 lowercase hex> <digits>\n" and nothing else? */
static bool identity_parse(const char *line, size_t len, char *id)
{
	size_t digits;

	if (len < STORE_IDENTITY_LEN + 3 || line[len - 1] != '\n' ||
	    line[STORE_IDENTITY_LEN] != ' ')
		return false;
	if (strspn(line, "0123456789abcdef") != STORE_IDENTITY_LEN)
		return false;
	digits = strspn(line + STORE_IDENTITY_LEN + 1, "0123456789");
	if (digits < 1 || digits > 20 ||
	    STORE_IDENTITY_LEN + 1 + digits + 1 != len)
		return false;
	memcpy(id, line, STORE_IDENTITY_LEN);
	id[STORE_IDENTITY_LEN] = '\0';
	return true;
}

/* Read @path into st->identity: 0, -ENOENT when missing, or -EINVAL
 * (logged) when it is there but not an identity. */
static int identity_read(struct store *st, const char *path)
{
	char line[IDENTITY_LINE_MAX + 1];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), err;

	if (fd < 0) {
		err = errno;
		if (err == ENOENT)
			return -ENOENT;
		log_error("cannot read %s: %s", path, strerror(err));
		return -err;
	}
	n = read(fd, line, sizeof(line));
	err = errno;
	close(fd);
	if (n < 0) {
		log_error("cannot read %s: %s", path, strerror(err));
		return -err;
	}
	if ((size_t)n > IDENTITY_LINE_MAX ||
	    !identity_parse(line, (size_t)n, st->identity)) {
		log_error("%s is damaged: it must be one line of 32 hex digits "
			  "and a creation time; restore it from a backup of "
			  "this directory (a new identity would not own this "
			  "host's name in MySQL: see 'Host identity' in the "
			  "README)",
			  path);
		return -EINVAL;
	}
	return 0;
}

int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0 || fsync(fd))
		rc = -errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

int store_write_file(const char *dir, const char *name, const char *text)
{
	char path[4200], tmp[4210];
	size_t len = strlen(text);
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	rc = fd < 0 ? -errno : write_synced(fd, text, len);
	if (fd >= 0 && close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (!rc)
		rc = sync_dir(dir);
	if (rc) {
		log_error("cannot write %s: %s", path, strerror(-rc));
		unlink(tmp);
	}
	return rc;
}

/* Make a new identity and write it to DIR/identity. */
static int identity_write(struct store *st)
{
	unsigned char raw[STORE_IDENTITY_LEN / 2];
	char line[IDENTITY_LINE_MAX + 1];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		int rc = -errno;
		log_error("cannot draw an identity for %s: %s", st->dir,
			  strerror(errno));
		return rc;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(st->identity + 2 * i, 3, "%02x", raw[i]);
	snprintf(line, sizeof(line), "%s %lld\n", st->identity,
		 (long long)time(NULL));
	return store_write_file(st->dir, IDENTITY_FILE, line);
}

/* Did the shards hold any series before this open?  (Then the directory
 * was made by a countfs older than identities.) */
static bool identity_had_data(struct store *st)
{
	for (unsigned i = 0; i < st->nshards; i++) {
		MDB_txn *txn;
		MDB_stat ms;
		bool any;

		if (mdb_txn_begin(st->shards[i].env, NULL, MDB_RDONLY, &txn))
			return true; /* cannot tell: say so in the log */
		any = mdb_stat(txn, st->shards[i].series, &ms) != 0 ||
		      ms.ms_entries > 0;
		mdb_txn_abort(txn);
		if (any)
			return true;
	}
	return false;
}

int identity_open(struct store *st)
{
	char path[4096];
	int rc;

	snprintf(path, sizeof(path), "%s/" IDENTITY_FILE, st->dir);
	rc = identity_read(st, path);
	if (rc != -ENOENT)
		return rc;
	if ((rc = identity_write(st)))
		return rc;
	if (identity_had_data(st))
		log_info("%s had no identity (made by an older countfs): it "
			 "is now %s",
			 st->dir, st->identity);
	else
		log_debug("%s: new data directory, identity %s", st->dir,
			  st->identity);
	return 0;
}
