/*
 * test_inode.c - the inode table against a model, on random lookups and
 * forgets, then from several threads at once.  Prints TAP; COUNTFS_SEED
 * replays a draw.
 */
#include "../../fs/inode.h"
#include "rand.h"
#include "tap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Names at every depth, valid and not: a walk from the root down picks
 * among them, so that both kinds are met under each kind of node. */
static const char *const names[] = {
    "videos", "v1",	 "v2",	   "views", "events", "range", "likes",
    "count",  "10-20", "10-",	   "avg",   "global", "stats", "ingest",
    "nope",   "20-10", "..",	   ".",	    "a b",    "0100-2"};
#define NNAMES (sizeof(names) / sizeof(names[0]))

/* The model: what the kernel holds, by path. */
#define HELD_MAX 4096
static struct held {
	struct inode *in;
	char path[INODE_PATH_MAX];
	uint64_t nlookup;
} held[HELD_MAX];
static size_t nheld;

static struct held *model_find(const char *path)
{
	for (size_t i = 0; i < nheld; i++)
		if (strcmp(held[i].path, path) == 0)
			return &held[i];
	return NULL;
}

static void path_of(const struct inode *parent, bool root, const char *name,
		    char *out)
{
	snprintf(out, INODE_PATH_MAX, "%s/%s", root ? "" : parent->path,
		 name);
}

static int failures;

static void check(bool cond, const char *what)
{
	if (!cond && failures++ < 5)
		printf("#   %s\n", what);
}

static void lookup_one(struct inode_table *t)
{
	struct inode *parent = t->root, *in;
	bool root = true;
	char path[INODE_PATH_MAX];
	struct node n;

	if (nheld && rnd() % 4) {
		parent = held[rnd() % nheld].in;
		root = false;
	}
	const char *name = names[rnd() % NNAMES];
	path_of(parent, root, name, path);
	int rc = inode_lookup(t, parent, name, &in);
	bool valid = path_parse(path, &n) == 0;
	check(rc == (valid ? 0 : -ENOENT), "lookup answers as path_parse");
	if (rc)
		return;
	check(strcmp(in->path, path) == 0, "the inode's path is the path");
	check(in->node.kind == n.kind, "its node is the path's");
	struct held *h = model_find(path);
	if (h) {
		check(h->in == in, "a held path keeps its inode");
		h->nlookup++;
	} else if (nheld < HELD_MAX) {
		h = &held[nheld++];
		h->in = in;
		snprintf(h->path, sizeof(h->path), "%s", path);
		h->nlookup = 1;
	} else { /* the model is full: the kernel lets go at once */
		inode_forget(t, in, 1);
	}
}

static void forget_one(struct inode_table *t)
{
	if (!nheld)
		return;
	size_t i = rnd() % nheld;
	/* Mostly one at a time (a dentry let go), sometimes all at once. */
	uint64_t n = rnd() % 8 ? 1 : held[i].nlookup;
	inode_forget(t, held[i].in, n);
	held[i].nlookup -= n;
	if (held[i].nlookup == 0)
		held[i] = held[--nheld];
}

static void test_model(void)
{
	struct inode_table t;

	size_t peak = 0, peak_buckets = 0;

	is_int(inode_table_init(&t), 0, "a table is made");
	/* Growing (most lookups of a walk name nothing new), then
	 * shrinking. */
	for (int round = 0; round < 200000; round++) {
		if (rnd() % 100 < (round < 100000 ? 95 : 30))
			lookup_one(&t);
		else
			forget_one(&t);
		if (round % 1000 == 0)
			check(inode_count(&t) == nheld, "count is what is held");
		if (nheld > peak) {
			peak = nheld;
			peak_buckets = t.nbuckets;
		}
	}
	ok(peak > 300 && peak_buckets >= peak / 2,
	   "it grew: %zu inodes in %zu buckets at the peak", peak,
	   peak_buckets);
	is_int(inode_count(&t), nheld, "the table holds what the kernel does");
	while (nheld)
		forget_one(&t);
	is_int(inode_count(&t), 0, "every forget given back: nothing held");
	ok(t.nbuckets <= 128, "the buckets shrank back (%zu)", t.nbuckets);
	is_int(failures, 0, "random lookups and forgets agree with the model");
	inode_table_free(&t);
}

static void test_edges(void)
{
	struct inode_table t;
	struct inode *a, *b, *c;
	char longname[INODE_PATH_MAX + 10];

	inode_table_init(&t);
	ok(strcmp(t.root->path, "/") == 0 && t.root->node.kind == NODE_ROOT,
	   "the root is /");
	is_int(inode_lookup(&t, t.root, "videos", &a), 0, "/videos");
	is_int(inode_lookup(&t, a, "x", &b), 0, "/videos/x");
	ok(strcmp(b->path, "/videos/x") == 0 && b->node.video_len == 1 &&
	       b->node.video == b->path + 8,
	   "a node's names point into its own path");
	is_int(inode_lookup(&t, t.root, "videos", &c), 0, "/videos again");
	ok(a == c && a->nlookup == 2, "the same inode, two lookups");
	inode_forget(&t, a, 2);
	is_int(inode_count(&t), 1, "forgotten: /videos/x is left");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	is_int(inode_lookup(&t, b, longname, &c), -ENOENT,
	       "a path over INODE_PATH_MAX names nothing");
	inode_forget(&t, t.root, 5);
	is_int(t.root->nlookup, 0, "the root's count stops at 0...");
	is_int(inode_lookup(&t, t.root, "stats", &c), 0, "...and it stays");
	inode_forget(&t, c, 1);
	inode_forget(&t, b, 1);
	is_int(inode_count(&t), 0, "empty");
	inode_table_free(&t);
}

/* Threads looking up and forgetting the same few paths: each gives back
 * what it took, so nothing is left, and ASan sees no use after free. */
struct racer {
	struct inode_table *t;
	uint64_t seed;
	int bad;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct inode *dir, *in;
	uint64_t s = r->seed;

	for (int i = 0; i < 20000; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		if (inode_lookup(r->t, r->t->root, "videos", &dir)) {
			r->bad++;
			continue;
		}
		char name[8];
		snprintf(name, sizeof(name), "v%u", (unsigned)(s >> 60));
		if (inode_lookup(r->t, dir, name, &in) ||
		    strcmp(in->path + 8, name) != 0)
			r->bad++;
		else
			inode_forget(r->t, in, 1);
		inode_forget(r->t, dir, 1);
	}
	return NULL;
}

static void test_threads(void)
{
	struct inode_table t;
	struct racer r[4];
	pthread_t th[4];
	int bad = 0;

	inode_table_init(&t);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){&t, rnd(), 0};
		pthread_create(&th[i], NULL, race, &r[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		bad += r[i].bad;
	}
	is_int(bad, 0, "4 threads: every lookup found its own path");
	is_int(inode_count(&t), 0, "and what they took is given back");
	inode_table_free(&t);
}

int main(void)
{
	const char *seed = getenv("COUNTFS_SEED");

	rng_state = seed ? strtoull(seed, NULL, 10) : (uint64_t)time(NULL);
	printf("# seed %" PRIu64 "\n", rng_state);
	test_edges();
	test_model();
	test_threads();
	return tap_done();
}
