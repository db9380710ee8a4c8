/*
 * internal.h - what the files of replicate/ share.
 */
#ifndef COUNTFS_REPLICATE_INTERNAL_H
#define COUNTFS_REPLICATE_INTERNAL_H

#include "replicate.h"

#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>

#define PUSH_BATCH 512	 /* pending rows read, pushed, acked at a time */
#define POOL_MAX 4	 /* idle /global connections kept per shard */
#define CACHE_SLOTS 1024

/*
 * /global reads run on FUSE worker threads (64 by default), and a hung
 * shard holds a read for its connect or read timeout: the bounds below
 * keep most workers free for local reads and writes whatever MySQL does.
 */
#define READS_MAX POOL_MAX /* /global queries in flight per shard */
#define WAITERS_MAX 4	   /* reads waiting for one of them, per shard */
#define READERS_MAX 16	   /* threads in /global queries, all shards */
#define WAIT_MS 1000	   /* longest wait for a free query slot */
#define DOWN_MS 1000	   /* a shard that failed is not asked again for */

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

	pthread_mutex_t pool_lock; /* guards idle .. probing */
	pthread_cond_t slot_free;  /* a read ended, or the shard's state
				      changed */
	MYSQL *idle[POOL_MAX];
	int nidle;
	int busy, waiting;	/* /global reads in flight, waiting */
	uint64_t down_until;	/* monotonic ms; 0: not known down */
	bool probing;		/* one read tries a shard known down */

	atomic_uint_fast64_t rows_pushed, errors;
	atomic_uint_fast64_t synced_until; /* wall ms: older changes are in */
	atomic_bool connected;
	atomic_int last_errno;	/* set by the push thread, read by all:
				   log a failure once */
};

/* Who owns a host name in countfs_hosts. */
struct host_owner {
	char identity[STORE_IDENTITY_LEN + 1];
	char since[32]; /* first_seen, "YYYY-MM-DD hh:mm:ss" UTC */
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
	char identity[STORE_IDENTITY_LEN + 1]; /* the data directory's */
	atomic_bool refused;	/* another directory owns host: push nothing */
	atomic_int readers;	/* threads in /global queries */
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

/*
 * Claim r->host for r->identity in countfs_hosts on @m (see 'Host
 * identity' in the README): 0 when the name is ours (last_seen updated),
 * -EEXIST when another data directory owns it (described in *@owner), or
 * a negative errno.  Safe against a daemon claiming at the same time: the
 * host name is the primary key and a row's identity is never changed.
 */
int conn_claim(struct repl_shard *sh, MYSQL *m, struct host_owner *owner);

/* The sentence that refuses the host name, for the log and terminal. */
void conn_refusal(struct repl_shard *sh, const struct host_owner *owner,
		  char *buf, size_t len);

/* A /global read or the push thread learnt whether @sh answers (@rc 0)
 * or cannot be reached (-EHOSTUNREACH); other errors change nothing. */
void shard_seen(struct repl_shard *sh, int rc);

/* The push thread of a shard (push.c). */
void *push_thread(void *arg);

/* Milliseconds on the monotonic clock, and since the epoch. */
uint64_t repl_now_ms(void);
uint64_t repl_wall_ms(void);

#endif
