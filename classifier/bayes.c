/*
 * bayes.c - the engine: a store, a tokenizer and the scoring arithmetic put
 * together to check, learn, train and forget messages. See bayes.h.
 *
 * A handle remembers the features of the last message it tokenized (keyed
 * by a hash of the bytes and the length), so the usual check-then-train
 * sequence of the feedback loop tokenizes once.
 */
#include "bayes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "score.h"
#include "store.h"
#include "util.h"

/*
 * Training on error: a message is learned when it was misclassified or
 * scored within this margin of certainty on the wrong side ("thick
 * threshold", as CRM114 and OSBF-Lua train). Measured on trec06p and the
 * SpamAssassin corpus with bayesc eval; see README.
 */
#define TRAIN_THICK_LOW		0.10	/* a ham scored above this is learned */
#define TRAIN_THICK_HIGH	0.99	/* a spam scored below this is learned */
#define TRAIN_MATURE_MSGS	2000	/* train-until-mature: each class */

struct bayes {
	struct store *store;
	struct tokenizer *tok;
	struct bayes_options opt;
	struct score_params sp;
	enum bayes_errkind errkind;
	char errmsg[1100];

	/* the last message tokenized, to reuse its features */
	uint64_t last_key;
	size_t last_size;
	const struct featvec *last_fv;
	unsigned last_mime_flags;
	bool last_meta;

	/* per-call scratch, grown as needed */
	struct store_counts *counts;
	double *fprob;
	size_t cap;
};

void bayes_options_default(struct bayes_options *o)
{
	memset(o, 0, sizeof(*o));
	tok_params_default(&o->tok);
	mime_limits_default(&o->lim);
	o->spam_threshold = BAYES_DEFAULT_SPAM_THRESHOLD;
	o->train_mode = BAYES_TRAIN_ERROR;
	o->keep_text = false;
	o->sync_full = false;
	o->busy_timeout_ms = 5000;
}

const char *bayes_outcome_name(enum bayes_learn_outcome o)
{
	switch (o) {
	case BAYES_LEARNED: return "learned";
	case BAYES_ALREADY: return "already learned";
	case BAYES_RELEARNED: return "relearned";
	case BAYES_FORGOTTEN: return "forgotten";
	case BAYES_NOT_LEARNED: return "not learned";
	case BAYES_SKIPPED: return "skipped";
	}
	return "?";
}

/* set_err - record an error of our own; returns -1. */
static int set_err(struct bayes *b, enum bayes_errkind kind, const char *msg)
{
	b->errkind = kind;
	snprintf(b->errmsg, sizeof(b->errmsg), "%s", msg);
	return -1;
}

/* store_err - copy the store's error; returns -1. */
static int store_err(struct bayes *b)
{
	return set_err(b, store_errkind(b->store), store_errmsg(b->store));
}

const char *bayes_errmsg(const struct bayes *b)
{
	return b->errmsg;
}

enum bayes_errkind bayes_errkind(const struct bayes *b)
{
	return b->errkind;
}

struct bayes *bayes_open(const char *path, unsigned flags, const struct bayes_options *opt,
			 char *err, size_t errlen, enum bayes_errkind *kind_r)
{
	struct bayes *b = xcalloc(1, sizeof(*b));
	struct buf params = { 0 };

	if (opt)
		b->opt = *opt;
	else
		bayes_options_default(&b->opt);
	score_params_default(&b->sp);
	tok_params_string(&b->opt.tok, &params);
	b->store = store_open(path, flags, params.data, b->opt.sync_full, b->opt.busy_timeout_ms,
			      err, errlen, kind_r);
	buf_free(&params);
	if (b->store == NULL) {
		free(b);
		return NULL;
	}
	b->tok = tokenizer_new(&b->opt.tok, b->opt.keep_text, err, errlen);
	if (b->tok == NULL) {
		if (kind_r)
			*kind_r = BAYES_ERR_DB;
		store_close(&b->store);
		free(b);
		return NULL;
	}
	return b;
}

void bayes_close(struct bayes **bp)
{
	struct bayes *b = *bp;

	if (b == NULL)
		return;
	store_close(&b->store);
	tokenizer_free(&b->tok);
	free(b->counts);
	free(b->fprob);
	free(b);
	*bp = NULL;
}

