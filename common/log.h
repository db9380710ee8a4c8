/*
 * log.h - the one logging module of countfs.
 *
 * Messages go to stderr in the foreground (or to the journal, with its
 * priority prefixes, when stderr is systemd's journal stream) and to
 * syslog once daemonized (log_use_syslog()).  The level is the only global of the daemon: it is
 * checked before any formatting, so a debug line costs one compare when
 * it is off.  Thread-safe: each message is written by one call.
 */
#ifndef COUNTFS_LOG_H
#define COUNTFS_LOG_H

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern enum log_level log_level;

/* Parse "error", "warn", "info" or "debug"; returns 0 or -EINVAL. */
int log_parse_level(const char *name, enum log_level *out);

/* Send further messages to syslog (ident "countfs") instead of stderr. */
void log_use_syslog(void);

/* In the foreground under systemd, write the journal's <N> priority
 * prefixes instead of timestamps. */
void log_detect_journal(void);

void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)                                                          \
	do {                                                                   \
		if (log_level >= LOG_LVL_WARN)                                 \
			log_msg(LOG_LVL_WARN, __VA_ARGS__);                    \
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
