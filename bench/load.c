/*
 * load.c - the load generator of `make bench`: one subcommand per
 * workload, each printing one line "key=value ..." that bench/run.sh
 * reads.  Rates are operations (or events) per second; latencies are in
 * microseconds.
 *
 *   load append SECS WRITERS FILE...    writer i appends "\n" to FILE[i % n]
 *   load read SECS FILE                 pread(fd, 0) in a loop: rate, p50, p99
 *   load readall SECS FILE              the same, each time to the end of
 *                                       the file (a series): also bytes=
 *   load ingest SECS MNT VIDEOS S       64 KiB /ingest writes, Zipf(S) videos
 *   load steady SECS RATE MNT VIDEOS [EVERY]
 *                                       RATE events/s over VIDEOS videos
 *                                       (batches every 10 ms), uniform; every
 *                                       EVERY seconds a "progress" line on
 *                                       stderr
 *   load distinct MNT N                 N distinct videos, one event each
 *   load feed MNT EVENTS VIDEOS DIST    EVENTS lines over videos v0..v(VIDEOS-1),
 *                                       pre-generated, in 64 KiB writes; DIST
 *                                       "even": each video EVENTS/VIDEOS times,
 *                                       in random order; or a Zipf exponent.
 *                                       Then waits for the journal to be
 *                                       applied: rate= counts until then,
 *                                       acked= until the last write returned
 *   load waitread FILE TIMEOUT [SINCE]  seconds until FILE opens and reads,
 *                                       from SINCE (Unix time) if given
 *   load readrand SECS MNT VIDEOS K FILE
 *                                       pread of videos/vI/FILE, I random among
 *                                       K of the VIDEOS opened first
 *   load upsert SECS CONNS SOCKET       naive MariaDB upsert per event
 *   load sqlrange SECS SOCKET LEN...    SELECT SUM over LEN seconds of minutes
 *   load sqlload SOCKET START MINUTES   a year of minute rows for one video
 *   load follow MNT READERS VIDEOS HOLD CHANGES BATCH [PID]
 *                                       READERS threads block in reads of
 *                                       videos/fJ/follow (J = i % VIDEOS);
 *                                       once parked, measures the daemon
 *                                       PID's CPU for 2 s, prints "parked"
 *                                       on stderr and holds HOLD seconds,
 *                                       then CHANGES times appends a view
 *                                       to each of BATCH followed videos
 *                                       (in turn) and times the wake-up of
 *                                       each of their readers
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mysql.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Latencies in microseconds, 0..99999, for percentiles. */
#define LAT_MAX 100000
struct lat {
	uint64_t n[LAT_MAX];
	uint64_t total;
};

static void lat_add(struct lat *l, double seconds)
{
	uint64_t us = (uint64_t)(seconds * 1e6);
	l->n[us < LAT_MAX ? us : LAT_MAX - 1]++;
	l->total++;
}

static double lat_pct(const struct lat *l, double p)
{
	uint64_t want = (uint64_t)ceil(p * (double)l->total), seen = 0;
	for (int i = 0; i < LAT_MAX; i++) {
		seen += l->n[i];
		if (seen >= want && want > 0)
			return i + 0.5;
	}
	return LAT_MAX;
}

/* ---- appends ---------------------------------------------------- */

struct appender {
	const char *file;
	double secs;
	uint64_t ops;
	pthread_t t;
};

static void *append_loop(void *arg)
{
	struct appender *a = arg;
	int fd = open(a->file, O_WRONLY | O_APPEND);
	if (fd < 0)
		die(a->file);
	double end = now_s() + a->secs;
	while (1) {
		for (int i = 0; i < 64; i++) {
			if (write(fd, "\n", 1) != 1)
				die("write");
			a->ops++;
		}
		if (now_s() >= end)
			break;
	}
	close(fd);
	return NULL;
}

static int cmd_append(int argc, char **argv)
{
	double secs = atof(argv[0]);
	int writers = atoi(argv[1]), nfiles = argc - 2;
	struct appender *a = calloc((size_t)writers, sizeof(*a));
	uint64_t ops = 0;

	double t0 = now_s();
	for (int i = 0; i < writers; i++) {
		a[i].file = argv[2 + i % nfiles];
		a[i].secs = secs;
		pthread_create(&a[i].t, NULL, append_loop, &a[i]);
	}
	for (int i = 0; i < writers; i++) {
		pthread_join(a[i].t, NULL);
		ops += a[i].ops;
	}
	printf("rate=%.0f ops=%llu\n", (double)ops / (now_s() - t0),
	       (unsigned long long)ops);
	free(a);
	return 0;
}

