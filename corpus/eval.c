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
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bayes.h"
#include "bayesc.h"
#include "util.h"

struct scored {
	double score;
	bool spam;
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

int eval_main(const struct bayesc_opts *o)
{
	struct bayes_options opt;
	struct bayes *b;
	char err[600], line[4096];
	enum bayes_errkind kind;
	FILE *idx, *out = stdout;
	struct scored *res = NULL;
	size_t n = 0, cap = 0, fp = 0, fn = 0, nham = 0, nspam = 0, learned = 0, unreadable = 0;
	struct buf msg = { 0 }, path = { 0 };

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

	bayes_options_default(&opt);
	bayesc_store_options(o, &opt);
	b = bayes_open(o->db, BAYES_OPEN_CREATE | BAYES_OPEN_BULK, &opt, err, sizeof(err), &kind);
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
	while (fgets(line, sizeof(line), idx)) {
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
		struct bayes_result r;
		if (bayes_check(b, NULL, (const unsigned char *)msg.data, msg.len, NULL, &r) < 0) {
			fprintf(stderr, "bayesc: %s: %s\n", rel, bayes_errmsg(b));
			break;
		}
		fprintf(out, "file=%s judge=%s class=%s score=%.17g\n", rel, is_spam ? "spam" : "ham",
			r.spam ? "spam" : "ham", r.prob);
		if (n == cap)
			res = xrealloc(res, (cap = cap ? cap * 2 : 4096) * sizeof(*res));
		res[n].score = r.prob;
		res[n].spam = is_spam;
		n++;
		if (is_spam) {
			nspam++;
			fn += !r.spam;
		} else {
			nham++;
			fp += r.spam;
		}
		enum bayes_learn_outcome lo;
		if (bayes_train(b, NULL, is_spam ? BAYES_SPAM : BAYES_HAM, r.prob,
				(const unsigned char *)msg.data, msg.len, &lo) < 0) {
			fprintf(stderr, "bayesc: %s: learn: %s\n", rel, bayes_errmsg(b));
			break;
		}
		learned += lo == BAYES_LEARNED || lo == BAYES_RELEARNED;
	}
	double secs = now() - t0;
	fclose(idx);
	if (out != stdout)
		fclose(out);
	bayes_close(&b);
	buf_free(&msg);
	buf_free(&path);

	double auc = roc_area(res, n);
	free(res);
	double hm = nham ? (double)fp / (double)nham : 0, sm = nspam ? (double)fn / (double)nspam : 0;
	/* continuity correction where a rate is 0 or 1, as the TREC toolkit */
	double hmc = (fp == 0 || fp == nham) ? ((double)fp + 0.5) / ((double)nham + 1) : hm;
	double smc = (fn == 0 || fn == nspam) ? ((double)fn + 0.5) / ((double)nspam + 1) : sm;
	double lam = 1.0 / (1.0 + exp(-(logit(hmc) + logit(smc)) / 2.0));
	printf("n=%zu spam=%zu ham=%zu learned=%zu unreadable=%zu\n", n, nspam, nham, learned, unreadable);
	if (auc >= 0)
		printf("(1-ROCA)%%=%.5f\n", 100.0 * (1.0 - auc));
	else
		printf("(1-ROCA)%%=undefined (one class only)\n");
	printf("hm%%=%.4f sm%%=%.4f lam%%=%.4f (threshold %.2f)\n", 100 * hm, 100 * sm, 100 * lam,
	       opt.spam_threshold);
	printf("msgs/s=%.1f (%.1f s)\n", secs > 0 ? (double)n / secs : 0.0, secs);
	return unreadable || n == 0 ? BAYESC_EXIT_DATAERR : BAYESC_EXIT_OK;
}
