/*
 * log.c - stderr or syslog, one line per message, level checked first;
 * errors and warnings rate-limited per call site.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

enum log_level log_level = LOG_LVL_INFO;
static int to_syslog, to_journal;

#define LOG_LINE 1024 /* longest message; longer ones are cut */

static const char *const names[] = {"error", "warn", "info", "debug"};

int log_parse_level(const char *name, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_use_syslog(void)
{
	openlog("countfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	to_syslog = 1;
}

/* systemd says where the journal's stream is; stderr may have been
 * redirected since, so it must be that very file. */
void log_detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	to_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		     fstat(2, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

/* Write one formatted message where logs go. */
static void emit(enum log_level lvl, const char *msg)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

	if (to_syslog) {
		syslog(prio[lvl], "%s", msg);
		return;
	}
	if (to_journal) { /* it stamps the time; <N> is the priority */
		fprintf(stderr, "<%d>%s: %s\n", prio[lvl], names[lvl], msg);
		return;
	}

	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ countfs %s: %s\n", when,
		ts.tv_nsec / 1000000, names[lvl], msg);
}

/* ---- rate limiting ------------------------------------------------ */

/*
 * One call site's interval.  A fixed table, found by the address of the
 * format string: call sites are few (a few dozen), and when the table is
 * full a new one is simply not limited.
 */
#define SITES 64
#define INTERVAL_NS ((uint64_t)LOG_INTERVAL_S * 1000000000u)

struct site {
	const char *fmt; /* NULL: a free slot */
	enum log_level lvl;
	uint64_t since;	      /* start of the interval, monotonic ns */
	unsigned shown;	      /* messages written in it */
	unsigned long hidden; /* and held back */
	char last[LOG_LINE];  /* the last one held back */
};

static pthread_mutex_t sites_lock = PTHREAD_MUTEX_INITIALIZER;
static struct site sites[SITES]; /* under sites_lock */
static bool at_exit_set;	 /* under sites_lock */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The slot of call site @fmt, claimed if new; NULL when the table is
 * full.  With sites_lock held. */
static struct site *site_of(const char *fmt)
{
	size_t h = ((uintptr_t)fmt >> 3) % SITES;

	for (size_t k = 0; k < SITES; k++) {
		struct site *s = &sites[(h + k) % SITES];
		if (s->fmt == fmt)
			return s;
		if (!s->fmt) {
			s->fmt = fmt;
			return s;
		}
	}
	return NULL;
}

/* If @s held messages back, its summary into @out (and true); the
 * interval starts again at @now.  With sites_lock held. */
static bool site_close(struct site *s, uint64_t now, char *out, size_t cap)
{
	bool any = s->hidden > 0;

	if (any)
		snprintf(out, cap,
			 "%lu more like this in the last %llus; the "
			 "last: %s",
			 s->hidden,
			 (unsigned long long)((now - s->since + 999999999u) /
					      1000000000u),
			 s->last);
	s->since = now;
	s->shown = 0;
	s->hidden = 0;
	return any;
}

static void summaries_at_exit(void) { log_summaries(true); }

/*
 * May a message of call site @fmt be written now?  If not, it is counted
 * and kept as @msg.  *@summary tells whether @sum holds the summary of
 * the site's interval that just ended, to be written first.
 */
static bool admit(enum log_level lvl, const char *fmt, const char *msg,
		  char *sum, size_t cap, bool *summary)
{
	uint64_t now = mono_ns();
	bool show = true;
	struct site *s;

	pthread_mutex_lock(&sites_lock);
	if ((s = site_of(fmt))) {
		s->lvl = lvl;
		if (now - s->since >= INTERVAL_NS)
			*summary = site_close(s, now, sum, cap);
		if (s->shown < LOG_BURST) {
			s->shown++;
		} else {
			show = false;
			s->hidden++;
			snprintf(s->last, sizeof(s->last), "%s", msg);
			if (!at_exit_set)
				at_exit_set = atexit(summaries_at_exit) == 0;
		}
	}
	pthread_mutex_unlock(&sites_lock);
	return show;
}

void log_write(enum log_level lvl, bool limited, const char *fmt, ...)
{
	char msg[LOG_LINE], sum[LOG_LINE + 128];
	bool summary = false, show;
	va_list ap;

	if (lvl > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	show = !limited || admit(lvl, fmt, msg, sum, sizeof(sum), &summary);
	if (summary)
		emit(lvl, sum);
	if (show)
		emit(lvl, msg);
}

void log_summaries(bool all)
{
	char sum[LOG_LINE + 128];
	uint64_t now = mono_ns();

	for (size_t i = 0; i < SITES; i++) {
		enum log_level lvl = LOG_LVL_WARN;
		bool summary = false;

		/* One site at a time: the lock is never held while writing. */
		pthread_mutex_lock(&sites_lock);
		struct site *s = &sites[i];
		if (s->fmt && s->hidden &&
		    (all || now - s->since >= INTERVAL_NS)) {
			lvl = s->lvl;
			summary = site_close(s, now, sum, sizeof(sum));
		}
		pthread_mutex_unlock(&sites_lock);
		if (summary)
			emit(lvl, sum);
	}
}
