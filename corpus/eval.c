/*
 * eval.c - bayesc eval: the TREC Spam Track immediate-feedback protocol in
 * one process.
 *
 * For each message of a TREC index ("spam PATH" / "ham PATH", PATH relative
 * to the index's folder), in order: score it, write the result line
 * "file=PATH judge=spam class=spam score=0.99732", then train it with its
 * true label in the default training mode. At the end print the summary:
 * (1-ROCA)% (area above the ROC curve, ties counted half), hm% and sm% at
 * the default threshold, their logistic average lam%, and throughput.
 *
 * --windows N adds the same figures for each N messages (how fast the
 * filter recovers when the mail changes). --train-only learns every
 * message with its label and scores none; --score-only scores every
 * message and learns none: the two halves of a cross-corpus transfer run
 * (train on one corpus, score another with no feedback). --json prints
 * the summary, windows included, as one JSON object instead.
 *
 * Rooms: may use classifier/ and corpus/; never trainer/ or milter/.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bayes.h"
#include "bayesc_exit.h"
#include "eval.h"
#include "util.h"

struct scored {
	double score;
	bool spam;		/* the true label */
	bool said_spam;		/* the filter's verdict */
};

static int by_score(const void *a, const void *b)
{
	double x = ((const struct scored *)a)->score, y = ((const struct scored *)b)->score;
	return x < y ? -1 : x > y;
}

/*
 * eval_roc_area - P(score of a random spam > score of a random ham), ties
 * half; -1 when either class is empty. Sorts r.
 */
static double roc_area(struct scored *r, size_t n)
{
	size_t nspam = 0, nham = 0;
	double wins = 0.0, hams_below = 0.0;

	if (n > 0)
		qsort(r, n, sizeof(*r), by_score);
	for (size_t i = 0; i < n;) {
		size_t j = i, s = 0, h = 0;
		while (j < n && r[j].score == r[i].score) {
			if (r[j].spam)
				s++;
			else
				h++;
			j++;
		}
		wins += (double)s * (hams_below + 0.5 * (double)h);
		hams_below += (double)h;
		nspam += s;
		nham += h;
		i = j;
	}
	if (nspam == 0 || nham == 0)
		return -1.0;
	return wins / ((double)nspam * (double)nham);
}

static double logit(double p)
{
	return log(p / (1.0 - p));
}

/* The figures of one run of messages: all of them, or one window. */
struct figures {
	size_t n, nspam, nham, fp, fn;
	double one_minus_roca;	/* percent; < 0 when one class is missing */
	double hm, sm, lam;	/* percent */
};

/*
 * figures_of - the TREC figures of r[0..n). Sorts r. A rate of 0 or 1 is
 * continuity-corrected for lam%, as the TREC toolkit does.
 */
static void figures_of(struct scored *r, size_t n, struct figures *f)
{
	memset(f, 0, sizeof(*f));
	f->n = n;
	for (size_t i = 0; i < n; i++) {
		if (r[i].spam) {
			f->nspam++;
			f->fn += !r[i].said_spam;
		} else {
			f->nham++;
			f->fp += r[i].said_spam;
		}
	}
	double auc = roc_area(r, n);
	f->one_minus_roca = auc >= 0 ? 100.0 * (1.0 - auc) : -1.0;
	double hm = f->nham ? (double)f->fp / (double)f->nham : 0;
	double sm = f->nspam ? (double)f->fn / (double)f->nspam : 0;
	double hmc = (f->fp == 0 || f->fp == f->nham) ? ((double)f->fp + 0.5) / ((double)f->nham + 1) : hm;
	double smc = (f->fn == 0 || f->fn == f->nspam) ? ((double)f->fn + 0.5) / ((double)f->nspam + 1) : sm;
	f->hm = 100 * hm;
	f->sm = 100 * sm;
	f->lam = 100.0 / (1.0 + exp(-(logit(hmc) + logit(smc)) / 2.0));
}

static json_t *figures_json(const struct figures *f)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:f, s:f, s:f}", "n", (json_int_t)f->n,
			      "spam", (json_int_t)f->nspam, "ham", (json_int_t)f->nham,
			      "hm_pct", f->hm, "sm_pct", f->sm, "lam_pct", f->lam);
	json_object_set_new(o, "one_minus_roca_pct",
			    f->one_minus_roca >= 0 ? json_real(f->one_minus_roca) : json_null());
	return o;
}

