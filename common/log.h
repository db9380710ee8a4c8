/*
 * log.h - the one logging module of countfs.
 *
 * Messages go to stderr in the foreground (or to the journal, with its
 * priority prefixes, when stderr is systemd's journal stream) and to
 * syslog once daemonized (log_use_syslog()).  The level is the only global of the daemon: it is
 * checked before any formatting, so a debug line costs one compare when
 * it is off.  Thread-safe: each message is written by one call.
 *
 * Errors and warnings are rate-limited per call site (their format
 * string): the first LOG_BURST of a call site in LOG_INTERVAL_S seconds
 * are written, the rest are counted, and one line says "N more like
 * this in the last Ss" with the last of them once the interval is over
 * (log_summaries()), so that a client writing bad lines in a loop cannot
 * flood the log.  Info and debug lines are not limited.
 */
#ifndef COUNTFS_LOG_H
#define COUNTFS_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern enum log_level log_level;

/* Parse "error", "warn", "info" or "debug"; returns 0 or -EINVAL. */
int log_parse_level(const char *name, enum log_level *out);

/* Send further messages to syslog (ident "countfs") instead of stderr. */
void log_use_syslog(void);

/* In the foreground under systemd, write the journal's <N> priority
 * prefixes instead of timestamps. */
void log_detect_journal(void);

#define LOG_BURST 10
#define LOG_INTERVAL_S 5

/* Write one message, rate-limited by @fmt (the call site, see above)
 * when @limited. */
void log_write(enum log_level lvl, bool limited, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One message, never limited (a report made of many lines). */
#define log_msg(lvl, ...) log_write(lvl, false, __VA_ARGS__)

/* Write the "N more like this" line of every call site whose interval is
 * over, or with @all of every call site that held messages back (at
 * exit).  Called once a second by the store's background thread. */
void log_summaries(bool all);

#define log_error(...) log_write(LOG_LVL_ERROR, true, __VA_ARGS__)
#define log_warn(...)                                                          \
	do {                                                                   \
		if (log_level >= LOG_LVL_WARN)                                 \
			log_write(LOG_LVL_WARN, true, __VA_ARGS__);            \
	} while (0)
#define log_info(...)                                                          \
	do {                                                                   \
		if (log_level >= LOG_LVL_INFO)                                 \
			log_msg(LOG_LVL_INFO, __VA_ARGS__);                    \
	} while (0)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_level >= LOG_LVL_DEBUG)                                \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                   \
	} while (0)

#endif
