/*
 * metrics.h - bayesd's counters and latency histogram, rendered in the
 * Prometheus text exposition format for the controller's GET /metrics.
 *
 * Every function here is thread-safe: the milter threads, the controller
 * threads and the writer thread record into the same process-wide set
 * (lock-free atomics for counters and the histogram; a mutex only for the
 * small table of error kinds). Nothing here allocates per event.
 *
 * Series:
 *	bayesd_messages_scored_total{verdict="ham|spam|reject|unknown"}
 *	bayesd_learns_total{outcome="learned|already_learned|relearned|
 *		forgotten|not_learned|skipped|error"}
 *	bayesd_autolearn_total{class="spam|ham"}
 *	bayesd_autolearn_skipped_total{reason="trusted|authenticated|
 *		truncated|busy|already_learned|manual|mature|error"}
 *	bayesd_errors_total{kind="..."}
 *	bayesd_scan_seconds (histogram, buckets 0.0005 .. 1 s)
 *	bayesd_uptime_seconds
 */
#ifndef BAYESD_METRICS_H
#define BAYESD_METRICS_H

#include <stdbool.h>

#include "util.h"

/* Verdicts for metrics_scored(). */
#define METRICS_HAM	0
#define METRICS_SPAM	1
#define METRICS_REJECT	2
#define METRICS_UNKNOWN	3	/* not scored: engine error, on_error policy applied */

/* Outcome for metrics_learned() when the learn failed (not a bayes outcome). */
#define METRICS_LEARN_ERROR	(-1)

/*
 * metrics_init - record the start time for bayesd_uptime_seconds. Called
 * once at startup (controller_bind() does); calling it again is harmless.
 * Without it the first recorded event counts as the start.
 */
void metrics_init(void);

/*
 * metrics_scored - one message scored by the milter with verdict
 * (METRICS_HAM ... METRICS_UNKNOWN; others count as unknown), taking ms
 * milliseconds (wall clock, milter scan time) into the histogram.
 */
void metrics_scored(int verdict, double ms);

/*
 * metrics_learned - one learn or forget finished with outcome, an enum
 * bayes_learn_outcome value, or METRICS_LEARN_ERROR.
 */
void metrics_learned(int outcome);

/*
 * Autolearn. A confident verdict (beyond an autolearn threshold) ends in
 * exactly one series: bayesd_autolearn_total when the writer learned it
 * (metrics_autolearned), or bayesd_autolearn_skipped_total with the
 * reason it was not: the sender (trusted network, authenticated), the
 * message (truncated at scan_limit), the writer (busy: queue full or
 * none), or what the learn found (already learned as that class, a
 * manual learn that wins, the training mode's "mature", an error).
 */
enum metrics_autolearn_skip {
	METRICS_AUTOLEARN_TRUSTED,
	METRICS_AUTOLEARN_AUTHENTICATED,
	METRICS_AUTOLEARN_TRUNCATED,
	METRICS_AUTOLEARN_BUSY,
	METRICS_AUTOLEARN_ALREADY,
	METRICS_AUTOLEARN_MANUAL,
	METRICS_AUTOLEARN_MATURE,
	METRICS_AUTOLEARN_ERROR,
};

/* metrics_autolearned - the writer autolearned a message as spam (true) or ham. */
void metrics_autolearned(bool spam);

/* metrics_autolearn_skipped - a confident verdict not autolearned, and why. */
void metrics_autolearn_skipped(int why);

/* metrics_autolearn_reason - the label of a reason ("trusted", ...). */
const char *metrics_autolearn_reason(int why);

/*
 * metrics_error - count one error of kind, a short constant label such as
 * "db", "busy", "controller", "milter" (the caller's string is copied;
 * characters other than [A-Za-z0-9_] become '_'). Up to METRICS_MAX_KINDS
 * distinct kinds are kept; later new kinds are counted as "other".
 */
#define METRICS_MAX_KINDS 32
void metrics_error(const char *kind);

/*
 * metrics_render - append the whole exposition (text format 0.0.4, with
 * HELP and TYPE lines) to out. The caller owns out.
 */
void metrics_render(struct buf *out);

#endif
