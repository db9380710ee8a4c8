/*
 * keys.h - every byte layout of the store: the keys of its databases and
 * the values of series and packs (keys.c).  No other file of store/ builds
 * or parses key bytes by offset.  Nothing here touches LMDB.
 *
 * Format 3 (countfs 0.6.0) keeps a series in two places:
 *
 *   series  "video\0type" -> head: the series id, when it last changed,
 *           its total, and for each level the newest pack it has events in
 *   packs   level | pack start | id -> one pack: the buckets of a level
 *           that fall in one span of the level above (a minute's seconds,
 *           an hour's minutes, a day's hours, 64 days)
 *
 * A pack lists only the buckets that have events (sparse), each as a slot
 * number and an aggregate; a pack whose events were all 1 (views, likes)
 * keeps only the counts.  A bucket's aggregate is the sum of what the head
 * and the packs database hold for it: the head is a write-back cache of
 * the newest pack of each level, flushed to the packs database when a
 * later pack begins or the head grows too big.  So an event of a series
 * that has few is one B-tree entry, and the packs database, ordered by
 * time first, loses its oldest entries to retention as one contiguous run.
 *
 * Integers in keys are big-endian, so that byte order is numeric order;
 * integers in values are LEB128 varints (signed ones zigzag-coded).
 */
#ifndef COUNTFS_STORE_KEYS_H
#define COUNTFS_STORE_KEYS_H

#include "store.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEVEL_TOTAL STORE_LEVELS

/* "video\0type": the key of a series (and value of names). */
#define SERIES_KEY_MAX (STORE_VIDEO_MAX + 1 + STORE_TYPE_MAX)
size_t series_key(unsigned char *k, const char *video, size_t vlen,
		  const char *type, size_t tlen);

/* Split a series key; false when it is not one. */
bool series_key_split(const void *k, size_t len, const char **video,
		      size_t *vlen, const char **type, size_t *tlen);

/* names: u64 id -> series key. */
#define ID_KEY_LEN 8
void id_key(unsigned char k[ID_KEY_LEN], uint64_t id);
uint64_t id_key_get(const unsigned char k[ID_KEY_LEN]);

/* Ids go into 4 bytes of a pack key: a shard holds fewer series. */
#define SERIES_ID_MAX UINT32_MAX

/* packs: u8 level | u32 start | u32 id. */
#define PACK_KEY_LEN 9
void pack_key(unsigned char k[PACK_KEY_LEN], unsigned level, uint32_t start,
	      uint64_t id);
/* false when @k is not a pack key of a valid level. */
bool pack_key_parse(const void *k, size_t len, unsigned *level,
		    uint32_t *start, uint64_t *id);

/* pending: u8 replication shard | u64 id | u8 level | u32 bucket time;
 * level is STORE_MIN or LEVEL_TOTAL (time 0). */
#define PENDING_KEY_LEN 14
void pending_key(unsigned char k[PENDING_KEY_LEN], unsigned repl,
		 uint64_t id, unsigned level, uint32_t t);
bool pending_key_parse(const void *k, size_t len, unsigned *repl,
		       uint64_t *id, unsigned *level, uint32_t *t);

/* dedup: u64 id | event id -> u32 time it is forgotten;
 * dedupx: u32 time forgotten | u64 id | event id -> empty.
 * dedupx_key() writes both: the dedup key is its last @len - 4 bytes. */
#define DEDUPX_KEY_MAX (4 + 8 + STORE_ID_MAX)
size_t dedupx_key(unsigned char *k, uint32_t expires, uint64_t id,
		  const char *eid, size_t elen);
/* The time a dedupx key's id is forgotten, and the dedup key inside it
 * (@dedup, @dlen); false when @k is too short to be one. */
bool dedupx_key_parse(const void *k, size_t len, uint32_t *expires,
		      const void **dedup, size_t *dlen);

/* tops: u8 level | u32 bucket start | type -> the top list of that
 * bucket of that event type (top.c): levels STORE_MIN to STORE_DAY. */
#define TOP_KEY_MAX (1 + 4 + STORE_TYPE_MAX)
size_t top_key(unsigned char *k, unsigned level, uint32_t bucket,
	       const char *type, size_t tlen);
/* false when @k is not a top key of a listed level. */
bool top_key_parse(const void *k, size_t len, unsigned *level,
		   uint32_t *bucket, const char **type, size_t *tlen);

