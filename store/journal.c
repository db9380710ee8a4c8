/*
 * journal.c - a write is acknowledged once it is in the shard's journal;
 * LMDB gets it a little later, in batches.
 *
 * Why: a 64 KiB /ingest write names ~2,000 distinct videos, and applying
 * it alone costs ~12,000 B-tree updates (each video's second, minute,
 * hour, day and total).  A batch of ~100 ms of writes names far fewer
 * distinct videos per event (Zipf traffic repeats itself), so the same
 * events cost a third of the B-tree work, and the writer no longer waits
 * for it: parsing the next write overlaps applying the last batch.  With
 * sync=always the journal is also the cheaper commit: one fdatasync of an
 * appended file, shared by every writer waiting for it, instead of
 * LMDB's two syncs of scattered pages.
 *
 * How it stays safe:
 *   - kill -9: a record is write()n to DIR/shard-K/journal-N before the
 *     caller is answered, so it is in the page cache; at open, records
 *     newer than the sequence number LMDB last applied (meta "journal",
 *     written in the same transaction as the buckets) are applied again.
 *   - power loss: each second the background thread switches appends to
 *     the other file, applies everything, syncs LMDB, and only then
 *     empties the file it left.  So a record's bytes live on in a journal
 *     file until LMDB has them on disk.  With sync=second the journal is
 *     never fsynced (the contract is "at least once a second"); with
 *     sync=always a writer is answered only after an fdatasync of the
 *     journal that covers its record (group commit, sync_to()).
 *   - reads: every read of a shard first applies what its journal holds
 *     (journal_settle), so a successful write is visible to any later read.
 *   - disk full: a record is taken only while the shard's map has room
 *     for what the journal holds and the record (growing it if it can),
 *     so an apply does not run out of room for what was acknowledged.
 *     The room is JREC_ROOM_PER_KEY (jscan.h) per event that opens a new
 *     (video, type, second) after the event before it: the buckets an
 *     apply can create, not the record's bytes, so a write of a million
 *     empty lines to one file needs the room of one key; plus the pages
 *     an apply copies (JREC_COPIES_PER_KEY per such key, at most every
 *     page in use).  When the map cannot grow, or an apply found it full
 *     and none succeeded since (j->full), writes take the direct path and
 *     get ENOSPC there.
 *   - overflow: only entries of |n * value| <= 2^32 (n <= 2^32 always)
 *     and no #id take this path, and only while every sum and count of
 *     the shard stays within 2^62 (meta "big" records when one did not):
 *     each entry adds at most 2^32 to a sum and to a count, and a batch
 *     holds far fewer than 2^30 entries, so a batch cannot overflow
 *     either, and n * value is never refused at apply time; a write with
 *     an #id is deduplicated on the direct path, as before.
 *
 * A record: struct jrec_head, then per entry a struct jrec_event (and its
 * n when the record has JREC_MULT, jscan.h) and the video and type bytes.
 * The check covers everything after itself, so a torn tail (power loss)
 * ends the replay of a file.
 */
#include "internal.h"
#include "jscan.h"

#include "../common/log.h"
#include "../common/mono.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_VALUE_MAX (INT64_C(1) << 32)

/* |@v| without overflow (INT64_MIN too). */
static uint64_t magnitude(int64_t v)
{
	return v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
}

bool journal_eligible(const struct store *st, const struct store_event *ev,
		      size_t n)
{
	(void)st;
	for (size_t i = 0; i < n; i++)
		if (ev[i].id ||
		    magnitude(ev[i].value) > JOURNAL_VALUE_MAX / ev[i].n)
			return false;
	return true;
}

/* Does an entry of @ev stand for more than one event (JREC_MULT)? */
static bool any_mult(const struct store_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ev[i].n != 1)
			return true;
	return false;
}

/*
 * Room an apply of these events may take in the map: JREC_ROOM_PER_KEY
 * for each event whose (video, type, second) differs from the event
 * before it; a repeat only changes buckets already counted.  The same
 * rule as jrec_room() on the record they make.
 */
