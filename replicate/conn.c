/*
 * conn.c - connections to the MySQL shards, the option file, the schema.
 *
 * Every connection reads its settings from the option file, group
 * [shardK], with the connector's own option-file support: countfs never
 * sees the password.  Automatic reconnect is off; the push thread
 * reconnects and re-prepares itself after an error.
 */
#include "internal.h"

#include "../common/log.h"

#include <errno.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT 3
#define IO_TIMEOUT 10

static const char *const schema[] = {
    "CREATE TABLE IF NOT EXISTS countfs_minutes ("
    " host VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " video VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " type VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " minute INT UNSIGNED NOT NULL,"
    " count BIGINT NOT NULL, sum BIGINT NOT NULL,"
    " min BIGINT NOT NULL, max BIGINT NOT NULL,"
    " PRIMARY KEY (video, type, minute, host),"
    " KEY by_minute (minute)"
    ") ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS countfs_totals ("
    " host VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " video VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " type VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " count BIGINT NOT NULL, sum BIGINT NOT NULL,"
    " min BIGINT NOT NULL, max BIGINT NOT NULL,"
    " PRIMARY KEY (video, type, host)"
    ") ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS countfs_hosts ("
    " host VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " identity CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " first_seen DATETIME NOT NULL, last_seen DATETIME NOT NULL,"
    " PRIMARY KEY (host)"
    ") ENGINE=InnoDB",
};

uint64_t repl_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t repl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Is @line "[shardK]" (blanks around allowed)?  K in *k. */
static bool shard_group(const char *line, unsigned *k)
{
	char close;

	line += strspn(line, " \t");
	if (strncmp(line, "[shard", 6) || line[6] < '0' || line[6] > '9')
		return false;
	return sscanf(line + 6, "%u%c", k, &close) == 2 && close == ']';
}

