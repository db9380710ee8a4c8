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
#include "../unit/keys_check.h"

#include <stdlib.h>
#include <string.h>

/* Defined in shard.c, which this target does not link. */
const uint32_t store_level_size[STORE_LEVELS] = {1, 60, 3600, 86400};

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
	    !pack_valid(&p, level, start) ||
	    !pack_decode(re, len, level, start, &q) || !pack_eq(&p, &q) ||
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
	    !head_valid(&h) || !head_decode(re, len, &g, false) || !head_eq(&h, &g) ||
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