static uint64_t events_room(const struct store_event *ev, size_t n)
{
	uint64_t keys = 0;

	for (size_t i = 0; i < n; i++)
		keys += i == 0 || ev[i].ts != ev[i - 1].ts ||
			ev[i].video_len != ev[i - 1].video_len ||
			ev[i].type_len != ev[i - 1].type_len ||
			memcmp(ev[i].video, ev[i - 1].video, ev[i].video_len) ||
			memcmp(ev[i].type, ev[i - 1].type, ev[i].type_len);
	return keys * JREC_ROOM_PER_KEY;
}

/*
 * Pages one new key may make a transaction copy: LMDB copies each page it
 * changes, once per transaction, so the keys of a batch that fall on
 * distinct leaves (events of existing series, one per page) copy a leaf
 * of series, of packs and of pending each, besides the bytes they add;
 * and the top lists of its minute, hour and day (top.c; up to 2 KiB, a
 * page or two each) are written again.
 */
#define JREC_COPIES_PER_KEY 9

/* Is there room in the map for what the journal holds and @more: the
 * bytes they add, and the pages an apply copies (at most every page in
 * use)?  Grows the map when it can; false when the disk is full, or an
 * apply found the map full and no apply succeeded since.  With j->lock. */
static bool journal_room(struct shard *sh, uint64_t more)
{
	if (sh->j.full)
		return false;
	for (;;) {
		MDB_envinfo info;
		pthread_rwlock_rdlock(&sh->resize);
		mdb_env_info(sh->env, &info);
		uint64_t used = (uint64_t)(info.me_last_pgno + 1) * sh->psize;
		uint64_t keys = (sh->j.room + more) / JREC_ROOM_PER_KEY;
		uint64_t copies = keys * JREC_COPIES_PER_KEY * sh->psize;
		uint64_t want = used + sh->j.room + more +
				(copies < used ? copies : used);
		bool ok = want <= sh->map_size;
		pthread_rwlock_unlock(&sh->resize);
		if (ok)
			return true;
		if (shard_grow(sh))
			return false;
	}
}

/*
 * sync=always: make records up to @seq durable, by a round of the
 * journal's group commit (commit.c): its leader syncs every record written
 * when the round began; the others sleep until a round covers theirs.
 * When fdatasync fails the writer hears of it, though its record stays in
 * the journal and will be applied: after a failed sync nothing is known of
 * what reached the disk.  The others lead a round of their own.
 */
static int sync_to(struct shard *sh, uint64_t seq)
{
	struct journal *j = &sh->j;
	int rc = 0;

	group_join(&j->sync);
	while (rc == 0 && group_turn(&j->sync, seq, true)) {
		pthread_mutex_lock(&j->lock);
		uint64_t upto = j->seq;
		int fd = j->fd[j->active];
		pthread_mutex_unlock(&j->lock);
		pthread_mutex_unlock(&j->sync.lock);
		rc = fdatasync(fd) ? -errno : 0;
		pthread_mutex_lock(&j->sync.lock);
		if (rc == 0)
			atomic_fetch_add(&sh->st->fsyncs, 1);
		else
			log_error("shard %u: fsync of the journal: %s",
				  sh->index, strerror(-rc));
		group_end(&j->sync, rc ? 0 : upto);
	}
	group_leave(&j->sync);
	return rc;
}

static int buf_reserve(unsigned char **buf, size_t *cap, size_t want)
{
	if (want <= *cap)
		return 0;
	size_t c = *cap ? *cap : 65536;
	while (c < want)
		c *= 2;
	unsigned char *b = realloc(*buf, c);
	if (!b)
		return -ENOMEM;
	*buf = b;
	*cap = c;
	return 0;
}