/* Formats 1 and 2 (upgrade.c): buckets keyed u64 id | u8 level | u32 t,
 * level LEVEL_TOTAL for the total; false when @k is not one. */
#define BUCKET2_KEY_LEN 13
bool bucket2_key_parse(const void *k, size_t len, uint64_t *id,
		       unsigned *level, uint32_t *t);

/* ---- values ---------------------------------------------------------- */

/* Bucket width of the packs of each level, in seconds. */
#define PACK_SLOTS 64
extern const uint32_t pack_width[STORE_LEVELS];

static inline uint32_t pack_of(unsigned level, uint32_t t)
{
	return t - t % pack_width[level];
}

/* The slot of the @level bucket at @t inside its pack. */
static inline unsigned pack_slot(unsigned level, uint32_t t)
{
	return (t % pack_width[level]) / store_level_size[level];
}

/* A pack in memory: @n buckets with events, by ascending slot. */
struct pack {
	uint32_t start;
	unsigned n;
	uint8_t slot[PACK_SLOTS];
	struct store_agg agg[PACK_SLOTS];
};

/* The start time of slot @i of @p. */
static inline uint32_t pack_time(const struct pack *p, unsigned level,
				 unsigned i)
{
	return p->start + p->slot[i] * store_level_size[level];
}

/* Fold @a into slot @slot of @p; -EOVERFLOW if a sum or count would. */
int pack_add(struct pack *p, unsigned slot, const struct store_agg *a);

/* Fold all of @b into @a (same level and start). */
int pack_merge(struct pack *a, const struct pack *b);

/* Bytes pack_encode() writes at most. */
#define PACK_ENC_MAX (1 + PACK_SLOTS * (1 + 4 * 10))
size_t pack_encode(const struct pack *p, unsigned char *out);

/* Decode a whole value; false when it is not a valid pack of @level. */
bool pack_decode(const void *buf, size_t len, unsigned level, uint32_t start,
		 struct pack *p);

/* A head in memory. */
struct head {
	uint64_t id;
	uint32_t changed; /* wall time of the last write; 0 unknown */
	struct store_agg total;
	unsigned open; /* bit l: pack[l] is the newest pack of level l */
	struct pack pack[STORE_LEVELS];
};

#define HEAD_ENC_MAX (1 + 10 + 5 + 4 * 10 + STORE_LEVELS * (5 + PACK_ENC_MAX))
/* Heads above this flush packs to the packs database (record.c): small
 * enough to stay a node of a B-tree page, never an overflow page. */
#define HEAD_BIG 1024
size_t head_encode(const struct head *h, unsigned char *out);

/* Decode a head; with @total_only, stop after the total (the packs are
 * left closed).  false when it is not a valid head. */
bool head_decode(const void *buf, size_t len, struct head *h, bool total_only);

/* Is this value a head of format 3?  A format 2 series value is an 8-byte
 * big-endian id, whose first byte is 0; a head's is never 0. */
bool is_head(const void *buf, size_t len);

/*
 * A top list: the TOP_K series with the most events in one bucket, each
 * with its exact count there, or every series with events in it when
 * fewer (top.c).  Encoded as a varint n, then n pairs (varint count,
 * varint id), by count descending, then id ascending.
 */
#define TOP_K 128
struct top_entry {
	uint64_t count;
	uint64_t id;
};
#define TOP_ENC_MAX (2 + TOP_K * (10 + 5))
size_t top_encode(const struct top_entry *e, unsigned n, unsigned char *out);
/* Decode a whole value into @e (room for TOP_K); false when it is not a
 * valid list. */
bool top_decode(const void *buf, size_t len, struct top_entry *e,
		unsigned *n);

/* Fold @b into @a; -EOVERFLOW if the count or sum would overflow. */
static inline int agg_merge(struct store_agg *a, const struct store_agg *b)
{
	int64_t sum, count;

	if (b->count == 0)
		return 0;
	if (__builtin_add_overflow(a->sum, b->sum, &sum) ||
	    __builtin_add_overflow(a->count, b->count, &count))
		return -EOVERFLOW;
	if (a->count == 0) {
		*a = *b;
		return 0;
	}
	a->sum = sum;
	a->count = count;
	if (b->min < a->min)
		a->min = b->min;
	if (b->max > a->max)
		a->max = b->max;
	return 0;
}

#endif
