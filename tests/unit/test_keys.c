/*
 * test_keys.c - the byte layouts of store/keys.c, and the store built on
 * them, on many random inputs.  Prints TAP.
 *
 * Part 1, keys.c alone: packs and heads round-trip exactly (edges of
 * counts, sums, minima, maxima and starts included) within
 * PACK_ENC_MAX / HEAD_ENC_MAX; a cut or damaged encoding never crashes
 * or reads out of bounds (buffers are malloc'd to their exact size, so
 * ASan sees any byte too far) and never decodes to something that does
 * not round-trip; pack_add and pack_merge do not depend on order; an
 * overflow changes nothing; keys round-trip and sort by memcmp in the
 * order of their fields.
 *
 * Part 2, the store through store.h: many series in one shard, runs of
 * dense seconds with long aggregates (heads pass HEAD_BIG and push packs
 * out), events older than a series' newest pack (into the packs
 * database), ones mixed with other values, a restart half-way.  Totals
 * and random ranges are compared with the events kept in memory: exact
 * to the second when every level is kept forever, and by the leaf rule
 * of store_range() (the model of test_range.c) with retention.
 *
 * COUNTFS_SEED=N reruns one draw.
 */
#include "../../common/log.h"
#include "../../store/keys.h"
#include "../../store/store.h"
#include "keys_check.h"
#include "rand.h"
#include "range_model.h"
#include "tap.h"
#include "tmpdir.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS 4000 /* random draws per property of part 1 */
#define NSHOW 3	    /* failures described per property */