/* ---- reads ------------------------------------------------------ */

/* pread at 0 in a loop for SECS; with @all, on to the end of the file
 * each time, as cat reads it (a series). */
static int read_loop(char **argv, bool all)
{
	double secs = atof(argv[0]);
	static struct lat l;
	static char buf[65536];
	size_t cap = all ? sizeof(buf) : 64;
	int fd = open(argv[1], O_RDONLY);
	off_t off = 0;
	ssize_t r;

	if (fd < 0)
		die(argv[1]);
	double t0 = now_s(), end = t0 + secs, t = t0;
	while (t < end) {
		off = 0;
		do {
			if ((r = pread(fd, buf, cap, off)) < 0)
				die("pread");
			off += r;
		} while (all && r > 0);
		double t1 = now_s();
		lat_add(&l, t1 - t);
		t = t1;
	}
	printf("rate=%.0f p50=%.1f p99=%.1f bytes=%lld\n",
	       (double)l.total / (t - t0), lat_pct(&l, 0.5), lat_pct(&l, 0.99),
	       (long long)off);
	return 0;
}

static int cmd_read(int argc, char **argv)
{
	(void)argc;
	return read_loop(argv, false);
}

static int cmd_readall(int argc, char **argv)
{
	(void)argc;
	return read_loop(argv, true);
}

/* ---- /ingest ------------------------------------------------------ */

/* Zipf(s) sampler over 1..n by inverting a precomputed CDF. */
static double *zipf_cdf(int n, double s)
{
	double *cdf = malloc(sizeof(double) * (size_t)n), sum = 0;
	for (int i = 0; i < n; i++)
		sum += 1.0 / pow(i + 1, s);
	double acc = 0;
	for (int i = 0; i < n; i++) {
		acc += 1.0 / pow(i + 1, s) / sum;
		cdf[i] = acc;
	}
	return cdf;
}

static int zipf_pick(const double *cdf, int n)
{
	double u = drand48();
	int lo = 0, hi = n - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#define CHUNK 65536
#define CHUNKS 256

static int cmd_ingest(int argc, char **argv)
{
	double secs = atof(argv[0]);
	int videos = atoi(argv[2]);
	double *cdf = zipf_cdf(videos, atof(argv[3]));
	char *buf = malloc((size_t)CHUNK * CHUNKS), path[4096];
	size_t len[CHUNKS], lines[CHUNKS];
	uint64_t events = 0;

	(void)argc;
	for (int c = 0; c < CHUNKS; c++) {
		char *p = buf + (size_t)c * CHUNK;
		size_t n = 0, k = 0;
		for (;;) {
			char line[64];
			int l = snprintf(line, sizeof(line), "v%d views\n",
					 zipf_pick(cdf, videos));
			if (n + (size_t)l > CHUNK)
				break;
			memcpy(p + n, line, (size_t)l);
			n += (size_t)l;
			k++;
		}
		len[c] = n;
		lines[c] = k;
	}
	snprintf(path, sizeof(path), "%s/ingest", argv[1]);
	int fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		die(path);
	double t0 = now_s(), end = t0 + secs, t;
	int c = 0;
	do {
		if (write(fd, buf + (size_t)c * CHUNK, len[c]) != (ssize_t)len[c])
			die("write /ingest");
		events += lines[c];
		c = (c + 1) % CHUNKS;
	} while ((t = now_s()) < end);
	printf("rate=%.0f events=%llu\n", (double)events / (t - t0),
	       (unsigned long long)events);
	return 0;
}

/* Paced load: RATE events/s in batches every 10 ms. */
static int cmd_steady(int argc, char **argv)
{
	double secs = atof(argv[0]), rate = atof(argv[1]);
	double every = argc > 4 ? atof(argv[4]) : 0, next = every;
	int videos = atoi(argv[3]);
	char path[4096], *buf = malloc(1 << 20);
	uint64_t sent = 0;

	snprintf(path, sizeof(path), "%s/ingest", argv[2]);
	int fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		die(path);
	double t0 = now_s(), end = t0 + secs, t;
	while ((t = now_s()) < end) {
		uint64_t due = (uint64_t)((t - t0) * rate);
		if (every > 0 && t - t0 >= next) {
			/* behind: events due by now and not yet written. */
			fprintf(stderr, "progress t=%.0f sent=%llu behind=%llu\n",
				t - t0, (unsigned long long)sent,
				(unsigned long long)(due - sent));
			while (next <= t - t0) /* one line, however long it blocked */
				next += every;
		}
		size_t n = 0;
		for (; sent < due && n < (1 << 20) - 64; sent++)
			n += (size_t)sprintf(buf + n, "s%ld views\n",
					     lrand48() % videos);
		if (n && write(fd, buf, n) != (ssize_t)n)
			die("write /ingest");
		usleep(10000);
	}
	printf("rate=%.0f events=%llu\n", (double)sent / (now_s() - t0),
	       (unsigned long long)sent);
	return 0;
}

static int cmd_distinct(int argc, char **argv)
{
	long n = atol(argv[1]);
	char path[4096], *buf = malloc(CHUNK + 64);
	(void)argc;
	snprintf(path, sizeof(path), "%s/ingest", argv[0]);
	int fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		die(path);
	size_t len = 0;
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		len += (size_t)sprintf(buf + len, "d%ld views\n", i);
		if (len > CHUNK - 64 || i == n - 1) {
			if (write(fd, buf, len) != (ssize_t)len)
				die("write /ingest");
			len = 0;
		}
	}
	printf("rate=%.0f videos=%ld\n", (double)n / (now_s() - t0), n);
	return 0;
}

