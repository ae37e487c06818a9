/*
 * bayes_learn.c - the engine's learning: learn, autolearn, train (on
 * error, thick threshold, until mature) and forget, each in one
 * transaction or in an open batch, retried when another node learned the
 * same message meanwhile; and the shared cache the owner keeps in step
 * with its learns. See bayes.h; the handle is in bayes_internal.h.
 */
#include "bayes_internal.h"

#include <string.h>

#include "store/batch_deltas.h"
#include "tokens/count_cache.h"

/*
 * Training on error: a message is learned when it was misclassified or
 * scored within this margin of certainty on the wrong side ("thick
 * threshold", as CRM114 and OSBF-Lua train). Measured on trec06p and the
 * SpamAssassin corpus with bayesc eval; see README.
 */
#define TRAIN_THICK_LOW		0.03	/* a ham scored above this is learned */
#define TRAIN_THICK_HIGH	0.99	/* a spam scored below this is learned */
#define TRAIN_MATURE_MSGS	2000	/* train-until-mature: each class */

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
	if (!b->cache_owner || !count_cache_loaded(b->opt.cache, &loaded_at))
		return 0;
	if (store_data_version(b->store, &now) < 0)
		return -1;
	if (now != loaded_at) {
		count_cache_invalidate(b->opt.cache);
		return 0;
	}
	b->cache_follow = true;
	return 0;
}

/* bayes_cache_refresh - (re)load the owned cache when it is missing or stale. */
int bayes_cache_refresh(struct bayes *b)
{
	struct count_cache *c = b->opt.cache;
	struct count_cache_build *tb;
	struct bayes_stats st;
	struct store_row row;
	int64_t loaded_at, v;
	uint64_t ns, nh;
	int rc = 0;

	b->errkind = BAYES_ERR_NONE;
	if (!b->cache_owner)
		return 0;
	if (eng_file_moved(b) < 0)
		return -1;
	/* read before the snapshot: a commit in between only makes us reload again */
	if (store_data_version(b->store, &v) < 0)
		return eng_store_err(b);
	if (count_cache_loaded(c, &loaded_at) && loaded_at == v)
		return 0;
	count_cache_invalidate(c);
	if (eng_read_begin(b) < 0)
		return eng_store_err(b);
	memset(&st, 0, sizeof(st));
	if (store_stats(b->store, 0, &st) < 0 || store_totals(b->store, 0, &ns, &nh) < 0)
		goto failed;
	tb = count_cache_build_begin(c, st.tokens);
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
			if (!(room = count_cache_build_add(tb, row.hash, row.spam, row.ham)))
				break;
		}
		store_rows_end(b->store);
		if (rc > 0)
			rc = 0;
		if (!room)
			break;
	}
	if (rc < 0) {
		count_cache_build_abort(&tb);
		goto failed;
	}
	eng_read_end(b);
	count_cache_build_finish(c, &tb, ns, nh, v);
	return 1;

failed:
	eng_store_err(b);
	eng_read_end(b);
	return -1;
}

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
		return eng_set_err(b, BAYES_ERR_DB, "an earlier learn failed: the batch was rolled back");
	if (!b->batch || !b->batch_txn) {
		if (store_begin(b->store) < 0)
			return eng_store_err(b);
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
			count_cache_invalidate(b->opt.cache);
		eng_store_err(b);
		return rc;
	}
	/* readers see the learn in the cache before it is acknowledged */
	if (b->cache_follow)
		count_cache_apply(b->opt.cache, fv->hash, fv->n, b->cache_ds, b->cache_dh, b->cache_ds,
			       b->cache_dh);
	return 0;

failed:
	eng_store_err(b);
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
		return eng_set_err(b, BAYES_ERR_INPUT, "empty message");
	if (eng_file_moved(b) < 0)
		return -1;
	fv = eng_features(b, data, size, NULL, &mflags);
	bayes_digest(data, size, digest);
	return change_features_once(b, user, cls, forget, autolearn, digest, fv, out_r);
}

int bayes_batch_begin(struct bayes *b)
{
	b->errkind = BAYES_ERR_NONE;
	if (b->cache_owner)
		return eng_set_err(b, BAYES_ERR_DB, "batched learning is not for a handle owning a shared cache");
	if (b->batch)
		return eng_set_err(b, BAYES_ERR_DB, "a batch is already open");
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
		return eng_set_err(b, BAYES_ERR_DB, "a learn failed: the batch was rolled back");
	b->errkind = BAYES_ERR_NONE;
	if (txn && (batch_deltas_flush(b->pending, b->store) < 0 || store_commit(b->store) < 0)) {
		eng_store_err(b);
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
		eng_store_err(b);
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
			return eng_set_err(b, BAYES_ERR_INPUT, "no features");
		if (b->batch)
			return eng_set_err(b, BAYES_ERR_INPUT, "not inside a batch");
		if (eng_file_moved(b) < 0)
			return -1;
		rc = change_features_once(b, user, cls, forget, false, digest, &fv, out_r);
	}
	return rc < 0 ? -1 : 0;
}
