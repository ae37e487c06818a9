/*
 * log.h - bayesd's logging: syslog, or stderr in the foreground (-f).
 *
 * One line per event, subject first ("3F2A1C0D: client=192.0.2.1 ..." or
 * "open(/var/lib/bayesd/bayes.sqlite) failed: ..."). Formats are printf's,
 * with %m for strerror(errno) in both modes. The level is checked before
 * anything is formatted, so a disabled log_debug() costs one comparison.
 * All functions are safe to call from any thread.
 *
 * Rooms: may use classifier/util.h; never milter/, trainer/, corpus/.
 */
#ifndef BAYESD_LOG_H
#define BAYESD_LOG_H

#include <stdbool.h>
#include <syslog.h>

/*
 * log_open - start logging as ident: to stderr when to_stderr (lines
 * "ident[pid]: warning: text"), else to syslog with facility (LOG_MAIL,
 * ...). May be called again to switch (after daemonizing, on reload).
 */
void log_open(const char *ident, bool to_stderr, int facility);

/*
 * log_stderr_too - with syslog, copy every line to stderr as well (bayesd
 * does until it detaches, so startup errors reach the terminal).
 */
void log_stderr_too(bool on);

/* log_set_level - log priorities up to level (LOG_ERR ... LOG_DEBUG). */
void log_set_level(int level);

/* log_enabled - whether a message of priority prio would be written. */
bool log_enabled(int prio);

/* log_msg - write one line at priority prio (unconditionally: see log_enabled). */
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(prio, ...) \
	do { if (log_enabled(prio)) log_msg((prio), __VA_ARGS__); } while (0)
#define log_error(...)		log_at(LOG_ERR, __VA_ARGS__)
#define log_warning(...)	log_at(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)		log_at(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)		log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...)		log_at(LOG_DEBUG, __VA_ARGS__)

/*
 * log_facility_code - LOG_MAIL for "mail", LOG_LOCAL0 for "local0", ...;
 * -1 for an unknown name. log_level_code - LOG_INFO for "info", ...
 * ("err"/"error", "warning"/"warn" both work); -1 for an unknown name.
 * log_level_name - the canonical name of a level.
 */
int log_facility_code(const char *name);
int log_level_code(const char *name);
const char *log_level_name(int level);

#endif
