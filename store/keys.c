/*
 * keys.c - the byte layouts of keys.h: keys, packs and heads.
 *
 * An aggregate is written as its count, then (unless every event of it
 * was a 1, which the first byte of its pack or head says) one value when
 * the count is 1, or sum, min and max.  A pack is one byte - bit 0 "all
 * ones", bits 1-6 the number of buckets less one - then each bucket's
 * slot and aggregate.  A head is one byte - bit 7 set (a format 2 value
 * began with 0), bit 0 "total all ones", bits 1-4 the levels with an open
 * pack - then the id, the change time and the total, then each open pack
 * as its start (in pack widths) and the pack.
 */
#include "keys.h"

#include <string.h>

const uint32_t pack_width[STORE_LEVELS] = {60, 3600, 86400, 64 * 86400};

/* Buckets a pack of each level can hold. */
static const unsigned pack_slots[STORE_LEVELS] = {60, 60, 24, 64};

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

size_t series_key(unsigned char *k, const char *video, size_t vlen,
		  const char *type, size_t tlen)
{
	memcpy(k, video, vlen);
	k[vlen] = 0;
	memcpy(k + vlen + 1, type, tlen);
	return vlen + 1 + tlen;
}

bool series_key_split(const void *k, size_t len, const char **video,
		      size_t *vlen, const char **type, size_t *tlen)
{
	const char *s = k, *nul = memchr(s, 0, len);

	if (!nul || nul == s || (size_t)(nul - s) > STORE_VIDEO_MAX ||
	    len - (size_t)(nul - s) - 1 > STORE_TYPE_MAX)
		return false;
	*video = s;
	*vlen = (size_t)(nul - s);
	*type = nul + 1;
	*tlen = len - *vlen - 1;
	return true;
}

void id_key(unsigned char k[ID_KEY_LEN], uint64_t id)
{
	put_be32(k, (uint32_t)(id >> 32));
	put_be32(k + 4, (uint32_t)id);
}

uint64_t id_key_get(const unsigned char k[ID_KEY_LEN])
{
	return (uint64_t)get_be32(k) << 32 | get_be32(k + 4);
}

void pack_key(unsigned char k[PACK_KEY_LEN], unsigned level, uint32_t start,
	      uint64_t id)
{
	k[0] = (unsigned char)level;
	put_be32(k + 1, start);
	put_be32(k + 5, (uint32_t)id);
}

bool pack_key_parse(const void *k, size_t len, unsigned *level,
		    uint32_t *start, uint64_t *id)
{
	const unsigned char *b = k;

	if (len != PACK_KEY_LEN || b[0] >= STORE_LEVELS)
		return false;
	*level = b[0];
	*start = get_be32(b + 1);
	*id = get_be32(b + 5);
	return *start % pack_width[*level] == 0;
}

void pending_key(unsigned char k[PENDING_KEY_LEN], unsigned repl,
		 uint64_t id, unsigned level, uint32_t t)
{
	k[0] = (unsigned char)repl;
	id_key(k + 1, id);
	k[9] = (unsigned char)level;
	put_be32(k + 10, t);
}

bool pending_key_parse(const void *k, size_t len, unsigned *repl,
		       uint64_t *id, unsigned *level, uint32_t *t)
{
	const unsigned char *b = k;

	if (len != PENDING_KEY_LEN ||
	    (b[9] != STORE_MIN && b[9] != LEVEL_TOTAL))
		return false;
	*repl = b[0];
	*id = id_key_get(b + 1);
	*level = b[9];
	*t = get_be32(b + 10);
	return true;
}

size_t dedupx_key(unsigned char *k, uint32_t expires, uint64_t id,
		  const char *eid, size_t elen)
{
	put_be32(k, expires);
	id_key(k + 4, id);
	memcpy(k + 12, eid, elen);
	return 12 + elen;
}

bool dedupx_key_parse(const void *k, size_t len, uint32_t *expires,
		      const void **dedup, size_t *dlen)
{
	const unsigned char *b = k;

	if (len < 4 + ID_KEY_LEN)
		return false;
	*expires = get_be32(b);
	*dedup = b + 4;
	*dlen = len - 4;
	return true;
}

bool bucket2_key_parse(const void *k, size_t len, uint64_t *id,
		       unsigned *level, uint32_t *t)
{
	const unsigned char *b = k;

	if (len != BUCKET2_KEY_LEN || b[8] > LEVEL_TOTAL)
		return false;
	*id = id_key_get(b);
	*level = b[8];
	*t = get_be32(b + 9);
	return true;
}

