/*
 * offline.c - bayesc --db PATH: the verbs run on a database file directly,
 * with libbayes, no daemon (bulk training, evaluation, backups).
 */
#include <stdio.h>
#include <string.h>

#include "bayes.h"
#include "bayesc.h"
#include "report.h"

struct run {
	const struct bayesc_opts *o;
	struct bayes *b;
	unsigned failed;
	unsigned spam;
	int exit_code;
};

/* exit_for - the exit code for an engine error kind. */
static int exit_for(enum bayes_errkind k)
{
	switch (k) {
	case BAYES_ERR_BUSY: return BAYESC_EXIT_TEMPFAIL;
	case BAYES_ERR_INCOMPATIBLE: return BAYESC_EXIT_DBERR;
	case BAYES_ERR_INPUT: return BAYESC_EXIT_DATAERR;
	default: return BAYESC_EXIT_DBERR;
	}
}

/* one - run the verb on one message. */
static bool one(void *ctx, const char *name, const unsigned char *data, size_t size)
{
	struct run *r = ctx;
	const struct bayesc_opts *o = r->o;
	enum bayes_learn_outcome out;
	int rc;

	if (o->verb == VERB_CHECK) {
		struct bayes_result res;
		rc = bayes_check(r->b, o->user, data, size, NULL, &res);
		if (rc == 0) {
			report_check(o, name, res.prob, res.spam,
				     report_action(res.prob, BAYES_DEFAULT_SPAM_THRESHOLD,
						   BAYES_DEFAULT_REJECT_THRESHOLD),
				     res.top, res.ntop);
			if (res.spam)
				r->spam++;
		}
	} else {
		if (size == 0) {
			report_error(o, name, "empty message, not learned");
			r->failed++;
			r->exit_code = BAYESC_EXIT_DATAERR;
			return true;
		}
		enum bayes_class cls = o->verb == VERB_LEARN_SPAM ? BAYES_SPAM : BAYES_HAM;
		struct bayes_result res;
		if (o->verb == VERB_FORGET)
			rc = bayes_forget(r->b, o->user, data, size, &out);
		else if (o->train_mode == NULL)
			rc = bayes_learn(r->b, o->user, cls, data, size, &out);
		else if ((rc = bayes_check(r->b, o->user, data, size, NULL, &res)) == 0)
			rc = bayes_train(r->b, o->user, cls, res.prob, data, size, &out);
		if (rc == 0)
			report_learn(o, name, bayes_outcome_name(out),
				     out == BAYES_LEARNED || out == BAYES_RELEARNED || out == BAYES_FORGOTTEN);
	}
	if (rc < 0) {
		report_error(o, name, bayes_errmsg(r->b));
		r->failed++;
		r->exit_code = exit_for(bayes_errkind(r->b));
		/* a database error will not go away for the next message */
		return bayes_errkind(r->b) == BAYES_ERR_INPUT;
	}
	return true;
}

/* print_stats - the stat verb. */
static int print_stats(const struct bayesc_opts *o, struct bayes *b)
{
	struct bayes_stats st;

	if (bayes_stats(b, o->user, &st) < 0) {
		fprintf(stderr, "bayesc: %s\n", bayes_errmsg(b));
		return exit_for(bayes_errkind(b));
	}
	if (o->json) {
		printf("{\"learned_spam\":%llu,\"learned_ham\":%llu,\"tokens\":%llu,\"remembered\":%llu,"
		       "\"users\":%llu,\"db_bytes\":%lld,\"schema_version\":%d,\"tokenizer\":\"%s\"}\n",
		       (unsigned long long)st.learned_spam, (unsigned long long)st.learned_ham,
		       (unsigned long long)st.tokens, (unsigned long long)st.remembered,
		       (unsigned long long)st.users, (long long)st.db_bytes, st.schema_version,
		       st.tok_params);
	} else {
		printf("Statistics%s%s:\n", o->user ? " of user " : "", o->user ? o->user : "");
		printf("  learned spam:       %llu\n", (unsigned long long)st.learned_spam);
		printf("  learned ham:        %llu\n", (unsigned long long)st.learned_ham);
		printf("  tokens:             %llu\n", (unsigned long long)st.tokens);
		printf("  messages remembered: %llu\n", (unsigned long long)st.remembered);
		printf("  users:              %llu\n", (unsigned long long)st.users);
		printf("  database bytes:     %lld\n", (long long)st.db_bytes);
		printf("  schema version:     %d\n", st.schema_version);
		printf("  tokenizer:          %s\n", st.tok_params);
	}
	return BAYESC_EXIT_OK;
}

int offline_main(const struct bayesc_opts *o)
{
	struct bayes_options opt;
	enum bayes_errkind kind = BAYES_ERR_NONE;
	char err[600];
	bool writes = o->verb == VERB_LEARN_SPAM || o->verb == VERB_LEARN_HAM || o->verb == VERB_FORGET;
	struct run r = { .o = o, .exit_code = BAYESC_EXIT_OK };
	unsigned input_errors = 0;

	bayes_options_default(&opt);
	opt.keep_text = o->explain;
	if (o->train_mode) {
		if (strcmp(o->train_mode, "all") == 0)
			opt.train_mode = BAYES_TRAIN_ALL;
		else if (strcmp(o->train_mode, "error") == 0)
			opt.train_mode = BAYES_TRAIN_ERROR;
		else if (strcmp(o->train_mode, "mature") == 0)
			opt.train_mode = BAYES_TRAIN_MATURE;
		else if (strcmp(o->train_mode, "default") != 0) {
			fprintf(stderr, "bayesc: unknown training mode '%s' (all, error, mature, default)\n",
				o->train_mode);
			return BAYESC_EXIT_USAGE;
		}
	}
	r.b = bayes_open(o->db, writes ? BAYES_OPEN_CREATE : BAYES_OPEN_RDONLY, &opt, err, sizeof(err), &kind);
	if (r.b == NULL) {
		fprintf(stderr, "bayesc: %s\n", err);
		if (kind == BAYES_ERR_DB && strstr(err, "does not exist"))
			return BAYESC_EXIT_NOINPUT;
		return exit_for(kind);
	}
	if (o->verb == VERB_STAT) {
		int rc = print_stats(o, r.b);
		bayes_close(&r.b);
		return rc;
	}
	size_t n = inputs_each(o->args, o->nargs, one, &r, &input_errors);
	bayes_close(&r.b);
	if (r.exit_code != BAYESC_EXIT_OK)
		return r.exit_code;
	if (input_errors)
		return BAYESC_EXIT_DATAERR;
	if (n == 0) {
		fprintf(stderr, "bayesc: no messages\n");
		return BAYESC_EXIT_DATAERR;
	}
	if (o->verb == VERB_CHECK && r.spam)
		return BAYESC_EXIT_SPAM;
	return BAYESC_EXIT_OK;
}
