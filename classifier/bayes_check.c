/*
 * bayes_check.c - the engine's check: tokenize a message (or reuse the last
 * one's features), its counts from the shared cache or the store (a
 * user's blended with the global ones), scored into a result with the
 * features that decided it; and the features a scan history keeps.
 * See bayes.h; the handle is in bayes_internal.h.
 */
#include "bayes_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "tokens/count_cache.h"
#include "util.h"

const struct featvec *eng_features(struct bayes *b, const unsigned char *data, size_t size,
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
	tokenizer_add_bytes(b->tok, data, size);
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

void eng_grow(struct bayes *b, size_t n)
{
	if (n <= b->cap)
		return;
	b->cap = n + n / 2 + 64;
	b->counts = xrealloc(b->counts, b->cap * sizeof(*b->counts));
	b->gcounts = xrealloc(b->gcounts, b->cap * sizeof(*b->gcounts));
	b->fprob = xrealloc(b->fprob, b->cap * sizeof(*b->fprob));
	b->miss = xrealloc(b->miss, b->cap * sizeof(*b->miss));
	b->mhash = xrealloc(b->mhash, b->cap * sizeof(*b->mhash));
	b->mcounts = xrealloc(b->mcounts, b->cap * sizeof(*b->mcounts));
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
	double weakest = 0.0;	/* |prob - 0.5| of top[k - 1] once the list is full */

	for (size_t i = 0; i < fv->n; i++) {
		/*
		 * One test for both reasons to pass a feature by: it did not
		 * weigh in (fprob -1: strength -1, below any weakest), or the
		 * list is full and it is weaker than the weakest kept (most
		 * are; by_strength would say so on this alone). weakest is 0
		 * until the list is full.
		 */
		double strength = b->fprob[i] < 0 ? -1.0 : fabs(b->fprob[i] - 0.5);
		if (strength < weakest)
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
		if (k == BAYES_MAX_TOP)
			weakest = fabs(r->top[k - 1].prob - 0.5);
	}
	if (k < BAYES_MAX_TOP)
		qsort(r->top, k, sizeof(r->top[0]), by_strength);
	r->ntop = k;
}

/*
 * global_weight - how much of the global statistics of a class a user with
 * n learned messages of it leans on: 1 with none, falling linearly to 0 at
 * user_mature_msgs. Linear and per class because a user's own counts are
 * noise until there are a few hundred messages of a class, and a user
 * who only ever trains spam must still get ham evidence from somewhere.
 */
static double global_weight(const struct bayes *b, uint64_t n)
{
	if (b->opt.user_mature_msgs == 0 || n >= b->opt.user_mature_msgs)
		return 0.0;
	return 1.0 - (double)n / (double)b->opt.user_mature_msgs;
}

/* blend_add - user count plus the weighted global count, saturating. */
static uint32_t blend_add(uint32_t user, uint32_t global, double w)
{
	double v = (double)user + floor(w * (double)global + 0.5);

	return v >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/*
 * blend - inside the read transaction: replace the user's counts in
 * b->counts and *ns_r and *nh_r with the blend described in bayes.h. The
 * global counts are the statistics of everyone (and, with
 * learn_global_too, include the user's own learns, so a young user's own
 * messages count twice: their own mail is the best evidence they have).
 */
static int blend(struct bayes *b, const struct featvec *fv, uint64_t *ns_r, uint64_t *nh_r)
{
	double ws = global_weight(b, *ns_r), wh = global_weight(b, *nh_r);
	uint64_t gs, gh;

	if (ws == 0.0 && wh == 0.0)
		return 0;
	if (store_lookup_message(b->store, 0, fv->hash, fv->n, b->gcounts, &gs, &gh) < 0)
		return -1;
	for (size_t i = 0; i < fv->n; i++) {
		b->counts[i].spam = blend_add(b->counts[i].spam, b->gcounts[i].spam, ws);
		b->counts[i].ham = blend_add(b->counts[i].ham, b->gcounts[i].ham, wh);
	}
	*ns_r += (uint64_t)floor(ws * (double)gs + 0.5);
	*nh_r += (uint64_t)floor(wh * (double)gh + 0.5);
	return 0;
}

/*
 * cached_counts - the global counts of fv into b->counts and the totals
 * into *ns_r, *nh_r from the shared cache, reading only its misses from
 * the store. 1 done, 0 cache not loaded (nothing done), -1 store error.
 */
static int cached_counts(struct bayes *b, const struct featvec *fv, uint64_t *ns_r, uint64_t *nh_r)
{
	size_t nmiss = 0;

	if (b->opt.cache == NULL || b->cache_owner)
		return 0;
	eng_grow(b, fv->n);
	if (count_cache_lookup(b->opt.cache, fv->hash, fv->n, b->counts, ns_r, nh_r, b->miss, &nmiss) == 0)
		return 0;
	if (nmiss == 0)
		return 1;
	for (size_t i = 0; i < nmiss; i++)
		b->mhash[i] = fv->hash[b->miss[i]];
	if (eng_read_begin(b) < 0)
		return -1;
	if (store_lookup(b->store, 0, b->mhash, nmiss, b->mcounts) < 0) {
		eng_read_end(b);
		return -1;
	}
	eng_read_end(b);
	for (size_t i = 0; i < nmiss; i++)
		b->counts[b->miss[i]] = b->mcounts[i];
	return 1;
}

/* finish_check - score the counts in b->counts into *r. */
static void finish_check(struct bayes *b, const struct featvec *fv, uint64_t ns, uint64_t nh,
			 struct bayes_result *r)
{
	r->learned_spam = ns;
	r->learned_ham = nh;
	if (b->memo == NULL)
		b->memo = xcalloc(1, sizeof(*b->memo));
	r->prob = score_combine(&b->sp, b->counts, fv->n, ns, nh, b->fprob, &r->nused, b->memo);
	r->spam = r->prob >= b->opt.spam_threshold;
	top_features(b, fv, r);
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
	if (eng_file_moved(b) < 0)
		return -1;
	fv = eng_features(b, data, size, meta, &r->mime_flags);
	r->nfeatures = fv->n;
	if (user == NULL || *user == '\0') {
		int rc = cached_counts(b, fv, &ns, &nh);
		if (rc < 0)
			return eng_store_err(b);
		if (rc > 0) {
			finish_check(b, fv, ns, nh, r);
			return 0;
		}
	}
	if (eng_read_begin(b) < 0)
		return eng_store_err(b);
	/* an unknown user has no statistics of their own: use the global ones */
	if (store_user_id(b->store, user, false, &uid) < 0)
		goto failed;
	eng_grow(b, fv->n);
	found = store_lookup_message(b->store, uid, fv->hash, fv->n, b->counts, &ns, &nh);
	if (found < 0)
		goto failed;
	if (uid != 0 && blend(b, fv, &ns, &nh) < 0)
		goto failed;
	eng_read_end(b);
	finish_check(b, fv, ns, nh, r);
	return 0;

failed:
	eng_store_err(b);
	eng_read_end(b);
	return -1;
}

/*
 * bayes_last_features - the features of the last message this handle
 * tokenized (for the scan history). See bayes.h.
 */
size_t bayes_last_features(const struct bayes *b, const uint64_t **hash_r)
{
	if (b->last_fv == NULL) {
		*hash_r = NULL;
		return 0;
	}
	*hash_r = b->last_fv->hash;
	return b->last_fv->n;
}

/*
 * bayes_meta_features - the features meta alone gives (see bayes.h).
 * The tokenizer's output is reused, so the last message is forgotten.
 */
size_t bayes_meta_features(struct bayes *b, const struct bayes_msg_meta *meta, uint64_t **hash_r)
{
	const struct featvec *fv;
	uint64_t *empty, *out;
	size_t ne, n = 0;

	/* what the tokenizer gives for nothing at all (message-level features) */
	b->last_fv = NULL;
	tokenizer_reset(b->tok);
	fv = tokenizer_finish(b->tok);
	ne = fv->n;
	empty = xmalloc((ne ? ne : 1) * sizeof(*empty));
	memcpy(empty, fv->hash, ne * sizeof(*empty));

	tokenizer_reset(b->tok);
	if (meta && meta->client_ip)
		tokenizer_add_meta(b->tok, "client-ip", meta->client_ip);
	if (meta && meta->helo)
		tokenizer_add_meta(b->tok, "helo", meta->helo);
	fv = tokenizer_finish(b->tok);
	out = xmalloc((fv->n ? fv->n : 1) * sizeof(*out));
	for (size_t i = 0, j = 0; i < fv->n; i++) {	/* both sorted: fv minus empty */
		while (j < ne && empty[j] < fv->hash[i])
			j++;
		if (j < ne && empty[j] == fv->hash[i])
			continue;
		out[n++] = fv->hash[i];
	}
	free(empty);
	*hash_r = out;
	return n;
}
