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
#include <sys/stat.h>
#include <xxhash.h>

#include "score/score.h"
#include "store/batch_deltas.h"
#include "store/dump.h"
#include "store/store.h"
#include "tokens/tokcache.h"
#include "util.h"

/*
 * Training on error: a message is learned when it was misclassified or
 * scored within this margin of certainty on the wrong side ("thick
 * threshold", as CRM114 and OSBF-Lua train). Measured on trec06p and the
 * SpamAssassin corpus with bayesc eval; see README.
 */
#define TRAIN_THICK_LOW		0.03	/* a ham scored above this is learned */
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
	struct store_counts *gcounts;	/* the global counts, when blending */
	double *fprob;
	struct score_memo *memo;	/* score_combine's, made at the first check */
	size_t *miss;			/* shared cache misses: indexes, */
	uint64_t *mhash;		/* their hashes */
	struct store_counts *mcounts;	/* and their counts from the store */
	size_t cap;

	/*
	 * The shared cache (opt.cache). The owner (the read-write handle
	 * given it) records the global deltas of a learn in its transaction
	 * and applies them to the cache after the commit.
	 */
	bool cache_owner;
	bool cache_follow;		/* the open transaction may be applied to the cache */
	int cache_ds, cache_dh;		/* global deltas of the open transaction */

	/*
	 * The file the handle opened. SQLite keeps reading and writing an
	 * open file after it was unlinked or renamed over, so a daemon whose
	 * database was deleted or replaced would go on acknowledging learns
	 * into a file nobody will see again. Each call compares the path's
	 * device and inode with these first and fails with a database error,
	 * which makes the callers close the handle and reopen. The file's
	 * header is read again only when its size or time changed since it
	 * was last found good.
	 */
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool file_known;		/* false: nothing to compare (not a file) */

	/* bayes_batch_begin: learns share one transaction until batch_commit */
	bool batch;			/* a batch is open */
	bool batch_txn;			/* and its transaction has begun */
	bool batch_lost;		/* a failed learn rolled the batch back */
	struct batch_deltas *pending;		/* the batch's count changes not yet written */
};

