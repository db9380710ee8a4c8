/*
 * commit.c - how store/ writes LMDB: one transaction primitive, one group
 * commit.
 *
 * shard_write() is the only place a write transaction is begun and
 * committed, so the only place a full map is handled: every writer (the
 * journal's batches, the direct requests, retention, replication's
 * acknowledgements, opening a shard) hands it a function to run inside a
 * transaction, and runs again after the map grew.
 *
 * struct group is the only group commit: the LMDB request queue of each
 * shard (shard_commit()) and the journal's fdatasync under sync=always
 * (journal.c) are both rounds of a group, led by whichever caller finds
 * no leader, serving everyone who came before the round began.
 */
#include "internal.h"

#include "../common/log.h"
#include "../common/mono.h"

#include <stdlib.h>
#include <string.h>

/* ---- the group commit -------------------------------------------------- */

void group_init(struct group *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->turn, NULL);
	mono_cond_init(&g->arrive);
	g->served = 0;
	g->arrived = g->last_round = 0;
	g->leading = g->gathering = false;
}

void group_destroy(struct group *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->turn);
	pthread_cond_destroy(&g->arrive);
}

void group_join(struct group *g)
{
	pthread_mutex_lock(&g->lock);
	g->arrived++;
	if (g->gathering && g->arrived >= g->last_round)
		pthread_cond_signal(&g->arrive);
}

void group_leave(struct group *g)
{
	pthread_mutex_unlock(&g->lock);
}

/*
 * Each round costs a sync (sync=always), so a leader first waits a little
 * (at most GATHER_NS) until as many callers have come as the last round
 * served: the ones that round released need a FUSE round trip to come
 * back, and without the wait they would split into small groups that
 * alternate, each paying for a whole sync.
 */
static void gather(struct group *g)
{
	if (g->last_round < 2)
		return;
	struct timespec until = mono_deadline(GATHER_NS);
	g->gathering = true;
	while (g->arrived < g->last_round &&
	       pthread_cond_timedwait(&g->arrive, &g->lock, &until) == 0)
		;
	g->gathering = false;
}

bool group_turn(struct group *g, uint64_t ticket, bool gathers)
{
	while (g->served < ticket) {
		if (!g->leading) {
			g->leading = true;
			if (gathers)
				gather(g);
			/* Every caller inside now is served by this round:
			 * it serves all tickets taken so far. */
			g->last_round = g->arrived;
			g->arrived = 0;
			return true;
		}
		pthread_cond_wait(&g->turn, &g->lock);
	}
	return false;
}

void group_end(struct group *g, uint64_t upto)
{
	if (upto > g->served)
		g->served = upto;
	g->leading = false;
	pthread_cond_broadcast(&g->turn);
}

void group_lead(struct group *g)
{
	pthread_mutex_lock(&g->lock);
	while (g->leading)
		pthread_cond_wait(&g->turn, &g->lock);
	g->leading = true;
	pthread_mutex_unlock(&g->lock);
}

void group_unlead(struct group *g)
{
	pthread_mutex_lock(&g->lock);
	group_end(g, 0);
	pthread_mutex_unlock(&g->lock);
}

/* ---- transactions ------------------------------------------------------ */

int shard_txn_begin(struct shard *sh, unsigned flags, MDB_txn **txn)
{
	int rc;

	pthread_rwlock_rdlock(&sh->resize);
	rc = mdb_txn_begin(sh->env, NULL, flags, txn);
	if (rc)
		pthread_rwlock_unlock(&sh->resize);
	return lmdb_errno(rc);
}

/* A full map at the commit is -ENOSPC; a system ENOSPC from LMDB (its
 * write or sync) is -EIO here: growing the map would not help it. */
static int shard_txn_commit(struct shard *sh, MDB_txn *txn)
{
	int rc = mdb_txn_commit(txn);

	pthread_rwlock_unlock(&sh->resize);
	if (rc == ENOSPC) {
		log_error("shard %u: LMDB's commit: %s", sh->index,
			  strerror(rc));
		return -EIO;
	}
	return lmdb_errno(rc);
}

