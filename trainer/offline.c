/*
 * offline.c - bayesc --db PATH (or -c CONFIG, --redis SERVERS): the verbs
 * run on the statistics directly, with libbayes, no daemon (bulk training,
 * evaluation, backups, moving statistics between backends).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bayes.h"
#include "bayesc.h"
#include "report.h"
#include "util.h"

/*
 * Learns are committed in batches of LEARN_BATCH messages (one
 * transaction each: a page touched by many messages is written once), and
 * reported only once their batch has committed: a message reported
 * learned is on disk.
 */
#define LEARN_BATCH	200

struct pending {
	char *name;
	enum bayes_learn_outcome outcome;
};

struct run {
	const struct bayesc_opts *o;
	struct bayes *b;
	unsigned failed;
	unsigned spam;
	struct report_tally tally;	/* learns and forgets, for the summary */
	int exit_code;
	struct pending batch[LEARN_BATCH];
	size_t nbatch;
	bool batch_open;
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

/*
 * batch_flush - commit the open batch, then report its learns, or, when
 * the commit or a learn in it failed, report each as not learned.
 */
static bool batch_flush(struct run *r)
{
	int rc = 0;

	if (r->batch_open && (rc = bayes_batch_commit(r->b)) < 0) {
		r->exit_code = exit_for(bayes_errkind(r->b));
		r->failed += (unsigned)r->nbatch;
	}
	r->batch_open = false;
	for (size_t i = 0; i < r->nbatch; i++) {
		struct pending *p = &r->batch[i];
		if (rc == 0) {
			report_tally_add(&r->tally, bayes_outcome_name(p->outcome));
			if (!r->o->summary_only)
				report_learn(r->o, p->name, p->outcome);
		} else {
			r->tally.failed++;
			report_error(r->o, p->name, bayes_errmsg(r->b));
		}
		free(p->name);
	}
	r->nbatch = 0;
	return rc == 0;
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
		rc = bayes_check(r->b, o->user, data, size, &o->meta, &res);
		if (rc == 0) {
			if (o->json)
				report_check_json(o, name, &res, BAYES_DEFAULT_SPAM_THRESHOLD,
						  BAYES_DEFAULT_REJECT_THRESHOLD);
			else
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
			r->tally.failed++;
			r->exit_code = BAYESC_EXIT_DATAERR;
			return true;
		}
		enum bayes_class cls = o->verb == VERB_LEARN_SPAM ? BAYES_SPAM : BAYES_HAM;
		struct bayes_result res;
		if (!r->batch_open) {
			if (bayes_batch_begin(r->b) < 0) {
				report_error(o, name, bayes_errmsg(r->b));
				r->failed++;
				r->tally.failed++;
				r->exit_code = exit_for(bayes_errkind(r->b));
				return false;
			}
			r->batch_open = true;
		}
		if (o->verb == VERB_FORGET)
			rc = bayes_forget(r->b, o->user, data, size, &out);
		else if (o->train_mode == NULL)
			rc = bayes_learn(r->b, o->user, cls, data, size, &out);
		else if ((rc = bayes_check(r->b, o->user, data, size, NULL, &res)) == 0)
			rc = bayes_train(r->b, o->user, cls, res.prob, data, size, &out);
		if (rc == 0) {
			struct pending *p = &r->batch[r->nbatch++];
			p->name = xstrdup(name);
			p->outcome = out;
			if (r->nbatch == LEARN_BATCH && !batch_flush(r))
				return false;
			return true;
		}
	}
	if (rc < 0) {
		char msg[1100];
		enum bayes_errkind kind = bayes_errkind(r->b);

		snprintf(msg, sizeof(msg), "%s", bayes_errmsg(r->b));
		/* a database error lost the batch with this learn: report it first */
		if (kind != BAYES_ERR_INPUT)
			batch_flush(r);
		report_error(o, name, msg);
		r->failed++;
		if (o->verb != VERB_CHECK)
			r->tally.failed++;
		r->exit_code = exit_for(kind);
		/* a database error will not go away for the next message */
		return kind == BAYES_ERR_INPUT;
	}
	return true;
}

/*
 * print_stats - the stat verb. Without -u the per-user figures follow the
 * global ones: in JSON (bayesd's /stat keys) as a "per_user" array after
 * every global key, so readers that take the first spam count keep
 * getting the global one.
 */
static int print_stats(const struct bayesc_opts *o, struct bayes *b)
{
	struct bayes_stats st;
	struct bayes_user_stats *users = NULL;
	size_t nusers = 0;

	if (bayes_stats(b, o->user, &st) < 0 || (o->user == NULL && bayes_users(b, &users, &nusers) < 0)) {
		fprintf(stderr, "bayesc: %s\n", bayes_errmsg(b));
		return exit_for(bayes_errkind(b));
	}
	if (o->json) {
		report_stats_json(o->user, &st, users, nusers);
	} else {
		report_stats(o->user, &st);
		if (o->user == NULL)
			report_users(users, nusers);
	}
	bayes_users_free(&users, nusers);
	return BAYESC_EXIT_OK;
}