void bayes_options_default(struct bayes_options *o)
{
	memset(o, 0, sizeof(*o));
	tok_params_default(&o->tok);
	mime_limits_default(&o->lim);
	o->spam_threshold = BAYES_DEFAULT_SPAM_THRESHOLD;
	o->train_mode = BAYES_TRAIN_ERROR;
	o->robs = o->min_dev = o->mean_scale = -1.0;
	o->keep_text = false;
	o->sync_full = false;
	o->busy_timeout_ms = 5000;
	o->learn_global_too = true;
	o->user_mature_msgs = BAYES_USER_MATURE_MSGS;
	o->backend = BAYES_BACKEND_SQLITE;
	snprintf(o->redis.servers, sizeof(o->redis.servers), "%s", BAYES_REDIS_DEFAULT_SERVERS);
	snprintf(o->redis.prefix, sizeof(o->redis.prefix), "%s", BAYES_REDIS_DEFAULT_PREFIX);
	o->redis.connect_timeout_ms = BAYES_REDIS_DEFAULT_TIMEOUT_MS;
	o->redis.command_timeout_ms = BAYES_REDIS_DEFAULT_TIMEOUT_MS;
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
	case BAYES_KEPT_MANUAL: return "kept manual learn";
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

/* file_moved - -1 with a database error when the path no longer names the open file. */
static int file_moved(struct bayes *b)
{
	struct stat sb;
	char msg[1100];

	if (!b->file_known)
		return 0;
	bool gone = stat(b->path, &sb) != 0;
	if (!gone && sb.st_dev == b->dev && sb.st_ino == b->ino) {
		if (sb.st_size == b->size && sb.st_mtim.tv_sec == b->mtime.tv_sec &&
		    sb.st_mtim.tv_nsec == b->mtime.tv_nsec)
			return 0;	/* unchanged since its header was last good */
		/*
		 * Overwritten in place (cat x > db): SQLite's cached pages would
		 * go on taking learns. The header is cheap to look at.
		 */
		if (store_file_looks_sqlite(b->path, (long long)sb.st_size)) {
			b->size = sb.st_size;
			b->mtime = sb.st_mtim;
			return 0;
		}
		snprintf(msg, sizeof(msg), "%s: the database file was overwritten while in use "
			 "(it is not SQLite any more)", b->path);
		return set_err(b, BAYES_ERR_DB, msg);
	}
	snprintf(msg, sizeof(msg), "%s: the database file was %s while in use", b->path,
		 gone ? "removed" : "replaced");
	return set_err(b, BAYES_ERR_DB, msg);
}

/*
 * read_begin/end - a read snapshot around the lookups of one call; inside
 * a batch's open write transaction the reads belong to it instead (they
 * see the batch's own learns, and ending them must not roll it back).
 */
static int read_begin(struct bayes *b)
{
	if (!b->batch_txn)
		return store_read_begin(b->store);
	/* the batch's reads see its learns: write what is pending first */
	return batch_deltas_empty(b->pending) ? 0 : batch_deltas_flush(b->pending, b->store);
}

static void read_end(struct bayes *b)
{
	if (!b->batch_txn)
		store_read_end(b->store);
}

const char *bayes_errmsg(const struct bayes *b)
{
	return b->errmsg;
}

enum bayes_errkind bayes_errkind(const struct bayes *b)
{
	return b->errkind;
}

/* store_options_of - what the store needs of the engine's options o. */
static void store_options_of(const struct bayes_options *o, struct store_options *so)
{
	memset(so, 0, sizeof(*so));
	so->backend = o->backend;
	so->redis = o->redis;
	so->sync_full = o->sync_full;
	so->busy_timeout_ms = o->busy_timeout_ms;
}

struct bayes *bayes_open(const char *path, unsigned flags, const struct bayes_options *opt,
			 char *err, size_t errlen, enum bayes_errkind *kind_r)
{
	struct bayes *b = xcalloc(1, sizeof(*b));
	struct buf params = { 0 };
	struct store_options so;

	if (opt)
		b->opt = *opt;
	else
		bayes_options_default(&b->opt);
	/*
	 * The shared cache follows the learns of this process only; with
	 * Redis other nodes learn too, and it would go stale.
	 */
	if (b->opt.backend == BAYES_BACKEND_REDIS)
		b->opt.cache = NULL;
	score_params_default(&b->sp);
	score_params_combiner(&b->sp, (enum score_combiner)b->opt.combiner);
	if (b->opt.robs >= 0)
		b->sp.robs = b->opt.robs;
	if (b->opt.min_dev >= 0)
		b->sp.min_dev = b->opt.min_dev;
	if (b->opt.mean_scale >= 0)
		b->sp.mean_scale = b->opt.mean_scale;
	tok_params_string(&b->opt.tok, &params);
	store_options_of(&b->opt, &so);
	b->store = store_open(path, flags, params.data, &so, err, errlen, kind_r);
	/*
	 * Statistics made by an earlier default tokenizer keep working: the
	 * database's tokenizer wins over the default. Tried in turn: no cap
	 * on the header's 4-grams (before it came), no 4-grams at all.
	 */
	for (int step = 0; b->store == NULL && step < 2 && b->opt.tok.ngram_bytes && err
			   && strstr(err, "incompatible tokenizer"); step++) {
		char err2[64];
		enum bayes_errkind kind2;

		if (step == 0 && b->opt.tok.ngram_header_bytes == 0)
			continue;
		if (step == 0)
			b->opt.tok.ngram_header_bytes = 0;
		else
			b->opt.tok.ngram_bytes = 0;
		tok_params_string(&b->opt.tok, &params);
		b->store = store_open(path, flags, params.data, &so, err2, sizeof(err2), &kind2);
	}
	buf_free(&params);
	if (b->store == NULL) {
		free(b);
		return NULL;
	}
	b->cache_owner = b->opt.cache != NULL && !(flags & BAYES_OPEN_RDONLY);
	struct stat sb;
	if (b->opt.backend == BAYES_BACKEND_SQLITE && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
		b->path = xstrdup(path);
		b->dev = sb.st_dev;
		b->ino = sb.st_ino;
		b->file_known = true;
	}
	b->tok = tokenizer_new(&b->opt.tok, b->opt.keep_text, err, errlen);
	if (b->tok == NULL) {
		if (kind_r)
			*kind_r = BAYES_ERR_DB;
		store_close(&b->store);
		free(b->path);
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
	/* nobody follows this database's changes into the cache any more */
	if (b->cache_owner)
		tokcache_invalidate(b->opt.cache);
	store_close(&b->store);
	tokenizer_free(&b->tok);
	free(b->counts);
	free(b->gcounts);
	free(b->fprob);
	free(b->memo);
	free(b->miss);
	free(b->mhash);
	free(b->mcounts);
	free(b->path);
	batch_deltas_free(&b->pending);
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

/* grow - scratch arrays for n features. */
static void grow(struct bayes *b, size_t n)
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
		if (b->fprob[i] < 0)
			continue;
		/* most features are weaker than the weakest kept: by_strength
		 * would say so on this alone */
		if (k == BAYES_MAX_TOP && fabs(b->fprob[i] - 0.5) < weakest)
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
	grow(b, fv->n);
	if (tokcache_lookup(b->opt.cache, fv->hash, fv->n, b->counts, ns_r, nh_r, b->miss, &nmiss) == 0)
		return 0;
	if (nmiss == 0)
		return 1;
	for (size_t i = 0; i < nmiss; i++)
		b->mhash[i] = fv->hash[b->miss[i]];
	if (read_begin(b) < 0)
		return -1;
	if (store_lookup(b->store, 0, b->mhash, nmiss, b->mcounts) < 0) {
		read_end(b);
		return -1;
	}
	read_end(b);
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
	if (file_moved(b) < 0)
		return -1;
	fv = features(b, data, size, meta, &r->mime_flags);
	r->nfeatures = fv->n;
	if (user == NULL || *user == '\0') {
		int rc = cached_counts(b, fv, &ns, &nh);
		if (rc < 0)
			return store_err(b);
		if (rc > 0) {
			finish_check(b, fv, ns, nh, r);
			return 0;
		}
	}
	if (read_begin(b) < 0)
		return store_err(b);
	/* an unknown user has no statistics of their own: use the global ones */
	if (store_user_id(b->store, user, false, &uid) < 0)
		goto failed;
	grow(b, fv->n);
	found = store_lookup_message(b->store, uid, fv->hash, fv->n, b->counts, &ns, &nh);
	if (found < 0)
		goto failed;
	if (uid != 0 && blend(b, fv, &ns, &nh) < 0)
		goto failed;
	read_end(b);
	finish_check(b, fv, ns, nh, r);
	return 0;

failed:
	store_err(b);
	read_end(b);
	return -1;
}

/* apply - add per-class deltas of one message to user's tokens and totals. */
static int apply(struct bayes *b, int64_t uid, const struct featvec *fv, int ds, int dh)
{
	if (ds == 0 && dh == 0)
		return 0;
	if (b->batch) {		/* summed per token, written at the batch's end */
		batch_deltas_add(b->pending, uid, fv->hash, fv->n, ds, dh);
		batch_deltas_add_totals(b->pending, uid, ds, dh);
		return 0;
	}
	return store_add(b->store, uid, fv->hash, fv->n, ds, dh, ds, dh);
}

/*
 * learn_locked - inside a transaction: apply cls (or forget when forget is
 * set) to the message's features for user. The memory of learned messages
 * is per user; a user's row records whether that learn also went into the
 * global statistics (STORE_LEARNED_GLOBAL), so a relearn or forget moves
 * the global counts by exactly what the first learn added, whatever
 * learn_global_too says now.
 */
static int learn_locked(struct bayes *b, int64_t uid, const uint8_t digest[16], const struct featvec *fv,
			enum bayes_class cls, bool forget, bool autolearn, enum bayes_learn_outcome *out_r)
{
	int was = 0, rc;

	rc = store_learned_get(b->store, uid, digest, &was);
	if (rc < 0)
		return -1;
	bool had = rc == 1;
	int was_cls = was & 1;
	bool was_global = uid != 0 && (was & STORE_LEARNED_GLOBAL);
	bool was_auto = (was & STORE_LEARNED_AUTO) != 0;
	if (forget && !had) {
		*out_r = BAYES_NOT_LEARNED;
		return 0;
	}
	/* a learn by hand always wins over an autolearn, never the other way */
	if (autolearn && had && !was_auto) {
		*out_r = BAYES_KEPT_MANUAL;
		return 0;
	}
	if (!forget && had && was_cls == (int)cls) {
		/* a learn by hand confirming an autolearn: the same counts, now manual */
		if (was_auto && !autolearn &&
		    store_learned_put(b->store, uid, digest, was & ~STORE_LEARNED_AUTO) < 0)
			return -1;
		*out_r = BAYES_ALREADY;
		return 0;
	}
	bool now_global = !forget && uid != 0 && b->opt.learn_global_too;
	/* per class: +1 for the new learn, -1 for what the old one added */
	int ds = (!forget && cls == BAYES_SPAM) - (had && was_cls == BAYES_SPAM);
	int dh = (!forget && cls == BAYES_HAM) - (had && was_cls == BAYES_HAM);
	int gs = (now_global && cls == BAYES_SPAM) - (was_global && was_cls == BAYES_SPAM);
	int gh = (now_global && cls == BAYES_HAM) - (was_global && was_cls == BAYES_HAM);

	if (apply(b, uid, fv, ds, dh) < 0 || (uid != 0 && apply(b, 0, fv, gs, gh) < 0))
		return -1;
	b->cache_ds = uid == 0 ? ds : gs;
	b->cache_dh = uid == 0 ? dh : gh;
	if (forget) {
		if (store_learned_del(b->store, uid, digest) < 0)
			return -1;
		*out_r = BAYES_FORGOTTEN;
		return 0;
	}
	if (store_learned_put(b->store, uid, digest, (int)cls | (now_global ? STORE_LEARNED_GLOBAL : 0) |
			      (autolearn ? STORE_LEARNED_AUTO : 0)) < 0)
		return -1;
	*out_r = had ? BAYES_RELEARNED : BAYES_LEARNED;
	return 0;
}

/*
 * cache_follow_begin - inside a write transaction of the cache's owner:
 * may this transaction's changes be applied to the cache after commit?
 * Only when nobody else committed since the cache was loaded (the data
 * version is unchanged; the write lock keeps it so until our commit);
 * otherwise the cache is dropped for bayes_cache_refresh() to reload.
 */
static int cache_follow_begin(struct bayes *b)
{
	int64_t loaded_at, now;

	b->cache_follow = false;
	b->cache_ds = b->cache_dh = 0;
	if (!b->cache_owner || !tokcache_loaded(b->opt.cache, &loaded_at))
		return 0;
	if (store_data_version(b->store, &now) < 0)
		return -1;
	if (now != loaded_at) {
		tokcache_invalidate(b->opt.cache);
		return 0;
	}
	b->cache_follow = true;
	return 0;
}

/* bayes_cache_refresh - (re)load the owned cache when it is missing or stale. */
int bayes_cache_refresh(struct bayes *b)
{
	struct tokcache *c = b->opt.cache;
	struct tokcache_build *tb;
	struct bayes_stats st;
	struct store_row row;
	int64_t loaded_at, v;
	uint64_t ns, nh;
	int rc = 0;

	b->errkind = BAYES_ERR_NONE;
	if (!b->cache_owner)
		return 0;
	if (file_moved(b) < 0)
		return -1;
	/* read before the snapshot: a commit in between only makes us reload again */
	if (store_data_version(b->store, &v) < 0)
		return store_err(b);
	if (tokcache_loaded(c, &loaded_at) && loaded_at == v)
		return 0;
	tokcache_invalidate(c);
	if (read_begin(b) < 0)
		return store_err(b);
	memset(&st, 0, sizeof(st));
	if (store_stats(b->store, 0, &st) < 0 || store_totals(b->store, 0, &ns, &nh) < 0)
		goto failed;
	tb = tokcache_build_begin(c, st.tokens);
	/*
	 * Two passes when it may not all fit: tokens seen more than once
	 * first (they carry most of the evidence and recur in new mail),
	 * then the others while there is room.
	 */
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		bool room = true;

		store_rows_begin(b->store, STORE_TOKENS);
		while ((rc = store_rows_next(b->store, &row)) > 0 && row.user == 0) {
			bool common = row.spam + row.ham >= 2;
			if (pass == 0 ? !common : common)
				continue;
			if (!(room = tokcache_build_add(tb, row.hash, row.spam, row.ham)))
				break;
		}
		store_rows_end(b->store);
		if (rc > 0)
			rc = 0;
		if (!room)
			break;
	}
	if (rc < 0) {
		tokcache_build_abort(&tb);
		goto failed;
	}
	read_end(b);
	tokcache_build_finish(c, &tb, ns, nh, v);
	return 1;

failed:
	store_err(b);
	read_end(b);
	return -1;
}

/*
 * change_once - learn, autolearn or forget in one transaction: 0, -1, or
 * STORE_CONFLICT when another writer learned the same message meanwhile
 * and nothing was written.
 */
/*
 * change_features_once - learn or forget the message of this digest and
 * these features in one transaction (or in the open batch): the part of a
 * learn after the message is read, shared by change_once and
 * bayes_learn_features. STORE_CONFLICT when another node got there first.
 */
static int change_features_once(struct bayes *b, const char *user, enum bayes_class cls, bool forget,
				bool autolearn, const uint8_t digest[16], const struct featvec *fv,
				enum bayes_learn_outcome *out_r)
{
	int64_t uid = 0;

	if (b->batch && b->batch_lost)
		return set_err(b, BAYES_ERR_DB, "an earlier learn failed: the batch was rolled back");
	if (!b->batch || !b->batch_txn) {
		if (store_begin(b->store) < 0)
			return store_err(b);
		b->batch_txn = b->batch;
	}
	if (cache_follow_begin(b) < 0)
		goto failed;
	int found = store_user_id(b->store, user, !forget, &uid);
	if (found < 0)
		goto failed;
	if (found == 0) {
		/* forget for a user who never learned anything: nothing written */
		if (!b->batch)
			store_rollback(b->store);
		*out_r = BAYES_NOT_LEARNED;
		return 0;
	}
	if (learn_locked(b, uid, digest, fv, cls, forget, autolearn, out_r) < 0)
		goto failed;
	if (b->batch)
		return 0;	/* bayes_batch_commit makes it durable */
	int rc = store_commit(b->store);
	if (rc < 0) {
		if (b->cache_owner)	/* did it commit or not? reload to be sure */
			tokcache_invalidate(b->opt.cache);
		store_err(b);
		return rc;
	}
	/* readers see the learn in the cache before it is acknowledged */
	if (b->cache_follow)
		tokcache_apply(b->opt.cache, fv->hash, fv->n, b->cache_ds, b->cache_dh, b->cache_ds,
			       b->cache_dh);
	return 0;

failed:
	store_err(b);
	store_rollback(b->store);
	if (b->batch) {
		b->batch_txn = false;
		b->batch_lost = true;
		batch_deltas_clear(b->pending);
	}
	return -1;
}

/* change_once - change_features_once of the message's features. */
static int change_once(struct bayes *b, const char *user, enum bayes_class cls, bool forget, bool autolearn,
		  const unsigned char *data, size_t size, enum bayes_learn_outcome *out_r)
{
	const struct featvec *fv;
	uint8_t digest[16];
	unsigned mflags;

	b->errkind = BAYES_ERR_NONE;
	if (size == 0)
		return set_err(b, BAYES_ERR_INPUT, "empty message");
	if (file_moved(b) < 0)
		return -1;
	fv = features(b, data, size, NULL, &mflags);
	bayes_digest(data, size, digest);
	return change_features_once(b, user, cls, forget, autolearn, digest, fv, out_r);
}

int bayes_batch_begin(struct bayes *b)
{
	b->errkind = BAYES_ERR_NONE;
	if (b->cache_owner)
		return set_err(b, BAYES_ERR_DB, "batched learning is not for a handle owning a shared cache");
	if (b->batch)
		return set_err(b, BAYES_ERR_DB, "a batch is already open");
	/*
	 * On Redis each learn is already one round trip, and its "already
	 * learned" reads go to the server, which would not see the batch's
	 * buffered learns: learns stay one transaction each there.
	 */
	if (b->opt.backend != BAYES_BACKEND_SQLITE)
		return 0;
	b->batch = true;
	b->batch_txn = b->batch_lost = false;
	if (b->pending == NULL)
		b->pending = batch_deltas_new();
	return 0;
}

int bayes_batch_commit(struct bayes *b)
{
	bool txn = b->batch_txn, lost = b->batch_lost;

	b->batch = b->batch_txn = b->batch_lost = false;
	if (lost)
		return set_err(b, BAYES_ERR_DB, "a learn failed: the batch was rolled back");
	b->errkind = BAYES_ERR_NONE;
	if (txn && (batch_deltas_flush(b->pending, b->store) < 0 || store_commit(b->store) < 0)) {
		store_err(b);
		store_rollback(b->store);
		return -1;
	}
	return 0;
}

/*
 * CHANGE_ATTEMPTS - how often a learn is run again when another node
 * learned the same message between its read and its commit. The second
 * run sees that learn and usually ends as "already learned"; more than a
 * few conflicts in a row would take a storm of learns of one message.
 */
#define CHANGE_ATTEMPTS	8

/* change - change_once, run again on a conflict. */
static int change(struct bayes *b, const char *user, enum bayes_class cls, bool forget, bool autolearn,
		  const unsigned char *data, size_t size, enum bayes_learn_outcome *out_r)
{
	int rc = STORE_CONFLICT;

	for (int i = 0; i < CHANGE_ATTEMPTS && rc == STORE_CONFLICT; i++)
		rc = change_once(b, user, cls, forget, autolearn, data, size, out_r);
	return rc < 0 ? -1 : 0;
}

int bayes_learn(struct bayes *b, const char *user, enum bayes_class cls,
		const unsigned char *data, size_t size, enum bayes_learn_outcome *out_r)
{
	return change(b, user, cls, false, false, data, size, out_r);
}

int bayes_forget(struct bayes *b, const char *user, const unsigned char *data, size_t size,
		 enum bayes_learn_outcome *out_r)
{
	return change(b, user, BAYES_HAM, true, false, data, size, out_r);
}

/*
 * mature_enough - has user (global for NULL) learned TRAIN_MATURE_MSGS
 * of each class? 1 yes, 0 no, -1 error.
 */
static int mature_enough(struct bayes *b, const char *user)
{
	int64_t uid = 0;
	uint64_t ns, nh;
	int rc = store_user_id(b->store, user, false, &uid);

	if (rc == 0)
		return 0;	/* a user who never learned anything */
	if (rc < 0 || store_totals(b->store, uid, &ns, &nh) < 0) {
		store_err(b);
		return -1;
	}
	return ns >= TRAIN_MATURE_MSGS && nh >= TRAIN_MATURE_MSGS;
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
			int m = mature_enough(b, user);
			if (m < 0)
				return -1;
			learn = m == 0;
		}
	}
	if (!learn) {
		*out_r = BAYES_SKIPPED;
		return 0;
	}
	return bayes_learn(b, user, cls, data, size, out_r);
}

