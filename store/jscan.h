/*
 * jscan.h - the journal's record format, and the one function that
 * judges a journal file's bytes.  No LMDB here: the daemon (journal.c,
 * damage.c), the unit tests and the fuzzer (tests/fuzz/fuzz_journal.c)
 * all read journal bytes through journal_scan().
 *
 * A record: struct jrec_head, then per entry a struct jrec_event, with
 * JREC_MULT a uint32_t n - 1 (the entry stands for n events: a line's
 * *n), then the video and type bytes.  A record whose entries are all
 * single events has no JREC_MULT and is byte for byte what countfs 0.6.0
 * wrote, so journals of either read alike.  Records of one file have
 * increasing numbers.
 * The check covers everything after itself (seq onwards), so a flipped
 * bit anywhere but in len is seen in its own record, and a flipped len
 * is seen in the record it makes of the bytes that follow.
 */
#ifndef COUNTFS_STORE_JSCAN_H
#define COUNTFS_STORE_JSCAN_H

#include <stddef.h>
#include <stdint.h>

struct jrec_head {
	uint32_t len; /* of the whole record */
	uint32_t check;
	uint64_t seq;
	uint32_t now;
	uint32_t n; /* entries, with JREC_MULT */
};

/* In jrec_head.n: each jrec_event is followed by a uint32_t n - 1.  A
 * record's length fits 32 bits and an entry takes 15 bytes at least, so
 * its entries stay below 2^29: the bit is free in every record written. */
#define JREC_MULT (UINT32_C(1) << 31)

struct jrec_event {
	int64_t value;
	uint32_t ts;
	uint8_t vlen, tlen;
} __attribute__((packed));

/* The entries of a record, and the bytes each takes besides its names. */
static inline uint32_t jrec_entries(const struct jrec_head *h)
{
	return h->n & ~JREC_MULT;
}

static inline size_t jrec_entry_size(const struct jrec_head *h)
{
	return sizeof(struct jrec_event) +
	       (h->n & JREC_MULT ? sizeof(uint32_t) : 0);
}

#define JREC_CHECKED_FROM offsetof(struct jrec_head, seq)

/* The check value of @len bytes (a record from JREC_CHECKED_FROM on). */
uint32_t jrec_check(const unsigned char *p, size_t len);

enum jscan_status {
	JSCAN_OK,	/* whole records to the end */
	JSCAN_TORN,	/* then a tail a crash can leave: a last record cut
			   short, or zero bytes */
	JSCAN_CORRUPT, /* then bytes no crash leaves: damage */
};

struct jscan {
	enum jscan_status status;
	size_t good;	    /* bytes of whole, checked records from the start */
	size_t records;	    /* how many */
	size_t events;	    /* entries in them (a *n entry is one) */
	uint64_t first_seq; /* of the first and last of them (0: none) */
	uint64_t last_seq;
	const char *why;    /* JSCAN_TORN or _CORRUPT: what is at @good */
};

/*
 * Judge the @len bytes of a journal file.  Pure: reads @buf only, never
 * fails.  The bytes past @good are a torn tail only when nothing in them
 * says more was written: fewer bytes than a header, or a record whose
 * length runs past the end while every event present before the end
 * reads well and its number is above the one before, or only zero bytes.
 * Anything else (a bad check value, a length that ends inside the file on
 * bytes that are not a record, a number that does not grow) is damage.
 */
void journal_scan(const unsigned char *buf, size_t len, struct jscan *out);

/*
 * After damage at @from: the offset of the next whole, checked record
 * numbered above @after (and not absurdly far above it), or @len when
 * none follows.  For recovery: slow on purpose-made garbage, never wrong
 * about what it returns being a whole record.
 */
size_t journal_resync(const unsigned char *buf, size_t len, size_t from,
		      uint64_t after);

/* Map room the record at @rec (whole and checked) may need once applied:
 * its events that open a new (video, type, second) compared with the
 * event before, times the room one such key takes (JREC_ROOM_PER_KEY). */
uint64_t jrec_room(const unsigned char *rec);

/*
 * Each new key (data format 3, keys.h) adds at most: a head with its
 * series key and a name entry (up to ~420 bytes with the longest names),
 * or a bucket in each of the four open packs of an existing head (up to
 * 41 bytes each with large values; a pack a head pushes out moves bytes
 * already counted), 2 pending rows (26 each), and an entry in the top
 * lists of its minute, hour and day (15 bytes each): under 850 bytes.
 * Measured: 1 M new series through /ingest took ~110 bytes of pages in
 * use each, and ~150 more held by LMDB's freelist at the end (format 2
 * took 487 with copy-on-write included); 1 KiB stays a bound.  An event
 * that repeats the key before it (a write of empty lines to one counter
 * file) changes buckets already counted.  The pages an apply copies come
 * on top (journal.c, journal_room()).
 */
#define JREC_ROOM_PER_KEY 1024

#endif