static void shuffle(unsigned *a, unsigned n)
{
	for (unsigned i = n; i > 1; i--) {
		unsigned j = (unsigned)(rnd() % i), t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* A failure of a property: count it, describe the first few. */
struct prop {
	int fails, shown;
};

#define fail(pr, ...)                                                          \
	do {                                                                   \
		if ((pr)->fails++ < NSHOW) {                                   \
			printf("#   ");                                        \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
		}                                                              \
	} while (0)

/* ---- random aggregates, packs and heads ------------------------------- */

/* A value, often at an edge of 64 bits. */
static int64_t rnd_value(void)
{
	switch (rnd() % 10) {
	case 0:
		return INT64_MIN;
	case 1:
		return INT64_MAX;
	case 2:
		return between(-2, 2);
	case 3:
		return INT64_MIN + between(0, 3);
	case 4:
		return INT64_MAX - between(0, 3);
	case 5: /* a power of two, either sign */
		return (rnd() & 1 ? 1 : -1) * (int64_t)(1ULL << (rnd() % 63));
	case 6:
		return between(-100000, 100000);
	default:
		return (int64_t)rnd();
	}
}

/* A count, up to INT64_MAX. */
static int64_t rnd_count(void)
{
	switch (rnd() % 6) {
	case 0:
		return INT64_MAX;
	case 1:
		return INT64_MAX - between(0, 2);
	case 2:
		return (int64_t)(rnd() >> 1);
	case 3:
		return (int64_t)(1ULL << (rnd() % 63));
	default:
		return between(1, 1000);
	}
}

enum agg_kind { AGG_ONES, AGG_ONE, AGG_ANY, AGG_KINDS };

/* An aggregate as the store keeps one: every event a 1; one event; or
 * several with min <= max (the sum is not checked against them). */
static struct store_agg rnd_agg(enum agg_kind kind)
{
	int64_t c, x, y;

	switch (kind) {
	case AGG_ONES:
		c = rnd_count();
		return (struct store_agg){c, c, 1, 1};
	case AGG_ONE:
		x = rnd_value();
		return (struct store_agg){1, x, x, x};
	default:
		c = rnd_count();
		c = c < 2 ? 2 : c;
		if (rnd() % 4 == 0) { /* all but one field as if all ones */
			struct store_agg a = {c, c, 1, 1};
			int64_t off = between(1, 3);
			switch (rnd() % 3) {
			case 0:
				a.sum = c - off;
				break;
			case 1:
				a.min = 1 - off;
				break;
			default:
				a.max = 1 + off;
			}
			return a;
		}
		x = rnd_value();
		y = rnd_value();
		return (struct store_agg){c, rnd_value(), x < y ? x : y,
					  x < y ? y : x};
	}
}

/* A pack start of @level: 0, the last one below 2^32, or any. */
static uint32_t rnd_start(unsigned level)
{
	uint32_t w = pack_width[level], last = UINT32_MAX / w * w;

	switch (rnd() % 5) {
	case 0:
		return 0;
	case 1:
		return last;
	case 2:
		return last - w;
	default:
		return (uint32_t)(rnd() % (last / w + 1)) * w;
	}
}

enum pack_kind { PACK_ONES, PACK_MIXED, PACK_ANY, PACK_KINDS };

/* A pack of @level at @start: all ones; ones mixed with one bucket at
 * least that is not; or anything.  Sometimes every slot is taken. */
static void rnd_pack(struct pack *p, unsigned level, uint32_t start,
		     enum pack_kind kind)
{
	unsigned slots = slots_of(level), order[PACK_SLOTS];

	for (unsigned i = 0; i < slots; i++)
		order[i] = i;
	shuffle(order, slots);
	p->start = start;
	p->n = rnd() % 4 == 0 ? slots : (unsigned)between(1, slots);
	/* The first n of the shuffle, in ascending order. */
	unsigned char take[PACK_SLOTS] = {0};
	for (unsigned i = 0; i < p->n; i++)
		take[order[i]] = 1;
	for (unsigned s = 0, i = 0; s < slots; s++)
		if (take[s])
			p->slot[i++] = (uint8_t)s;
	for (unsigned i = 0; i < p->n; i++)
		p->agg[i] = rnd_agg(kind == PACK_ONES	  ? AGG_ONES
				    : kind == PACK_MIXED ? rnd() % 2 ? AGG_ONES : AGG_ANY
							  : (enum agg_kind)(rnd() % AGG_KINDS));
	if (kind == PACK_MIXED)
		p->agg[rnd() % p->n] = rnd_agg(rnd() % 2 ? AGG_ONE : AGG_ANY);
}

static void rnd_head(struct head *h)
{
	static const uint64_t ids[] = {1, 2, 127, 128, UINT32_MAX};

	memset(h, 0, sizeof(*h));
	h->id = rnd() % 2 ? ids[rnd() % 5] : (uint64_t)between(1, UINT32_MAX);
	h->changed = rnd() % 4 == 0 ? (rnd() % 2 ? 0 : UINT32_MAX)
				    : (uint32_t)rnd();
	if (rnd() % 8)
		h->total = rnd_agg((enum agg_kind)(rnd() % AGG_KINDS));
	h->open = (unsigned)(rnd() % 16);
	for (unsigned l = 0; l < STORE_LEVELS; l++)
		/* Closed levels get packs too: the encoder must skip them. */
		rnd_pack(&h->pack[l], l, rnd_start(l),
			 (enum pack_kind)(rnd() % PACK_KINDS));
}

/* What a head decodes to: open levels with an empty pack are dropped. */
static struct head head_expect(const struct head *h)
{
	struct head e = *h;

	for (unsigned l = 0; l < STORE_LEVELS; l++)
		if (!h->pack[l].n)
			e.open &= ~(1u << l);
	return e;
}

/* An exact-size heap copy, so that ASan sees a read one byte past it. */
static unsigned char *dup_bytes(const unsigned char *b, size_t len)
{
	unsigned char *d = malloc(len ? len : 1);

	if (len)
		memcpy(d, b, len);
	return d;
}

static bool pack_decode_copy(const unsigned char *b, size_t len,
			     unsigned level, uint32_t start, struct pack *p)
{
	unsigned char *d = dup_bytes(b, len);
	bool ok = pack_decode(d, len, level, start, p);

	free(d);
	return ok;
}

static bool head_decode_copy(const unsigned char *b, size_t len,
			     struct head *h, bool total_only)
{
	unsigned char *d = dup_bytes(b, len);
	bool ok = head_decode(d, len, h, total_only);

	free(d);
	return ok;
}

/* ---- part 1: keys.c --------------------------------------------------- */

/* pack_of, pack_slot and pack_time agree with the buckets of a level. */
static void test_slots(void)
{
	struct prop pr = {0, 0};

	for (int i = 0; i < 20 * ROUNDS; i++) {
		unsigned l = (unsigned)(rnd() % STORE_LEVELS);
		uint32_t t = rnd() % 4 ? (uint32_t)rnd()
				       : UINT32_MAX - (uint32_t)(rnd() % 200000);
		uint32_t size = store_level_size[l];
		struct pack p = {.start = pack_of(l, t), .n = 1};

		p.slot[0] = (uint8_t)pack_slot(l, t);
		if (p.start % pack_width[l] || p.start > t ||
		    t - p.start >= pack_width[l] || p.slot[0] >= slots_of(l) ||
		    pack_time(&p, l, 0) != t - t % size)
			fail(&pr, "level %u t=%u: start %u slot %u", l, t,
			     p.start, p.slot[0]);
	}
	ok(!pr.fails, "pack_of/pack_slot/pack_time: a bucket's pack, slot "
		      "and start agree (%d failures)", pr.fails);
}

static void test_pack_roundtrip(void)
{
	unsigned char *buf = malloc(PACK_ENC_MAX);
	struct prop pr = {0, 0}, flag = {0, 0};
	struct pack p, q;

	for (int i = 0; i < ROUNDS; i++) {
		unsigned l = (unsigned)(rnd() % STORE_LEVELS);
		enum pack_kind kind = (enum pack_kind)(rnd() % PACK_KINDS);

		rnd_pack(&p, l, rnd_start(l), kind);
		size_t len = pack_encode(&p, buf);
		if (len > PACK_ENC_MAX || !pack_decode_copy(buf, len, l, p.start, &q) ||
		    !pack_eq(&p, &q))
			fail(&pr, "level %u start %u n %u kind %d: len %zu", l,
			     p.start, p.n, kind, len);
		/* All ones: counts only, one byte of slot and the count. */
		size_t ones_len = 1;
		for (unsigned k = 0; k < p.n; k++)
			for (uint64_t c = (uint64_t)p.agg[k].count, b = 1;; c >>= 7, b++)
				if (c < 0x80) {
					ones_len += 1 + b;
					break;
				}
		bool all_ones = true;
		for (unsigned k = 0; k < p.n; k++)
			all_ones = all_ones && p.agg[k].min == 1 &&
				   p.agg[k].max == 1 && p.agg[k].sum == p.agg[k].count;
		if (all_ones != (len == ones_len && buf[0] & 1))
			fail(&flag, "level %u n %u ones %d: %zu bytes, %zu if "
				    "counts only, flag %d",
			     l, p.n, all_ones, len, ones_len, buf[0] & 1);
	}
	ok(!pr.fails, "packs round-trip exactly within PACK_ENC_MAX (%d failures)",
	   pr.fails);
	ok(!flag.fails, "a pack of ones keeps only counts, a mixed one does "
			"not (%d failures)", flag.fails);
	free(buf);
}

static void test_head_roundtrip(void)
{
	unsigned char *buf = malloc(HEAD_ENC_MAX);
	struct prop pr = {0, 0}, tot = {0, 0};
	struct head h, e, g;

	for (int i = 0; i < ROUNDS; i++) {
		rnd_head(&h);
		if (rnd() % 8 == 0) /* an open level with nothing in it */
			h.pack[rnd() % STORE_LEVELS].n = 0;
		e = head_expect(&h);
		size_t len = head_encode(&h, buf);
		if (len > HEAD_ENC_MAX || !is_head(buf, len) ||
		    !head_decode_copy(buf, len, &g, false) || !head_eq(&e, &g))
			fail(&pr, "id %llu open %x: len %zu",
			     (unsigned long long)h.id, h.open, len);
		e.open = 0;
		if (!head_decode_copy(buf, len, &g, true) || !head_eq(&e, &g))
			fail(&tot, "id %llu: total only", (unsigned long long)h.id);
	}
	ok(!pr.fails, "heads round-trip exactly with any open levels within "
		      "HEAD_ENC_MAX (%d failures)", pr.fails);
	ok(!tot.fails, "a head decoded for its total alone gives id, time and "
		       "total (%d failures)", tot.fails);
	free(buf);
}

/* The longest of everything: both maxima are reached, not passed. */
static void test_largest(void)
{
	unsigned char *pb = malloc(PACK_ENC_MAX), *hb = malloc(HEAD_ENC_MAX);
	struct store_agg big = {INT64_MAX, INT64_MIN, INT64_MIN, INT64_MAX};
	struct head h = {.id = UINT32_MAX, .changed = UINT32_MAX, .total = big,
			 .open = 15};
	struct head g;
	size_t plen = 0, hlen;
	bool good = true;

	for (unsigned l = 0; l < STORE_LEVELS; l++) {
		struct pack *p = &h.pack[l], q;
		p->start = UINT32_MAX / pack_width[l] * pack_width[l];
		p->n = slots_of(l);
		for (unsigned i = 0; i < p->n; i++) {
			p->slot[i] = (uint8_t)i;
			p->agg[i] = big;
		}
		size_t len = pack_encode(p, pb);
		plen = len > plen ? len : plen;
		good = good && pack_decode_copy(pb, len, l, p->start, &q) &&
		      pack_eq(p, &q);
	}
	hlen = head_encode(&h, hb);
	ok(good && plen <= PACK_ENC_MAX,
	   "the longest pack (%zu bytes, max %d) round-trips", plen,
	   PACK_ENC_MAX);
	ok(hlen <= HEAD_ENC_MAX && head_decode_copy(hb, hlen, &g, false) &&
	       head_eq(&h, &g),
	   "the longest head (%zu bytes, max %d) round-trips", hlen,
	   HEAD_ENC_MAX);
	free(pb);
	free(hb);
}

/*
 * Damage: every cut of a valid encoding fails (a decoder that reads the
 * same bytes the same way runs out of them); a value changed in one to
 * three bytes either fails or decodes to something whose encoding is no
 * longer and is a fixed point: it decodes to the same and encodes to the
 * same bytes again.  (The decoder accepts a few longer spellings of a
 * value, such as a varint padded with 0x80 bytes; they read as what they
 * say.)
 */
static void test_damage(void)
{
	unsigned char *buf = malloc(HEAD_ENC_MAX), *re = malloc(HEAD_ENC_MAX),
		      *re2 = malloc(HEAD_ENC_MAX);
	struct prop cut = {0, 0}, flip = {0, 0};
	long accepted = 0, tried = 0, longer = 0;

	for (int i = 0; i < ROUNDS / 4; i++) {
		bool is_pack = rnd() % 2;
		unsigned l = (unsigned)(rnd() % STORE_LEVELS);
		struct pack p, q, q2;
		struct head h, g, g2;
		size_t len;

		if (is_pack) {
			rnd_pack(&p, l, rnd_start(l), (enum pack_kind)(rnd() % PACK_KINDS));
			len = pack_encode(&p, buf);
		} else {
			rnd_head(&h);
			len = head_encode(&h, buf);
		}
		/* Every cut of a short value; of a long one, the first and
		 * last bytes' and some between (each decode is a copy). */
		for (size_t j = 0; j < len; j++) {
			size_t k = len <= 200 || j < 64 || len - j <= 64
					   ? j
					   : (size_t)(rnd() % len);
			if (len > 200 && j >= 64 && len - j > 64 && j % 8)
				continue;
			if (is_pack ? pack_decode_copy(buf, k, l, p.start, &q)
				    : head_decode_copy(buf, k, &g, false))
				fail(&cut, "%s cut to %zu of %zu bytes decodes",
				     is_pack ? "pack" : "head", k, len);
		}
		/* A whole value and more is not a value. */
		size_t more = (size_t)between(1, 3);
		unsigned char *x = malloc(len + more);
		memcpy(x, buf, len);
		for (size_t k = 0; k < more; k++)
			x[len + k] = (unsigned char)rnd();
		if (is_pack ? pack_decode(x, len + more, l, p.start, &q)
			    : head_decode(x, len + more, &g, false))
			fail(&cut, "%s of %zu bytes and %zu more decodes",
			     is_pack ? "pack" : "head", len, more);
		free(x);
		for (int f = 0; f < 40; f++) {
			unsigned char *d = dup_bytes(buf, len);
			int nflip = (int)between(1, 3);
			for (int k = 0; k < nflip; k++) {
				size_t at = (size_t)(rnd() % len);
				d[at] = rnd() % 2 ? (unsigned char)(d[at] ^ 1u << (rnd() % 8))
						  : (unsigned char)rnd();
			}
			tried++;
			bool ok1 = is_pack ? pack_decode(d, len, l, p.start, &q)
					   : head_decode(d, len, &g, false);
			if (ok1) {
				size_t rlen = is_pack ? pack_encode(&q, re)
						      : head_encode(&g, re);
				bool ok2 = is_pack ? pack_decode_copy(re, rlen, l, p.start, &q2) &&
							 pack_eq(&q, &q2)
						   : head_decode_copy(re, rlen, &g2, false) &&
							 head_eq(&g, &g2);
				size_t r2 = ok2 ? (is_pack ? pack_encode(&q2, re2)
							   : head_encode(&g2, re2))
						: 0;
				accepted++;
				longer += rlen != len;
				if (!(is_pack ? pack_valid(&q, l, p.start) : head_valid(&g)))
					fail(&flip, "damaged %s decoded to an invalid value",
					     is_pack ? "pack" : "head");
				else if (!ok2 || rlen > len || r2 != rlen ||
				    memcmp(re, re2, rlen))
					fail(&flip, "damaged %s: decoded, re-encoded "
						    "to %zu of %zu bytes, %s",
					     is_pack ? "pack" : "head", rlen, len,
					     ok2 ? "not a fixed point"
						 : "which does not decode the same");
			}
			free(d);
		}
	}
	ok(!cut.fails, "no cut of a pack or head decodes, nor one with bytes "
		       "after it (%d failures)",
	   cut.fails);
	ok(!flip.fails, "damaged values fail or round-trip: %ld of %ld decoded, "
			"%ld of them spelt longer (%d failures)",
	   accepted, tried, longer, flip.fails);
	free(buf);
	free(re);
	free(re2);
}

static unsigned char *put_varint(unsigned char *p, uint64_t v)
{
	for (; v >= 0x80; v >>= 7)
		*p++ = (unsigned char)(v | 0x80);
	*p++ = (unsigned char)v;
	return p;
}

/* Values the encoder never writes, each refused: by the rules of a
 * varint, an aggregate, a pack and a head. */
static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void test_refused(void)
{
	static const unsigned char beyond64[] = {0xff, 0xff, 0xff, 0xff, 0xff,
						 0xff, 0xff, 0xff, 0xff, 0x02};
	static const unsigned char eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					       0x80, 0x80, 0x80, 0x80, 0x00};
	struct {
		const char *what;
		unsigned char b[32];
		size_t len;
		bool head;
	} v[16];
	unsigned char *o;
	int n = 0, bad = 0;
	struct pack p;
	struct head h;

#define CASE(w, hd) (v[n].what = (w), v[n].head = (hd), o = v[n].b)
#define END() (v[n].len = (size_t)(o - v[n].b), n++)
	/* Packs of level 0: not all ones, one bucket in slot 3. */
	CASE("a pack count of 2^63", false);
	*o++ = 1, *o++ = 3, o = put_varint(o, 1ULL << 63), END();
	CASE("a pack count of 2^64 - 1", false);
	*o++ = 1, *o++ = 3, o = put_varint(o, UINT64_MAX), END();
	CASE("a pack count of 0", false);
	*o++ = 1, *o++ = 3, *o++ = 0, END();
	CASE("a varint past 64 bits", false);
	*o++ = 0, *o++ = 3, *o++ = 1;
	memcpy(o, beyond64, sizeof(beyond64)), o += sizeof(beyond64), END();
	CASE("a varint of 11 bytes", false);
	*o++ = 0, *o++ = 3, *o++ = 1;
	memcpy(o, eleven, sizeof(eleven)), o += sizeof(eleven), END();
	CASE("min > max", false);
	*o++ = 0, *o++ = 3, *o++ = 2, *o++ = 0, *o++ = 4, *o++ = 2, END();
	CASE("slot 60 of a minute", false);
	*o++ = 1, *o++ = 60, *o++ = 1, END();
	CASE("slots not ascending", false);
	*o++ = 1 | 1 << 1, *o++ = 5, *o++ = 1, *o++ = 5, *o++ = 1, END();
	CASE("the top bit of a pack's first byte", false);
	*o++ = 0x81, *o++ = 3, *o++ = 1, END();
	/* Heads: bit 7, "total all ones" (1). */
	CASE("a head of id 0", true);
	*o++ = 0x81, *o++ = 0, *o++ = 0, *o++ = 1, END();
	CASE("a head id past 2^32", true);
	*o++ = 0x81, o = put_varint(o, 1ULL << 32), *o++ = 0, *o++ = 1, END();
	CASE("a pack start delta of -2^63", true);
	*o++ = 0x81 | 1 << 1, *o++ = 1, o = put_varint(o, 44301), *o++ = 1;
	o = put_varint(o, UINT64_MAX);
	*o++ = 1, *o++ = 0, *o++ = 1, END();
	CASE("a change time past 2^32", true);
	*o++ = 0x81, *o++ = 1, o = put_varint(o, 1ULL << 32), *o++ = 1, END();
	CASE("bit 5 of a head's first byte", true);
	*o++ = 0xa1, *o++ = 1, *o++ = 0, *o++ = 1, END();
	/* A head's pack start is written less its change time's (0 here),
	 * zigzag-coded: the start itself, negated. */
	CASE("a day pack past 2^32", true);
	*o++ = 0x81 | 1 << 4, *o++ = 1, *o++ = 0, *o++ = 1;
	o = put_varint(o, zigzag(-(int64_t)(UINT32_MAX / pack_width[STORE_DAY] + 1)));
	*o++ = 1, *o++ = 0, *o++ = 1, END();
#undef CASE
#undef END
	for (int i = 0; i < n; i++) {
		bool taken = v[i].head ? head_decode_copy(v[i].b, v[i].len, &h, false)
				       : pack_decode_copy(v[i].b, v[i].len, 0, 0, &p);
		if (taken) {
			bad++;
			printf("#   %s: taken\n", v[i].what);
		}
	}
	/* What is right beside them is taken: a total of none, ... */
	unsigned char b[32];
	o = b, *o++ = 0x81, *o++ = 1, *o++ = 0, *o++ = 0;
	if (!head_decode_copy(b, (size_t)(o - b), &h, false) || h.total.count)
		bad++, printf("#   a head with no events refused\n");
	/* ... a count of 2^63 - 1, the last pack of each level. */
	o = b, *o++ = 1, *o++ = 3, o = put_varint(o, INT64_MAX);
	if (!pack_decode_copy(b, (size_t)(o - b), 0, 0, &p) ||
	    p.agg[0].count != INT64_MAX)
		bad++, printf("#   a count of 2^63 - 1 refused\n");
	for (unsigned l = 0; l < STORE_LEVELS; l++) {
		o = b, *o++ = 0x81 | 2u << l, *o++ = 1, *o++ = 0, *o++ = 1;
		o = put_varint(o, zigzag(-(int64_t)(UINT32_MAX / pack_width[l])));
		*o++ = 1, *o++ = 0, *o++ = 1;
		if (!head_decode_copy(b, (size_t)(o - b), &h, false) ||
		    h.pack[l].start != UINT32_MAX / pack_width[l] * pack_width[l])
			bad++, printf("#   the last pack of level %u refused\n", l);
	}
	ok(!bad, "values the encoder never writes are refused, those beside "
		 "them taken (%d of %d wrong)", bad, n + 6);
}

/* Small aggregates that cannot overflow when merged a few times. */
static void small_pack(struct pack *p, unsigned level, uint32_t start)
{
	rnd_pack(p, level, start, rnd() % 3 ? PACK_ANY : PACK_ONES);
	for (unsigned i = 0; i < p->n; i++) {
		struct store_agg *a = &p->agg[i];
		if (a->count == 1 || (a->min == 1 && a->max == 1 && a->sum == a->count))
			continue;
		int64_t x = between(-1000000, 1000000), y = between(-1000000, 1000000);
		*a = (struct store_agg){between(2, 1000000),
					between(-1000000000, 1000000000),
					x < y ? x : y, x < y ? y : x};
	}
	for (unsigned i = 0; i < p->n; i++) {
		struct store_agg *a = &p->agg[i];
		if (a->count > 1000000)
			a->count = a->sum = between(1, 1000000);
		if (a->count == 1)
			a->sum = a->min = a->max = between(-1000000, 1000000);
	}
}

static void test_merge(void)
{
	struct prop comm = {0, 0}, assoc = {0, 0}, unit = {0, 0};

	for (int i = 0; i < ROUNDS; i++) {
		unsigned l = (unsigned)(rnd() % STORE_LEVELS);
		uint32_t start = rnd_start(l);
		struct pack a, b, c, ab, ba, ab_c, bc, a_bc;
		struct pack none = {.start = start, .n = 0};

		small_pack(&a, l, start);
		small_pack(&b, l, start);
		small_pack(&c, l, start);
		ab = a, ba = b;
		if (pack_merge(&ab, &b) || pack_merge(&ba, &a) || !pack_eq(&ab, &ba))
			fail(&comm, "level %u: a+b != b+a (n %u, %u)", l, a.n, b.n);
		ab_c = ab, bc = b;
		if (pack_merge(&ab_c, &c) || pack_merge(&bc, &c))
			fail(&assoc, "level %u: overflow", l);
		a_bc = a;
		if (pack_merge(&a_bc, &bc) || !pack_eq(&ab_c, &a_bc))
			fail(&assoc, "level %u: (a+b)+c != a+(b+c)", l);
		struct pack a0 = a, e = none;
		if (pack_merge(&a0, &none) || !pack_eq(&a0, &a) ||
		    pack_merge(&e, &a) || !pack_eq(&e, &a))
			fail(&unit, "level %u: an empty pack is not neutral", l);
	}
	ok(!comm.fails, "pack_merge is commutative (%d failures)", comm.fails);
	ok(!assoc.fails, "pack_merge is associative (%d failures)", assoc.fails);
	ok(!unit.fails, "merging an empty pack changes nothing (%d failures)",
	   unit.fails);
}

/* Buckets added in any order make one pack: the sum of each slot's. */
static void test_add_order(void)
{
	struct prop pr = {0, 0};

	for (int i = 0; i < ROUNDS; i++) {
		unsigned l = (unsigned)(rnd() % STORE_LEVELS), n = (unsigned)between(1, 150);
		unsigned slot[150], order[150];
		struct store_agg agg[150], want[PACK_SLOTS] = {{0, 0, 0, 0}};
		uint32_t start = rnd_start(l);
		struct pack fwd = {.start = start}, back = {.start = start},
			    mixed = {.start = start}, model = {.start = start};
		unsigned span = (unsigned)between(1, slots_of(l));

		for (unsigned k = 0; k < n; k++) {
			struct pack one;
			small_pack(&one, l, start);
			slot[k] = (unsigned)(rnd() % span);
			agg[k] = one.agg[0];
			if (rnd() % 10 == 0) /* nothing: adds no bucket */
				agg[k] = (struct store_agg){0, 0, 0, 0};
			order[k] = k;
			agg_merge(&want[slot[k]], &agg[k]);
		}
		shuffle(order, n);
		int rc = 0;
		for (unsigned k = 0; k < n; k++) {
			rc |= pack_add(&fwd, slot[k], &agg[k]);
			rc |= pack_add(&back, slot[n - 1 - k], &agg[n - 1 - k]);
			rc |= pack_add(&mixed, slot[order[k]], &agg[order[k]]);
		}
		for (unsigned s = 0; s < PACK_SLOTS; s++)
			if (want[s].count) {
				model.slot[model.n] = (uint8_t)s;
				model.agg[model.n++] = want[s];
			}
		if (rc || !pack_eq(&fwd, &model) || !pack_eq(&back, &model) ||
		    !pack_eq(&mixed, &model))
			fail(&pr, "level %u, %u adds over %u slots: n %u/%u/%u, want %u",
			     l, n, span, fwd.n, back.n, mixed.n, model.n);
	}
	ok(!pr.fails, "pack_add in any order makes the same pack, slots "
		      "ascending (%d failures)", pr.fails);
}

/* An overflow returns -EOVERFLOW and leaves the bucket as it was. */
static void test_overflow(void)
{
	static const struct {
		struct store_agg have, add;
	} cases[] = {
	    {{1, INT64_MAX, INT64_MAX, INT64_MAX}, {1, 1, 1, 1}},
	    {{2, INT64_MIN, INT64_MIN, 0}, {1, -1, -1, -1}},
	    {{INT64_MAX, INT64_MAX, 1, 1}, {1, 1, 1, 1}},
	    {{INT64_MAX - 1, 5, -3, 9}, {2, 0, 0, 0}},
	    {{3, 1, -1, 1}, {INT64_MAX, 1, 0, 1}},
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pack p = {.start = 120, .n = 3, .slot = {2, 7, 40}};
		p.agg[0] = (struct store_agg){1, 1, 1, 1};
		p.agg[1] = cases[i].have;
		p.agg[2] = (struct store_agg){4, 4, 1, 1};
		struct pack was = p;
		struct store_agg a = cases[i].have;

		if (pack_add(&p, 7, &cases[i].add) != -EOVERFLOW ||
		    memcmp(&p, &was, sizeof(p)) ||
		    agg_merge(&a, &cases[i].add) != -EOVERFLOW ||
		    memcmp(&a, &cases[i].have, sizeof(a))) {
			bad++;
			printf("#   case %zu: not refused, or the pack changed\n", i);
		}
		/* Into another slot it fits: a new bucket. */
		if (pack_add(&p, 8, &cases[i].add) || p.n != 4 || p.slot[2] != 8) {
			bad++;
			printf("#   case %zu: another slot refused\n", i);
		}
		/* pack_merge passes the error on. */
		struct pack q = {.start = 120, .n = 1, .slot = {7}};
		q.agg[0] = cases[i].add;
		p = was;
		if (pack_merge(&p, &q) != -EOVERFLOW ||
		    !agg_eq(&p.agg[1], &cases[i].have)) {
			bad++;
			printf("#   case %zu: pack_merge did not refuse\n", i);
		}
	}
	ok(!bad, "an overflow is -EOVERFLOW and changes no bucket");
}

static void test_is_head(void)
{
	unsigned char *buf = malloc(HEAD_ENC_MAX), k[ID_KEY_LEN];
	struct head h, g;
	int bad = 0;

	for (int i = 0; i < ROUNDS; i++) {
		rnd_head(&h);
		if (!is_head(buf, head_encode(&h, buf)))
			bad++;
		/* A format 2 value: an id below 2^56 in 8 big-endian bytes. */
		id_key(k, rnd() % 2 ? rnd() >> 8 : rnd() % 100000);
		if (is_head(k, ID_KEY_LEN) || head_decode_copy(k, ID_KEY_LEN, &g, true))
			bad++;
	}
	ok(!bad && !is_head(buf, 0),
	   "is_head tells every head from a format 2 id (%d failures)", bad);
	free(buf);
}

/* -1, 0 or 1 as memcmp's sign. */
static int sign(int c)
{
	return (c > 0) - (c < 0);
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return (a > b) - (a < b);
}

/* A few values of each field, so that ties are drawn too. */
static uint32_t some_start(unsigned level)
{
	uint32_t w = pack_width[level], last = UINT32_MAX / w * w;
	uint32_t pick[] = {0, w, 2 * w, last - w, last, 1700006400 / w * w};

	return pick[rnd() % 6];
}

static void test_pack_keys(void)
{
	struct prop rt = {0, 0}, ord = {0, 0}, refuse = {0, 0};
	unsigned char k[PACK_KEY_LEN], k2[PACK_KEY_LEN], longer[PACK_KEY_LEN + 1];

	for (int i = 0; i < ROUNDS; i++) {
		unsigned l = (unsigned)(rnd() % STORE_LEVELS), l2 = (unsigned)(rnd() % STORE_LEVELS), pl;
		uint32_t s = rnd() % 2 ? some_start(l) : rnd_start(l);
		uint32_t s2 = rnd() % 2 ? some_start(l2) : rnd_start(l2), ps;
		uint64_t id = rnd() % 2 ? between(1, 3) : between(1, UINT32_MAX);
		uint64_t id2 = rnd() % 2 ? between(1, 3) : between(1, UINT32_MAX), pid;

		pack_key(k, l, s, id);
		if (!pack_key_parse(k, PACK_KEY_LEN, &pl, &ps, &pid) || pl != l ||
		    ps != s || pid != id)
			fail(&rt, "level %u start %u id %llu", l, s,
			     (unsigned long long)id);
		pack_key(k2, l2, s2, id2);
		int want = l != l2 ? cmp_u64(l, l2) : s != s2 ? cmp_u64(s, s2) : cmp_u64(id, id2);
		if (sign(memcmp(k, k2, PACK_KEY_LEN)) != want)
			fail(&ord, "(%u,%u,%llu) vs (%u,%u,%llu)", l, s,
			     (unsigned long long)id, l2, s2, (unsigned long long)id2);
		/* Not aligned to its level's width; a level past the day's;
		 * the wrong length. */
		uint32_t off = (uint32_t)between(1, pack_width[l] - 1);
		if (s <= UINT32_MAX - off) {
			pack_key(k2, l, s + off, id);
			if (pack_key_parse(k2, PACK_KEY_LEN, &pl, &ps, &pid))
				fail(&refuse, "level %u start %u taken", l, s + off);
		}
		memcpy(k2, k, PACK_KEY_LEN);
		k2[0] = (unsigned char)between(STORE_LEVELS, 255);
		memcpy(longer, k, PACK_KEY_LEN);
		if (pack_key_parse(k2, PACK_KEY_LEN, &pl, &ps, &pid) ||
		    pack_key_parse(k, PACK_KEY_LEN - 1, &pl, &ps, &pid) ||
		    pack_key_parse(longer, PACK_KEY_LEN + 1, &pl, &ps, &pid))
			fail(&refuse, "level %u or a length taken", k2[0]);
	}
	ok(!rt.fails, "pack keys round-trip (%d failures)", rt.fails);
	ok(!ord.fails, "pack keys sort by level, start, id (%d failures)",
	   ord.fails);
	ok(!refuse.fails, "pack_key_parse refuses unaligned starts, levels >= 4, "
			  "other lengths (%d failures)", refuse.fails);
}

static void test_other_keys(void)
{
	struct prop pend = {0, 0}, ids = {0, 0}, ser = {0, 0}, dd = {0, 0};
	unsigned char k[PENDING_KEY_LEN + 1], k2[PENDING_KEY_LEN];
	static const unsigned lv[] = {STORE_MIN, LEVEL_TOTAL};

	for (int i = 0; i < ROUNDS; i++) {
		unsigned r = (unsigned)(rnd() % 3), r2 = (unsigned)(rnd() % 3);
		uint64_t id = rnd() % 2 ? rnd() : rnd() % 3, id2 = rnd() % 2 ? rnd() : rnd() % 3;
		unsigned l = lv[rnd() % 2], l2 = lv[rnd() % 2], pr, pl;
		uint32_t t = rnd() % 2 ? (uint32_t)rnd() : (uint32_t)(rnd() % 3) * 60;
		uint32_t t2 = rnd() % 2 ? (uint32_t)rnd() : (uint32_t)(rnd() % 3) * 60, pt;
		uint64_t pid;

		if (rnd() % 4 == 0)
			r = 255, id = UINT64_MAX, t = UINT32_MAX;
		pending_key(k, r, id, l, t);
		if (!pending_key_parse(k, PENDING_KEY_LEN, &pr, &pid, &pl, &pt) ||
		    pr != r || pid != id || pl != l || pt != t)
			fail(&pend, "pending (%u,%llu,%u,%u) does not round-trip", r,
			     (unsigned long long)id, l, t);
		pending_key(k2, r2, id2, l2, t2);
		int want = r != r2     ? cmp_u64(r, r2)
			   : id != id2 ? cmp_u64(id, id2)
			   : l != l2   ? cmp_u64(l, l2)
				       : cmp_u64(t, t2);
		if (sign(memcmp(k, k2, PENDING_KEY_LEN)) != want)
			fail(&pend, "pending keys out of order");
		k2[9] = (unsigned char)(rnd() % 2 ? STORE_SEC : between(STORE_HOUR, 255));
		if (k2[9] == LEVEL_TOTAL)
			k2[9] = STORE_DAY;
		if (pending_key_parse(k2, PENDING_KEY_LEN, &pr, &pid, &pl, &pt) ||
		    pending_key_parse(k, PENDING_KEY_LEN + 1, &pr, &pid, &pl, &pt) ||
		    pending_key_parse(k, PENDING_KEY_LEN - 1, &pr, &pid, &pl, &pt))
			fail(&pend, "pending key of level %u or a length taken", k2[9]);

		unsigned char ik[ID_KEY_LEN], ik2[ID_KEY_LEN];
		id_key(ik, id);
		id_key(ik2, id2);
		if (id_key_get(ik) != id ||
		    sign(memcmp(ik, ik2, ID_KEY_LEN)) != cmp_u64(id, id2))
			fail(&ids, "id %llu", (unsigned long long)id);

		/* "video\0type", and what is not one. */
		char video[STORE_VIDEO_MAX + 2], type[STORE_TYPE_MAX + 2];
		unsigned char sk[SERIES_KEY_MAX + 2];
		size_t vl = (size_t)between(1, STORE_VIDEO_MAX), tl = (size_t)between(0, STORE_TYPE_MAX);
		for (size_t j = 0; j < vl; j++)
			video[j] = (char)between(1, 255);
		for (size_t j = 0; j < tl; j++)
			type[j] = (char)between(1, 255);
		size_t len = series_key(sk, video, vl, type, tl);
		const char *v, *ty;
		size_t pvl, ptl;
		if (len != vl + 1 + tl ||
		    !series_key_split(sk, len, &v, &pvl, &ty, &ptl) || v != (char *)sk ||
		    pvl != vl || memcmp(v, video, vl) || ptl != tl ||
		    memcmp(ty, type, tl))
			fail(&ser, "series key of %zu+%zu bytes", vl, tl);
		memset(video, 'v', sizeof(video));
		if (series_key_split(video, vl, &v, &pvl, &ty, &ptl) || /* no NUL */
		    series_key_split(sk + vl, len - vl, &v, &pvl, &ty, &ptl) || /* "" */
		    series_key_split(sk, series_key(sk, video, STORE_VIDEO_MAX + 1, type, tl),
				     &v, &pvl, &ty, &ptl) ||
		    series_key_split(sk, series_key(sk, video, vl, video, STORE_TYPE_MAX + 1),
				     &v, &pvl, &ty, &ptl))
			fail(&ser, "a series key that is not one taken");

		/* dedupx: expiry first; its dedup key is the rest. */
		unsigned char xk[DEDUPX_KEY_MAX], xk2[DEDUPX_KEY_MAX];
		uint32_t ex = (uint32_t)rnd(), ex2 = rnd() % 2 ? ex : (uint32_t)rnd();
		size_t el = (size_t)between(1, STORE_ID_MAX);
		size_t xl = dedupx_key(xk, ex, id, video, el);
		size_t xl2 = dedupx_key(xk2, ex2, id2, video, el);
		if (xl != 12 + el || xl2 != xl || memcmp(xk + 4, ik, ID_KEY_LEN) ||
		    memcmp(xk + 12, video, el) ||
		    (ex != ex2 && sign(memcmp(xk, xk2, xl)) != cmp_u64(ex, ex2)) ||
		    (ex == ex2 && sign(memcmp(xk, xk2, xl)) != cmp_u64(id, id2)))
			fail(&dd, "dedupx key of %u/%llu", ex, (unsigned long long)id);
	}
	ok(!pend.fails, "pending keys round-trip, sort by repl, id, level, time, "
			"refuse other levels (%d failures)", pend.fails);
	ok(!ids.fails, "id keys round-trip and sort (%d failures)", ids.fails);
	ok(!ser.fails, "series keys split back, and what is not one is refused "
		       "(%d failures)", ser.fails);
	ok(!dd.fails, "dedupx keys: expiry, id, event id (%d failures)", dd.fails);
}

/* ---- part 2: the store ------------------------------------------------ */

#define NSERIES 40
#define NDENSE 8 /* of them, those of dense runs */
#define BATCH 400
#define NRANGES 1500

/* A day before a boundary of the day level's packs (64 days), so that
 * the events cross one. */
#define T0 (308u * 64 * DAY_S - 2 * DAY_S)
#define SPAN (5 * DAY_S)

struct series {
	char video[16];
	const char *type;
	struct event *ev;
	size_t n, cap;
	uint32_t newest, cursor;
};

static struct series ser[NSERIES];

static void remember(struct series *s, uint32_t t, int64_t v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->ev = realloc(s->ev, s->cap * sizeof(*s->ev));
	}
	s->ev[s->n++] = (struct event){t, v};
	if (t > s->newest)
		s->newest = t;
}