/*
 * bayes_autolearn - the training mode's rule where it has a meaning
 * without a true label (mature), then a learn marked automatic.
 */
int bayes_autolearn(struct bayes *b, const char *user, enum bayes_class cls, double scored_prob,
		    const unsigned char *data, size_t size, enum bayes_learn_outcome *out_r)
{
	(void)scored_prob;	/* the caller's thresholds judged it; kept for the log and later rules */
	b->errkind = BAYES_ERR_NONE;
	if (b->opt.train_mode == BAYES_TRAIN_MATURE) {
		int m = mature_enough(b, user);
		if (m < 0)
			return -1;
		if (m > 0) {
			*out_r = BAYES_SKIPPED;
			return 0;
		}
	}
	return change(b, user, cls, false, true, data, size, out_r);
}

int bayes_stats(struct bayes *b, const char *user, struct bayes_stats *st)
{
	int64_t uid = 0;
	static __thread char params[512];
	struct buf pb = { 0 };

	memset(st, 0, sizeof(*st));
	b->errkind = BAYES_ERR_NONE;
	if (file_moved(b) < 0)
		return -1;
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

/* by_user_name - qsort order of bayes_users() */
static int by_user_name(const void *a, const void *b)
{
	return strcmp(((const struct bayes_user_stats *)a)->name, ((const struct bayes_user_stats *)b)->name);
}

/*
 * bayes_users - the users table first (ids and names), then each user's
 * figures, all in one read transaction so the list is one snapshot.
 */
int bayes_users(struct bayes *b, struct bayes_user_stats **users_r, size_t *n_r)
{
	struct bayes_user_stats *u = NULL;
	int64_t *ids = NULL;
	struct store_row row;
	size_t n = 0, cap = 0;
	int rc;

	*users_r = NULL;
	*n_r = 0;
	b->errkind = BAYES_ERR_NONE;
	if (store_read_begin(b->store) < 0)
		return store_err(b);
	store_rows_begin(b->store, STORE_USERS);
	while ((rc = store_rows_next(b->store, &row)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			u = xrealloc(u, cap * sizeof(*u));
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		memset(&u[n], 0, sizeof(u[n]));
		u[n].name = xstrdup(row.name ? row.name : "");
		ids[n++] = row.user;
	}
	store_rows_end(b->store);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct bayes_stats st;

		if (store_stats(b->store, ids[i], &st) < 0) {
			rc = -1;
			break;
		}
		u[i].learned_spam = st.learned_spam;
		u[i].learned_ham = st.learned_ham;
		u[i].tokens = st.tokens;
		u[i].remembered = st.remembered;
	}
	store_read_end(b->store);
	free(ids);
	if (rc < 0) {
		rc = store_err(b);
		bayes_users_free(&u, n);
		return rc;
	}
	if (n > 1)
		qsort(u, n, sizeof(*u), by_user_name);
	*users_r = u;
	*n_r = n;
	return 0;
}

/* bayes_users_free - free the names and the array */
void bayes_users_free(struct bayes_user_stats **users, size_t n)
{
	if (*users == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*users)[i].name);
	free(*users);
	*users = NULL;
}

