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

const char *report_action(double prob, double spam_threshold, double reject_threshold)
{
	if (prob >= reject_threshold)
		return "reject";
	if (prob >= spam_threshold)
		return "add header";
	return "no action";
}

/* print_json - dump obj on one line and release it. */
static void print_json(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(12));

	if (s) {
		puts(s);
		free(s);
	}
	json_decref(obj);
}

void report_check(const struct bayesc_opts *o, const char *name, double prob, bool spam,
		  const char *action, const struct bayes_feature *top, size_t ntop)
{
	if (o->quiet)
		return;
	if (o->json) {
		json_t *obj = json_pack("{s:s, s:f, s:s, s:s}", "file", name, "probability", prob,
					"verdict", spam ? "spam" : "ham", "action", action);
		if (ntop && o->explain) {
			json_t *arr = json_array();
			for (size_t i = 0; i < ntop; i++)
				json_array_append_new(arr, json_pack("{s:s?, s:f, s:i, s:i}",
					"text", top[i].text, "prob", top[i].prob,
					"spam", (json_int_t)top[i].spam, "ham", (json_int_t)top[i].ham));
			json_object_set_new(obj, "features", arr);
		}
		print_json(obj);
		return;
	}
	printf("Results for file: %s\nProbability: %.5f\nVerdict: %s\nAction: %s\n", name, prob,
	       spam ? "spam" : "ham", action);
	if (o->explain) {
		for (size_t i = 0; i < ntop; i++)
			printf("Feature: %s (prob %.4f, spam %u, ham %u)\n",
			       top[i].text ? top[i].text : "?", top[i].prob, top[i].spam, top[i].ham);
	}
}

void report_learn(const struct bayesc_opts *o, const char *name, const char *outcome, bool changed)
{
	if (o->quiet)
		return;
	if (o->json)
		print_json(json_pack("{s:s, s:s, s:b}", "file", name, "result", outcome, "learned", changed));
	else
		printf("%s: %s\n", name, outcome);
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
	if (o->json && !o->summary_only)
		print_json(json_pack("{s:s, s:s}", "file", name, "error", msg));
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