/* A value: a 1, or a long one (2^36..2^44, either sign: 6 or 7 bytes
 * each of sum, min and max), or a small one.  The sums of a series stay
 * far below 2^62. */
static int64_t store_value(int style)
{
	switch (style == 2 ? rnd() % 3 : (uint64_t)style) {
	case 0:
		return 1;
	case 1:
		return (rnd() % 2 ? 1 : -1) *
		       (int64_t)((1ULL << 36) + rnd() % (1ULL << 44));
	default:
		return between(-1000, 1000);
	}
}

/* One request's events: a run of dense seconds of one series, events
 * older than a series' newest pack, or anything anywhere. */
static size_t draw_batch(struct store *st, struct store_event *ev,
			 uint32_t *now)
{
	size_t n = 0;
	uint32_t t;
	int mode = (int)(rnd() % 10), style = (int)(rnd() % 3);
	struct series *s = &ser[rnd() % NSERIES];

	/* The first NDENSE series take the dense runs, each where its last
	 * one stopped, mostly of long values: a minute of their seconds or
	 * an hour of their minutes makes a head pass HEAD_BIG. */
	if (mode < 4) {
		s = &ser[rnd() % NDENSE];
		style = s - ser < NDENSE / 2 ? 1 : s - ser < NDENSE - 1 ? 2 : 0;
	}

	while (n < BATCH) {
		if (mode < 4) { /* dense: every second, 1 to 3 events */
			t = s->cursor;
			int k = (int)between(1, 3);
			for (int j = 0; j < k && n < BATCH; j++) {
				ev[n].video = s->video;
				ev[n].type = s->type;
				ev[n].ts = t;
				ev[n].n = 1;
				ev[n++].value = store_value(style);
			}
			s->cursor++;
			if (rnd() % 400 == 0)
				break;
			continue;
		}
		if (mode < 7) { /* late: before the series' newest minute */
			if (s->newest < T0 + 2 * MIN_S)
				break;
			t = (uint32_t)between(T0, s->newest - MIN_S);
		} else {
			s = &ser[rnd() % NSERIES];
			t = (uint32_t)between(T0, T0 + SPAN - 1);
			/* Not past a dense run: it would close its packs. */
			if (s - ser < NDENSE && t >= s->cursor)
				t = (uint32_t)between(T0, s->cursor);
		}
		ev[n].video = s->video;
		ev[n].type = s->type;
		ev[n].ts = t;
		ev[n].n = 1;
		ev[n++].value = store_value(style);
		if (rnd() % 100 == 0)
			break;
	}
	if (mode < 4 && rnd() % 20 == 0) /* a gap before the next run */
		s->cursor += (uint32_t)between(1, 3 * HOUR_S);
	if (s->cursor >= T0 + SPAN)
		s->cursor = T0 + (uint32_t)(rnd() % SPAN);
	for (size_t i = 0; i < n; i++) {
		ev[i].video_len = (uint8_t)strlen(ev[i].video);
		ev[i].type_len = (uint8_t)strlen(ev[i].type);
		ev[i].id = NULL;
		if (ev[i].ts + 1 > *now)
			*now = ev[i].ts + 1;
	}
	/* What the daemon would refuse, the model never sees either. */
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (store_check_ts(st, ev[i].ts, *now) == 0)
			ev[kept++] = ev[i];
	return kept;
}