/* bayes_expire_rules_default - the documented BAYES_EXPIRE_* rules. */
void bayes_expire_rules_default(struct bayes_expire_rules *r)
{
	r->hapax_days = BAYES_EXPIRE_HAPAX_DAYS;
	r->neutral_days = BAYES_EXPIRE_NEUTRAL_DAYS;
	r->any_days = BAYES_EXPIRE_ANY_DAYS;
	r->learned_days = BAYES_EXPIRE_LEARNED_DAYS;
	r->batch_rows = BAYES_EXPIRE_BATCH;
}

/* The phases of an expiry run. */
enum {
	EXPIRE_TOKENS,
	EXPIRE_LEARNED,
	EXPIRE_RECORD,
	EXPIRE_DONE,
};

/* bayes_expire_begin - a fresh run at now. */
void bayes_expire_begin(struct bayes_expire_state *st, const struct bayes_expire_rules *r, int64_t now)
{
	memset(st, 0, sizeof(*st));
	if (r)
		st->rules = *r;
	else
		bayes_expire_rules_default(&st->rules);
	if (st->rules.batch_rows == 0)
		st->rules.batch_rows = BAYES_EXPIRE_BATCH;
	st->now = now;
	st->phase = EXPIRE_TOKENS;
	st->cur_user = -1;	/* before every user id: the scan starts at the beginning */
	st->cur_hash = 0;
}