int journal_append(struct shard *sh, const struct store_event *ev, size_t n,
		   uint32_t now, bool *direct)
{
	struct journal *j = &sh->j;
	size_t bytes = sizeof(struct jrec_head);
	int rc;

	bool mult = any_mult(ev, n);
	uint64_t events = 0;

	*direct = true;
	if (atomic_load(&sh->big) || n >= JREC_MULT)
		return 0;
	for (size_t i = 0; i < n; i++) {
		bytes += sizeof(struct jrec_event) + ev[i].video_len +
			 ev[i].type_len + (mult ? sizeof(uint32_t) : 0);
		events += ev[i].n;
	}
	if (bytes > UINT32_MAX)
		return 0;
	uint64_t room = events_room(ev, n);

	pthread_mutex_lock(&j->lock);
	if (!journal_room(sh, room)) {
		pthread_mutex_unlock(&j->lock);
		return 0;
	}
	*direct = false;
	if ((rc = buf_reserve(&j->buf, &j->cap, j->len + bytes))) {
		pthread_mutex_unlock(&j->lock);
		return rc;
	}
	unsigned char *rec = j->buf + j->len, *p = rec + sizeof(struct jrec_head);
	struct jrec_head h = {(uint32_t)bytes, 0, j->seq + 1, now,
			      (uint32_t)n | (mult ? JREC_MULT : 0)};
	for (size_t i = 0; i < n; i++) {
		struct jrec_event e = {ev[i].value, ev[i].ts, ev[i].video_len,
				       ev[i].type_len};
		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
		if (mult) {
			uint32_t more = (uint32_t)(ev[i].n - 1);
			memcpy(p, &more, sizeof(more));
			p += sizeof(more);
		}
		memcpy(p, ev[i].video, ev[i].video_len);
		p += ev[i].video_len;
		memcpy(p, ev[i].type, ev[i].type_len);
		p += ev[i].type_len;
	}
	memcpy(rec, &h, sizeof(h));
	h.check = jrec_check(rec + JREC_CHECKED_FROM, bytes - JREC_CHECKED_FROM);
	memcpy(rec, &h, sizeof(h));

	int fd = j->fd[j->active];
	ssize_t w = write(fd, rec, bytes);
	if (w != (ssize_t)bytes) {
		rc = w < 0 ? -errno : -ENOSPC;
		/* Take back a partial record: a torn one would end the
		 * replay of this file before the records after it. */
		if (w > 0 && ftruncate(fd, (off_t)j->size[j->active]))
			log_error("shard %u: cannot cut the journal back: %s",
				  sh->index, strerror(errno));
		pthread_mutex_unlock(&j->lock);
		log_error("shard %u: writing the journal: %s", sh->index,
			  strerror(-rc));
		return rc;
	}
	j->seq++;
	j->size[j->active] += bytes;
	j->len += bytes;
	j->room += room;
	j->events += n;
	atomic_fetch_add(&j->unapplied, n);
	size_t held = j->events;
	uint64_t mine = j->seq;
	pthread_mutex_unlock(&j->lock);

	/* The record is applied whatever happens now; with sync=always it
	 * is acknowledged only once on disk. */
	if (sh->st->cfg.sync == STORE_SYNC_ALWAYS && (rc = sync_to(sh, mine)))
		return rc;
	atomic_fetch_add(&sh->st->events, events);
	if (held >= 2 * JOURNAL_BATCH)
		journal_settle(sh); /* the appliers fell behind: wait */
	else if (held >= JOURNAL_BATCH)
		shard_flush_async(sh);
	return 0;
}

/* Step over up to @n records of @buf (@len bytes, all whole): how many
 * there were, and in *@off where they end. */
static size_t walk(const unsigned char *buf, size_t len, size_t n, size_t *off)
{
	size_t k = 0;

	for (*off = 0; k < n && *off < len; k++) {
		uint32_t l;
		memcpy(&l, buf + *off, sizeof(l));
		*off += l;
	}
	return k;
}

/* The records of @buf (@len bytes, all whole) as requests over @ev. */
static size_t decode(unsigned char *buf, size_t len, struct commit_req *req,
		     struct store_event *ev)
{
	size_t nreq = 0, k = 0;

	for (size_t off = 0; off < len;) {
		struct jrec_head h;
		memcpy(&h, buf + off, sizeof(h));
		const unsigned char *p = buf + off + sizeof(h);
		uint32_t entries = jrec_entries(&h);
		req[nreq] = (struct commit_req){.ev = ev + k, .n = entries,
						.now = h.now};
		for (uint32_t i = 0; i < entries; i++, k++) {
			struct jrec_event e;
			uint32_t more = 0;
			memcpy(&e, p, sizeof(e));
			p += sizeof(e);
			if (h.n & JREC_MULT) {
				memcpy(&more, p, sizeof(more));
				p += sizeof(more);
			}
			ev[k] = (struct store_event){
			    .video = (const char *)p,
			    .video_len = e.vlen,
			    .type = (const char *)p + e.vlen,
			    .type_len = e.tlen,
			    .value = e.value,
			    .n = (uint64_t)more + 1,
			    .ts = e.ts};
			p += e.vlen + e.tlen;
		}
		nreq++;
		off += h.len;
	}
	return nreq;
}