static struct series *series_of(const struct store_event *e)
{
	for (int i = 0; i < NSERIES; i++)
		if (ser[i].video == e->video && ser[i].type == e->type)
			return &ser[i];
	return NULL;
}

/* A time worth a range's edge: on or beside a boundary of some level's
 * bucket or pack, or anywhere near the events. */
static uint32_t edge_time(void)
{
	static const uint32_t unit[] = {1, MIN_S, HOUR_S, DAY_S, 64 * DAY_S};
	uint32_t t = (uint32_t)between(T0 - HOUR_S, T0 + SPAN + HOUR_S);

	if (rnd() % 3) {
		uint32_t u = unit[rnd() % 5];
		t = t / u * u + (uint32_t)between(0, 2) - 1;
	}
	return t;
}

/* Every total, and NRANGES random ranges, against the model at @now. */
static void check_store(struct store *st, const uint32_t keep[4], uint32_t now,
			const char *when)
{
	struct prop tot = {0, 0}, rng = {0, 0};
	struct model m = model_at(keep, now);
	struct store_agg got, want;

	for (int i = 0; i < NSERIES; i++) {
		struct series *s = &ser[i];
		struct model all = {0, 0, 0, 0};
		want = model_sum(&all, s->ev, s->n, 0, UINT32_MAX);
		int rc = store_total(st, s->video, strlen(s->video), s->type,
				     strlen(s->type), &got);
		if (rc || !agg_eq(&got, &want))
			fail(&tot, "%s/%s: rc %d count %lld sum %lld, want %lld %lld",
			     s->video, s->type, rc, (long long)got.count,
			     (long long)got.sum, (long long)want.count,
			     (long long)want.sum);
	}
	for (int i = 0; i < NRANGES; i++) {
		struct series *s = &ser[rnd() % NSERIES];
		uint32_t a = edge_time(), b = edge_time();

		if (i % 2) { /* the last hours of a dense run: head and packs */
			s = &ser[rnd() % NDENSE];
			a = s->newest - (uint32_t)between(0, 3 * HOUR_S);
			b = rnd() % 2 ? s->newest + 1 : a + (uint32_t)between(1, 90 * MIN_S);
			if (rnd() % 2)
				a -= a % MIN_S;
		}

		if (rnd() % 50 == 0)
			a = 0, b = UINT32_MAX;
		if (a > b) {
			uint32_t x = a;
			a = b;
			b = x;
		}
		want = model_sum(&m, s->ev, s->n, a, b);
		int rc = store_range(st, s->video, strlen(s->video), s->type,
				     strlen(s->type), a, b, now, &got);
		if (rc || !agg_eq(&got, &want))
			fail(&rng, "%s/%s [%u, %u) now %u: rc %d count %lld sum "
				   "%lld min %lld max %lld, want %lld %lld %lld %lld",
			     s->video, s->type, a, b, now, rc, (long long)got.count,
			     (long long)got.sum, (long long)got.min, (long long)got.max,
			     (long long)want.count, (long long)want.sum,
			     (long long)want.min, (long long)want.max);
	}
	ok(!tot.fails, "%s: every total (%d failures)", when, tot.fails);
	ok(!rng.fails, "%s: %d ranges (%d failures)", when, NRANGES, rng.fails);
}

