/*
 * score.h - the arithmetic of scoring: token probabilities and how they are
 * combined into one spam probability. Pure functions, no I/O.
 *
 * Rooms: may use store/store.h.
 */
#ifndef BAYES_SCORE_H
#define BAYES_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* How the features' f(w) become one probability (score.c). */
enum score_combiner {
	SCORE_MEAN,		/* the mean of their log-odds (the default) */
	SCORE_FISHER,		/* Fisher's chi-square method, as bogofilter */
};

struct score_params {
	enum score_combiner combiner;
	double robs;		/* Robinson's s: strength of the prior */
	double robx;		/* Robinson's x: probability of an unknown token */
	double min_dev;		/* tokens with |f - 0.5| below this are ignored */
	double scale;		/* maps the evidence to a probability, see score.c */
	double mean_scale;	/* SCORE_MEAN: prob = 1 / (1 + exp(-mean_scale * mean)) */
};

/*
 * score_combiner_parse - SCORE_MEAN for "mean", SCORE_FISHER for
 * "fisher"; -1 for anything else. score_combiner_name is the inverse.
 */
int score_combiner_parse(const char *name);
const char *score_combiner_name(enum score_combiner c);

/* score_params_default - the measured defaults (see score.c for why). */
void score_params_default(struct score_params *p);

/*
 * score_params_combiner - switch p to combiner c with the smoothing and
 * the neutral band that combiner was measured with.
 */
void score_params_combiner(struct score_params *p, enum score_combiner c);

/*
 * score_token - Robinson's smoothed spam probability f(w) of a token seen
 * in spam of nspam_msgs spam and ham of nham_msgs ham messages.
 */
double score_token(const struct score_params *p, uint32_t spam, uint32_t ham,
		   uint64_t nspam_msgs, uint64_t nham_msgs);

/*
 * struct score_memo - what score_combine() worked out for the (spam, ham)
 * pairs it met, under the totals and parameters it was last called with:
 * most features of a message have counts that other features had before
 * (small counts above all), and the two logarithms per feature were most
 * of the scoring's cost. A direct-mapped table; a change of totals or
 * parameters empties it. Caller-owned, one per thread (a zeroed struct is
 * an empty memo); about 1.3 MB. At 2^12 slots it missed one lookup in
 * two; 2^15 checked 10,000 trec06p messages 9% faster (README, Speed),
 * and 2^16 only 2% faster again for twice the memory.
 */
#define SCORE_MEMO_BITS	15
struct score_memo_entry {
	uint32_t spam, ham;
	uint32_t gen;		/* valid when equal to the memo's gen */
	bool used;		/* weighs in (else f is noise or unseen) */
	double f, ln_f, ln_1f;
};
struct score_memo {
	struct score_params p;
	uint64_t nspam_msgs, nham_msgs;
	uint32_t gen;
	struct score_memo_entry e[1u << SCORE_MEMO_BITS];
};

/*
 * score_combine - the spam probability of a message whose n features have
 * the given counts. fprob_r (may be NULL) gets each feature's f(w), or -1
 * for a feature that did not weigh in; *nused_r the number that did.
 * With no evidence at all the result is 0.5. memo (may be NULL) saves
 * work across calls; the result is the same, bit for bit, either way.
 */
double score_combine(const struct score_params *p, const struct store_counts *c, size_t n,
		     uint64_t nspam_msgs, uint64_t nham_msgs, double *fprob_r, size_t *nused_r,
		     struct score_memo *memo);

/*
 * score_ln_chi2q - natural log of the chi-square survival function
 * Q(x2 | 2*dof_half degrees of freedom), exact for even degrees of freedom
 * and accurate far into the tail, where Q itself underflows.
 */
double score_ln_chi2q(double x2, size_t dof_half);

#endif
