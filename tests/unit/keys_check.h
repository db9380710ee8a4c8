/*
 * keys_check.h - what test_keys.c and fuzz_keys.c ask of packs and heads
 * (store/keys.h): equality, and what any decoded value must be.  The
 * includer links store_level_size (shard.c, or its own copy).
 */
#ifndef COUNTFS_KEYS_CHECK_H
#define COUNTFS_KEYS_CHECK_H

#include "../../store/keys.h"

/* Buckets in a pack of each level: a minute's seconds, an hour's
 * minutes, a day's hours, 64 days. */
static inline unsigned slots_of(unsigned level)
{
	return pack_width[level] / store_level_size[level];
}

static inline bool agg_eq(const struct store_agg *x, const struct store_agg *y)
{
	return x->count == y->count &&
	       (x->count == 0 || (x->sum == y->sum && x->min == y->min &&
				  x->max == y->max));
}

static inline bool pack_eq(const struct pack *a, const struct pack *b)
{
	if (a->start != b->start || a->n != b->n)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (a->slot[i] != b->slot[i] || !agg_eq(&a->agg[i], &b->agg[i]))
			return false;
	return true;
}

static inline bool head_eq(const struct head *a, const struct head *b)
{
	if (a->id != b->id || a->changed != b->changed ||
	    !agg_eq(&a->total, &b->total) || a->open != b->open)
		return false;
	for (unsigned l = 0; l < STORE_LEVELS; l++)
		if (a->open & 1u << l && !pack_eq(&a->pack[l], &b->pack[l]))
			return false;
	return true;
}

/* What any decoded pack is: 1 to slots_of(level) buckets at ascending
 * slots inside the pack, each of a positive count and min <= max. */
static inline bool pack_valid(const struct pack *p, unsigned level, uint32_t start)
{
	if (p->start != start || p->n == 0 || p->n > slots_of(level))
		return false;
	for (unsigned i = 0; i < p->n; i++)
		if (p->slot[i] >= slots_of(level) ||
		    (i > 0 && p->slot[i] <= p->slot[i - 1]) ||
		    p->agg[i].count <= 0 || p->agg[i].min > p->agg[i].max)
			return false;
	return true;
}

/* And a head: an id of 4 bytes but 0, open packs valid and aligned. */
static inline bool head_valid(const struct head *h)
{
	if (h->id == 0 || h->id > UINT32_MAX || h->total.count < 0 ||
	    (h->total.count && h->total.min > h->total.max) || h->open > 15)
		return false;
	for (unsigned l = 0; l < STORE_LEVELS; l++)
		if (h->open & 1u << l &&
		    (h->pack[l].start % pack_width[l] ||
		     !pack_valid(&h->pack[l], l, h->pack[l].start)))
			return false;
	return true;
}

#endif
