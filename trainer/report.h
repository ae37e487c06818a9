/*
 * report.h - how bayesc prints results, the same in offline and client
 * mode: rspamc-like text, or one JSON object per message with --json.
 */
#ifndef BAYESC_REPORT_H
#define BAYESC_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "bayes.h"
#include "bayesc.h"

/* report_action - "reject", "add header" or "no action" for prob. */
const char *report_action(double prob, double spam_threshold, double reject_threshold);

/*
 * report_check - one message's verdict. top/ntop may be NULL/0; they are
 * printed with --explain (text) or always as "features" (JSON) when given.
 */
void report_check(const struct bayesc_opts *o, const char *name, double prob, bool spam,
		  const char *action, const struct bayes_feature *top, size_t ntop);

/* report_learn - the outcome of learn_spam/learn_ham/forget ("learned", ...). */
void report_learn(const struct bayesc_opts *o, const char *name, const char *outcome, bool changed);

/*
 * report_stats - the stat verb's text (offline and client mode alike):
 * statistics of user (NULL = global).
 */
void report_stats(const char *user, const struct bayes_stats *st);

/* report_error - a per-message failure, to stderr (and as JSON on stdout with --json). */
void report_error(const struct bayesc_opts *o, const char *name, const char *msg);

#endif
