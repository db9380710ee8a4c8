/*
 * countfs-top - a live view of a countfs mount, like top(1).
 *
 * It reads MOUNTPOINT/stats (Prometheus text) once per interval, and
 * shows rates from the difference of two samples: events/s overall and
 * per type, refusals, write latency, storage, and per MySQL shard the
 * replication lag, pending rows and errors, each with a sparkline of the
 * last minute.  Below the types, a panel of the top videos of the last
 * minute, read from MOUNTPOINT/top/TYPE/<now-60>-<now>.  Any mount of any
 * version with a /stats file will do: one without /top says so in the
 * panel.
 *
 * usage: countfs-top [-d SECONDS] [-n FRAMES] [-t TYPE] [-b] MOUNTPOINT
 *
 * A frame is written line by line through put()/endline(), which cut each
 * line to the terminal's width and stop at its height, so a small
 * terminal never wraps or scrolls (-b mode writes every line whole).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_METRICS 1024
#define HISTORY 60 /* samples kept for a sparkline */
#define MAX_ROWS 64 /* type rows considered; the screen shows what fits */
#define TOP_ROWS 10 /* videos in the panel of the last minute's top */
#define TOP_WINDOW 60

struct metric {
	char key[200]; /* name{labels} as written */
	double v;
};

struct sample {
	struct metric m[MAX_METRICS];
	int n;
	double t; /* monotonic seconds */
};

/* A line of the display that has a sparkline: its last HISTORY values. */
struct series {
	char key[200];
	double hist[HISTORY];
	int len;
	bool seen; /* in this frame */
};

static struct series series[MAX_ROWS * 2];
static int nseries;
static struct termios saved_tty;
static bool tty_raw;
static volatile sig_atomic_t stop;

/* The frame being drawn: the line being built, and what is left of the
 * screen.  In batch mode nothing is cut (cols and rows_left are 0). */
static struct {
	char line[2048];
	size_t len;
	int cols, rows_left, rows_drawn;
	bool batch;
} scr;

static void __attribute__((format(printf, 1, 2))) put(const char *fmt, ...)
{
	va_list ap;
	size_t room = sizeof(scr.line) - scr.len;

	va_start(ap, fmt);
	int n = vsnprintf(scr.line + scr.len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		scr.len += (size_t)n < room ? (size_t)n : room - 1;
}

/* Write the line built by put(), cut to the width of the terminal.  On a
 * terminal a newline goes before every line but the first, so that the
 * last row is written without scrolling the screen. */
static void endline(void)
{
	size_t end = scr.len;
	int col = 0;

	if (!scr.batch) {
		if (scr.rows_left <= 0) {
			scr.len = 0;
			return;
		}
		/* Every character drawn here is one column wide: count the
		 * bytes that start a UTF-8 character. */
		for (end = 0; end < scr.len; end++)
			if (((unsigned char)scr.line[end] & 0xc0) != 0x80 &&
			    col++ == scr.cols)
				break;
		scr.rows_left--;
		if (scr.rows_drawn)
			fputs("\n", stdout);
	}
	fwrite(scr.line, 1, end, stdout);
	if (scr.batch)
		fputs("\n", stdout);
	scr.rows_drawn++;
	scr.len = 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read MOUNT/stats into @s; -errno on failure. */
static int sample_read(const char *path, struct sample *s)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	s->n = 0;
	s->t = now_s();
	while (fgets(line, sizeof(line), f) && s->n < MAX_METRICS) {
		char *sp = strrchr(line, ' ');
		if (line[0] == '#' || !sp || (size_t)(sp - line) >= 200)
			continue;
		struct metric *m = &s->m[s->n++];
		memcpy(m->key, line, (size_t)(sp - line));
		m->key[sp - line] = '\0';
		m->v = strtod(sp + 1, NULL);
	}
	int err = ferror(f) ? -EIO : 0;
	fclose(f);
	return err;
}

static const struct metric *find(const struct sample *s, const char *key)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->m[i].key, key) == 0)
			return &s->m[i];
	return NULL;
}

static double value(const struct sample *s, const char *key)
{
	const struct metric *m = find(s, key);

	return m ? m->v : 0;
}

/* Per-second rate of counter @key between @a and @b (0 if new). */
static double rate(const struct sample *a, const struct sample *b,
		   const char *key)
{
	const struct metric *ma = find(a, key), *mb = find(b, key);
	double dt = b->t - a->t;

	if (!ma || !mb || dt <= 0 || mb->v < ma->v)
		return 0;
	return (mb->v - ma->v) / dt;
}

