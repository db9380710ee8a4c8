/*
 * range_model.h - the store opened for a unit test of ranges, and the
 * model of store_range()'s rule (test_range.c explains it): at a given
 * now the time axis is cut into leaves, days, hours, minutes, seconds,
 * and an event counts in [a, b) when the start of its leaf does.
 */
#ifndef COUNTFS_RANGE_MODEL_H
#define COUNTFS_RANGE_MODEL_H

#include "../../store/store.h"

#include <stdint.h>
#include <string.h>

#define MIN_S 60u
#define HOUR_S 3600u
#define DAY_S 86400u

/* A store whose background thread never runs retention: each test
 * expires by hand, at the now it chooses, not the machine's clock. */
static inline struct store *open_store(const char *dir, const uint32_t keep[4])
{
	struct store_config cfg;
	struct store *st = NULL;

	store_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.shards = 1;
	memcpy(cfg.keep, keep, sizeof(cfg.keep));
	cfg.retain_interval = ~0u;
	if (store_open(&cfg, &st))
		return NULL;
	return st;
}

static inline uint64_t up(int64_t t, uint64_t size)
{
	return t <= 0 ? 0 : ((uint64_t)t + size - 1) / size * size;
}

struct model {
	uint64_t zs, zm, zh, zd; /* where seconds, minutes, hours, days begin */
};

static inline struct model model_at(const uint32_t keep[4], uint32_t now)
{
	struct model m;
	int64_t n = now;

	m.zd = keep[3] ? up(n - keep[3], DAY_S) : 0;
	m.zh = keep[2] ? up(n - keep[2], DAY_S) : 0;
	m.zh = m.zh > m.zd ? m.zh : m.zd;
	m.zm = keep[1] ? up(n - keep[1], HOUR_S) : 0;
	m.zm = m.zm > m.zh ? m.zm : m.zh;
	m.zs = keep[0] ? up(n - keep[0], MIN_S) : 0;
	m.zs = m.zs > m.zm ? m.zs : m.zm;
	return m;
}

/* The start of the leaf holding @t, or -1 when @t counts nowhere. */
static inline int64_t leaf_of(const struct model *m, uint32_t t)
{
	uint64_t size = t >= m->zs ? 1 : t >= m->zm ? MIN_S
				  : t >= m->zh ? HOUR_S
				  : t >= m->zd ? DAY_S
					       : 0;
	return size ? (int64_t)(t - t % size) : -1;
}

struct event {
	uint32_t t;
	int64_t v;
};

/* The aggregate of the events @ev[0..n) whose leaf starts in [a, b). */
static inline struct store_agg model_sum(const struct model *m,
					 const struct event *ev, size_t n,
					 uint32_t a, uint32_t b)
{
	struct store_agg r = {0, 0, 0, 0};

	for (size_t i = 0; i < n; i++) {
		int64_t l = leaf_of(m, ev[i].t), v = ev[i].v;
		if (l < a || l >= b)
			continue;
		if (r.count++ == 0)
			r.min = r.max = v;
		r.sum += v;
		r.min = v < r.min ? v : r.min;
		r.max = v > r.max ? v : r.max;
	}
	return r;
}

/* Step @i of the series [start, end) by @step: the window
 * [t, min(t + step, end)) with t = start + i * step. */
static inline void series_window(uint32_t start, uint32_t end, uint32_t step,
				 uint64_t i, uint32_t *a, uint32_t *b)
{
	uint64_t t = start + i * step, u = t + step;

	*a = (uint32_t)t;
	*b = u < end ? (uint32_t)u : end;
}

/* Fold @x into @s, as two adjacent windows make their union. */
static inline void agg_join(struct store_agg *s, const struct store_agg *x)
{
	if (x->count == 0)
		return;
	if (s->count == 0) {
		*s = *x;
		return;
	}
	s->count += x->count;
	s->sum += x->sum;
	s->min = x->min < s->min ? x->min : s->min;
	s->max = x->max > s->max ? x->max : s->max;
}

#endif