static void print_roca(const char *prefix, double v)
{
	if (v >= 0)
		printf("%s(1-ROCA)%%=%.5f", prefix, v);
	else
		printf("%s(1-ROCA)%%=undefined (one class only)", prefix);
}

/* read_file - whole file into b; false with errno on failure. */
static bool read_file(const char *path, struct buf *b)
{
	FILE *f = fopen(path, "rb");
	size_t r;

	if (f == NULL)
		return false;
	buf_reset(b);
	do {
		buf_reserve(b, 65536);
		r = fread(b->data + b->len, 1, 65536, f);
		b->len += r;
	} while (r > 0);
	b->data[b->len] = '\0';
	bool ok = !ferror(f);
	fclose(f);
	return ok;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * report - print the summary (and the windows) of res[0..n), as text or
 * as one JSON object. Sorts res.
 */
static void report(const struct eval_opts *o, struct scored *res, size_t n, size_t learned,
		   size_t unreadable, double secs, double threshold)
{
	const char *phase = o->phase == EVAL_TRAIN_ONLY ? "train-only"
			    : o->phase == EVAL_SCORE_ONLY ? "score-only" : "online";
	double rate = secs > 0 ? (double)(n ? n : learned) / secs : 0.0;
	json_t *windows = o->json ? json_array() : NULL;
	struct figures all, w;

	/* windows first: figures_of sorts, so the stream order is used up by the whole */
	for (size_t i = 0; o->windows && i < n; i += o->windows) {
		size_t len = n - i < o->windows ? n - i : o->windows;
		figures_of(res + i, len, &w);
		if (windows) {
			json_t *j = figures_json(&w);
			json_object_set_new(j, "first", json_integer((json_int_t)i + 1));
			json_array_append_new(windows, j);
			continue;
		}
		printf("window %zu-%zu: ", i + 1, i + len);
		print_roca("", w.one_minus_roca);
		printf(" hm%%=%.4f sm%%=%.4f (spam=%zu ham=%zu)\n", w.hm, w.sm, w.nspam, w.nham);
	}
	figures_of(res, n, &all);
	if (o->json) {
		json_t *j = figures_json(&all);
		json_object_set_new(j, "mode", json_string(phase));
		json_object_set_new(j, "learned", json_integer((json_int_t)learned));
		json_object_set_new(j, "unreadable", json_integer((json_int_t)unreadable));
		json_object_set_new(j, "threshold", json_real(threshold));
		json_object_set_new(j, "msgs_per_s", json_real(rate));
		json_object_set_new(j, "seconds", json_real(secs));
		if (o->windows) {
			json_object_set_new(j, "window", json_integer((json_int_t)o->windows));
			json_object_set_new(j, "windows", windows);
		}
		char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(8));
		if (text)
			puts(text);
		free(text);
		json_decref(j);
		return;
	}
	printf("n=%zu spam=%zu ham=%zu learned=%zu unreadable=%zu mode=%s\n", n, all.nspam,
	       all.nham, learned, unreadable, phase);
	if (o->phase != EVAL_TRAIN_ONLY) {
		print_roca("", all.one_minus_roca);
		printf("\nhm%%=%.4f sm%%=%.4f lam%%=%.4f (threshold %.2f)\n", all.hm, all.sm, all.lam,
		       threshold);
	}
	printf("msgs/s=%.1f (%.1f s)\n", rate, secs);
}

