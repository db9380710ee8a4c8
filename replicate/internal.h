/*
 * internal.h - what the files of replicate/ share.
 */
#ifndef COUNTFS_REPLICATE_INTERNAL_H
#define COUNTFS_REPLICATE_INTERNAL_H

#include "replicate.h"

#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>

#define PUSH_BATCH 512	 /* pending rows read per LMDB shard and round */
#define POOL_MAX 4	 /* idle /global connections kept per shard */
#define CACHE_SLOTS 1024

struct repl_shard {
	struct repl *r;
	unsigned index;
	char group[16];		/* "shardK" */
	pthread_t thread;
	bool started;

	/* Owned by the push thread. */
	MYSQL *push;
	MYSQL_STMT *upsert[2][10]; /* [totals?][log2 rows] */
	bool tables_ok;

	pthread_mutex_t pool_lock; /* guards idle, nidle */
	MYSQL *idle[POOL_MAX];
	int nidle;

	atomic_uint_fast64_t rows_pushed, errors;
	atomic_uint_fast64_t synced_until; /* wall ms: older changes are in */
	atomic_bool connected;
	int last_errno;		/* push thread: log a failure once */
};

struct cache_slot {
	uint64_t hash;
	uint64_t at_ms;
	char key[STORE_VIDEO_MAX + STORE_TYPE_MAX + 32];
	struct store_agg agg;
	bool used;
};

struct repl {
	struct repl_config cfg;
	char *option_file, *host;
	struct store *st;
	struct repl_shard *shards;
	unsigned nshards;

	pthread_mutex_t lock;	/* with cond: wakes sleeping threads */
	pthread_cond_t cond;
	atomic_bool stop;

	pthread_mutex_t cache_lock; /* guards cache */
	struct cache_slot *cache;
};

/* A connection to @sh with every timeout set, or NULL (error logged once
 * per change, *err a negative errno). */
MYSQL *conn_open(struct repl_shard *sh, int *err);

/* Map a MySQL error of @m (or @stmt) to a negative errno; log @what. */
int conn_error(struct repl_shard *sh, MYSQL *m, MYSQL_STMT *stmt,
	       const char *what);

/* Run one parameterless statement through the prepared-statement API. */
int conn_exec(struct repl_shard *sh, MYSQL *m, const char *sql);

/* Create the tables if missing. */
int conn_create_tables(struct repl_shard *sh, MYSQL *m);

/* The push thread of a shard (push.c). */
void *push_thread(void *arg);

/* Milliseconds on the monotonic clock, and since the epoch. */
uint64_t repl_now_ms(void);
uint64_t repl_wall_ms(void);

#endif