/* features - tokenize data (or reuse the last result for the same bytes). */
static const struct featvec *features(struct bayes *b, const unsigned char *data, size_t size,
				      const struct bayes_msg_meta *meta, unsigned *mime_flags_r)
{
	uint64_t key = XXH3_64bits(data, size);
	bool has_meta = meta && (meta->client_ip || meta->helo);

	if (b->last_fv && key == b->last_key && size == b->last_size && !has_meta && !b->last_meta) {
		*mime_flags_r = b->last_mime_flags;
		return b->last_fv;
	}
	tokenizer_reset(b->tok);
	*mime_flags_r = mime_parse(data, size, &b->opt.lim, tokenizer_sink(), b->tok);
	if (has_meta) {
		if (meta->client_ip)
			tokenizer_add_meta(b->tok, "client-ip", meta->client_ip);
		if (meta->helo)
			tokenizer_add_meta(b->tok, "helo", meta->helo);
	}
	b->last_fv = tokenizer_finish(b->tok);
	b->last_key = key;
	b->last_size = size;
	b->last_meta = has_meta;
	b->last_mime_flags = *mime_flags_r;
	return b->last_fv;
}

/* grow - scratch arrays for n features. */
static void grow(struct bayes *b, size_t n)
{
	if (n <= b->cap)
		return;
	b->cap = n + n / 2 + 64;
	b->counts = xrealloc(b->counts, b->cap * sizeof(*b->counts));
	b->fprob = xrealloc(b->fprob, b->cap * sizeof(*b->fprob));
}

/* by_strength - order the top features, strongest evidence first. */
static int by_strength(const void *x, const void *y)
{
	const struct bayes_feature *a = x, *c = y;
	double da = fabs(a->prob - 0.5), dc = fabs(c->prob - 0.5);

	if (da != dc)
		return da < dc ? 1 : -1;
	uint32_t na = a->spam + a->ham, nc = c->spam + c->ham;
	return na < nc ? 1 : na > nc ? -1 : 0;
}

/* top_features - the BAYES_MAX_TOP features with the most evidence. */
static void top_features(struct bayes *b, const struct featvec *fv, struct bayes_result *r)
{
	size_t k = 0;

	for (size_t i = 0; i < fv->n; i++) {
		if (b->fprob[i] < 0)
			continue;
		struct bayes_feature f = {
			.text = fv->text ? fv->text[i] : NULL,
			.hash = fv->hash[i],
			.prob = b->fprob[i],
			.spam = b->counts[i].spam,
			.ham = b->counts[i].ham,
		};
		if (k < BAYES_MAX_TOP) {
			r->top[k++] = f;
			if (k == BAYES_MAX_TOP)
				qsort(r->top, k, sizeof(r->top[0]), by_strength);
		} else if (by_strength(&f, &r->top[k - 1]) < 0) {
			/* insert in order, dropping the weakest */
			size_t j = k - 1;
			while (j > 0 && by_strength(&f, &r->top[j - 1]) < 0) {
				r->top[j] = r->top[j - 1];
				j--;
			}
			r->top[j] = f;
		}
	}
	if (k < BAYES_MAX_TOP)
		qsort(r->top, k, sizeof(r->top[0]), by_strength);
	r->ntop = k;
}

int bayes_check(struct bayes *b, const char *user, const unsigned char *data, size_t size,
		const struct bayes_msg_meta *meta, struct bayes_result *r)
{
	const struct featvec *fv;
	int64_t uid = 0;
	uint64_t ns, nh;
	long found;

	memset(r, 0, sizeof(*r));
	b->errkind = BAYES_ERR_NONE;
	fv = features(b, data, size, meta, &r->mime_flags);
	r->nfeatures = fv->n;
	if (store_read_begin(b->store) < 0)
		return store_err(b);
	/* an unknown user has no statistics of their own: use the global ones */
	if (store_user_id(b->store, user, false, &uid) < 0 ||
	    store_totals(b->store, uid, &ns, &nh) < 0)
		goto failed;
	r->learned_spam = ns;
	r->learned_ham = nh;
	grow(b, fv->n);
	found = store_lookup(b->store, uid, fv->hash, fv->n, b->counts);
	if (found < 0)
		goto failed;
	store_read_end(b->store);
	r->prob = score_combine(&b->sp, b->counts, fv->n, ns, nh, b->fprob, &r->nused);
	r->spam = r->prob >= b->opt.spam_threshold;
	top_features(b, fv, r);
	return 0;

failed:
	store_err(b);
	store_read_end(b->store);
	return -1;
}

/*
 * learn_locked - inside a transaction: apply cls (or forget when forget is
 * set) to the message's features for user.
 */
static int learn_locked(struct bayes *b, int64_t uid, const uint8_t digest[16], const struct featvec *fv,
			enum bayes_class cls, bool forget, enum bayes_learn_outcome *out_r)
{
	int was, rc;