void shard_txn_abort(struct shard *sh, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&sh->resize);
}

/* Doublings of the map one shard_write() may ask for: 64 MiB grows past
 * any disk long before this. */
#define GROWS_MAX 24

int shard_write(struct shard *sh, shard_write_fn *fn, void *arg)
{
	for (int grows = 0;; grows++) {
		MDB_txn *txn;
		int rc = shard_txn_begin(sh, 0, &txn);

		if (rc)
			return rc;
		if ((rc = fn(sh, txn, arg)))
			shard_txn_abort(sh, txn);
		else
			rc = shard_txn_commit(sh, txn);
		if (rc == 0) {
			atomic_fetch_add(&sh->st->commits, 1);
			/* With sync=always LMDB's commit synced the data
			 * pages, then the meta page; otherwise the next
			 * sync has work. */
			if (sh->st->cfg.sync == STORE_SYNC_ALWAYS)
				atomic_fetch_add(&sh->st->fsyncs, 1);
			else
				atomic_store(&sh->dirty, true);
			return 0;
		}
		if (rc != -ENOSPC)
			return rc;
		if (grows == GROWS_MAX) {
			log_error("shard %u: the map is still full after %d "
				  "doublings", sh->index, grows);
			return rc;
		}
		if ((rc = shard_grow(sh)))
			return rc;
	}
}

/* ---- direct requests: the LMDB group commit ---------------------------- */

/* The events of @r, committed, in the store's counters: an entry of *n
 * is n events (deduped counts events too). */
static void note_counted(struct store *st, const struct commit_req *r)
{
	uint64_t events = 0;

	for (size_t i = 0; i < r->n; i++)
		events += r->ev[i].n;
	atomic_fetch_add(&st->events, events - r->deduped);
	atomic_fetch_add(&st->deduplicated, r->deduped);
}

/* A batch of requests in one transaction: each request that overflows
 * on its own is marked (@marked), and the transaction is run again. */
struct batch_run {
	struct commit_req *batch;
	bool marked;
};

/* Folded, a request's sum can pass 64 bits where event by event it does
 * not: on its first overflow it is applied again event by event (true);
 * false when it already was, or is one event: the overflow is its own. */
static bool apply_one_by_one(struct commit_req *r)
{
	if (r->one_by_one || r->n <= 1)
		return false;
	r->one_by_one = true;
	return true;
}