/* Remember @v as the newest point of the sparkline of @key. */
static struct series *track(const char *key, double v)
{
	struct series *se = NULL;

	for (int i = 0; i < nseries; i++)
		if (strcmp(series[i].key, key) == 0)
			se = &series[i];
	if (!se) {
		if (nseries == (int)(sizeof(series) / sizeof(series[0])))
			return NULL;
		se = &series[nseries++];
		snprintf(se->key, sizeof(se->key), "%s", key);
	}
	if (se->len == HISTORY)
		memmove(se->hist, se->hist + 1, sizeof(double) * (HISTORY - 1));
	else
		se->len++;
	se->hist[se->len - 1] = v;
	se->seen = true;
	return se;
}

/* The last @width points of @se, scaled to its own maximum, padded to
 * @width columns. */
static void spark(const struct series *se, int width)
{
	static const char *const bars[] = {" ", "▁", "▂", "▃", "▄",
					   "▅", "▆", "▇", "█"};
	double max = 0;
	int from = se && se->len > width ? se->len - width : 0;

	for (int i = from; se && i < se->len; i++)
		max = fmax(max, se->hist[i]);
	for (int i = 0; se && i < se->len - from; i++) {
		double v = se->hist[from + i];
		int k = max > 0 ? (int)ceil(v / max * 8) : 0;
		put("%s", bars[v > 0 && k == 0 ? 1 : k]);
	}
	put("%*s", width - (se ? se->len - from : 0), "");
}