	rc = store_learned_get(b->store, uid, digest, &was);
	if (rc < 0)
		return -1;
	if (forget) {
		if (rc == 0) {
			*out_r = BAYES_NOT_LEARNED;
			return 0;
		}
		if (store_add(b->store, uid, fv->hash, fv->n, was ? -1 : 0, was ? 0 : -1,
			      was ? -1 : 0, was ? 0 : -1) < 0 ||
		    store_learned_del(b->store, uid, digest) < 0)
			return -1;
		*out_r = BAYES_FORGOTTEN;
		return 0;
	}
	if (rc == 1 && was == (int)cls) {
		*out_r = BAYES_ALREADY;
		return 0;
	}
	int ds = cls == BAYES_SPAM ? 1 : 0, dh = cls == BAYES_HAM ? 1 : 0;
	if (rc == 1) {
		/* learned as the other class before: move the counts */
		ds = cls == BAYES_SPAM ? 1 : -1;
		dh = -ds;
	}
	if (store_add(b->store, uid, fv->hash, fv->n, ds, dh, ds, dh) < 0 ||
	    store_learned_put(b->store, uid, digest, (int)cls) < 0)
		return -1;
	*out_r = rc == 1 ? BAYES_RELEARNED : BAYES_LEARNED;
	return 0;
}

/* change - learn or forget in one transaction. */
static int change(struct bayes *b, const char *user, enum bayes_class cls, bool forget,
		  const unsigned char *data, size_t size, enum bayes_learn_outcome *out_r)
{
	const struct featvec *fv;
	uint8_t digest[16];
	unsigned mflags;
	int64_t uid = 0;

	b->errkind = BAYES_ERR_NONE;
	if (size == 0)
		return set_err(b, BAYES_ERR_INPUT, "empty message");
	fv = features(b, data, size, NULL, &mflags);
	bayes_digest(data, size, digest);
	if (store_begin(b->store) < 0)
		return store_err(b);
	int found = store_user_id(b->store, user, !forget, &uid);
	if (found < 0)
		goto failed;
	if (found == 0) {
		/* forget for a user who never learned anything */
		store_rollback(b->store);
		*out_r = BAYES_NOT_LEARNED;
		return 0;
	}
	if (learn_locked(b, uid, digest, fv, cls, forget, out_r) < 0)
		goto failed;
	if (store_commit(b->store) < 0)
		return store_err(b);
	return 0;

failed:
	store_err(b);
	store_rollback(b->store);
	return -1;
}

int bayes_learn(struct bayes *b, const char *user, enum bayes_class cls,
		const unsigned char *data, size_t size, enum bayes_learn_outcome *out_r)
{
	return change(b, user, cls, false, data, size, out_r);
}

int bayes_forget(struct bayes *b, const char *user, const unsigned char *data, size_t size,
		 enum bayes_learn_outcome *out_r)
{
	return change(b, user, BAYES_HAM, true, data, size, out_r);
}

int bayes_train(struct bayes *b, const char *user, enum bayes_class cls, double scored_prob,
		const unsigned char *data, size_t size, enum bayes_learn_outcome *out_r)
{
	bool learn = true;

	if (b->opt.train_mode != BAYES_TRAIN_ALL) {
		bool wrong_or_unsure = cls == BAYES_SPAM ? scored_prob < TRAIN_THICK_HIGH
							 : scored_prob > TRAIN_THICK_LOW;
		learn = wrong_or_unsure;
		if (b->opt.train_mode == BAYES_TRAIN_MATURE && !learn) {
			int64_t uid = 0;
			uint64_t ns, nh;
			if (store_user_id(b->store, user, false, &uid) < 0 ||
			    store_totals(b->store, uid, &ns, &nh) < 0)
				return store_err(b);
			learn = ns < TRAIN_MATURE_MSGS || nh < TRAIN_MATURE_MSGS;
		}
	}
	if (!learn) {
		*out_r = BAYES_SKIPPED;
		return 0;
	}
	return bayes_learn(b, user, cls, data, size, out_r);
}

int bayes_stats(struct bayes *b, const char *user, struct bayes_stats *st)
{
	int64_t uid = 0;
	static __thread char params[512];
	struct buf pb = { 0 };

	memset(st, 0, sizeof(*st));
	int rc = store_user_id(b->store, user, false, &uid);
	if (rc < 0)
		return store_err(b);
	if (rc == 0)
		uid = -1;	/* unknown user: all zero */
	if (store_stats(b->store, uid, st) < 0)
		return store_err(b);
	tok_params_string(&b->opt.tok, &pb);
	snprintf(params, sizeof(params), "%s", pb.data ? pb.data : "");
	buf_free(&pb);
	st->tok_params = params;
	return 0;
}
