/*
 * report.c - bayesc's output. See report.h.
 */
#include "report.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

const char *report_action(double prob, double spam_threshold, double reject_threshold)
{
	if (prob >= reject_threshold)
		return "reject";
	if (prob >= spam_threshold)
		return "add header";
	return "no action";
}

/* report_json - print obj on one line, keys in insertion order, and release it. */
void report_json(json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;

	if (s) {
		puts(s);
		free(s);
	}
	json_decref(obj);
}

/* report_with_file - a new object: "file" first, then obj's keys (obj is released). */
json_t *report_with_file(const char *name, json_t *obj)
{
	json_t *out = json_pack("{s:s}", "file", name);

	if (out == NULL)	/* a name JSON cannot hold (not UTF-8) */
		out = json_pack("{s:s}", "file", "?");
	json_object_update(out, obj);
	json_decref(obj);
	return out;
}

/* report_features_wanted - whether check lists the words that weighed (--explain, symbols). */
bool report_features_wanted(const struct bayesc_opts *o)
{
	return o->explain || (o->verb_name != NULL && strcmp(o->verb_name, "symbols") == 0);
}

void report_check(const struct bayesc_opts *o, const char *name, double prob, bool spam,
		  const char *action, const struct bayes_feature *top, size_t ntop)
{
	if (o->quiet)
		return;
	printf("Results for file: %s\nProbability: %.5f\nVerdict: %s\nAction: %s\n", name, prob,
	       spam ? "spam" : "ham", action);
	if (o->explain) {
		for (size_t i = 0; i < ntop; i++)
			printf("Feature: %s (prob %.4f, spam %u, ham %u)\n",
			       top[i].text ? top[i].text : "?", top[i].prob, top[i].spam, top[i].ham);
	}
}

/* feature_json - one feature as bayesd's /check lists it: a text JSON cannot hold as "#HASH". */
static json_t *feature_json(const struct bayes_feature *f)
{
	json_t *txt = f->text ? json_string(f->text) : NULL;
	char hex[20];

	if (txt == NULL) {
		snprintf(hex, sizeof(hex), "#%016llx", (unsigned long long)f->hash);
		txt = json_string(hex);
	}
	return json_pack("{s:o, s:f, s:I, s:I}", "text", txt, "prob", f->prob,
			 "spam", (json_int_t)f->spam, "ham", (json_int_t)f->ham);
}

/*
 * report_check_json - an offline check result in the shape of bayesd's
 * POST /check (milter/controller.c, ctl_do_check), "file" first. Offline
 * there is no min_learns: "min_learns" is 0 and "mature" always true.
 */
void report_check_json(const struct bayesc_opts *o, const char *name, const struct bayes_result *r,
		       double spam_threshold, double reject_threshold)
{
	json_t *obj;

	if (o->quiet)
		return;
	obj = json_pack("{s:f, s:s, s:s, s:b, s:f, s:f, s:I, s:I, s:b, s:I, s:I, s:I}",
			"probability", r->prob, "verdict", r->spam ? "spam" : "ham",
			"action", report_action(r->prob, spam_threshold, reject_threshold),
			"spam", (int)r->spam, "score", r->prob, "required", spam_threshold,
			"tokens", (json_int_t)r->nfeatures, "used", (json_int_t)r->nused,
			"mature", 1, "learned_spam", (json_int_t)r->learned_spam,
			"learned_ham", (json_int_t)r->learned_ham, "min_learns", (json_int_t)0);
	if (o->user != NULL && *o->user != '\0')
		json_object_set_new(obj, "user", json_string(o->user));
	if (report_features_wanted(o)) {
		json_t *arr = json_array();
		for (size_t i = 0; i < r->ntop; i++)
			json_array_append_new(arr, feature_json(&r->top[i]));
		json_object_set_new(obj, "features", arr);
	}
	report_json(report_with_file(name, obj));
}

/*
 * report_learn - one learn or forget, text or JSON in the shape of
 * bayesd's answer (ctl_do_learn): "result", then "forgotten" for forget or
 * "learned" (the counts changed) for a learn.
 */
void report_learn(const struct bayesc_opts *o, const char *name, enum bayes_learn_outcome out)
{
	json_t *obj;

	if (o->quiet)
		return;
	if (!o->json) {
		printf("%s: %s\n", name, bayes_outcome_name(out));
		return;
	}
	if (o->verb == VERB_FORGET)
		obj = json_pack("{s:s, s:b}", "result", bayes_outcome_name(out),
				"forgotten", (int)(out == BAYES_FORGOTTEN));
	else
		obj = json_pack("{s:s, s:b}", "result", bayes_outcome_name(out),
				"learned", (int)(out == BAYES_LEARNED || out == BAYES_RELEARNED));
	if (o->user != NULL && *o->user != '\0')
		json_object_set_new(obj, "user", json_string(o->user));
	report_json(report_with_file(name, obj));
}

/* The outcomes a tally counts: bayes_outcome_name()'s names, and as JSON keys. */
static const struct {
	const char *name, *key;
	bool always;		/* in the text even when 0 */
} report_outcomes[REPORT_OUTCOMES] = {
	{ "learned", "learned", true },
	{ "already learned", "already_learned", true },
	{ "relearned", "relearned", true },
	{ "forgotten", "forgotten", false },
	{ "not learned", "not_learned", false },
	{ "skipped", "skipped", false },
	{ "kept manual learn", "kept_manual", false },
};

/* report_tally_add - count an outcome by its name; an unknown one is a failure */
void report_tally_add(struct report_tally *t, const char *outcome)
{
	for (size_t i = 0; i < REPORT_OUTCOMES; i++) {
		if (outcome != NULL && strcmp(outcome, report_outcomes[i].name) == 0) {
			t->outcome[i]++;
			return;
		}
	}
	t->failed++;	/* an answer we do not know is not a success */
}

