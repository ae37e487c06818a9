/*
 * report.c - bayesc's output. See report.h.
 */
#include "report.h"

#include <jansson.h>
#include <stdio.h>

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
			printf("  %.5f  spam=%u ham=%u  %s\n", top[i].prob, top[i].spam, top[i].ham,
			       top[i].text ? top[i].text : "?");
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

void report_error(const struct bayesc_opts *o, const char *name, const char *msg)
{
	fprintf(stderr, "bayesc: %s: %s\n", name, msg);
	if (o->json)
		print_json(json_pack("{s:s, s:s}", "file", name, "error", msg));
}
