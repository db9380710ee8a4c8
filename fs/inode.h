/*
 * inode.h - the inodes the kernel holds.
 *
 * The low-level FUSE API names files by inode number.  Each path the
 * kernel looked up has one struct inode, found again by its path while
 * the kernel holds it (so a path keeps its number), with the count of
 * lookups the kernel has not yet forgotten; the last forget frees it.
 * The table holds no more than the kernel does.  The root is always
 * there and never freed.
 *
 * An inode's path and node never change once it is made: a caller that
 * holds one of its lookups (a request the kernel sent about it) reads
 * them without a lock.  Only nlookup and the hash chains are guarded by
 * the table's lock.
 */
#ifndef COUNTFS_INODE_H
#define COUNTFS_INODE_H

#include "path.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* A path longer than this names nothing (path_parse would refuse it). */
#define INODE_PATH_MAX 1024

struct inode {
	struct inode *next; /* in its hash bucket */
	uint64_t hash;
	uint64_t nlookup;  /* the kernel's references; under the lock */
	struct node node;  /* its names point into path */
	size_t path_len;
	char path[];	   /* "/" for the root, else "/videos/v/views" */
};

struct inode_table {
	pthread_mutex_t lock; /* guards buckets, nbuckets, count, nlookup */
	struct inode **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;	 /* inodes in buckets (not the root) */
	struct inode *root;
};

/* 0, or -ENOMEM. */
int inode_table_init(struct inode_table *t);

/* Free every inode, the root included; nothing may use them after. */
void inode_table_free(struct inode_table *t);

/*
 * The child @name of @parent, in *@out, with one more lookup counted:
 * the same inode for the same path as long as it is held.  Errors:
 * -ENOENT when the path names nothing (path_parse, or longer than
 * INODE_PATH_MAX), -ENOMEM.  Thread-safe.
 */
int inode_lookup(struct inode_table *t, const struct inode *parent,
		 const char *name, struct inode **out);

/* Give back @n lookups of @in, which is freed when none is left (never
 * the root).  Thread-safe. */
void inode_forget(struct inode_table *t, struct inode *in, uint64_t n);

/* Inodes held but the root (for /stats and tests).  Thread-safe. */
size_t inode_count(struct inode_table *t);

#endif
