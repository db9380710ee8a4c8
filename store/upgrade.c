/*
 * upgrade.c - a shard of data format 1 or 2 rewritten as format 3, in the
 * transaction that opens its databases: it commits whole or not at all,
 * so a crash leaves the old format, which the next start upgrades again.
 *
 * Formats 1 and 2 kept one 32-byte aggregate per bucket:
 *   series   "video\0type" -> u64 id (big-endian)
 *   buckets  u64 id | u8 level | u32 t -> struct store_agg (level 4: total)
 *   expiry   u8 level | u32 t | u64 id -> empty
 *   changed  u64 id -> u32 time of the last change (format 2 only)
 * Walking buckets in key order gives each series' buckets together, level
 * by level in time order: each run of one pack becomes one pack, and the
 * series' total and change time become its head, with no pack open.
 * names, dedup and dedupx keep their layout, and ids stay what they were.
 * Pending rows are marked again from the new layout (pending_setup()).
 *
 * Each shard commits on its own, so before any is rewritten the damage
 * check walks every old one the same way without writing (upgrade_walk(),
 * from damage.c): a page LMDB cannot read, or a record of the wrong shape,
 * refuses the directory with nothing changed, rather than leaving some
 * shards rewritten beside one that cannot be.
 */
#include "internal.h"

#include "../common/log.h"

#include <stdio.h>
#include <string.h>

struct upgrade {
	MDB_txn *txn;
	MDB_dbi series, names, packs, changed;
	bool have_changed;
	bool dry;	  /* only read: upgrade_walk() */
	struct shard *sh; /* the one upgraded; NULL in the walk */
	char *why;	  /* the walk's: what makes the shard damaged */
	size_t why_len;
	struct head h; /* of the series being converted; h.id 0: none */
	size_t nseries, npacks;
};

/* An LMDB result as an errno.  The walk keeps LMDB's own words for the
 * first failure: damage.c names it when it refuses the directory. */
static int lmdb_rc(struct upgrade *u, int rc)
{
	int err = lmdb_errno(rc);

	if (u->dry && err && err != -ENOENT && !u->why[0])
		snprintf(u->why, u->why_len, "%s", mdb_strerror(rc));
	return err;
}

/* A record of the wrong shape: -EIO.  Logged by damaged() in an upgrade;
 * the walk's caller logs it, naming the file, from u->why. */
static int bad(struct upgrade *u, const char *what)
{
	if (!u->dry)
		return damaged(u->sh, what);
	if (!u->why[0])
		snprintf(u->why, u->why_len, "%s is damaged", what);
	return -EIO;
}

static int put_pack(struct upgrade *u, unsigned level)
{
	unsigned char key[PACK_KEY_LEN], buf[PACK_ENC_MAX];
	struct pack *p = &u->h.pack[level];
	MDB_val k = {PACK_KEY_LEN, key}, v;

	if (!p->n)
		return 0;
	pack_key(key, level, p->start, u->h.id);
	v = (MDB_val){pack_encode(p, buf), buf};
	p->n = 0;
	u->npacks++;
	if (u->dry)
		return 0;
	int rc = lmdb_rc(u, mdb_put(u->txn, u->packs, &k, &v,
				    MDB_NOOVERWRITE));
	/* Two buckets of one series and level gathered into one pack
	 * twice: the old records were not in key order. */
	return rc == -EEXIST ? bad(u, "the order of an old shard's buckets")
			     : rc;
}

/* Write what was gathered of series u->h.id: its last packs, its head. */
static int finish_series(struct upgrade *u)
{
	unsigned char idk[ID_KEY_LEN], buf[HEAD_ENC_MAX];
	MDB_val k = {ID_KEY_LEN, idk}, name, v;
	int rc;

	if (!u->h.id)
		return 0;
	for (unsigned l = 0; l < STORE_LEVELS; l++)
		if ((rc = put_pack(u, l)))
			return rc;
	id_key(idk, u->h.id);
	u->h.changed = 0;
	if (u->have_changed) {
		rc = lmdb_rc(u, mdb_get(u->txn, u->changed, &k, &v));
		if (rc == 0 && v.mv_size == sizeof(uint32_t))
			memcpy(&u->h.changed, v.mv_data, sizeof(uint32_t));
		else if (rc == 0)
			return bad(u, "a change time of data format 2");
		else if (rc != -ENOENT)
			return rc;
	}
	if ((rc = lmdb_rc(u, mdb_get(u->txn, u->names, &k, &name))))
		return rc == -ENOENT ? bad(u, "names (a series has no name)")
				     : rc;
	u->h.open = 0;
	v = (MDB_val){head_encode(&u->h, buf), buf};
	u->nseries++;
	return u->dry ? 0
		      : lmdb_rc(u, mdb_put(u->txn, u->series, &name, &v, 0));
}

