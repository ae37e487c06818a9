/*
 * autolearn.h - bayesd's autolearn rule, in one place for the milter
 * (milter.c) and for the controller's checks on behalf of the OpenSMTPD
 * filter (controller.c, "Autolearn:" request header).
 *
 * With autolearn on, a message scored at or above autolearn_spam_threshold
 * is learned as spam, at or below autolearn_ham_threshold as ham - but
 * never one from a trusted network or an authenticated sender (they are
 * scored only with score_authenticated, and a user's own mail must not
 * teach the filter), nor one cut at scan_limit (its digest would not match
 * the whole message a user may later correct by hand, and the correction
 * must find the autolearn). The learn is posted to the writer, never
 * waited for; a learn by hand always wins over it (bayes_autolearn).
 *
 * Every confident verdict is counted in the metrics (metrics.h): as posted
 * here, or as skipped with the reason; the writer counts what the learn did.
 */
#ifndef BAYESD_AUTOLEARN_H
#define BAYESD_AUTOLEARN_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "writer.h"

/* A scored message, as the autolearn rule sees it. */
struct autolearn_msg {
	const char *tag;		/* the queue id, for the log */
	const char *user;		/* per-user statistics it was scored with, NULL = global */
	const unsigned char *data;	/* the message as scored; copied when posted */
	size_t size;
	double prob;			/* its score */
	bool trusted;			/* client in trusted_networks */
	bool authenticated;		/* SASL login */
	bool truncated;			/* cut at scan_limit */
};

/*
 * autolearn_offer - apply the rule of cfg (NULL: autolearn off) to m and
 * post the learn to w. Returns "spam" or "ham" when a learn was posted,
 * NULL when not (not confident enough, a rule said no - logged at debug
 * level - or the writer is missing or busy - logged).
 */
const char *autolearn_offer(const struct bayesd_config *cfg, struct writer *w, const struct autolearn_msg *m);

#endif