/* report_summary - the summary line, text or JSON */
void report_summary(FILE *out, bool json, const struct report_tally *t)
{
	unsigned long n = t->failed;

	for (size_t i = 0; i < REPORT_OUTCOMES; i++)
		n += t->outcome[i];
	if (json) {
		json_t *obj = json_pack("{s:I}", "messages", (json_int_t)n);
		for (size_t i = 0; i < REPORT_OUTCOMES; i++)
			json_object_set_new(obj, report_outcomes[i].key, json_integer((json_int_t)t->outcome[i]));
		json_object_set_new(obj, "failed", json_integer((json_int_t)t->failed));
		char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (s) {
			fprintf(out, "%s\n", s);
			free(s);
		}
		json_decref(obj);
		return;
	}
	fprintf(out, "%lu message%s:", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < REPORT_OUTCOMES; i++)
		if (report_outcomes[i].always || t->outcome[i])
			fprintf(out, " %lu %s,", t->outcome[i], report_outcomes[i].name);
	fprintf(out, " %lu failed\n", t->failed);
}

/* report_run_summary - the summary where the run wants it, if anywhere */
void report_run_summary(const struct bayesc_opts *o, size_t n, const struct report_tally *t)
{
	if (o->summary_only)
		report_summary(stdout, o->json, t);
	else if (n > 1 && !o->quiet && isatty(STDERR_FILENO))
		report_summary(stderr, false, t);
}

void report_error(const struct bayesc_opts *o, const char *name, const char *msg)
{
	fprintf(stderr, "bayesc: %s: %s\n", name, msg);
	report_error_json(o, name, msg);
}

/* report_error_json - with --json (not import-mbox), {"file", "error"} on stdout. */
void report_error_json(const struct bayesc_opts *o, const char *name, const char *msg)
{
	if (o->json && !o->summary_only)
		report_json(report_with_file(name, json_pack("{s:s}", "error", msg ? msg : "?")));
}

void report_stats(const char *user, const struct bayes_stats *st)
{
	char when[64] = "never";
	time_t tt = (time_t)st->last_expire;
	struct tm tm;

	if (st->last_expire > 0 && gmtime_r(&tt, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("Statistics%s%s:\n", user ? " of user " : "", user ? user : "");
	printf("  learned spam:       %llu\n", (unsigned long long)st->learned_spam);
	printf("  learned ham:        %llu\n", (unsigned long long)st->learned_ham);
	printf("  tokens:             %llu\n", (unsigned long long)st->tokens);
	printf("  messages remembered: %llu\n", (unsigned long long)st->remembered);
	printf("  users:              %llu\n", (unsigned long long)st->users);
	printf("  database bytes:     %lld\n", (long long)st->db_bytes);
	printf("  schema version:     %d\n", st->schema_version);
	printf("  tokenizer:          %s\n", st->tok_params ? st->tok_params : "?");
	printf("  last expiry:        %s\n", when);
}

/* report_users - the per-user table of the stat verb */
void report_users(const struct bayes_user_stats *users, size_t n)
{
	printf("Per-user statistics (%zu user%s):\n", n, n == 1 ? "" : "s");
	if (n == 0)
		return;
	printf("  %-32s %12s %12s %12s\n", "user", "spam", "ham", "tokens");
	for (size_t i = 0; i < n; i++)
		printf("  %-32s %12llu %12llu %12llu\n", users[i].name,
		       (unsigned long long)users[i].learned_spam, (unsigned long long)users[i].learned_ham,
		       (unsigned long long)users[i].tokens);
}

/* user_json - a per-user entry as bayesd's /stat lists it (a name JSON cannot hold, escaped). */
static json_t *user_json(const struct bayes_user_stats *u)
{
	char esc[4 * USER_NAME_MAX + 1];
	json_t *name = u->name ? json_string(u->name) : json_null();

	if (name == NULL)
		name = json_string(escape_for_log(esc, sizeof(esc), u->name));
	return json_pack("{s:o, s:I, s:I, s:I, s:I}", "user", name,
			 "learned_spam", (json_int_t)u->learned_spam, "learned_ham", (json_int_t)u->learned_ham,
			 "tokens", (json_int_t)u->tokens, "remembered", (json_int_t)u->remembered);
}

/*
 * report_stats_json - offline stat in the shape of bayesd's GET /stat
 * (ctl_do_stat); users/n, the per-user list, only when user is NULL.
 * No min_learns offline: 0, and "mature" true.
 */
void report_stats_json(const char *user, const struct bayes_stats *st,
		       const struct bayes_user_stats *users, size_t n)
{
	json_t *obj = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:s?}",
				"learned_spam", (json_int_t)st->learned_spam,
				"learned_ham", (json_int_t)st->learned_ham,
				"tokens", (json_int_t)st->tokens, "remembered", (json_int_t)st->remembered,
				"users", (json_int_t)st->users, "db_bytes", (json_int_t)st->db_bytes,
				"schema_version", st->schema_version, "tok_params", st->tok_params);

	json_object_set_new(obj, "last_expire", json_integer((json_int_t)st->last_expire));
	json_object_set_new(obj, "spam_messages", json_integer((json_int_t)st->learned_spam));
	json_object_set_new(obj, "ham_messages", json_integer((json_int_t)st->learned_ham));
	json_object_set_new(obj, "min_learns", json_integer(0));
	json_object_set_new(obj, "mature", json_true());
	if (user != NULL) {
		json_object_set_new(obj, "user", json_string(user));
	} else {
		/* last, after every global figure, as bayesd puts it */
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, user_json(&users[i]));
		json_object_set_new(obj, "per_user", arr);
	}
	report_json(obj);
}
