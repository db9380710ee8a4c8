/*
 * threads.c - the store's own threads.
 *
 *   helpers (one fewer than shards, at most one per core): apply a
 *     shard's journal when it holds JOURNAL_BATCH events, so the writer
 *     that filled it goes on parsing (shard_flush_async()).
 *   the background thread: every 100 ms applies what each journal holds;
 *     each second switches journal files and syncs LMDB (journal_rotate(),
 *     shard_sync()), gives memory back and flushes the log's summaries;
 *     every 5 s clears dead readers' slots; every retain_interval runs
 *     retention (retain.c).
 *
 * A journal is applied only by the leader of its shard's commit group
 * (commit.c); retention writes through shard_write() alone, serialised
 * with the leader by LMDB's writer lock.  docs/DESIGN.md has the thread
 * map.
 */
#include "internal.h"

#include "../common/log.h"
#include "../common/mono.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A job for a helper thread: apply the journal of one shard
 * (st->flush_jobs, one per shard). */
struct shard_job {
	struct shard *sh;
	struct commit_req req;
	struct shard_job *next;
};

/* Take the next job, or NULL; with job_lock held. */
static struct shard_job *job_pop(struct store *st)
{
	struct shard_job *j = st->jobs;

	if (j) {
		st->jobs = j->next;
		if (!st->jobs)
			st->jobs_tail = &st->jobs;
	}
	return j;
}

/* Run @j without job_lock; returns with it held. */
static void job_run(struct store *st, struct shard_job *j)
{
	pthread_mutex_unlock(&st->job_lock);
	shard_commit(j->sh, &j->req);
	pthread_mutex_lock(&st->job_lock);
	j->sh->flush_queued = false;
}

void shard_flush_async(struct shard *sh)
{
	struct store *st = sh->st;

	if (st->nhelpers == 0) {
		journal_settle(sh);
		return;
	}
	pthread_mutex_lock(&st->job_lock);
	if (!sh->flush_queued) {
		struct shard_job *j = &st->flush_jobs[sh->index];
		*j = (struct shard_job){.sh = sh};
		sh->flush_queued = true;
		*st->jobs_tail = j;
		st->jobs_tail = &j->next;
		pthread_cond_signal(&st->job_cond);
	}
	pthread_mutex_unlock(&st->job_lock);
}

static void *helper_main(void *arg)
{
	struct store *st = arg;
	struct shard_job *j;

	pthread_mutex_lock(&st->job_lock);
	for (;;) {
		if ((j = job_pop(st))) {
			job_run(st, j);
			continue;
		}
		if (st->helpers_stop)
			break;
		pthread_cond_wait(&st->job_cond, &st->job_lock);
	}
	pthread_mutex_unlock(&st->job_lock);
	return NULL;
}

static int helpers_start(struct store *st)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = st->nshards - 1;

	if (cpus > 0 && (unsigned long)cpus < want)
		want = (unsigned)cpus;
	st->helpers = calloc(want ? want : 1, sizeof(*st->helpers));
	if (!st->helpers)
		return -ENOMEM;
	for (; st->nhelpers < want; st->nhelpers++) {
		int rc = pthread_create(&st->helpers[st->nhelpers], NULL,
					helper_main, st);
		if (rc)
			return -rc;
	}
	return 0;
}

static void helpers_stop(struct store *st)
{
	pthread_mutex_lock(&st->job_lock);
	st->helpers_stop = true;
	pthread_cond_broadcast(&st->job_cond);
	pthread_mutex_unlock(&st->job_lock);
	for (unsigned i = 0; i < st->nhelpers; i++)
		pthread_join(st->helpers[i], NULL);
	free(st->helpers);
	st->helpers = NULL;
	st->nhelpers = 0;
}

#define TICK_NS 100000000u /* journals are applied at least this often */
#define READERS_S 5	     /* dead readers' slots are cleared this often */

static void *background_main(void *arg)
{
	struct store *st = arg;
	time_t last_expire = 0;
	unsigned tick = 0;

	pthread_mutex_lock(&st->bg_lock);
	while (!st->bg_stop) {
		struct timespec until = mono_deadline(TICK_NS);
		pthread_cond_timedwait(&st->bg_cond, &st->bg_lock, &until);
		if (st->bg_stop)
			break;
		pthread_mutex_unlock(&st->bg_lock);

		for (unsigned i = 0; i < st->nshards; i++)
			journal_settle(&st->shards[i]);
		if (++tick % (1000000000u / TICK_NS) == 0) {
			for (unsigned i = 0; i < st->nshards; i++) {
				journal_rotate(&st->shards[i]);
				shard_sync(&st->shards[i]);
			}
			malloc_trim(0); /* give back what large writes left */
			/* The daemon's one clock tick: rate-limited log
			 * lines get their "N more like this" on time. */
			log_summaries(false);
			if (tick % (READERS_S * (1000000000u / TICK_NS)) == 0)
				for (unsigned i = 0; i < st->nshards; i++)
					shard_clear_readers(&st->shards[i]);
			time_t now = time(NULL);
			if (now - last_expire >= (time_t)st->cfg.retain_interval) {
				store_expire(st, (uint32_t)now);
				last_expire = now;
			}
		}
		pthread_mutex_lock(&st->bg_lock);
	}
	pthread_mutex_unlock(&st->bg_lock);
	return NULL;
}

int threads_start(struct store *st)
{
	int rc = -ENOMEM;

	st->flush_jobs = calloc(st->nshards, sizeof(*st->flush_jobs));
	if (st->flush_jobs)
		rc = helpers_start(st);

	if (rc == 0 && (rc = -pthread_create(&st->bg, NULL, background_main,
					     st)) == 0)
		st->bg_running = true;
	if (rc)
		log_error("cannot start the store's threads: %s",
			  strerror(-rc));
	return rc;
}

void threads_stop(struct store *st)
{
	if (st->bg_running) {
		pthread_mutex_lock(&st->bg_lock);
		st->bg_stop = true;
		pthread_cond_signal(&st->bg_cond);
		pthread_mutex_unlock(&st->bg_lock);
		pthread_join(st->bg, NULL);
		st->bg_running = false;
	}
	helpers_stop(st);
	free(st->flush_jobs);
	st->flush_jobs = NULL;
}