static void human(char *buf, size_t n, double v)
{
	if (v >= 1e9)
		snprintf(buf, n, "%.2fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, n, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, n, "%.1fk", v / 1e3);
	else
		snprintf(buf, n, "%.0f", v);
}

/* The upper bound of the bucket holding quantile @q of the histogram
 * @name's observations between @a and @b, in microseconds; -1: none. */
static double quantile_us(const struct sample *a, const struct sample *b,
			  const char *name, double q)
{
	char prefix[128];
	double total = 0;
	size_t plen = (size_t)snprintf(prefix, sizeof(prefix),
				       "countfs_%s_bucket{le=\"", name);

	for (int i = 0; i < b->n; i++)
		if (strstr(b->m[i].key, "le=\"+Inf\"") &&
		    strncmp(b->m[i].key, prefix, plen) == 0)
			total = b->m[i].v - value(a, b->m[i].key);
	if (total <= 0)
		return -1;
	for (int i = 0; i < b->n; i++) {
		if (strncmp(b->m[i].key, prefix, plen) != 0)
			continue;
		double cum = b->m[i].v - value(a, b->m[i].key);
		if (cum >= q * total)
			return strtod(b->m[i].key + plen, NULL) * 1e6;
	}
	return -1;
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The text between label="...", from a metric key, into @out. */
static bool label(const char *key, const char *name, char *out, size_t n)
{
	char pat[40];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "%s=\"", name);
	if (!(p = strstr(key, pat)))
		return false;
	p += strlen(pat);
	if (!(e = strchr(p, '"')))
		return false;
	snprintf(out, n, "%.*s", (int)(e - p), p);
	return true;
}

struct row {
	const char *key;
	char type[40];
	double rate, total;
};

/* Busiest first, then the largest totals. */
static int row_cmp(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;

	if (a->rate != b->rate)
		return a->rate < b->rate ? 1 : -1;
	if (a->total != b->total)
		return a->total < b->total ? 1 : -1;
	return strcmp(a->type, b->type);
}

/* What a reason label of countfs_writes_refused_total means, in a word or
 * two (countfs(8) lists the reasons); a label not known here as it is. */
static const char *reason_words(const char *r)
{
	static const char *const words[][2] = {
	    {"line", "bad line"},	  {"too_long", "line too long"},
	    {"timestamp", "bad @time"}, {"overflow", "sum overflow"},
	    {"storage", "storage error"}, {"killed", "writer killed"},
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(r, words[i][0]) == 0)
			return words[i][1];
	return r;
}

/* Refusals come in bursts: the rate, then the totals since the start by
 * reason, "total 21 (bad line 20, bad @time 1)". */
static void refused_line(const struct sample *a, const struct sample *b)
{
	double rsum = 0, total = 0;
	char reasons[512] = "";

	for (int i = 0; i < b->n; i++) {
		char r[32];
		size_t used = strlen(reasons);
		if (!starts(b->m[i].key, "countfs_writes_refused_total{") ||
		    !label(b->m[i].key, "reason", r, sizeof(r)))
			continue;
		rsum += rate(a, b, b->m[i].key);
		total += b->m[i].v;
		if (b->m[i].v > 0)
			snprintf(reasons + used, sizeof(reasons) - used,
				 "%s%s %.0f", used ? ", " : "",
				 reason_words(r), b->m[i].v);
	}
	put("refused/s  %9.0f  total %.0f", rsum, total);
	if (*reasons)
		put(" (%s)", reasons);
	endline();
}

/* The lines above the table of types: 8 of them. */
static void frame_head(const char *mnt, const struct sample *a,
		       const struct sample *b, int sw)
{
	char when[32], x[32], y[32];
	time_t t = time(NULL);

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
	/* A long mountpoint gives up its start, not the time or the hint. */
	const char *hint = tty_raw ? "  (q quits)" : "";
	int room = scr.cols - (int)(strlen("countfs-top    ") + strlen(when) +
				    strlen(hint));
	int mlen = (int)strlen(mnt);
	if (!scr.batch && mlen > room && room > 3)
		put("countfs-top  ...%s  %s%s", mnt + mlen - (room - 3), when,
		    hint);
	else
		put("countfs-top  %s  %s%s", mnt, when, hint);
	endline();
	endline();
	double ev = rate(a, b, "countfs_events_total");
	human(x, sizeof(x), ev);
	human(y, sizeof(y), value(b, "countfs_events_total"));
	put("events/s   %9s  ", x);
	spark(track("events", ev), sw);
	put("  total %s", y);
	endline();
	refused_line(a, b);
	put("writes/s   %9.0f   reads/s %.0f   fsyncs/s %.1f",
	    rate(a, b, "countfs_writes_total"),
	    rate(a, b, "countfs_reads_total"),
	    rate(a, b, "countfs_fsyncs_total"));
	endline();
	double p50 = quantile_us(a, b, "write_latency_seconds", 0.5);
	double p99 = quantile_us(a, b, "write_latency_seconds", 0.99);
	if (p50 >= 0)
		put("write latency  p50 <= %.0f us   p99 <= %.0f us", p50, p99);
	else
		put("write latency  -");
	endline();
	put("LMDB       %.1f of %.1f MiB used   journal %.0f events",
	    value(b, "countfs_lmdb_used_bytes") / 1048576,
	    value(b, "countfs_lmdb_map_bytes") / 1048576,
	    value(b, "countfs_journal_events"));
	endline();
	endline();
}

/* The table of event types, busiest first, in at most @room lines (its
 * heading included; no limit below 0): the types that do not fit are
 * counted on its last line. */
static void frame_types(const struct sample *a, const struct sample *b,
			int sw, int room)
{
	static struct row rows[MAX_ROWS];
	char x[32], y[32];
	int nrows = 0;

	for (int i = 0; i < b->n && nrows < MAX_ROWS; i++) {
		struct row *r = &rows[nrows];
		if (!starts(b->m[i].key, "countfs_events_by_type_total{") ||
		    !label(b->m[i].key, "type", r->type, sizeof(r->type)))
			continue;
		r->key = b->m[i].key;
		r->rate = rate(a, b, r->key);
		r->total = b->m[i].v;
		nrows++;
	}
	qsort(rows, (size_t)nrows, sizeof(rows[0]), row_cmp);
	int shown = nrows;
	if (room >= 0 && nrows > room - 1)
		shown = room - 2 > 0 ? room - 2 : 0;
	put("%-20s %10s %12s  last minute", "TYPE", "EVENTS/S", "TOTAL");
	endline();
	for (int i = 0; i < nrows; i++) {
		/* Every type keeps its history, shown or not. */
		struct series *se = track(rows[i].key, rows[i].rate);
		if (i >= shown)
			continue;
		human(x, sizeof(x), rows[i].rate);
		human(y, sizeof(y), rows[i].total);
		put("%-20.20s %10s %12s  ", rows[i].type, x, y);
		spark(se, sw);
		endline();
	}
	if (shown < nrows) {
		put("... %d more type%s (a taller terminal shows them)",
		    nrows - shown, nrows - shown == 1 ? "" : "s");
		endline();
	}
}

/* Lines below the table: a blank one and the replication block. */
static int repl_lines(const struct sample *b)
{
	int shards = 0;

	if (!find(b, "countfs_repl_pending_rows"))
		return 2;
	for (int i = 0; i < b->n; i++)
		if (starts(b->m[i].key, "countfs_repl_lag_seconds{"))
			shards++;
	return 3 + shards;
}

static void frame_repl(const struct sample *a, const struct sample *b,
		       int sw)
{
	endline();
	if (!find(b, "countfs_repl_pending_rows")) {
		put("replication: off (no mysql= option)");
		endline();
		return;
	}
	put("replication: %.0f rows pending",
	    value(b, "countfs_repl_pending_rows"));
	endline();
	put("%-6s %-5s %8s %9s %7s  lag, last minute", "SHARD", "UP", "LAG s",
	    "ROWS/S", "ERRORS");
	endline();
	for (int i = 0; i < b->n; i++) {
		char sh[16], k[200];
		if (!starts(b->m[i].key, "countfs_repl_lag_seconds{") ||
		    !label(b->m[i].key, "shard", sh, sizeof(sh)))
			continue;
		snprintf(k, sizeof(k), "countfs_repl_connected{shard=\"%s\"}",
			 sh);
		bool up = value(b, k) > 0;
		snprintf(k, sizeof(k),
			 "countfs_repl_push_errors_total{shard=\"%s\"}", sh);
		double errs = value(b, k);
		snprintf(k, sizeof(k),
			 "countfs_repl_rows_pushed_total{shard=\"%s\"}", sh);
		put("%-6s %-5s %8.1f %9.0f %7.0f  ", sh, up ? "yes" : "NO",
		    b->m[i].v, rate(a, b, k), errs);
		spark(track(b->m[i].key, b->m[i].v), sw);
		endline();
	}
}

/* The panel of the top videos: what one read of /top gave. */
struct top_panel {
	const char *type;
	int err; /* 0, or the errno of the read (ENOENT: no /top here) */
	int n;
	char count[TOP_ROWS][24];
	char video[TOP_ROWS][132];
};

/* Read MNT/top/TYPE/<now-60>-<now>: its first TOP_ROWS lines, each
 * "<count> <video>".  A line of another shape ends the list. */
static void top_read(const char *mnt, struct top_panel *tp)
{
	char path[4096], line[256];
	time_t now = time(NULL);

	tp->n = 0;
	tp->err = 0;
	snprintf(path, sizeof(path), "%s/top/%s/%lld-%lld", mnt, tp->type,
		 (long long)now - TOP_WINDOW, (long long)now);
	FILE *f = fopen(path, "r");
	if (!f) {
		tp->err = errno;
		return;
	}
	while (tp->n < TOP_ROWS && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%23[0-9] %131[A-Za-z0-9_.-]",
			   tp->count[tp->n], tp->video[tp->n]) != 2)
			break;
		tp->n++;
	}
	if (ferror(f))
		tp->err = errno ? errno : EIO;
	fclose(f);
}

