/*
 * log.c - stderr or syslog, one line per message, level checked first.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

enum log_level log_level = LOG_LVL_INFO;
static int to_syslog, to_journal;

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

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	char msg[1024];
	va_list ap;

	if (lvl > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
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