int repl_check(const char *path, unsigned *shards, char *why, size_t len)
{
	bool seen[REPL_MAX_SHARDS] = {false};
	struct stat sb;
	char line[1024];
	unsigned n = 0, k;
	FILE *f;

	if (stat(path, &sb)) {
		snprintf(why, len, "cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(why, len, "%s is not a regular file", path);
		return -EINVAL;
	}
	if (sb.st_mode & 077) {
		snprintf(why, len,
			 "%s holds passwords and must be readable by its owner "
			 "only (chmod 600 %s)",
			 path, path);
		return -EPERM;
	}
	if (sb.st_uid != geteuid()) {
		snprintf(why, len, "%s must belong to the user running countfs",
			 path);
		return -EPERM;
	}
	if (!(f = fopen(path, "r"))) {
		snprintf(why, len, "cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!shard_group(line, &k))
			continue;
		if (k >= REPL_MAX_SHARDS) {
			fclose(f);
			snprintf(why, len, "%s: [shard%u]: at most %d shards", path,
				 k, REPL_MAX_SHARDS);
			return -EINVAL;
		}
		seen[k] = true;
		if (k + 1 > n)
			n = k + 1;
	}
	fclose(f);
	for (k = 0; k < n; k++) {
		if (!seen[k]) {
			snprintf(why, len, "%s has no [shard%u] group; groups "
					   "must be [shard0] to [shard%u]",
				 path, k, n - 1);
			return -EINVAL;
		}
	}
	if (n == 0) {
		snprintf(why, len, "%s has no [shard0] group", path);
		return -EINVAL;
	}
	*shards = n;
	return 0;
}

int conn_error(struct repl_shard *sh, MYSQL *m, MYSQL_STMT *stmt,
	       const char *what)
{
	unsigned code = stmt ? mysql_stmt_errno(stmt) : mysql_errno(m);
	const char *text = stmt ? mysql_stmt_error(stmt) : mysql_error(m);
	const char *hint = "";
	int err;

	switch (code) {
	case ER_ACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_TABLEACCESS_DENIED_ERROR:
		/* Not EACCES: that would blame the local file.  The text
		 * names the user, never the password. */
		hint = "; the server refused the user, password or database "
		       "given in this group of the option file";
		err = -EIO;
		break;
	case ER_LOCK_DEADLOCK:
	case ER_LOCK_WAIT_TIMEOUT:
		err = -EAGAIN;
		break;
	case CR_CONN_HOST_ERROR:
	case CR_CONNECTION_ERROR:
	case CR_UNKNOWN_HOST:
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
		err = -EHOSTUNREACH;
		break;
	default:
		err = -EIO;
	}
	if (err != atomic_load(&sh->last_errno) || log_level >= LOG_LVL_DEBUG)
		log_error("mysql %s: %s: %s (%u)%s", sh->group, what, text, code,
			  hint);
	return err;
}

MYSQL *conn_open(struct repl_shard *sh, int *err)
{
	unsigned connect = CONNECT_TIMEOUT, io = IO_TIMEOUT;
	my_bool off = 0;
	MYSQL *m = mysql_init(NULL);

	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	mysql_options(m, MYSQL_READ_DEFAULT_FILE, sh->r->option_file);
	mysql_options(m, MYSQL_READ_DEFAULT_GROUP, sh->group);
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io);
	mysql_options(m, MYSQL_OPT_RECONNECT, &off);
	if (!mysql_real_connect(m, NULL, NULL, NULL, NULL, 0, NULL, 0)) {
		/* Whatever the reason (refused credentials too), the shard
		 * cannot be used: EHOSTUNREACH, the reason in the log. */
		*err = conn_error(sh, m, NULL, "connect");
		if (*err == -EIO)
			*err = -EHOSTUNREACH;
		mysql_close(m);
		return NULL;
	}
	*err = 0;
	return m;
}

int conn_exec(struct repl_shard *sh, MYSQL *m, const char *sql)
{
	MYSQL_STMT *s = mysql_stmt_init(m);
	int rc = 0;

	if (!s)
		return -ENOMEM;
	if (mysql_stmt_prepare(s, sql, strlen(sql)) || mysql_stmt_execute(s))
		rc = conn_error(sh, m, s, "creating tables");
	mysql_stmt_close(s);
	return rc;
}

int conn_create_tables(struct repl_shard *sh, MYSQL *m)
{
	for (size_t i = 0; i < sizeof(schema) / sizeof(schema[0]); i++) {
		int rc = conn_exec(sh, m, schema[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* Run @sql binding @in; with @out, fetch one row of @nout strings. */
static int claim_stmt(struct repl_shard *sh, MYSQL *m, const char *sql,
		      MYSQL_BIND *in, MYSQL_BIND *out, bool *found)
{
	MYSQL_STMT *s = mysql_stmt_init(m);
	int rc = 0, f;

	if (!s)
		return -ENOMEM;
	if (mysql_stmt_prepare(s, sql, strlen(sql)) ||
	    mysql_stmt_bind_param(s, in) || mysql_stmt_execute(s) ||
	    (out && (mysql_stmt_bind_result(s, out) ||
		     mysql_stmt_store_result(s)))) {
		rc = conn_error(sh, m, s, "claiming the host name");
	} else if (out) {
		f = mysql_stmt_fetch(s);
		*found = f == 0 || f == MYSQL_DATA_TRUNCATED;
		if (f == 1)
			rc = conn_error(sh, m, s, "claiming the host name");
	}
	mysql_stmt_close(s);
	return rc;
}

int conn_claim(struct repl_shard *sh, MYSQL *m, struct host_owner *owner)
{
	/* Insert the claim; on a duplicate host only its owner's row is
	 * touched.  Then read who owns the name: the row's identity is
	 * never updated, so of two daemons claiming at once exactly one
	 * reads its own. */
	static const char claim[] =
	    "INSERT INTO countfs_hosts (host, identity, first_seen, last_seen)"
	    " VALUES (?, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP())"
	    " ON DUPLICATE KEY UPDATE last_seen ="
	    " IF(identity = VALUES(identity), VALUES(last_seen), last_seen)";
	static const char owner_sql[] =
	    "SELECT identity, DATE_FORMAT(first_seen, '%Y-%m-%d %H:%i:%s')"
	    " FROM countfs_hosts WHERE host = ?";
	struct repl *r = sh->r;
	unsigned long hlen = strlen(r->host), ilen = strlen(r->identity);
	unsigned long olen = 0, slen = 0;
	MYSQL_BIND in[2], out[2];
	bool found = false;
	int rc;

	memset(in, 0, sizeof(in));
	memset(out, 0, sizeof(out));
	memset(owner, 0, sizeof(*owner));
	in[0] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_STRING,
			     .buffer = r->host,
			     .buffer_length = hlen,
			     .length = &hlen};
	in[1] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_STRING,
			     .buffer = r->identity,
			     .buffer_length = ilen,
			     .length = &ilen};
	if ((rc = claim_stmt(sh, m, claim, in, NULL, NULL)))
		return rc;
	out[0] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_STRING,
			      .buffer = owner->identity,
			      .buffer_length = sizeof(owner->identity) - 1,
			      .length = &olen};
	out[1] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_STRING,
			      .buffer = owner->since,
			      .buffer_length = sizeof(owner->since) - 1,
			      .length = &slen};
	if ((rc = claim_stmt(sh, m, owner_sql, in, out, &found)))
		return rc;
	if (!found) {
		log_error("mysql %s: the claim of host name %s vanished from "
			  "countfs_hosts",
			  sh->group, r->host);
		return -EIO;
	}
	owner->identity[olen < sizeof(owner->identity) ? olen : 0] = '\0';
	owner->since[slen < sizeof(owner->since) ? slen : 0] = '\0';
	return strcmp(owner->identity, r->identity) ? -EEXIST : 0;
}

void conn_refusal(struct repl_shard *sh, const struct host_owner *owner,
		  char *buf, size_t len)
{
	snprintf(buf, len,
		 "host name %s already belongs to another data directory "
		 "(identity %s, first seen %s UTC) in MySQL %s; this data "
		 "directory is identity %s: start it with another -o host=NAME, "
		 "or see 'Host identity' in the README",
		 sh->r->host, owner->identity, owner->since, sh->group,
		 sh->r->identity);
}
