/*
 * inode.c - the inode table: a hash of paths to what the kernel holds.
 *
 * Chained buckets, doubled when there are more inodes than buckets and
 * halved when there are eight times fewer, so that memory follows what
 * the kernel holds both ways.  A lookup of a path already held costs a
 * path built on the stack, a hash and a compare; only a new one
 * allocates and parses.
 */
#include "inode.h"

#include "../common/hash.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MIN_BUCKETS 64

static uint64_t hash_path(const char *s, size_t n)
{
	return fnv1a(FNV1A_INIT, s, n);
}

/* A new inode for @path (@len bytes), parsed; -ENOENT or -ENOMEM. */
static int inode_new(const char *path, size_t len, uint64_t hash,
		     struct inode **out)
{
	struct inode *in = malloc(sizeof(*in) + len + 1);

	if (!in)
		return -ENOMEM;
	memcpy(in->path, path, len);
	in->path[len] = '\0';
	in->path_len = len;
	in->hash = hash;
	in->nlookup = 0;
	in->next = NULL;
	/* Parsed on its own copy: the node's names point into it. */
	if (path_parse(in->path, &in->node)) {
		free(in);
		return -ENOENT;
	}
	*out = in;
	return 0;
}

int inode_table_init(struct inode_table *t)
{
	int rc;

	memset(t, 0, sizeof(*t));
	t->buckets = calloc(MIN_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = MIN_BUCKETS;
	if ((rc = inode_new("/", 1, hash_path("/", 1), &t->root))) {
		free(t->buckets);
		return rc;
	}
	t->root->nlookup = 1;
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

void inode_table_free(struct inode_table *t)
{
	for (size_t b = 0; b < t->nbuckets; b++) {
		struct inode *in = t->buckets[b], *next;
		for (; in; in = next) {
			next = in->next;
			free(in);
		}
	}
	free(t->buckets);
	free(t->root);
	pthread_mutex_destroy(&t->lock);
	memset(t, 0, sizeof(*t));
}

/* Move every inode to @n buckets; with the lock held.  Without memory
 * the table keeps its size: longer chains, still correct. */
static void rehash_locked(struct inode_table *t, size_t n)
{
	struct inode **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct inode *in = t->buckets[i], *next;
		for (; in; in = next) {
			next = in->next;
			in->next = b[in->hash & (n - 1)];
			b[in->hash & (n - 1)] = in;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

static struct inode **slot_locked(struct inode_table *t, const char *path,
				  size_t len, uint64_t hash)
{
	struct inode **p = &t->buckets[hash & (t->nbuckets - 1)];

	for (; *p; p = &(*p)->next)
		if ((*p)->hash == hash && (*p)->path_len == len &&
		    memcmp((*p)->path, path, len) == 0)
			break;
	return p;
}

/* Find the inode of @path and count a lookup; NULL if not held. */
static struct inode *find_locked(struct inode_table *t, const char *path,
				 size_t len, uint64_t hash)
{
	struct inode *in = *slot_locked(t, path, len, hash);

	if (in)
		in->nlookup++;
	return in;
}

int inode_lookup(struct inode_table *t, const struct inode *parent,
		 const char *name, struct inode **out)
{
	size_t plen = parent == t->root ? 0 : parent->path_len;
	size_t nlen = strlen(name), len = plen + 1 + nlen;
	char path[INODE_PATH_MAX];
	struct inode *in, *fresh;
	uint64_t hash;
	int rc;

	if (len >= sizeof(path))
		return -ENOENT;
	memcpy(path, parent->path, plen);
	path[plen] = '/';
	memcpy(path + plen + 1, name, nlen);
	hash = hash_path(path, len);

	pthread_mutex_lock(&t->lock);
	in = find_locked(t, path, len, hash);
	pthread_mutex_unlock(&t->lock);
	if (in) {
		*out = in;
		return 0;
	}
	/* Parsed and allocated outside the lock; another lookup of the same
	 * path may have added it meanwhile, and then that one is kept. */
	if ((rc = inode_new(path, len, hash, &fresh)))
		return rc;
	pthread_mutex_lock(&t->lock);
	if (!(in = find_locked(t, path, len, hash))) {
		struct inode **b = &t->buckets[hash & (t->nbuckets - 1)];
		in = fresh;
		fresh = NULL;
		in->nlookup = 1;
		in->next = *b;
		*b = in;
		if (++t->count > t->nbuckets)
			rehash_locked(t, t->nbuckets * 2);
	}
	pthread_mutex_unlock(&t->lock);
	free(fresh);
	*out = in;
	return 0;
}

void inode_forget(struct inode_table *t, struct inode *in, uint64_t n)
{
	bool gone = false;

	pthread_mutex_lock(&t->lock);
	in->nlookup = in->nlookup > n ? in->nlookup - n : 0;
	if (in != t->root && in->nlookup == 0) {
		struct inode **p = slot_locked(t, in->path, in->path_len,
					       in->hash);
		if (*p == in) {
			*p = in->next;
			gone = true;
			if (--t->count < t->nbuckets / 8 &&
			    t->nbuckets > MIN_BUCKETS)
				rehash_locked(t, t->nbuckets / 2);
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (gone)
		free(in);
}

size_t inode_count(struct inode_table *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
