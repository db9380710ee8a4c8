/*
 * hash.h - FNV-1a 64, the one hash of countfs's in-memory tables and of
 * the shard a video lives on.  The shard hash decides where data lies on
 * disk and in MySQL: fnv1a() must never change (tests/unit/test_store.c
 * pins its values).
 */
#ifndef COUNTFS_HASH_H
#define COUNTFS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_INIT 0xcbf29ce484222325ULL

/* @h (FNV1A_INIT to start) carried over @n bytes at @p. */
static inline uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

#endif
