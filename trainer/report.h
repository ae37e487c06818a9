/*
 * report.h - how bayesc prints results, the same in offline and client
 * mode: rspamc-like text, or one JSON object per message with --json.
 * Offline JSON has the shape of bayesd's controller answers
 * (milter/controller.c), which client mode prints as they come, so a
 * script reads the same keys whichever way bayesc ran (README, bayesc(1)).
 */
#ifndef BAYESC_REPORT_H
#define BAYESC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "bayes.h"
#include "bayesc.h"

/* report_action - "reject", "add header" or "no action" for prob. */
const char *report_action(double prob, double spam_threshold, double reject_threshold);

/* report_json - print obj compact on one line, keys in insertion order; releases it. */
void report_json(json_t *obj);

/* report_with_file - a new object with "file": name first, then obj's keys; releases obj. */
json_t *report_with_file(const char *name, json_t *obj);

/* report_features_wanted - whether check lists the strongest words (--explain, or symbols). */
bool report_features_wanted(const struct bayesc_opts *o);

/*
 * report_check - one message's verdict as text. top/ntop may be NULL/0;
 * they are printed with --explain.
 */
void report_check(const struct bayesc_opts *o, const char *name, double prob, bool spam,
		  const char *action, const struct bayes_feature *top, size_t ntop);

/*
 * report_check_json - offline check's JSON line: the keys of bayesd's
 * POST /check ("file" first; "features" when report_features_wanted).
 */
void report_check_json(const struct bayesc_opts *o, const char *name, const struct bayes_result *r,
		       double spam_threshold, double reject_threshold);

/*
 * report_learn - the outcome of learn_spam/learn_ham/forget: "NAME:
 * learned" or, with --json, bayesd's shape {"file", "result", "learned"}
 * ("forgotten" instead of "learned" for forget; "user" with -u).
 */
void report_learn(const struct bayesc_opts *o, const char *name, enum bayes_learn_outcome out);

/*
 * report_stats - the stat verb's text (offline and client mode alike):
 * statistics of user (NULL = global).
 */
void report_stats(const char *user, const struct bayes_stats *st);

/*
 * report_stats_json - offline stat's JSON: the keys of bayesd's GET /stat,
 * with "per_user" (users[0..n)) last when user is NULL, "user" otherwise.
 */
void report_stats_json(const char *user, const struct bayes_stats *st,
		       const struct bayes_user_stats *users, size_t n);

/*
 * struct report_tally - what a learn or forget run did, message by
 * message, for the summary line; zero it before the run.
 */
#define REPORT_OUTCOMES 7	/* the bayes_outcome_name() names, in report.c's order */
struct report_tally {
	unsigned long outcome[REPORT_OUTCOMES];
	unsigned long failed;
};

/* report_tally_add - count one message by its outcome name ("learned", ...). */
void report_tally_add(struct report_tally *t, const char *outcome);

/*
 * report_summary - one line to out: "N messages: L learned, A already
 * learned, R relearned, F failed" (and the other outcomes that occurred),
 * or with json one object {"messages":N,"learned":L,"already_learned":A,
 * "relearned":R,...,"failed":F}.
 */
void report_summary(FILE *out, bool json, const struct report_tally *t);

/*
 * report_run_summary - at the end of a learn or forget run of n messages:
 * the summary on stdout for import-mbox (o->summary_only, JSON with
 * --json), or on standard error when it is a terminal and there was more
 * than one message; nothing otherwise.
 */
void report_run_summary(const struct bayesc_opts *o, size_t n, const struct report_tally *t);

/*
 * report_users - the stat verb's per-user table (after report_stats):
 * each user's learned spam and ham messages and token rows.
 */
void report_users(const struct bayes_user_stats *users, size_t n);

/* report_error - a per-message failure, to stderr (and as JSON on stdout with --json). */
void report_error(const struct bayesc_opts *o, const char *name, const char *msg);

/* report_error_json - only the JSON half: {"file": name, "error": msg} with --json. */
void report_error_json(const struct bayesc_opts *o, const char *name, const char *msg);

#endif