/* Requests of the journal for one transaction: as many from the start
 * of @req as it takes (*@used), and the last one's number (@first_seq is
 * the first's) noted as applied in the same transaction. */
struct apply_run {
	struct commit_req *req;
	size_t nreq, used;
	uint64_t first_seq;
};

static int apply_some(struct shard *sh, MDB_txn *txn, void *arg)
{
	struct apply_run *a = arg;
	int rc = shard_apply(sh, txn, a->req, a->nreq, &a->used);
	uint64_t seq = a->first_seq + a->used - 1;

	return rc ? rc : meta_put(sh, txn, "journal", &seq, sizeof(seq));
}

static int apply_txn(struct shard *sh, struct commit_req *req, size_t nreq,
		     uint64_t first_seq, size_t *used)
{
	struct apply_run a = {req, nreq, 0, first_seq};
	int rc = shard_write(sh, apply_some, &a);

	*used = a.used;
	return rc;
}

/*
 * A sum would overflow: a write of a huge value raced the batch (see the
 * head of this file).  Apply the records one by one; the ones that cannot
 * be applied are dropped, loudly.
 */
static int apply_each(struct shard *sh, struct commit_req *req, size_t nreq,
		      uint64_t first_seq)
{
	for (size_t r = 0, used; r < nreq; r++) {
		int rc = apply_txn(sh, &req[r], 1, first_seq + r, &used);
		if (rc == -EOVERFLOW)
			log_error("shard %u: dropped %zu acknowledged entries: "
				  "a sum would overflow 64 bits",
				  sh->index, req[r].n);
		else if (rc)
			return rc;
	}
	return 0;
}

/*
 * Take (@take) or give back one of the store's apply slots: no more
 * shards apply their journals at once than there are cores, which adds
 * no speed and bounds the memory of the folds (~10 MiB each).
 */
static void apply_slot(struct store *st, bool take)
{
	pthread_mutex_lock(&st->apply_lock);
	if (take) {
		while (st->applying >= st->apply_max)
			pthread_cond_wait(&st->apply_cond, &st->apply_lock);
		st->applying++;
	} else {
		st->applying--;
		pthread_cond_signal(&st->apply_cond);
	}
	pthread_mutex_unlock(&st->apply_lock);
}

/* Put the records of @buf from byte @from back in front of the journal's
 * buffer, for the next apply; with j->lock. */
static void put_back(struct shard *sh, unsigned char *buf, size_t from,
		     size_t len, size_t events, uint64_t room)
{
	struct journal *j = &sh->j;
	size_t keep = len - from, cap = keep + j->len;
	unsigned char *b = malloc(cap ? cap : 1);

	if (!b) {
		log_error("shard %u: out of memory: %zu events stay in the "
			  "journal files until restart",
			  sh->index, events);
		j->keep_files = true;
		return;
	}
	memcpy(b, buf + from, keep);
	memcpy(b + keep, j->buf, j->len);
	free(j->spare);
	j->spare = j->buf, j->spare_cap = j->cap;
	j->buf = b, j->cap = cap;
	j->len += keep, j->events += events;
	j->room += room; /* what all of them needed: enough for the rest */
}