size_t top_key(unsigned char *k, unsigned level, uint32_t bucket,
	       const char *type, size_t tlen)
{
	k[0] = (unsigned char)level;
	put_be32(k + 1, bucket);
	memcpy(k + 5, type, tlen);
	return 5 + tlen;
}

bool top_key_parse(const void *k, size_t len, unsigned *level,
		   uint32_t *bucket, const char **type, size_t *tlen)
{
	const unsigned char *b = k;

	if (len <= 5 || len > TOP_KEY_MAX || b[0] < STORE_MIN ||
	    b[0] > STORE_DAY)
		return false;
	*level = b[0];
	*bucket = get_be32(b + 1);
	*type = (const char *)b + 5;
	*tlen = len - 5;
	return true;
}

/* ---- varints ---------------------------------------------------------- */

static unsigned char *put_uv(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

static unsigned char *put_sv(unsigned char *p, int64_t v)
{
	return put_uv(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* A reader of a value: get_*() return false at its end or on a varint
 * longer than 64 bits. */
struct rd {
	const unsigned char *p, *end;
};

static bool get_uv(struct rd *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64 && r->p < r->end; shift += 7) {
		unsigned char b = *r->p++;
		if (shift == 63 && b > 1)
			return false;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

static bool get_sv(struct rd *r, int64_t *v)
{
	uint64_t u;

	if (!get_uv(r, &u))
		return false;
	*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return true;
}

static bool get_byte(struct rd *r, unsigned *b)
{
	if (r->p >= r->end)
		return false;
	*b = *r->p++;
	return true;
}

/* ---- aggregates ------------------------------------------------------- */

static bool agg_is_ones(const struct store_agg *a)
{
	return a->count == 0 ||
	       (a->sum == a->count && a->min == 1 && a->max == 1);
}

static unsigned char *put_agg(unsigned char *p, const struct store_agg *a,
			      bool ones)
{
	p = put_uv(p, (uint64_t)a->count);
	if (ones || a->count == 0)
		return p;
	if (a->count == 1)
		return put_sv(p, a->sum);
	p = put_sv(p, a->sum);
	p = put_sv(p, a->min);
	return put_sv(p, a->max);
}

/* Read an aggregate; a pack's (@zero_ok false) counts at least one. */
static bool get_agg(struct rd *r, struct store_agg *a, bool ones,
		    bool zero_ok)
{
	uint64_t count;

	if (!get_uv(r, &count) || count > INT64_MAX || (!count && !zero_ok))
		return false;
	memset(a, 0, sizeof(*a));
	a->count = (int64_t)count;
	if (count == 0)
		return true;
	if (ones) {
		*a = (struct store_agg){a->count, a->count, 1, 1};
		return true;
	}
	if (count == 1) {
		if (!get_sv(r, &a->sum))
			return false;
		a->min = a->max = a->sum;
		return true;
	}
	return get_sv(r, &a->sum) && get_sv(r, &a->min) &&
	       get_sv(r, &a->max) && a->min <= a->max;
}

/* ---- packs ------------------------------------------------------------ */

int pack_add(struct pack *p, unsigned slot, const struct store_agg *a)
{
	unsigned i = p->n;

	/* Events come mostly in time order: look from the end. */
	while (i > 0 && p->slot[i - 1] > slot)
		i--;
	if (i > 0 && p->slot[i - 1] == slot)
		return agg_merge(&p->agg[i - 1], a);
	if (a->count == 0)
		return 0;
	memmove(p->slot + i + 1, p->slot + i, p->n - i);
	memmove(p->agg + i + 1, p->agg + i, (p->n - i) * sizeof(p->agg[0]));
	p->slot[i] = (uint8_t)slot;
	p->agg[i] = *a;
	p->n++;
	return 0;
}

int pack_merge(struct pack *a, const struct pack *b)
{
	int rc = 0;

	for (unsigned i = 0; i < b->n && rc == 0; i++)
		rc = pack_add(a, b->slot[i], &b->agg[i]);
	return rc;
}

size_t pack_encode(const struct pack *p, unsigned char *out)
{
	unsigned char *o = out + 1;
	bool ones = true;

	for (unsigned i = 0; i < p->n; i++)
		ones = ones && agg_is_ones(&p->agg[i]);
	out[0] = (unsigned char)((ones ? 1 : 0) | (p->n - 1) << 1);
	for (unsigned i = 0; i < p->n; i++) {
		*o++ = p->slot[i];
		o = put_agg(o, &p->agg[i], ones);
	}
	return (size_t)(o - out);
}

static bool get_pack(struct rd *r, unsigned level, uint32_t start,
		     struct pack *p)
{
	unsigned b, slot;

	if (!get_byte(r, &b) || b & 0x80)
		return false;
	p->start = start;
	p->n = (b >> 1) + 1;
	for (unsigned i = 0; i < p->n; i++) {
		if (!get_byte(r, &slot) || slot >= pack_slots[level] ||
		    (i > 0 && slot <= p->slot[i - 1]))
			return false;
		p->slot[i] = (uint8_t)slot;
		if (!get_agg(r, &p->agg[i], b & 1, false))
			return false;
	}
	return true;
}

bool pack_decode(const void *buf, size_t len, unsigned level, uint32_t start,
		 struct pack *p)
{
	struct rd r = {buf, (const unsigned char *)buf + len};

	return level < STORE_LEVELS && get_pack(&r, level, start, p) &&
	       r.p == r.end;
}

/* ---- heads ------------------------------------------------------------ */

size_t head_encode(const struct head *h, unsigned char *out)
{
	bool ones = agg_is_ones(&h->total);
	unsigned char *o = out + 1;
	unsigned open = 0;

	for (unsigned l = 0; l < STORE_LEVELS; l++)
		if (h->open & 1u << l && h->pack[l].n)
			open |= 1u << l;
	out[0] = (unsigned char)(0x80 | (ones ? 1 : 0) | open << 1);
	o = put_uv(o, h->id);
	o = put_uv(o, h->changed);
	o = put_agg(o, &h->total, ones);
	for (unsigned l = 0; l < STORE_LEVELS; l++) {
		if (!(open & 1u << l))
			continue;
		o = put_sv(o, (int64_t)(h->changed / pack_width[l]) -
				  (int64_t)(h->pack[l].start / pack_width[l]));
		o += pack_encode(&h->pack[l], o);
	}
	return (size_t)(o - out);
}

bool head_decode(const void *buf, size_t len, struct head *h, bool total_only)
{
	struct rd r = {buf, (const unsigned char *)buf + len};
	uint64_t changed;
	int64_t delta, start;
	unsigned b;

	if (!get_byte(&r, &b) || !(b & 0x80) || b & 0x60 ||
	    !get_uv(&r, &h->id) || h->id == 0 || h->id > SERIES_ID_MAX ||
	    !get_uv(&r, &changed) || changed > UINT32_MAX ||
	    !get_agg(&r, &h->total, b & 1, true))
		return false;
	h->changed = (uint32_t)changed;
	h->open = 0;
	if (total_only)
		return true;
	for (unsigned l = 0; l < STORE_LEVELS; l++) {
		if (!(b & 2u << l))
			continue;
		if (!get_sv(&r, &delta) || delta < -(int64_t)UINT32_MAX ||
		    delta > (int64_t)UINT32_MAX)
			return false;
		start = (int64_t)(h->changed / pack_width[l]) - delta;
		if (start < 0 || start > UINT32_MAX / pack_width[l] ||
		    !get_pack(&r, l, (uint32_t)start * pack_width[l],
			      &h->pack[l]))
			return false;
		h->open |= 1u << l;
	}
	return r.p == r.end;
}

bool is_head(const void *buf, size_t len)
{
	return len > 0 && *(const unsigned char *)buf & 0x80;
}

/* ---- top lists -------------------------------------------------------- */

size_t top_encode(const struct top_entry *e, unsigned n, unsigned char *out)
{
	unsigned char *o = put_uv(out, n);

	for (unsigned i = 0; i < n; i++) {
		o = put_uv(o, e[i].count);
		o = put_uv(o, e[i].id);
	}
	return (size_t)(o - out);
}

bool top_decode(const void *buf, size_t len, struct top_entry *e,
		unsigned *n)
{
	struct rd r = {buf, (const unsigned char *)buf + len};
	uint64_t count;

	if (!get_uv(&r, &count) || count > TOP_K)
		return false;
	*n = (unsigned)count;
	for (unsigned i = 0; i < *n; i++)
		if (!get_uv(&r, &e[i].count) || e[i].count == 0 ||
		    e[i].count > INT64_MAX || !get_uv(&r, &e[i].id) ||
		    e[i].id == 0 || e[i].id > SERIES_ID_MAX)
			return false;
	return r.p == r.end;
}