int eval_main(const struct eval_opts *o)
{
	struct bayes_options opt;
	struct bayes *b;
	char err[600], line[4096];
	enum bayes_errkind kind;
	FILE *idx, *out = stdout;
	struct scored *res = NULL;
	size_t n = 0, cap = 0, learned = 0, unreadable = 0, in_batch = 0;
	struct buf msg = { 0 }, path = { 0 };
	bool failed = false;
	bool scoring = o->phase != EVAL_TRAIN_ONLY, training = o->phase != EVAL_SCORE_ONLY;

	if (o->nargs != 1) {
		fprintf(stderr, "bayesc: eval takes one TREC index file\n");
		return BAYESC_EXIT_USAGE;
	}
	const char *index = o->args[0];
	if ((idx = fopen(index, "r")) == NULL) {
		fprintf(stderr, "bayesc: cannot open index %s: %s\n", index, strerror(errno));
		return BAYESC_EXIT_NOINPUT;
	}
	char *slash = strrchr(index, '/');
	size_t dirlen = slash ? (size_t)(slash - index) : 1;
	const char *dir = slash ? index : ".";

	opt = o->engine;
	b = bayes_open(o->db, (o->phase == EVAL_SCORE_ONLY ? 0 : BAYES_OPEN_CREATE) |
			      BAYES_OPEN_BULK, &opt, err, sizeof(err), &kind);
	if (b == NULL) {
		fprintf(stderr, "bayesc: %s\n", err);
		fclose(idx);
		return kind == BAYES_ERR_INCOMPATIBLE ? BAYESC_EXIT_DBERR : BAYESC_EXIT_NOINPUT;
	}
	if (o->results && (out = fopen(o->results, "w")) == NULL) {
		fprintf(stderr, "bayesc: cannot write %s: %s\n", o->results, strerror(errno));
		bayes_close(&b);
		fclose(idx);
		return BAYESC_EXIT_USAGE;
	}

	double t0 = now();
	while (!failed && fgets(line, sizeof(line), idx)) {
		char label[16], rel[4000];
		if (sscanf(line, "%15s %3999s", label, rel) != 2)
			continue;
		bool is_spam = strcmp(label, "spam") == 0;
		if (!is_spam && strcmp(label, "ham") != 0)
			continue;
		buf_reset(&path);
		if (rel[0] == '/')
			buf_printf(&path, "%s", rel);
		else
			buf_printf(&path, "%.*s/%s", (int)dirlen, dir, rel);
		if (!read_file(path.data, &msg)) {
			fprintf(stderr, "bayesc: cannot read %s: %s\n", path.data, strerror(errno));
			unreadable++;
			continue;
		}
		const unsigned char *data = (const unsigned char *)msg.data;
		enum bayes_class cls = is_spam ? BAYES_SPAM : BAYES_HAM;
		enum bayes_learn_outcome lo;
		if (!scoring) {
			/* train-only: every message, a batch of 500 per transaction */
			if (in_batch == 0 && bayes_batch_begin(b) < 0)
				failed = true;
			else if (bayes_learn(b, NULL, cls, data, msg.len, &lo) < 0)
				failed = true;
			else
				learned += lo == BAYES_LEARNED || lo == BAYES_RELEARNED;
			if (!failed && ++in_batch == 500) {
				in_batch = 0;
				failed = bayes_batch_commit(b) < 0;
			}
			if (failed)
				fprintf(stderr, "bayesc: %s: learn: %s\n", rel, bayes_errmsg(b));
			continue;
		}
		struct bayes_result r;
		if (bayes_check(b, NULL, data, msg.len, NULL, &r) < 0) {
			fprintf(stderr, "bayesc: %s: %s\n", rel, bayes_errmsg(b));
			failed = true;
			break;
		}
		fprintf(out, "file=%s judge=%s class=%s score=%.17g\n", rel, is_spam ? "spam" : "ham",
			r.spam ? "spam" : "ham", r.prob);
		if (n == cap)
			res = xrealloc(res, (cap = cap ? cap * 2 : 4096) * sizeof(*res));
		res[n].score = r.prob;
		res[n].spam = is_spam;
		res[n].said_spam = r.spam;
		n++;
		if (!training)
			continue;
		if (bayes_train(b, NULL, cls, r.prob, data, msg.len, &lo) < 0) {
			fprintf(stderr, "bayesc: %s: learn: %s\n", rel, bayes_errmsg(b));
			failed = true;
			break;
		}
		learned += lo == BAYES_LEARNED || lo == BAYES_RELEARNED;
	}
	if (!failed && in_batch && bayes_batch_commit(b) < 0) {
		fprintf(stderr, "bayesc: learn: %s\n", bayes_errmsg(b));
		failed = true;
	}
	double secs = now() - t0;
	fclose(idx);
	if (out != stdout)
		fclose(out);
	bayes_close(&b);
	buf_free(&msg);
	buf_free(&path);

	report(o, res, n, learned, unreadable, secs, opt.spam_threshold);
	free(res);
	if (failed)
		return BAYESC_EXIT_SOFTWARE;
	return unreadable || (n == 0 && learned == 0) ? BAYESC_EXIT_DATAERR : BAYESC_EXIT_OK;
}