/* run_expire - the expire verb: the default rules, or --max-age-days N. */
static int run_expire(const struct bayesc_opts *o, struct bayes *b)
{
	struct bayes_expire_rules rules;
	struct bayes_expire_state st;

	bayes_expire_rules_default(&rules);
	if (o->max_age_days > 0) {
		unsigned n = (unsigned)o->max_age_days;
		rules.any_days = n;
		if (rules.hapax_days > n)
			rules.hapax_days = n;
		if (rules.neutral_days > n)
			rules.neutral_days = n;
	}
	if (bayes_expire(b, &rules, stats_clock(), &st) < 0) {
		fprintf(stderr, "bayesc: expire: %s\n", bayes_errmsg(b));
		return exit_for(bayes_errkind(b));
	}
	if (o->json)
		report_json(json_pack("{s:I, s:I, s:I, s:I, s:I}",
				      "tokens", (json_int_t)(st.hapaxes + st.neutral + st.stale),
				      "hapaxes", (json_int_t)st.hapaxes, "neutral", (json_int_t)st.neutral,
				      "stale", (json_int_t)st.stale, "learned", (json_int_t)st.learned));
	else if (!o->quiet)
		printf("expired %llu tokens (%llu hapaxes not seen for %u days, %llu rare neutral "
		       "for %u days, %llu any for %u days), %llu learned messages older than %u days\n",
		       (unsigned long long)(st.hapaxes + st.neutral + st.stale),
		       (unsigned long long)st.hapaxes, rules.hapax_days,
		       (unsigned long long)st.neutral, rules.neutral_days,
		       (unsigned long long)st.stale, rules.any_days,
		       (unsigned long long)st.learned, rules.learned_days);
	return BAYESC_EXIT_OK;
}

/*
 * run_restore - the restore verb: stdin into the database just opened.
 * A database file this run created is removed again when restoring fails,
 * so a failed restore can simply be retried.
 */
static int run_restore(const struct bayesc_opts *o, struct bayes **bp, bool created)
{
	if (bayes_restore(*bp, stdin) == 0)
		return BAYESC_EXIT_OK;
	fprintf(stderr, "bayesc: restore: %s\n", bayes_errmsg(*bp));
	int rc = bayes_errkind(*bp) == BAYES_ERR_INPUT ? BAYESC_EXIT_DATAERR : exit_for(bayes_errkind(*bp));
	bayes_close(bp);
	if (created) {
		char p[4200];
		unlink(o->db);
		snprintf(p, sizeof(p), "%s-wal", o->db);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", o->db);
		unlink(p);
	}
	return rc;
}

int offline_main(const struct bayesc_opts *o)
{
	struct bayes_options opt;
	enum bayes_errkind kind = BAYES_ERR_NONE;
	char err[600];
	bool writes = o->verb == VERB_LEARN_SPAM || o->verb == VERB_LEARN_HAM || o->verb == VERB_FORGET ||
		o->verb == VERB_RESTORE || o->verb == VERB_EXPIRE;
	struct stat dbst;
	bool created = o->verb == VERB_RESTORE && o->store.backend == BAYES_BACKEND_SQLITE &&
		stat(o->db, &dbst) != 0;
	struct run r = { .o = o, .exit_code = BAYESC_EXIT_OK };
	unsigned input_errors = 0;

	bayes_options_default(&opt);
	bayesc_store_options(o, &opt);
	opt.keep_text = report_features_wanted(o);
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
	/*
	 * Bulk mode (the token table in memory) pays off over many messages,
	 * and costs a table scan for one: use it when reading a directory or
	 * several files, or when learns are decided by scores.
	 */
	unsigned flags = writes ? BAYES_OPEN_CREATE : BAYES_OPEN_RDONLY;
	if (o->verb == VERB_EXPIRE)
		flags = 0;	/* read-write, but never create */
	if (o->verb == VERB_CHECK || o->train_mode) {
		struct stat sb;
		if (o->nargs > 8 || o->mbox || (o->nargs >= 1 && stat(o->args[0], &sb) == 0 && S_ISDIR(sb.st_mode)))
			flags |= BAYES_OPEN_BULK;
	}
	r.b = bayes_open(o->db, flags, &opt, err, sizeof(err), &kind);
	if (r.b == NULL) {
		fprintf(stderr, "bayesc: %s\n", err);
		if (kind == BAYES_ERR_DB && strstr(err, "does not exist"))
			return BAYESC_EXIT_NOINPUT;
		return exit_for(kind);
	}
	if (o->verb == VERB_STAT || o->verb == VERB_DUMP || o->verb == VERB_RESTORE ||
	    o->verb == VERB_EXPIRE) {
		int rc = BAYESC_EXIT_OK;
		if (o->verb == VERB_STAT)
			rc = print_stats(o, r.b);
		else if (o->verb == VERB_EXPIRE)
			rc = run_expire(o, r.b);
		else if (o->verb == VERB_RESTORE)
			rc = run_restore(o, &r.b, created);
		else if (bayes_dump(r.b, stdout) < 0) {
			fprintf(stderr, "bayesc: dump: %s\n", bayes_errmsg(r.b));
			rc = exit_for(bayes_errkind(r.b));
		}
		bayes_close(&r.b);
		return rc;
	}
	size_t n = inputs_each(o->args, o->nargs, inputs_flags(o), one, &r, &input_errors);
	batch_flush(&r);
	bayes_close(&r.b);
	if (o->verb != VERB_CHECK)
		report_run_summary(o, n, &r.tally);
	if (r.exit_code != BAYESC_EXIT_OK)
		return r.exit_code;
	if (input_errors)
		return BAYESC_EXIT_DATAERR;
	if (n == 0) {
		fprintf(stderr, "bayesc: no messages\n");
		return BAYESC_EXIT_DATAERR;
	}
	if (o->verb == VERB_CHECK && o->exit_code && r.spam)
		return BAYESC_EXIT_SPAM;
	return BAYESC_EXIT_OK;
}