/* Lines the panel takes (its blank line and heading included): all it
 * has in batch mode (@below < 0), else what leaves the types table four
 * lines of the @below left under the head; none when fewer than three. */
static int top_lines(const struct top_panel *tp, int below)
{
	int want = 2 + (tp->n > 0 ? tp->n : 1);

	if (below < 0)
		return want;
	if (want > below - 4)
		want = below - 4;
	return want >= 3 ? want : 0;
}

static void frame_top(const struct top_panel *tp, int lines)
{
	endline();
	put("top %s, last minute", tp->type);
	endline();
	if (tp->err == ENOENT) {
		put("  (this mount has no /top)");
		endline();
		return;
	}
	if (tp->err) {
		put("  cannot read /top: %s", strerror(tp->err));
		endline();
		return;
	}
	if (tp->n == 0) {
		put("  (no events)");
		endline();
		return;
	}
	for (int i = 0; i < tp->n && i < lines - 2; i++) {
		put("%12s  %s", tp->count[i], tp->video[i]);
		endline();
	}
}

/* One frame, fitted to a terminal of @cols x @lines unless @batch. */
static void frame(const char *mnt, const struct sample *a,
		  const struct sample *b, const struct top_panel *tp,
		  bool batch, int cols, int lines)
{
	int sw = cols - 50; /* sparkline width */

	if (sw > HISTORY)
		sw = HISTORY;
	if (sw < 10)
		sw = 10;
	for (int i = 0; i < nseries; i++)
		series[i].seen = false;
	scr.batch = batch;
	scr.cols = cols;
	scr.rows_left = lines;
	scr.rows_drawn = 0;
	if (!batch)
		fputs("\033[H\033[2J", stdout);
	frame_head(mnt, a, b, sw);
	/* The types table gets what the panel and replication leave. */
	int below = batch ? -1 : scr.rows_left - repl_lines(b);
	int tl = top_lines(tp, below);
	frame_types(a, b, sw, batch ? -1 : below - tl);
	if (tl)
		frame_top(tp, tl);
	frame_repl(a, b, sw);
	if (batch)
		fputs("\n", stdout);
	fflush(stdout);
}