/* ---- the tail: pre-generated feeds and random reads ---------------- */

/*
 * A whole feed in memory, cut into writes of at most CHUNK bytes at line
 * ends, so that generating lines costs nothing while the clock runs.
 */
struct feed {
	char *buf;
	size_t len, cap, start;
	size_t *ends;	 /* end offset of each write */
	uint64_t *lines; /* lines in each write */
	size_t writes;
	uint64_t nlines; /* lines of the write being filled */
};

static void feed_init(struct feed *f, uint64_t events)
{
	*f = (struct feed){0};
	f->cap = (size_t)events * 16 + CHUNK;
	size_t max_writes = f->cap / (CHUNK / 2) + 2;
	f->buf = malloc(f->cap);
	f->ends = malloc(max_writes * sizeof(*f->ends));
	f->lines = malloc(max_writes * sizeof(*f->lines));
	if (!f->buf || !f->ends || !f->lines)
		die("malloc");
}

static void feed_close(struct feed *f)
{
	if (f->len == f->start)
		return;
	f->ends[f->writes] = f->len;
	f->lines[f->writes++] = f->nlines;
	f->start = f->len;
	f->nlines = 0;
}

/* Appends "vID views\n", closing the current write first if it is full. */
static void feed_line(struct feed *f, long id)
{
	char line[32];
	int l = snprintf(line, sizeof(line), "v%ld views\n", id);
	if (f->len + (size_t)l - f->start > CHUNK)
		feed_close(f);
	if (f->len + (size_t)l > f->cap)
		die("feed buffer");
	memcpy(f->buf + f->len, line, (size_t)l);
	f->len += (size_t)l;
	f->nlines++;
}

/* Each of n videos events/n times (the rest once), each pass shuffled. */
static void feed_even(struct feed *f, uint64_t events, long n)
{
	long *ids = malloc(sizeof(*ids) * (size_t)n);
	if (!ids)
		die("malloc");
	for (long i = 0; i < n; i++)
		ids[i] = i;
	for (uint64_t done = 0; done < events;) {
		for (long i = n - 1; i > 0; i--) { /* Fisher-Yates */
			long j = lrand48() % (i + 1), t = ids[i];
			ids[i] = ids[j];
			ids[j] = t;
		}
		for (long i = 0; i < n && done < events; i++, done++)
			feed_line(f, ids[i]);
	}
	free(ids);
}

