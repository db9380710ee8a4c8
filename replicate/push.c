/*
 * push.c - the push thread of one MySQL shard.
 *
 * It reads batches of up to PUSH_BATCH pending rows from its store_feed,
 * writes each with multi-row upserts of absolute values, then
 * acknowledges it.  Batches are cut into power-of-two chunks so that at
 * most ten statements per table are ever prepared and then reused.  When
 * the feed ends a cycle, every change made before the cycle began is in
 * MySQL, which is what the lag gauge reports.  On any error the
 * connection is dropped and the thread retries with exponential backoff
 * (0.1 s to 10 s); it reconnects, re-prepares, and the feed gives the
 * unacknowledged batch again, so an outage neither skips nor re-sends
 * rows needlessly, nor does a restart (what was acknowledged is no longer
 * pending).
 */
#include "internal.h"

#include "../common/log.h"
#include "../common/mono.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHUNK_LOG2 8 /* 256 rows per statement at most */
#define CYCLE_MS 500	  /* shortest time between two passes */

static void push_disconnect(struct repl_shard *sh)
{
	for (int t = 0; t < 2; t++) {
		for (int i = 0; i < 10; i++) {
			if (sh->upsert[t][i])
				mysql_stmt_close(sh->upsert[t][i]);
			sh->upsert[t][i] = NULL;
		}
	}
	if (sh->push)
		mysql_close(sh->push);
	sh->push = NULL;
	atomic_store(&sh->connected, false);
}

/* Connect, create the tables, and claim the host name before anything
 * is pushed: rows are only ever written under a name this data directory
 * owns on this shard. */
static int push_connect(struct repl_shard *sh)
{
	struct host_owner owner;
	char why[512];
	int rc;

	sh->push = conn_open(sh, &rc);
	shard_seen(sh, rc);
	if (!sh->push)
		return rc;
	if (!sh->tables_ok && (rc = conn_create_tables(sh, sh->push))) {
		push_disconnect(sh);
		return rc;
	}
	sh->tables_ok = true;
	if ((rc = conn_claim(sh, sh->push, &owner))) {
		if (rc == -EEXIST) {
			conn_refusal(sh, &owner, why, sizeof(why));
			log_error("%s; replication stopped, local service "
				  "continues",
				  why);
			atomic_store(&sh->r->refused, true);
		}
		push_disconnect(sh);
		return rc;
	}
	atomic_store(&sh->connected, true);
	if (atomic_load(&sh->last_errno))
		log_info("mysql %s: connected again", sh->group);
	atomic_store(&sh->last_errno, 0);
	return 0;
}

/* The upsert statement for 2^@lg rows of minutes or totals. */
static MYSQL_STMT *upsert_stmt(struct repl_shard *sh, bool totals, int lg)
{
	MYSQL_STMT **slot = &sh->upsert[totals][lg];
	size_t rows = (size_t)1 << lg, cap = 400 + rows * 40;
	char *sql;
	size_t len;

	if (*slot)
		return *slot;
	if (!(sql = malloc(cap)))
		return NULL;
	len = (size_t)snprintf(sql, cap, "INSERT INTO %s (host, video, type, %s"
					 "count, sum, min, max) VALUES ",
			       totals ? "countfs_totals" : "countfs_minutes",
			       totals ? "" : "minute, ");
	for (size_t i = 0; i < rows; i++)
		len += (size_t)snprintf(sql + len, cap - len, "%s(?,?,?,%s?,?,?,?)",
					i ? "," : "", totals ? "" : "?,");
	snprintf(sql + len, cap - len,
		 " ON DUPLICATE KEY UPDATE count = VALUES(count), "
		 "sum = VALUES(sum), min = VALUES(min), max = VALUES(max)");
	*slot = mysql_stmt_init(sh->push);
	if (*slot && mysql_stmt_prepare(*slot, sql, strlen(sql))) {
		conn_error(sh, sh->push, *slot, "preparing the upsert");
		mysql_stmt_close(*slot);
		*slot = NULL;
	}
	free(sql);
	return *slot;
}

struct row_binds {
	unsigned long vlen, tlen;
};

/* Bind @n rows (all minutes or all totals) to @b and execute @s. */
static int upsert_rows(struct repl_shard *sh, MYSQL_STMT *s, bool totals,
		       struct store_row **rows, size_t n)
{
	size_t per = totals ? 7 : 8;
	MYSQL_BIND *b = calloc(n * per, sizeof(*b));
	struct row_binds *lens = calloc(n, sizeof(*lens));
	unsigned long hlen = strlen(sh->r->host);
	int rc = 0;

	if (!b || !lens) {
		free(b);
		free(lens);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		MYSQL_BIND *p = b + i * per;
		struct store_row *row = rows[i];

		lens[i].vlen = strlen(row->video);
		lens[i].tlen = strlen(row->type);
		p[0] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_STRING,
				    .buffer = sh->r->host,
				    .buffer_length = hlen,
				    .length = &hlen};
		p[1] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_STRING,
				    .buffer = row->video,
				    .buffer_length = lens[i].vlen,
				    .length = &lens[i].vlen};
		p[2] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_STRING,
				    .buffer = row->type,
				    .buffer_length = lens[i].tlen,
				    .length = &lens[i].tlen};
		int k = 3;
		if (!totals)
			p[k++] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_LONG,
					      .buffer = &row->minute,
					      .is_unsigned = 1};
		int64_t *v[4] = {&row->agg.count, &row->agg.sum,
				 &row->agg.min, &row->agg.max};
		for (int j = 0; j < 4; j++)
			p[k++] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_LONGLONG,
					      .buffer = v[j]};
	}
	for (int attempt = 0; attempt < 4; attempt++) {
		if (mysql_stmt_bind_param(s, b) || mysql_stmt_execute(s))
			rc = conn_error(sh, sh->push, s, "upsert");
		else
			rc = 0;
		if (rc != -EAGAIN)	/* deadlock or lock wait: retry */
			break;
	}
	free(b);
	free(lens);
	return rc;
}