/* Add old bucket (@k, @v) to the series being converted. */
static int convert_bucket(struct upgrade *u, const MDB_val *k, const MDB_val *v)
{
	struct store_agg a;
	unsigned level;
	uint64_t id;
	uint32_t t;
	int rc;

	if (!bucket2_key_parse(k->mv_data, k->mv_size, &id, &level, &t) ||
	    v->mv_size != sizeof(a))
		return bad(u, "a bucket of data format 1 or 2");

	memcpy(&a, v->mv_data, sizeof(a));
	if (id != u->h.id) {
		if ((rc = finish_series(u)))
			return rc;
		if (id == 0 || id > SERIES_ID_MAX) {
			if (u->dry)
				snprintf(u->why, u->why_len,
					 "series id %llu is beyond what data "
					 "format 3 holds",
					 (unsigned long long)id);
			else
				log_error("shard %u: series id %llu is beyond "
					  "what data format 3 holds",
					  u->sh->index, (unsigned long long)id);
			return -ENOTSUP;
		}
		memset(&u->h.total, 0, sizeof(u->h.total));
		for (unsigned l = 0; l < STORE_LEVELS; l++)
			u->h.pack[l].n = 0;
		u->h.id = id;
	}
	if (a.count <= 0)
		return 0;
	if (level == LEVEL_TOTAL) {
		u->h.total = a;
		return 0;
	}
	struct pack *p = &u->h.pack[level];
	if (p->n && p->start != pack_of(level, t) && (rc = put_pack(u, level)))
		return rc;
	p->start = pack_of(level, t);
	return pack_add(p, pack_slot(level, t), &a);
}

/* Series with no bucket at all keep an 8-byte id: give them a head. */
static int convert_bare(struct upgrade *u)
{
	unsigned char buf[HEAD_ENC_MAX];
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if ((rc = lmdb_rc(u, mdb_cursor_open(u->txn, u->series, &c))))
		return rc;
	for (rc = lmdb_rc(u, mdb_cursor_get(c, &k, &v, MDB_FIRST)); rc == 0;
	     rc = lmdb_rc(u, mdb_cursor_get(c, &k, &v, MDB_NEXT))) {
		if (is_head(v.mv_data, v.mv_size))
			continue;
		struct head h = {
		    .id = v.mv_size == ID_KEY_LEN ? id_key_get(v.mv_data) : 0};
		if (h.id == 0 || h.id > SERIES_ID_MAX) {
			rc = bad(u, "a series id of data format 1 or 2");
			break;
		}
		v = (MDB_val){head_encode(&h, buf), buf};
		if (!u->dry &&
		    (rc = lmdb_rc(u, mdb_cursor_put(c, &k, &v, MDB_CURRENT))))
			break;
		u->nseries++;
	}
	mdb_cursor_close(c);
	return rc == -ENOENT ? 0 : rc;
}

/* Open old database @name; *@have is false when the shard has none. */
static int open_old(struct upgrade *u, const char *name, MDB_dbi *dbi,
		    bool *have)
{
	int rc = lmdb_rc(u, mdb_dbi_open(u->txn, name, 0, dbi));

	*have = rc == 0;
	return rc == -ENOENT ? 0 : rc;
}

/* Convert (or with u->dry, only read) every old record of the shard. */
static int convert(struct upgrade *u)
{
	MDB_dbi buckets, expiry;
	bool have_buckets, have_expiry;
	MDB_txn *txn = u->txn;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if ((rc = open_old(u, "buckets", &buckets, &have_buckets)) ||
	    (rc = open_old(u, "expiry", &expiry, &have_expiry)) ||
	    (rc = open_old(u, "changed", &u->changed, &u->have_changed)))
		return rc;
	if (have_buckets) {
		if ((rc = lmdb_rc(u, mdb_cursor_open(txn, buckets, &c))))
			return rc;
		/* convert_bucket() never answers -ENOENT: that is the end */
		for (rc = lmdb_rc(u, mdb_cursor_get(c, &k, &v, MDB_FIRST));
		     rc == 0;
		     rc = lmdb_rc(u, mdb_cursor_get(c, &k, &v, MDB_NEXT)))
			if ((rc = convert_bucket(u, &k, &v)))
				break;
		mdb_cursor_close(c);
		if (rc != -ENOENT || (rc = finish_series(u)))
			return rc;
	}
	if ((rc = convert_bare(u)) || u->dry)
		return rc;
	/* The old databases go; replication marks its rows again. */
	if ((have_buckets && (rc = lmdb_rc(u, mdb_drop(txn, buckets, 1)))) ||
	    (have_expiry && (rc = lmdb_rc(u, mdb_drop(txn, expiry, 1)))) ||
	    (u->have_changed &&
	     (rc = lmdb_rc(u, mdb_drop(txn, u->changed, 1)))))
		return rc;
	return 0;
}

int upgrade_walk(MDB_txn *txn, char *why, size_t len)
{
	struct upgrade u = {
	    .txn = txn, .dry = true, .why = why, .why_len = len};
	int rc;

	why[0] = '\0';
	rc = lmdb_rc(&u, mdb_dbi_open(txn, "series", 0, &u.series));
	if (rc == 0)
		rc = lmdb_rc(&u, mdb_dbi_open(txn, "names", 0, &u.names));
	if (rc == -ENOENT) /* made, then killed before its first commit */
		return 0;
	if (rc == 0)
		rc = convert(&u);
	if (rc && !why[0])
		snprintf(why, len, "%s", strerror(-rc));
	return rc;
}

int upgrade_shard(struct shard *sh, MDB_txn *txn, uint32_t from)
{
	struct upgrade u = {.txn = txn,
			    .series = sh->series,
			    .names = sh->names,
			    .packs = sh->packs,
			    .sh = sh};
	int rc;

	if ((rc = convert(&u)) ||
	    (rc = lmdb_errno(mdb_drop(txn, sh->pending, 0))))
		return rc;
	MDB_val rk = {sizeof("repl_shards") - 1, (void *)"repl_shards"};
	rc = lmdb_errno(mdb_del(txn, sh->meta, &rk, NULL));
	if (rc && rc != -ENOENT)
		return rc;
	log_info("shard %u: %zu series and %zu packs rewritten from data "
		 "format %u to %u",
		 sh->index, u.nseries, u.npacks, from, 3);
	return 0;
}