static void feed_zipf(struct feed *f, uint64_t events, long n, double s)
{
	double *cdf = zipf_cdf((int)n, s);
	for (uint64_t i = 0; i < events; i++)
		feed_line(f, zipf_pick(cdf, (int)n));
	free(cdf);
}

/* The value of the first line of MNT/stats that starts with NAME and a
 * space; -1 when there is none. */
static double stat_value(const char *mnt, const char *name)
{
	static char buf[1 << 20];
	char path[4096];
	size_t len = 0, nl = strlen(name);
	ssize_t r;

	snprintf(path, sizeof(path), "%s/stats", mnt);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die(path);
	while (len < sizeof(buf) - 1 &&
	       (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	for (char *p = buf; *p;) {
		if (strncmp(p, name, nl) == 0 && p[nl] == ' ')
			return atof(p + nl + 1);
		char *eol = strchr(p, '\n');
		if (!eol)
			break;
		p = eol + 1;
	}
	return -1;
}

/* Waits until no event waits in a journal; seconds waited, -1 after
 * TIMEOUT seconds. */
static double wait_applied(const char *mnt, double timeout)
{
	double t0 = now_s();
	while (stat_value(mnt, "countfs_journal_events") != 0) {
		if (now_s() - t0 > timeout)
			return -1;
		usleep(10000);
	}
	return now_s() - t0;
}

static int cmd_feed(int argc, char **argv)
{
	const char *mnt = argv[0];
	uint64_t events = strtoull(argv[1], NULL, 10), sent = 0;
	long videos = atol(argv[2]);
	char path[4096];
	struct feed f;

	(void)argc;
	if (videos < 1 || events < 1) {
		fprintf(stderr, "feed: EVENTS and VIDEOS must be positive\n");
		return 2;
	}
	feed_init(&f, events);
	if (strcmp(argv[3], "even") == 0)
		feed_even(&f, events, videos);
	else
		feed_zipf(&f, events, videos, atof(argv[3]));
	feed_close(&f);
	snprintf(path, sizeof(path), "%s/ingest", mnt);
	int fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		die(path);
	double t0 = now_s();
	for (size_t w = 0, from = 0; w < f.writes; from = f.ends[w++]) {
		ssize_t len = (ssize_t)(f.ends[w] - from);
		if (write(fd, f.buf + from, (size_t)len) != len)
			die("write /ingest");
		sent += f.lines[w];
	}
	close(fd);
	double acked = now_s() - t0, drain = wait_applied(mnt, 3600);
	if (drain < 0) {
		fprintf(stderr, "feed: the journal was not applied within an hour\n");
		return 1;
	}
	printf("rate=%.0f acked=%.0f events=%llu secs=%.2f drain=%.2f "
	       "used=%.0f\n",
	       (double)sent / (acked + drain), (double)sent / acked,
	       (unsigned long long)sent, acked + drain, drain,
	       stat_value(mnt, "countfs_lmdb_used_bytes"));
	return 0;
}

/* Polls every millisecond: a restarting daemon's first answer.  SINCE
 * is when the caller started the daemon, so that the time to start this
 * process counts too. */
static int cmd_waitread(int argc, char **argv)
{
	double t0 = now_s(), timeout = atof(argv[1]), since = 0;
	char buf[64];

	if (argc > 2) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		since = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 -
			atof(argv[2]);
	}
	for (;;) {
		int fd = open(argv[0], O_RDONLY);
		ssize_t r = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
		if (fd >= 0)
			close(fd);
		if (r > 0)
			break;
		if (now_s() - t0 > timeout) {
			fprintf(stderr, "%s: no answer in %.0f s\n", argv[0],
				timeout);
			return 1;
		}
		usleep(1000);
	}
	printf("secs=%.3f\n", since + now_s() - t0);
	return 0;
}

static int cmd_readrand(int argc, char **argv)
{
	double secs = atof(argv[0]);
	long videos = atol(argv[2]);
	int k = atoi(argv[3]), *fds = malloc(sizeof(int) * (size_t)(k > 0 ? k : 1));
	static struct lat l;
	char path[4096], buf[64];
	long zeros = 0;

	(void)argc;
	for (int i = 0; i < k; i++) {
		snprintf(path, sizeof(path), "%s/videos/v%ld/%s", argv[1],
			 lrand48() % videos, argv[4]);
		if ((fds[i] = open(path, O_RDONLY)) < 0)
			die(path);
	}
	double t0 = now_s(), end = t0 + secs, t = t0;
	while (t < end) {
		ssize_t r = pread(fds[lrand48() % k], buf, sizeof(buf) - 1, 0);
		if (r < 0)
			die("pread");
		double t1 = now_s();
		lat_add(&l, t1 - t);
		t = t1;
		zeros += r > 0 && buf[0] == '0';
	}
	/* zeros: reads of 0, which would mean the video was never recorded. */
	printf("rate=%.0f p50=%.1f p99=%.1f zeros=%ld\n",
	       (double)l.total / (t - t0), lat_pct(&l, 0.5), lat_pct(&l, 0.99),
	       zeros);
	return 0;
}

/* ---- MariaDB ------------------------------------------------------ */

static MYSQL *db(const char *socket)
{
	MYSQL *m = mysql_init(NULL);
	if (!mysql_real_connect(m, NULL, "root", NULL, "countfs", 0, socket,
				0)) {
		fprintf(stderr, "connect: %s\n", mysql_error(m));
		exit(1);
	}
	return m;
}

static void db_exec(MYSQL *m, const char *sql)
{
	if (mysql_query(m, sql)) {
		fprintf(stderr, "%s: %s\n", sql, mysql_error(m));
		exit(1);
	}
}

struct upserter {
	const char *socket;
	double secs;
	uint64_t ops;
	int id;
	pthread_t t;
};

static void *upsert_loop(void *arg)
{
	struct upserter *u = arg;
	static const char sql[] = "INSERT INTO naive (video, c) VALUES (?, 1) "
				  "ON DUPLICATE KEY UPDATE c = c + 1";
	char video[32];
	unsigned long vlen;
	MYSQL_BIND b = {.buffer_type = MYSQL_TYPE_STRING,
			.buffer = video,
			.length = &vlen};

	mysql_thread_init();
	MYSQL *m = db(u->socket);
	MYSQL_STMT *s = mysql_stmt_init(m);
	if (mysql_stmt_prepare(s, sql, sizeof(sql) - 1))
		exit(1);
	vlen = (unsigned long)snprintf(video, sizeof(video), "v%d", u->id);
	b.buffer_length = vlen;
	mysql_stmt_bind_param(s, &b);
	double end = now_s() + u->secs;
	while (now_s() < end) {
		if (mysql_stmt_execute(s)) {
			fprintf(stderr, "upsert: %s\n", mysql_stmt_error(s));
			exit(1);
		}
		u->ops++;
	}
	mysql_stmt_close(s);
	mysql_close(m);
	mysql_thread_end();
	return NULL;
}

static int cmd_upsert(int argc, char **argv)
{
	double secs = atof(argv[0]);
	int conns = atoi(argv[1]);
	struct upserter *u = calloc((size_t)conns, sizeof(*u));
	uint64_t ops = 0;

	(void)argc;
	MYSQL *m = db(argv[2]);
	db_exec(m, "CREATE TABLE IF NOT EXISTS naive (video VARCHAR(128) "
		   "PRIMARY KEY, c BIGINT NOT NULL) ENGINE=InnoDB");
	mysql_close(m);
	double t0 = now_s();
	for (int i = 0; i < conns; i++) {
		u[i] = (struct upserter){argv[2], secs, 0, i, 0};
		pthread_create(&u[i].t, NULL, upsert_loop, &u[i]);
	}
	for (int i = 0; i < conns; i++) {
		pthread_join(u[i].t, NULL);
		ops += u[i].ops;
	}
	printf("rate=%.0f ops=%llu\n", (double)ops / (now_s() - t0),
	       (unsigned long long)ops);
	return 0;
}

static int cmd_sqlload(int argc, char **argv)
{
	long start = atol(argv[1]), minutes = atol(argv[2]);
	MYSQL *m = db(argv[0]);
	char *sql = malloc(1 << 22);

	(void)argc;
	db_exec(m, "CREATE TABLE IF NOT EXISTS minutes (video VARCHAR(128), "
		   "minute INT UNSIGNED, c BIGINT, PRIMARY KEY (video, minute))"
		   " ENGINE=InnoDB");
	db_exec(m, "DELETE FROM minutes");
	for (long i = 0; i < minutes;) {
		size_t n = (size_t)sprintf(sql, "INSERT INTO minutes VALUES ");
		for (long k = 0; k < 5000 && i < minutes; k++, i++)
			n += (size_t)sprintf(sql + n, "%s('r',%ld,1)",
					     k ? "," : "", start + i * 60);
		db_exec(m, sql);
	}
	mysql_close(m);
	printf("rows=%ld\n", minutes);
	return 0;
}

static int cmd_sqlrange(int argc, char **argv)
{
	double secs = atof(argv[0]);
	long end = atol(argv[2]), len = atol(argv[3]);
	static const char sql[] = "SELECT SUM(c) FROM minutes WHERE video = 'r'"
				  " AND minute >= ? AND minute < ?";
	static struct lat l;
	long from = end - len;
	MYSQL_BIND b[2] = {
	    {.buffer_type = MYSQL_TYPE_LONG, .buffer = &from},
	    {.buffer_type = MYSQL_TYPE_LONG, .buffer = &end}};
	long long sum;
	MYSQL_BIND r = {.buffer_type = MYSQL_TYPE_LONGLONG, .buffer = &sum};

	(void)argc;
	MYSQL *m = db(argv[1]);
	MYSQL_STMT *s = mysql_stmt_init(m);
	if (mysql_stmt_prepare(s, sql, sizeof(sql) - 1))
		exit(1);
	mysql_stmt_bind_param(s, b);
	mysql_stmt_bind_result(s, &r);
	double t0 = now_s(), t = t0, stop = t0 + secs;
	while (t < stop) {
		if (mysql_stmt_execute(s) || mysql_stmt_store_result(s)) {
			fprintf(stderr, "%s\n", mysql_stmt_error(s));
			exit(1);
		}
		while (mysql_stmt_fetch(s) == 0)
			;
		mysql_stmt_free_result(s);
		double t1 = now_s();
		lat_add(&l, t1 - t);
		t = t1;
	}
	printf("rate=%.0f p50=%.1f p99=%.1f sum=%lld\n",
	       (double)l.total / (t - t0), lat_pct(&l, 0.5),
	       lat_pct(&l, 0.99), sum);
	return 0;
}

/* ---- blocked follow readers ------------------------------------ */

struct follower {
	const char *path;
	pthread_t t;
};

static atomic_int follow_ready, follow_woken, follow_failed;
static _Atomic double follow_changed; /* when the last change was sent */
static pthread_mutex_t follow_lat_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lat follow_lat; /* capped at LAT_MAX us: see the max */
static double follow_max;
static int follow_late; /* wake-ups after 100 ms */

static void *follow_loop(void *arg)
{
	struct follower *f = arg;
	char buf[64];
	int fd = open(f->path, O_RDONLY);

	/* The first read answers at once with the count. */
	if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0) {
		atomic_fetch_add(&follow_failed, 1);
		atomic_fetch_add(&follow_ready, 1);
		return NULL;
	}
	atomic_fetch_add(&follow_ready, 1);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) /* EOF at unmount, or an error: done */
			break;
		double lat = now_s() - atomic_load(&follow_changed);
		pthread_mutex_lock(&follow_lat_lock);
		lat_add(&follow_lat, lat);
		if (lat > follow_max)
			follow_max = lat;
		follow_late += lat > 0.1;
		pthread_mutex_unlock(&follow_lat_lock);
		atomic_fetch_add(&follow_woken, 1);
	}
	close(fd);
	return NULL;
}

