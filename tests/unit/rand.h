/*
 * rand.h - the unit tests' random numbers: splitmix64, seeded by the
 * test (COUNTFS_SEED reruns a draw), so that a failure can be replayed.
 */
#ifndef COUNTFS_RAND_H
#define COUNTFS_RAND_H

#include <stdint.h>

static uint64_t rng_state;

static inline uint64_t rnd(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline int64_t between(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

#endif