static void restore_tty(void)
{
	if (tty_raw) {
		tcsetattr(0, TCSANOW, &saved_tty);
		fputs("\033[?25h\n", stdout); /* cursor back */
		fflush(stdout);
		tty_raw = false;
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Wait @secs for the next frame; true when the user asked to quit. */
static bool wait_key(double secs)
{
	struct pollfd p = {.fd = 0, .events = POLLIN};
	char c;

	if (!tty_raw) {
		struct timespec ts = {(time_t)secs,
				      (long)((secs - floor(secs)) * 1e9)};
		while (nanosleep(&ts, &ts) && errno == EINTR && !stop)
			;
		return stop;
	}
	if (poll(&p, 1, (int)(secs * 1000)) > 0 && read(0, &c, 1) == 1)
		return c == 'q' || c == 'Q' || c == 3;
	return stop;
}

/* An event type as countfs accepts it: 1-32 of [a-z0-9_]. */
static bool type_ok(const char *t)
{
	size_t n = strlen(t);

	return n >= 1 && n <= 32 && strspn(t, "abcdefghijklmnopqrstuvwxyz"
					       "0123456789_") == n;
}

/* The summary, on stdout for --help (exit 0), on stderr after a bad
 * argument (exit 2). */
static int usage(FILE *to, int rc)
{
	fprintf(to,
		"usage: countfs-top [-d SECONDS] [-n FRAMES] [-t TYPE] [-b] "
		"MOUNTPOINT\n"
		"A live view of a countfs mount, from MOUNTPOINT/stats; "
		"see countfs-top(1).\n"
		"  -d SECONDS     time between frames, 0.1 to 3600 "
		"(default 1)\n"
		"  -n FRAMES      stop after this many frames\n"
		"  -t TYPE        the event type of the top panel "
		"(default views)\n"
		"  -b             batch: no screen control, whole frames one "
		"after another\n"
		"  -h, --help     print this and exit\n"
		"  -V, --version  print the version and exit\n"
		"Keys: q quits.\n");
	return rc;
}

int main(int argc, char **argv)
{
	static struct sample s[2];
	double delay = 1;
	long frames = -1;
	bool batch = false;
	struct top_panel tp = {.type = "views"};
	char path[4096];
	int opt;
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};

	while ((opt = getopt_long(argc, argv, "d:n:t:bhV", longopts, NULL)) !=
	       -1) {
		char *end;
		switch (opt) {
		case 'd':
			delay = strtod(optarg, &end);
			if (*end || !(delay >= 0.1 && delay <= 3600)) {
				fprintf(stderr, "countfs-top: -d %s: give "
						"seconds from 0.1 to 3600\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			frames = strtol(optarg, &end, 10);
			if (*end || frames < 1) {
				fprintf(stderr, "countfs-top: -n %s: give a "
						"number of frames, 1 or more\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			if (!type_ok(optarg)) {
				fprintf(stderr, "countfs-top: -t %s: give an "
						"event type, 1-32 of [a-z0-9_]\n",
					optarg);
				return 2;
			}
			tp.type = optarg;
			break;
		case 'b':
			batch = true;
			break;
		case 'h':
			return usage(stdout, 0);
		case 'V':
			printf("countfs-top %s\n", COUNTFS_VERSION);
			return 0;
		default:
			return usage(stderr, 2);
		}
	}
	if (optind + 1 != argc)
		return usage(stderr, 2);
	snprintf(path, sizeof(path), "%s/stats", argv[optind]);
	int rc = sample_read(path, &s[0]);
	if (rc) {
		fprintf(stderr, "countfs-top: cannot read %s: %s\n", path,
			strerror(-rc));
		return 1;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!batch && isatty(0) && tcgetattr(0, &saved_tty) == 0) {
		struct termios raw = saved_tty;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(0, TCSANOW, &raw);
		tty_raw = true;
		fputs("\033[?25l", stdout); /* hide the cursor */
	}
	int cur = 0;
	for (long f = 0; frames < 0 || f < frames; f++) {
		if (wait_key(delay))
			break;
		struct winsize ws = {0};
		ioctl(1, TIOCGWINSZ, &ws);
		int cols = ws.ws_col ? ws.ws_col : 80;
		int lines = ws.ws_row ? ws.ws_row : 24;
		if ((rc = sample_read(path, &s[!cur]))) {
			restore_tty();
			fprintf(stderr, "countfs-top: cannot read %s: %s\n",
				path, strerror(-rc));
			return 1;
		}
		top_read(argv[optind], &tp);
		frame(argv[optind], &s[cur], &s[!cur], &tp, batch, cols,
		      lines);
		cur = !cur;
	}
	restore_tty();
	return 0;
}