int journal_apply(struct shard *sh)
{
	struct journal *j = &sh->j;
	unsigned char *buf;
	size_t len, cap, events;
	uint64_t last, room;
	int rc = -ENOMEM;

	pthread_mutex_lock(&j->lock);
	buf = j->buf, len = j->len, cap = j->cap, events = j->events;
	last = j->seq, room = j->room;
	j->buf = j->spare, j->cap = j->spare_cap, j->len = 0, j->events = 0;
	j->room = 0;
	j->spare = NULL, j->spare_cap = 0;
	pthread_mutex_unlock(&j->lock);
	if (len == 0)
		goto give_back;

	size_t off, nrec = walk(buf, len, SIZE_MAX, &off);
	apply_slot(sh->st, true);
	struct commit_req *req = malloc(nrec * sizeof(*req));
	struct store_event *ev = malloc(events * sizeof(*ev) + 1);
	size_t done = 0, done_events = 0, used;
	if (req && ev) {
		decode(buf, len, req, ev);
		rc = 0;
	}
	/* One transaction at a time, each as large as the fold allows. */
	while (rc == 0 && done < nrec) {
		uint64_t first = last - nrec + 1 + done;
		rc = apply_txn(sh, req + done, nrec - done, first, &used);
		if (rc == -EOVERFLOW) {
			rc = apply_each(sh, req + done, nrec - done, first);
			used = nrec - done;
		}
		if (rc == 0)
			done += used;
	}
	for (size_t r = 0; req && r < done; r++)
		done_events += req[r].n;
	free(req);
	free(ev);
	apply_slot(sh->st, false);
	atomic_fetch_sub(&j->unapplied, done_events);
	if (rc) {
		/* Keep what is left, in front of what came meanwhile; the
		 * next apply tries again. */
		rc = store_errno(rc, "applying the journal");
		walk(buf, len, done, &off);
		pthread_mutex_lock(&j->lock);
		put_back(sh, buf, off, len, events - done_events, room);
		/* Take no more records until an apply succeeds: the writes
		 * go the direct way, and get ENOSPC there. */
		if (rc == -ENOSPC)
			j->full = true;
		pthread_mutex_unlock(&j->lock);
		free(buf);
		return rc;
	}
give_back:
	pthread_mutex_lock(&j->lock);
	if (len)
		j->full = false;
	if (!j->spare && cap <= JOURNAL_SPARE_MAX) {
		j->spare = buf, j->spare_cap = cap;
		buf = NULL;
	}
	pthread_mutex_unlock(&j->lock);
	free(buf);
	return 0;
}

int journal_settle(struct shard *sh)
{
	if (atomic_load(&sh->j.unapplied) == 0)
		return 0;
	struct commit_req flush = {0};
	return shard_commit(sh, &flush);
}

static void cut(struct shard *sh, unsigned f)
{
	struct journal *j = &sh->j;

	/* keep_files is set by whichever thread's apply failed: j->lock. */
	pthread_mutex_lock(&j->lock);
	bool keep = j->keep_files;
	pthread_mutex_unlock(&j->lock);
	if (keep)
		return;
	if (ftruncate(j->fd[f], 0)) {
		log_error("shard %u: emptying journal-%u: %s", sh->index, f,
			  strerror(errno));
		return;
	}
	pthread_mutex_lock(&j->lock);
	j->size[f] = 0;
	pthread_mutex_unlock(&j->lock);
}

void journal_rotate(struct shard *sh)
{
	struct journal *j = &sh->j;

	/* Under the sync group's lock: a sync=always writer syncs only the
	 * file it finds active, so the file left must be on disk first. */
	pthread_mutex_lock(&j->sync.lock);
	pthread_mutex_lock(&j->lock);
	bool turn = j->size[j->active] > 0 && j->size[!j->active] == 0;
	if (turn)
		j->active = !j->active;
	unsigned old = !j->active;
	bool left_records = j->size[old] > 0;
	pthread_mutex_unlock(&j->lock);
	if (turn && sh->st->cfg.sync == STORE_SYNC_ALWAYS &&
	    fdatasync(j->fd[old]))
		log_error("shard %u: fsync of the journal: %s", sh->index,
			  strerror(errno));
	pthread_mutex_unlock(&j->sync.lock);
	/* The old file gets no more records: once they are applied and
	 * LMDB is on disk, it may be emptied. */
	if (left_records && journal_settle(sh) == 0 && shard_sync(sh) == 0)
		cut(sh, old);
}

/*
 * Read a journal file into memory; *@len its whole records.  A torn tail
 * (a write cut short) is left out, and logged; damage was refused by
 * store_check() before, so finding some now is an error.
 */