/* bayes_expire_step - one transaction of the run. */
int bayes_expire_step(struct bayes *b, struct bayes_expire_state *st)
{
	size_t limit = st->rules.batch_rows;
	long n = 0;

	b->errkind = BAYES_ERR_NONE;
	if (st->phase == EXPIRE_DONE)
		return 0;
	if (file_moved(b) < 0)
		return -1;
	/* the cache does not follow deletions: drop it before they are visible */
	if (b->cache_owner)
		tokcache_invalidate(b->opt.cache);
	if (store_begin(b->store) < 0)
		return store_err(b);
	switch (st->phase) {
	case EXPIRE_TOKENS:
		/* a failed step leaves the cursor past rows it did not delete: rescan next run */
		n = store_expire_tokens(b->store, st, limit);
		break;
	case EXPIRE_LEARNED:
		n = st->rules.learned_days == 0 ? 0 :
			store_expire_learned(b->store, st->now - (int64_t)st->rules.learned_days * 86400, limit);
		if (n > 0)
			st->learned += (uint64_t)n;
		break;
	case EXPIRE_RECORD: {
		char v[32];
		snprintf(v, sizeof(v), "%lld", (long long)st->now);
		n = store_meta_put(b->store, "last_expire", v);
		break;
	}
	}
	if (n < 0)
		goto failed;
	if (store_commit(b->store) < 0)
		return store_err(b);
	if (st->phase == EXPIRE_RECORD || (size_t)n < limit)
		st->phase++;
	return st->phase == EXPIRE_DONE ? 0 : 1;

failed:
	store_err(b);
	store_rollback(b->store);
	return -1;
}