static void test_store(const char *name, const uint32_t keep[4], int rounds)
{
	static struct store_event ev[BATCH];
	char *dir = fresh_dir_named("keys");
	struct store *st = open_store(dir, keep);
	uint32_t now = T0;
	long events = 0, failed = 0;
	char when[128];

	ok(st != NULL, "%s: store opened", name);
	if (!st)
		return;
	for (int i = 0; i < NSERIES; i++) {
		free(ser[i].ev);
		ser[i] = (struct series){.type = i % 2 ? "likes" : "watch_ms",
					 .cursor = T0 + (uint32_t)(rnd() % SPAN)};
		snprintf(ser[i].video, sizeof(ser[i].video), "video%02d", i / 2);
	}
	for (int r = 0; r < rounds; r++) {
		size_t n = draw_batch(st, ev, &now);
		if (store_record(st, ev, n, now, NULL)) {
			failed++;
			continue;
		}
		for (size_t i = 0; i < n; i++)
			remember(series_of(&ev[i]), ev[i].ts, ev[i].value);
		events += (long)n;
		if (r % 50 == 49 && store_expire(st, now))
			failed++;
		if (r == rounds / 2) {
			snprintf(when, sizeof(when), "%s, before a restart", name);
			check_store(st, keep, now, when);
			store_close(st);
			st = open_store(dir, keep);
			ok(st != NULL, "%s: store reopened", name);
			if (!st)
				return;
			snprintf(when, sizeof(when), "%s, after a restart", name);
			check_store(st, keep, now, when);
		}
	}
	ok(!failed, "%s: %ld events recorded (%ld calls failed)", name, events,
	   failed);
	snprintf(when, sizeof(when), "%s, at the end", name);
	check_store(st, keep, now, when);
	if (store_expire(st, now + HOUR_S) == 0) {
		snprintf(when, sizeof(when), "%s, an hour later, expired", name);
		check_store(st, keep, now + HOUR_S, when);
	}
	store_close(st);
	rmrf(dir);
	free(dir);
}

int main(void)
{
	const char *seed = getenv("COUNTFS_SEED");
	static const uint32_t forever[4] = {0, 0, 0, 0};
	static const uint32_t kept[4] = {2 * HOUR_S, 2 * DAY_S, 4 * DAY_S, 0};

	setvbuf(stdout, NULL, _IOLBF, 0); /* progress, when it is slow */
	log_level = LOG_LVL_ERROR;
	rng_state = seed ? strtoull(seed, NULL, 10) : (uint64_t)getpid();
	printf("# COUNTFS_SEED=%llu\n", (unsigned long long)rng_state);
	test_slots();
	test_pack_roundtrip();
	test_head_roundtrip();
	test_largest();
	test_damage();
	test_refused();
	test_merge();
	test_add_order();
	test_overflow();
	test_is_head();
	test_pack_keys();
	test_other_keys();
	test_store("everything kept", forever, 600);
	test_store("2h/2d/4d/forever", kept, 600);
	for (int i = 0; i < NSERIES; i++)
		free(ser[i].ev);
	return tap_done();
}