/* CPU seconds (user + system) of process @pid; -1 when unknown. */
static double proc_cpu(long pid)
{
	char path[64], buf[1024];
	unsigned long ut, st;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			        "%lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Resident anonymous KiB of @pid (RssAnon); -1 when unknown. */
static long proc_rss_anon(long pid)
{
	char path[64], line[256];
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static bool wait_count(atomic_int *c, int want, double secs)
{
	double end = now_s() + secs;

	while (atomic_load(c) < want) {
		if (now_s() > end)
			return false;
		usleep(1000);
	}
	return true;
}

static int cmd_follow(int argc, char **argv)
{
	const char *mnt = argv[0];
	int readers = atoi(argv[1]), videos = atoi(argv[2]);
	double hold = atof(argv[3]);
	int changes = atoi(argv[4]), batch = atoi(argv[5]);
	long pid = argc > 6 ? atol(argv[6]) : 0;
	struct follower *f = calloc((size_t)readers, sizeof(*f));
	int *readers_of = calloc((size_t)videos + 1, sizeof(int));
	char path[4096], ingest[4096];
	pthread_attr_t attr;

	if (!f || !readers_of || readers < 1 || videos < 1 ||
	    videos > readers || batch < 1 || batch > videos)
		die("follow: READERS >= VIDEOS >= BATCH >= 1");
	long rss0 = pid ? proc_rss_anon(pid) : -1;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (int i = 0; i < readers; i++) {
		snprintf(path, sizeof(path), "%s/videos/f%d/follow", mnt,
			 i % videos);
		readers_of[i % videos]++;
		f[i].path = strdup(path);
		if (pthread_create(&f[i].t, &attr, follow_loop, &f[i]))
			die("pthread_create");
	}
	if (!wait_count(&follow_ready, readers, 120))
		die("follow: readers did not open in 120 s");
	if (atomic_load(&follow_failed))
		die("follow: a reader could not open or read its file");
	sleep(1); /* every second read reaches the daemon and parks */
	long rss1 = pid ? proc_rss_anon(pid) : -1;
	/* Nothing changes for 2 s: the daemon's CPU then. */
	double cpu0 = pid ? proc_cpu(pid) : -1, t0 = now_s();
	sleep(2);
	double cpu1 = pid ? proc_cpu(pid) : -1, idle = now_s() - t0;
	fprintf(stderr, "parked\n");
	usleep((useconds_t)(hold * 1e6));

	snprintf(ingest, sizeof(ingest), "%s/ingest", mnt);
	int fd = open(ingest, O_WRONLY | O_APPEND);
	if (fd < 0)
		die(ingest);
	char *lines = malloc((size_t)batch * 24);
	int expected = 0;
	/* Each change: a view of each of BATCH followed videos, in turn, in
	 * one write; then every reader of them must wake. */
	for (int c = 0; c < changes; c++) {
		size_t len = 0;
		for (int k = 0; k < batch; k++) {
			int j = (int)(((long)c * batch + k) % videos);
			len += (size_t)sprintf(lines + len, "f%d views\n", j);
			expected += readers_of[j];
		}
		atomic_store(&follow_changed, now_s());
		if (write(fd, lines, len) != (ssize_t)len)
			die("write /ingest");
		wait_count(&follow_woken, expected, 5);
		usleep(200 * 1000); /* the next change is not merged */
	}
	close(fd);
	printf("readers=%d idle_cpu_pct=%.2f rss_per_reader=%ld "
	       "wake_p50_ms=%.1f wake_p99_ms=%.1f wake_max_ms=%.1f late=%d "
	       "missed=%d\n",
	       readers, cpu0 >= 0 ? 100 * (cpu1 - cpu0) / idle : -1,
	       rss0 >= 0 ? (rss1 - rss0) * 1024 / readers : -1,
	       lat_pct(&follow_lat, 0.5) / 1000,
	       lat_pct(&follow_lat, 0.99) / 1000, follow_max * 1000,
	       follow_late, expected - atomic_load(&follow_woken));
	fflush(stdout);
	_exit(0); /* the readers are still blocked: exit ends them */
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int args;
		int (*fn)(int, char **);
	} cmds[] = {
	    {"append", 3, cmd_append},	 {"read", 2, cmd_read},
	    {"readall", 2, cmd_readall},
	    {"ingest", 4, cmd_ingest},	 {"steady", 4, cmd_steady},
	    {"distinct", 2, cmd_distinct}, {"upsert", 3, cmd_upsert},
	    {"sqlload", 3, cmd_sqlload}, {"sqlrange", 4, cmd_sqlrange},
	    {"feed", 4, cmd_feed},	 {"readrand", 5, cmd_readrand},
	    {"waitread", 2, cmd_waitread}, {"follow", 6, cmd_follow},
	};
	srand48(42);
	for (size_t i = 0; argc > 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0 && argc - 2 >= cmds[i].args)
			return cmds[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "usage: see the header of bench/load.c\n");
	return 2;
}