/* bayes_expire - a whole run. */
int bayes_expire(struct bayes *b, const struct bayes_expire_rules *r, int64_t now,
		 struct bayes_expire_state *st_r)
{
	struct bayes_expire_state st;
	int rc;

	bayes_expire_begin(&st, r, now);
	while ((rc = bayes_expire_step(b, &st)) > 0)
		;
	if (st_r)
		*st_r = st;
	return rc;
}

/* tok_string - this handle's canonical tokenizer string into out. */
static void tok_string(const struct bayes *b, char *out, size_t outlen)
{
	struct buf pb = { 0 };

	tok_params_string(&b->opt.tok, &pb);
	snprintf(out, outlen, "%s", pb.data ? pb.data : "");
	buf_free(&pb);
}

/* bayes_dump - the statistics as text, from one snapshot. */
int bayes_dump(struct bayes *b, FILE *out)
{
	char params[512], err[600];
	int rc;

	b->errkind = BAYES_ERR_NONE;
	tok_string(b, params, sizeof(params));
	if (read_begin(b) < 0)
		return store_err(b);
	rc = dump_write(b->store, params, out, err, sizeof(err));
	read_end(b);
	if (rc < 0)
		return set_err(b, BAYES_ERR_DB, err);
	return 0;
}

/* bayes_restore - a dump into an empty database, in one transaction. */
int bayes_restore(struct bayes *b, FILE *in)
{
	enum bayes_errkind kind = BAYES_ERR_NONE;
	char params[512], err[600];
	int empty;

	b->errkind = BAYES_ERR_NONE;
	tok_string(b, params, sizeof(params));
	if (b->cache_owner)
		tokcache_invalidate(b->opt.cache);
	if (store_begin(b->store) < 0)
		return store_err(b);
	if ((empty = store_is_empty(b->store)) < 0) {
		store_err(b);
		store_rollback(b->store);
		return -1;
	}
	if (!empty) {
		store_rollback(b->store);
		return set_err(b, BAYES_ERR_INPUT,
			       "the database is not empty: restore only into a new database");
	}
	if (dump_read(b->store, params, in, err, sizeof(err), &kind) < 0) {
		store_rollback(b->store);
		return set_err(b, kind ? kind : BAYES_ERR_DB, err);
	}
	if (store_commit(b->store) < 0)
		return store_err(b);
	return 0;
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

/*
 * bayes_learn_features - learn or forget by digest with features kept
 * elsewhere (a scan history row): change_once() without the message.
 */
int bayes_learn_features(struct bayes *b, const char *user, enum bayes_class cls, bool forget,
			 const uint8_t digest[16], const uint64_t *hash, size_t n,
			 enum bayes_learn_outcome *out_r)
{
	struct featvec fv = { .hash = (uint64_t *)hash, .text = NULL, .n = n, .truncated = false };
	int rc = STORE_CONFLICT;

	for (int i = 0; i < CHANGE_ATTEMPTS && rc == STORE_CONFLICT; i++) {
		b->errkind = BAYES_ERR_NONE;
		if (n == 0)
			return set_err(b, BAYES_ERR_INPUT, "no features");
		if (b->batch)
			return set_err(b, BAYES_ERR_INPUT, "not inside a batch");
		if (file_moved(b) < 0)
			return -1;
		rc = change_features_once(b, user, cls, forget, false, digest, &fv, out_r);
	}
	return rc < 0 ? -1 : 0;
}
