/*
 * jscan.c - judging a journal file's bytes (see jscan.h): whole records,
 * a torn tail a crash can leave, or damage.  Pure functions over a
 * buffer, shared by the daemon and the fuzzer.
 */
#include "jscan.h"

#include "store.h"

#include <stdbool.h>
#include <string.h>

uint32_t jrec_check(const unsigned char *p, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	h ^= h >> 29;
	return (uint32_t)(h ^ h >> 32);
}

static bool event_ok(const struct jrec_event *e)
{
	return e->vlen > 0 && e->vlen <= STORE_VIDEO_MAX && e->tlen > 0 &&
	       e->tlen <= STORE_TYPE_MAX;
}

/*
 * Walk the events of the record at @rec over at most @avail bytes.
 * Returns where the events end (the record's true length), or 0 when an
 * event reads badly; *@cut is set when the bytes ended first.
 */
static size_t walk_events(const unsigned char *rec, size_t avail, bool *cut)
{
	struct jrec_head h;
	size_t off = sizeof(h);

	memcpy(&h, rec, sizeof(h));
	*cut = false;
	size_t esize = jrec_entry_size(&h);
	for (uint32_t i = 0; i < jrec_entries(&h); i++) {
		struct jrec_event e;
		if (off + esize > avail) {
			*cut = true;
			return off;
		}
		memcpy(&e, rec + off, sizeof(e));
		if (!event_ok(&e))
			return 0;
		off += esize + e.vlen + e.tlen;
		if (off > avail) {
			*cut = true;
			return off;
		}
	}
	return off;
}

static bool all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* The bytes from @off on, where no whole record starts: torn or damage? */
static void judge_rest(const unsigned char *buf, size_t len, size_t off,
		       struct jscan *out)
{
	const unsigned char *rec = buf + off;
	size_t rest = len - off;
	struct jrec_head h;
	bool cut;

	out->status = JSCAN_CORRUPT;
	if (all_zero(rec, rest)) {
		out->status = JSCAN_TORN;
		out->why = "zero bytes after the last record";
		return;
	}
	if (rest < sizeof(h)) {
		out->status = JSCAN_TORN;
		out->why = "a record header cut short";
		return;
	}
	memcpy(&h, rec, sizeof(h));
	if (h.len < sizeof(h)) {
		out->why = "a record length shorter than a header";
		return;
	}
	if (out->records && h.seq <= out->last_seq) {
		out->why = h.len > rest ? "a record cut short whose number "
					  "is below the one before it"
					: "a record that fails its check";
		return;
	}
	if (h.len <= rest) {
		out->why = "a record that fails its check";
		return;
	}
	/* Longer than the file: a write cut short, if what is there of its
	 * events reads well and they do not end before the file does. */
	size_t end = walk_events(rec, rest, &cut);
	if (end == 0 || !cut) {
		out->why = "a record length that overruns the file, followed "
			   "by bytes that are not its events";
		return;
	}
	out->status = JSCAN_TORN;
	out->why = "a last record cut short";
}

void journal_scan(const unsigned char *buf, size_t len, struct jscan *out)
{
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	while (len - off >= sizeof(struct jrec_head)) {
		struct jrec_head h;
		bool cut;
		memcpy(&h, buf + off, sizeof(h));
		if (h.len < sizeof(h) || h.len > len - off ||
		    jrec_check(buf + off + JREC_CHECKED_FROM,
			       h.len - JREC_CHECKED_FROM) != h.check ||
		    walk_events(buf + off, h.len, &cut) != h.len || cut)
			break;
		if (out->records && h.seq <= out->last_seq) {
			out->good = off;
			out->status = JSCAN_CORRUPT;
			out->why = "a record numbered below the one before it";
			return;
		}
		if (!out->records)
			out->first_seq = h.seq;
		out->last_seq = h.seq;
		out->records++;
		out->events += jrec_entries(&h);
		off += h.len;
	}
	out->good = off;
	if (off < len)
		judge_rest(buf, len, off, out);
}

/* Is there a whole, checked record numbered above @after at @off? */
static bool record_at(const unsigned char *buf, size_t len, size_t off,
		      uint64_t after)
{
	struct jrec_head h;
	bool cut;

	if (len - off < sizeof(h))
		return false;
	memcpy(&h, buf + off, sizeof(h));
	/* Cheap tests first: most offsets fail on the number. */
	return h.len >= sizeof(h) && h.len <= len - off && h.seq > after &&
	       (after == 0 || h.seq - after <= len / sizeof(h)) &&
	       jrec_check(buf + off + JREC_CHECKED_FROM,
			  h.len - JREC_CHECKED_FROM) == h.check &&
	       walk_events(buf + off, h.len, &cut) == h.len && !cut;
}

size_t journal_resync(const unsigned char *buf, size_t len, size_t from,
		      uint64_t after)
{
	for (size_t off = from + 1; off < len; off++)
		if (record_at(buf, len, off, after))
			return off;
	return len;
}

uint64_t jrec_room(const unsigned char *rec)
{
	struct jrec_head h;
	const unsigned char *p = rec + sizeof(h), *prev = NULL;
	uint64_t keys = 0;

	memcpy(&h, rec, sizeof(h));
	size_t esize = jrec_entry_size(&h);
	for (uint32_t i = 0; i < jrec_entries(&h); i++) {
		struct jrec_event e, pe;
		memcpy(&e, p, sizeof(e));
		size_t names = (size_t)e.vlen + e.tlen;
		bool same = false;
		if (prev) {
			memcpy(&pe, prev, sizeof(pe));
			same = pe.ts == e.ts && pe.vlen == e.vlen &&
			       pe.tlen == e.tlen &&
			       memcmp(prev + esize, p + esize, names) == 0;
		}
		keys += !same;
		prev = p;
		p += esize + names;
	}
	return keys * JREC_ROOM_PER_KEY;
}
