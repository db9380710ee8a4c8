/*
 * fuzz_keys.c - libFuzzer target: pack_decode() and head_decode()
 * (store/keys.c), which read whatever the packs and series databases
 * hold.
 *
 * The first byte picks what the rest is: bit 0 clear, a pack, of the
 * level in bits 1-2, at the pack start that the next 4 bytes round down
 * to; set, a head.  Whatever the bytes: a decode reads only them (ASan),
 * and what decodes re-encodes, within PACK_ENC_MAX / HEAD_ENC_MAX and in
 * no more bytes, to a value that decodes to the same and encodes to the
 * same bytes again.  A head that decodes is a head to is_head() and
 * decodes for its total alone to the same id, time and total.
 */
#include "../../store/keys.h"

#include <stdlib.h>
#include <string.h>

/* Defined in shard.c, which this target does not link. */
const uint32_t store_level_size[STORE_LEVELS] = {1, 60, 3600, 86400};

static bool agg_eq(const struct store_agg *x, const struct store_agg *y)
{
	return x->count == y->count &&
	       (x->count == 0 || (x->sum == y->sum && x->min == y->min &&
				  x->max == y->max));
}

static bool pack_eq(const struct pack *a, const struct pack *b, unsigned level)
{
	if (a->start != b->start || a->n != b->n || a->n == 0 ||
	    a->n > PACK_SLOTS)
		return false;
	for (unsigned i = 0; i < a->n; i++) {
		if (a->slot[i] != b->slot[i] || !agg_eq(&a->agg[i], &b->agg[i]) ||
		    a->agg[i].count <= 0 || a->agg[i].min > a->agg[i].max ||
		    (i > 0 && a->slot[i] <= a->slot[i - 1]))
			return false;
		/* Every bucket lies inside the pack. */
		if (pack_time(a, level, i) - a->start >= pack_width[level])
			return false;
	}
	return true;
}

static bool head_eq(const struct head *a, const struct head *b)
{
	if (a->id != b->id || a->changed != b->changed ||
	    !agg_eq(&a->total, &b->total) || a->open != b->open)
		return false;
	for (unsigned l = 0; l < STORE_LEVELS; l++)
		if (a->open & 1u << l &&
		    (!pack_eq(&a->pack[l], &b->pack[l], l) ||
		     a->pack[l].start % pack_width[l]))
			return false;
	return true;
}

static void fuzz_pack(const uint8_t *data, size_t size)
{
	static unsigned char re[PACK_ENC_MAX], re2[PACK_ENC_MAX];
	unsigned level = (data[0] >> 1) & 3;
	uint32_t start;
	struct pack p, q;

	if (size < 5)
		return;
	start = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
		(uint32_t)data[3] << 8 | data[4];
	start = pack_of(level, start);
	/* An exact-size copy: one byte too far is an ASan report. */
	size -= 5;
	unsigned char *b = malloc(size ? size : 1);
	memcpy(b, data + 5, size);
	bool ok = pack_decode(b, size, level, start, &p);
	free(b);
	if (!ok)
		return;
	size_t len = pack_encode(&p, re);
	if (len > PACK_ENC_MAX || len > size ||
	    !pack_decode(re, len, level, start, &q) || !pack_eq(&p, &q, level) ||
	    pack_encode(&q, re2) != len || memcmp(re, re2, len))
		abort();
}

static void fuzz_head(const uint8_t *data, size_t size)
{
	static unsigned char re[HEAD_ENC_MAX], re2[HEAD_ENC_MAX];
	struct head h, g, t;

	size -= 1;
	unsigned char *b = malloc(size ? size : 1);
	memcpy(b, data + 1, size);
	bool ok = head_decode(b, size, &h, false);
	bool total = head_decode(b, size, &t, true);
	bool head = is_head(b, size);
	free(b);
	if (!ok)
		return;
	if (!total || !head || t.id != h.id || t.changed != h.changed ||
	    !agg_eq(&t.total, &h.total) || t.open != 0)
		abort();
	size_t len = head_encode(&h, re);
	if (len > HEAD_ENC_MAX || len > size ||
	    !head_decode(re, len, &g, false) || !head_eq(&h, &g) ||
	    head_encode(&g, re2) != len || memcmp(re, re2, len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_head(data, size);
	else
		fuzz_pack(data, size);
	return 0;
}