static int load_file(int fd, const char *path, unsigned char **out,
		     size_t *len)
{
	struct stat sb;
	struct jscan js;

	*out = NULL;
	*len = 0;
	if (fstat(fd, &sb))
		return -errno;
	if (sb.st_size == 0)
		return 0;
	unsigned char *b = malloc((size_t)sb.st_size);
	if (!b)
		return -ENOMEM;
	size_t got = 0;
	while (got < (size_t)sb.st_size) {
		ssize_t r = pread(fd, b + got, (size_t)sb.st_size - got,
				  (off_t)got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	journal_scan(b, got, &js);
	*out = b;
	*len = js.good;
	if (js.status == JSCAN_TORN)
		log_warn("%s: %s at byte %zu: %zu bytes dropped (a write a "
			 "crash cut short)",
			 path, js.why, js.good, got - js.good);
	if (js.status == JSCAN_CORRUPT) {
		log_error("%s is damaged at byte %zu: %s", path, js.good,
			  js.why);
		return -EUCLEAN;
	}
	return 0;
}

/* Take the records of @b numbered above any seen so far (j->seq starts
 * at what LMDB applied) into the journal's buffer: a number that comes
 * again (a damaged directory started with recover) is not taken twice. */
static int take_newer(struct journal *j, const unsigned char *b, size_t len)
{
	for (size_t off = 0; off < len;) {
		struct jrec_head h;
		memcpy(&h, b + off, sizeof(h));
		if (h.seq > j->seq) {
			j->seq = h.seq;
			if (buf_reserve(&j->buf, &j->cap, j->len + h.len))
				return -ENOMEM;
			memcpy(j->buf + j->len, b + off, h.len);
			j->len += h.len;
			j->room += jrec_room(b + off);
			j->events += jrec_entries(&h);
		}
		off += h.len;
	}
	return 0;
}

static uint64_t first_seq(const unsigned char *b, size_t len)
{
	struct jrec_head h;

	if (len == 0)
		return UINT64_MAX;
	memcpy(&h, b, sizeof(h));
	return h.seq;
}

int journal_open(struct shard *sh, const char *dir)
{
	struct journal *j = &sh->j;
	unsigned char *b[2] = {NULL, NULL};
	size_t len[2] = {0, 0};
	uint64_t applied = 0;
	uint32_t big = 0;
	int rc = 0;

	pthread_mutex_init(&j->lock, NULL);
	group_init(&j->sync);
	j->fd[0] = j->fd[1] = -1;
	j->opened = true;
	j->keep_files = true; /* until what they hold is in LMDB */
	char path[2][4096];
	for (unsigned f = 0; f < 2; f++) {
		snprintf(path[f], sizeof(path[f]), "%s/journal-%u", dir, f);
		j->fd[f] = open(path[f],
				O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (j->fd[f] < 0) {
			rc = -errno;
			log_error("cannot open %s: %s", path[f],
				  strerror(errno));
			return rc;
		}
	}
	if ((rc = meta_get(sh, "journal", &applied, sizeof(applied))) ||
	    (rc = meta_get(sh, "big", &big, sizeof(big))))
		return rc;
	atomic_store(&sh->big, big != 0);
	j->seq = applied;
	for (unsigned f = 0; f < 2 && rc == 0; f++)
		rc = load_file(j->fd[f], path[f], &b[f], &len[f]);
	/* Each file holds increasing numbers; the older file goes first. */
	unsigned first = first_seq(b[1], len[1]) < first_seq(b[0], len[0]);
	if (rc == 0)
		rc = take_newer(j, b[first], len[first]);
	if (rc == 0)
		rc = take_newer(j, b[!first], len[!first]);
	free(b[0]);
	free(b[1]);
	if (rc)
		return rc;
	size_t events = j->events;
	if (events) {
		atomic_store(&j->unapplied, events);
		if ((rc = journal_apply(sh))) {
			if (rc == -ENOSPC)
				log_error("shard %u: the %zu events its journal "
					  "holds need more disk than is free; "
					  "nothing was lost: free some space "
					  "and start again",
					  sh->index, events);
			return rc;
		}
		log_info("shard %u: applied %zu events from the journal",
			 sh->index, events);
	}
	if ((rc = shard_sync(sh)))
		return rc;
	j->sync.served = j->seq;
	j->keep_files = false;
	cut(sh, 0);
	cut(sh, 1);
	return 0;
}

void journal_close(struct shard *sh, bool applied_all)
{
	struct journal *j = &sh->j;

	if (!j->opened)
		return;
	for (unsigned f = 0; f < 2; f++) {
		/* Applied and synced (store_close): nothing to keep. */
		if (j->fd[f] >= 0 && j->len == 0 && applied_all)
			cut(sh, f);
		if (j->fd[f] >= 0)
			close(j->fd[f]);
		j->fd[f] = -1;
	}
	free(j->buf);
	free(j->spare);
	j->buf = j->spare = NULL;
	pthread_mutex_destroy(&j->lock);
	group_destroy(&j->sync);
}
