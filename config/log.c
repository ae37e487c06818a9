/*
 * log.c - bayesd's logging: syslog, or stderr in the foreground.
 *
 * The stderr line is formatted whole and written with one write(2), so
 * lines of concurrent milter threads never interleave. The level is an
 * atomic int: a reload may change it while other threads log.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util.h"

static const char *log_ident = "bayesd";
static bool log_stderr = true;
static bool log_tee;		/* syslog and stderr */
static int log_level = LOG_INFO;

static const struct {
	const char *name;
	int code;
} log_facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

static const struct {
	const char *name;
	int code;
} log_levels[] = {
	{ "err", LOG_ERR }, { "error", LOG_ERR }, { "warning", LOG_WARNING },
	{ "warn", LOG_WARNING }, { "notice", LOG_NOTICE }, { "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

/* log_open - choose stderr or syslog */
void log_open(const char *ident, bool to_stderr, int facility)
{
	log_ident = ident;
	if (!log_stderr)
		closelog();
	log_stderr = to_stderr;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

/* log_stderr_too - copy syslog lines to stderr */
void log_stderr_too(bool on)
{
	log_tee = on;
}

/* log_set_level - set the threshold */
void log_set_level(int level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

/* log_enabled - whether prio passes the threshold */
bool log_enabled(int prio)
{
	return prio <= __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

/* log_prefix - "warning: " etc. on stderr, as Postfix writes it */
static const char *log_prefix(int prio)
{
	switch (prio) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
		return "fatal: ";
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	case LOG_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

/*
 * log_msg - write one line. The line is formatted first and then escaped
 * (escape_for_log: control characters and bytes that are not UTF-8 become
 * \\xNN), so nothing a client sent - a user name, a URL, a queue id - can
 * start a false line or put raw bytes into the log, whatever the caller
 * passed in.
 */
void log_msg(int prio, const char *fmt, ...)
{
	int saved_errno = errno;
	char msg[2048], esc[2048];
	va_list ap;

	va_start(ap, fmt);
	errno = saved_errno;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	escape_for_log(esc, sizeof(esc), msg);
	if (!log_stderr)
		syslog(prio, "%s", esc);
	if (log_stderr || log_tee) {
		char line[2200];
		int n = snprintf(line, sizeof(line) - 1, "%s[%ld]: %s%s", log_ident, (long)getpid(),
				 log_prefix(prio), esc);

		if (n < 0)
			n = 0;
		if ((size_t)n > sizeof(line) - 2)
			n = (int)sizeof(line) - 2;	/* truncated */
		line[n++] = '\n';
		if (write(STDERR_FILENO, line, (size_t)n) < 0) {
			/* nowhere left to complain */
		}
	}
	errno = saved_errno;
}

/* log_facility_code - syslog facility by name */
int log_facility_code(const char *name)
{
	for (size_t i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (strcasecmp(name, log_facilities[i].name) == 0)
			return log_facilities[i].code;
	return -1;
}

/* log_level_code - syslog priority by name */
int log_level_code(const char *name)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcasecmp(name, log_levels[i].name) == 0)
			return log_levels[i].code;
	return -1;
}

/* log_level_name - canonical name of a priority */
const char *log_level_name(int level)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (log_levels[i].code == level)
			return log_levels[i].name;
	return "info";
}