/* Push the rows of one kind in power-of-two chunks. */
static int push_kind(struct repl_shard *sh, bool totals,
		     struct store_row **rows, size_t n)
{
	size_t done = 0;

	for (int lg = MAX_CHUNK_LOG2; lg >= 0 && done < n; lg--) {
		size_t chunk = (size_t)1 << lg;
		while (n - done >= chunk) {
			MYSQL_STMT *s = upsert_stmt(sh, totals, lg);
			int rc = s ? upsert_rows(sh, s, totals, rows + done,
						 chunk)
				   : -EIO;
			if (rc)
				return rc;
			done += chunk;
		}
	}
	return 0;
}

static int push_rows(struct repl_shard *sh, struct store_row *rows, size_t n,
		     struct store_row **sel)
{
	size_t nmin = 0, ntot = 0;
	int rc;

	/* Totals first in @sel, minutes after; rows emptied by retention
	 * are acknowledged without a push. */
	for (size_t i = 0; i < n; i++)
		if (rows[i].agg.count && rows[i].total)
			sel[ntot++] = &rows[i];
	for (size_t i = 0; i < n; i++)
		if (rows[i].agg.count && !rows[i].total)
			sel[ntot + nmin++] = &rows[i];
	if ((rc = push_kind(sh, true, sel, ntot)))
		return rc;
	if ((rc = push_kind(sh, false, sel + ntot, nmin)))
		return rc;
	atomic_fetch_add(&sh->rows_pushed, ntot + nmin);
	return 0;
}

/* Sleep @ms unless asked to stop; returns true when stopping. */
static bool nap(struct repl *r, unsigned ms)
{
	struct timespec until;
	bool stop;

	until = mono_deadline((uint64_t)ms * 1000000u);
	pthread_mutex_lock(&r->lock);
	if (!r->stop)
		pthread_cond_timedwait(&r->cond, &r->lock, &until);
	stop = r->stop;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

/* One batch of the feed: read, push, acknowledge.  Returns 0 (with
 * *@cycle_end when that ended a cycle), or an error after which the
 * connection is dropped; the feed then reads the same rows again. */
static int push_batch(struct repl_shard *sh, struct store_feed *feed,
		      struct store_row *rows, struct store_row **sel,
		      bool *cycle_end)
{
	size_t n;
	bool end;
	int rc;

	*cycle_end = false;
	if ((rc = store_feed_read(feed, rows, PUSH_BATCH, &n, &end)))
		return rc;
	if (n && (rc = push_rows(sh, rows, n, sel)))
		return rc;
	if ((rc = store_feed_ack(feed, rows, n)))
		return rc;
	*cycle_end = end;
	return 0;
}

void *push_thread(void *arg)
{
	struct repl_shard *sh = arg;
	struct repl *r = sh->r;
	unsigned backoff = 100;
	struct store_feed *feed = NULL;
	struct store_row *rows = malloc(PUSH_BATCH * sizeof(*rows));
	struct store_row **sel = malloc(PUSH_BATCH * sizeof(*sel));
	uint64_t cycle_start = repl_wall_ms();
	int rc;

	mysql_thread_init();
	/* Local writes come first: the push threads run niced. */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10))
		log_debug("mysql %s: cannot lower the push thread's priority",
			  sh->group);
	if (!rows || !sel) {
		log_error("mysql %s: out of memory; replication stopped",
			  sh->group);
		goto out;
	}
	if ((rc = store_feed_open(r->st, sh->index, &feed))) {
		log_error("mysql %s: cannot read the store's changes: %s; "
			  "replication stopped",
			  sh->group, strerror(-rc));
		goto out;
	}
	atomic_store(&sh->synced_until, cycle_start);
	while (!atomic_load(&r->stop)) {
		/* Another data directory owns the host name (found by any
		 * shard's thread): push nothing more, anywhere. */
		if (atomic_load(&r->refused)) {
			push_disconnect(sh);
			if (nap(r, 10000))
				break;
			continue;
		}
		bool cycle_end = false;
		rc = sh->push ? 0 : push_connect(sh);
		if (rc == 0)
			rc = push_batch(sh, feed, rows, sel, &cycle_end);
		if (rc) {
			atomic_fetch_add(&sh->errors, 1);
			atomic_store(&sh->last_errno, rc);
			shard_seen(sh, rc);
			push_disconnect(sh);
			if (nap(r, backoff))
				break;
			backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
			continue;
		}
		backoff = 100;
		if (!cycle_end)
			continue;
		/* A whole cycle went through: what changed before its start
		 * is in MySQL. */
		atomic_store(&sh->synced_until, cycle_start);
		/* At most one cycle per CYCLE_MS: fewer, fuller statements,
		 * and the lag stays under two cycles. */
		uint64_t spent = repl_wall_ms() - cycle_start;
		if (spent < CYCLE_MS && nap(r, (unsigned)(CYCLE_MS - spent)))
			break;
		cycle_start = repl_wall_ms();
	}
out:
	push_disconnect(sh);
	store_feed_close(feed);
	free(rows);
	free(sel);
	mysql_thread_end();
	return NULL;
}
