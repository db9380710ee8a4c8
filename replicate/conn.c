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
	int err;

	switch (code) {
	case ER_ACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_TABLEACCESS_DENIED_ERROR:
		err = -EACCES;
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
	if (err != sh->last_errno || log_level >= LOG_LVL_DEBUG)
		log_error("mysql %s: %s: %s (%u)", sh->group, what, text, code);
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