static int batch_apply(struct shard *sh, MDB_txn *txn, void *arg)
{
	struct batch_run *b = arg;

	for (struct commit_req *r = b->batch; r; r = r->next) {
		size_t used;
		if (r->rc || r->n == 0)
			continue;
		int rc = shard_apply(sh, txn, r, 1, &used);
		if (rc == -EOVERFLOW) {
			/* Run the transaction again, this one event by
			 * event or without it. */
			if (!apply_one_by_one(r))
				r->rc = -EOVERFLOW;
			b->marked = true;
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* Apply the live requests of @batch in one transaction and commit it. */
static void run_batch(struct shard *sh, struct commit_req *batch)
{
	struct batch_run b = {.batch = batch};
	bool any = false;
	int rc;

	for (struct commit_req *r = batch; r; r = r->next)
		any |= r->n > 0;
	if (!any)
		return;
	do {
		b.marked = false;
		rc = shard_write(sh, batch_apply, &b);
	} while (rc == -EOVERFLOW && b.marked);
	if (rc)
		rc = store_errno(rc, "recording events");
	/* A request of no events (a read settling the journal) only asked
	 * for the journal, which was applied. */
	for (struct commit_req *r = batch; r; r = r->next) {
		if (rc && !r->rc && r->n)
			r->rc = rc;
		else if (!r->rc)
			note_counted(sh->st, r);
	}
}

int shard_commit(struct shard *sh, struct commit_req *req)
{
	struct group *g = &sh->commit;

	group_join(g);
	req->next = NULL;
	req->ticket = ++sh->tickets;
	*sh->queue_tail = req;
	sh->queue_tail = &req->next;
	if (group_turn(g, req->ticket,
		       sh->st->cfg.sync == STORE_SYNC_ALWAYS)) {
		struct commit_req *batch = sh->queue;
		uint64_t upto = sh->tickets;
		sh->queue = NULL;
		sh->queue_tail = &sh->queue;
		pthread_mutex_unlock(&g->lock);

		/* What the journal acknowledged comes first; if it cannot
		 * be applied, nothing after it is. */
		int jrc = journal_apply(sh);
		if (jrc)
			for (struct commit_req *r = batch; r; r = r->next)
				r->rc = jrc;
		else
			run_batch(sh, batch);

		pthread_mutex_lock(&g->lock);
		group_end(g, upto);
	}
	group_leave(g);
	return req->rc;
}

/* ---- a write over several shards, all or nothing ----------------------- */

struct atomic_run {
	struct store *st;
	struct commit_req *req; /* one per shard; n == 0: none there */
	bool *committed;
	bool marked; /* a part overflowed folded: run again event by event */
	int rc;	     /* what a nested shard_write() failed with */
};

/* The next shard after @s with a part not yet committed, or nshards. */
static unsigned next_part(const struct atomic_run *a, unsigned s)
{
	while (++s < a->st->nshards && (!a->req[s].n || a->committed[s]))
		;
	return s;
}

/*
 * Apply the part of shard @sh inside @txn, then the parts of the shards
 * after it, each in its own shard_write() nested in this one: the last
 * shard commits first, and this one only once every later part applied.
 * A part that fails aborts the transactions around it; a nested failure
 * comes back as -ECANCELED (its own error in a->rc), so that a nested
 * full map is not taken for this shard's.
 */
static int atomic_apply(struct shard *sh, MDB_txn *txn, void *arg)
{
	struct atomic_run *a = arg;
	struct commit_req *r = &a->req[sh->index];
	size_t used;
	int rc = shard_apply(sh, txn, r, 1, &used);

	if (rc == -EOVERFLOW && apply_one_by_one(r))
		a->marked = true;
	if (rc)
		return rc;
	unsigned next = next_part(a, sh->index);
	if (next == a->st->nshards)
		return 0;
	rc = shard_write(&a->st->shards[next], atomic_apply, a);
	if (rc == 0) {
		a->committed[next] = true;
		return 0;
	}
	if (rc != -ECANCELED)
		a->rc = rc;
	return -ECANCELED;
}

int commit_atomic(struct store *st, struct commit_req *req, size_t *deduped)
{
	unsigned ns = st->nshards, s, first = ns;
	bool *committed = calloc(ns, sizeof(*committed));
	struct atomic_run a = {.st = st, .req = req, .committed = committed};
	int rc;

	if (!committed)
		return -ENOMEM;
	for (s = 0; s < ns && first == ns; s++)
		if (req[s].n)
			first = s;
	if (first == ns) {
		free(committed);
		return 0;
	}
	/* Lead every shard touched, in index order: two such writes cannot
	 * deadlock; each shard's journal is applied first. */
	for (s = first; s < ns; s = next_part(&a, s))
		group_lead(&st->shards[s].commit);
	rc = 0;
	for (s = first; s < ns && rc == 0; s = next_part(&a, s))
		rc = journal_apply(&st->shards[s]);
	while (rc == 0) {
		a.marked = false;
		a.rc = 0;
		rc = shard_write(&st->shards[first], atomic_apply, &a);
		if (rc == -ECANCELED)
			rc = a.rc;
		if (rc == 0)
			committed[first] = true;
		if (rc != -EOVERFLOW || !a.marked)
			break;
		rc = 0;
	}
	for (s = first; s < ns; s++) {
		if (!req[s].n)
			continue;
		if (committed[s]) {
			note_counted(st, &req[s]);
			*deduped += req[s].deduped;
		}
		group_unlead(&st->shards[s].commit);
	}
	free(committed);
	return rc == -EOVERFLOW ? rc : store_errno(rc, "recording events");
}
