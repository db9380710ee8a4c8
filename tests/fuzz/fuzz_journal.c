/*
 * fuzz_journal.c - libFuzzer target: journal_scan(), the judge of a
 * journal file's bytes at start (store/jscan.c), which reads whatever is
 * on disk.
 *
 * The first byte picks the mode: even, the rest is the file as is; odd,
 * each record's check value is set right first, so that the fuzzer can
 * reach the lengths, events (with and without JREC_MULT, n per entry)
 * and numbers behind the check.  Whatever the
 * bytes: the verdict is consistent (OK exactly when every byte is in a
 * whole record), the whole records rescan as OK, walk as records of
 * growing numbers, any cut inside the last of them is a torn tail, and
 * after damage journal_resync() stops only at a whole, later record.
 */
#include "../../store/jscan.h"

#include <stdlib.h>
#include <string.h>

static void fix_checks(unsigned char *b, size_t len)
{
	for (size_t off = 0; len - off >= sizeof(struct jrec_head);) {
		struct jrec_head h;
		memcpy(&h, b + off, sizeof(h));
		if (h.len < sizeof(h) || h.len > len - off)
			return;
		h.check = jrec_check(b + off + JREC_CHECKED_FROM,
				     h.len - JREC_CHECKED_FROM);
		memcpy(b + off, &h, sizeof(h));
		off += h.len;
	}
}

/* The whole records of @b: walk them as the daemon does. */
static void walk(const unsigned char *b, const struct jscan *js,
		 size_t *last)
{
	size_t off = 0, n = 0, events = 0;
	uint64_t seq = 0;

	while (off < js->good) {
		struct jrec_head h;
		memcpy(&h, b + off, sizeof(h));
		if (h.len < sizeof(h) || h.len > js->good - off)
			abort();
		if (n && h.seq <= seq)
			abort();
		if (jrec_room(b + off) > (uint64_t)jrec_entries(&h) * JREC_ROOM_PER_KEY)
			abort();
		seq = h.seq;
		*last = off;
		off += h.len;
		events += jrec_entries(&h);
		n++;
	}
	if (n != js->records || events != js->events ||
	    (n && (seq != js->last_seq || js->first_seq > seq)))
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t len = size - 1;
	unsigned char *b = malloc(len ? len : 1);
	struct jscan js, again;
	size_t last = 0;

	memcpy(b, data + 1, len);
	if (data[0] & 1)
		fix_checks(b, len);
	journal_scan(b, len, &js);
	if (js.good > len || (js.status == JSCAN_OK) != (js.good == len))
		abort();
	if (js.status != JSCAN_OK && !js.why)
		abort();
	walk(b, &js, &last);

	journal_scan(b, js.good, &again);
	if (again.status != JSCAN_OK || again.good != js.good ||
	    again.records != js.records || again.last_seq != js.last_seq)
		abort();
	/* After damage, recovery resumes only at a whole, later record. */
	if (js.status == JSCAN_CORRUPT) {
		size_t next = journal_resync(b, len, js.good, js.last_seq);
		if (next <= js.good || next > len)
			abort();
		journal_scan(b + next, len - next, &again);
		if (next < len &&
		    (again.records == 0 || again.first_seq <= js.last_seq))
			abort();
	}
	/* A write cut short anywhere in the last record is a torn tail. */
	if (js.records) {
		size_t cut = last + (js.good - last) / 2;
		journal_scan(b, cut, &again);
		if (again.status != JSCAN_TORN || again.good != last)
			abort();
	}
	free(b);
	return 0;
}
