/*
 * bayes.h - the classifier engine: score a message, learn it, forget it.
 *
 * This is libbayes' public face, used by bayesd (milter and controller) and
 * by bayesc. A struct bayes is one open statistics database plus a
 * tokenizer; it is used by one thread at a time. A multi-threaded program
 * opens one handle per thread (SQLite in WAL mode lets readers go on while
 * one writer commits); the daemon funnels every write through one writer
 * thread with its own handle.
 *
 * Return values: functions returning int give 0 on success and -1 on
 * failure; bayes_errmsg() then says why and bayes_errkind() says whether
 * trying again later may help (BAYES_ERR_BUSY) or not.
 */
#ifndef BAYES_BAYES_H
#define BAYES_BAYES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "message/mime.h"
#include "tokens/tokenize.h"
#include "types.h"

/* Default thresholds on the probability (settings in bayesd.conf). */
#define BAYES_DEFAULT_SPAM_THRESHOLD	0.90
#define BAYES_DEFAULT_REJECT_THRESHOLD	0.999

/* enum bayes_class, enum bayes_errkind: types.h */

/* How bayes_train() decides whether to learn (the TREC feedback step). */
enum bayes_train_mode {
	BAYES_TRAIN_ALL,	/* learn every message */
	BAYES_TRAIN_ERROR,	/* learn when wrong or within the thick threshold */
	BAYES_TRAIN_MATURE,	/* learn all until mature, then on error */
};

/* What a learn or forget did. */
enum bayes_learn_outcome {
	BAYES_LEARNED,		/* counts added */
	BAYES_ALREADY,		/* same message, same class: nothing changed */
	BAYES_RELEARNED,	/* same message, other class: counts moved */
	BAYES_FORGOTTEN,	/* forget removed its counts */
	BAYES_NOT_LEARNED,	/* forget: message was never learned */
	BAYES_SKIPPED,		/* bayes_train(): the training mode said no */
	BAYES_KEPT_MANUAL,	/* bayes_autolearn(): learned by hand before: left alone */
};

/* bayes_outcome_name - "learned", "already learned", "relearned", ... */
const char *bayes_outcome_name(enum bayes_learn_outcome o);

/* BAYES_OPEN_*, enum bayes_backend, struct bayes_redis_options: types.h */

struct count_cache;

struct bayes_options {
	enum bayes_backend backend;
	struct bayes_redis_options redis;
	struct tok_params tok;		/* used when creating; checked on open */
	struct mime_limits lim;
	double spam_threshold;		/* prob >= this is spam */
	int combiner;			/* enum score_combiner (score.h): 0 = mean */
	/* >= 0: instead of the combiner's own (bayesc --score-param, experiments) */
	double robs, min_dev, mean_scale;
	enum bayes_train_mode train_mode;
	bool keep_text;			/* tokenizer keeps text: needed for explain */
	bool sync_full;			/* PRAGMA synchronous=FULL (survive power loss) */
	int busy_timeout_ms;
	/*
	 * Per-user statistics. learn_global_too: a learn (forget, relearn)
	 * for a user also moves the global statistics, in the same
	 * transaction (default true). user_mature_msgs: messages of a class
	 * a user must have learned before scoring stops leaning on the global
	 * statistics for that class (default BAYES_USER_MATURE_MSGS; 0 = a
	 * known user is scored on their own statistics alone). See
	 * bayes_check().
	 */
	bool learn_global_too;
	unsigned user_mature_msgs;
	/*
	 * cache: a shared in-memory copy of the global statistics
	 * (count_cache.h), or NULL. A read-only handle scores global checks
	 * from it (and reads only its misses from SQLite) while it is
	 * loaded. The one read-write handle given it owns it: that handle's
	 * learns and forgets update it after their commit, before returning,
	 * and bayes_cache_refresh() loads it. The cache must outlive every
	 * handle opened with it. Not used with the Redis backend: other
	 * nodes learn too, and nobody would tell the cache.
	 */
	struct count_cache *cache;
};

/*
 * A user's weight of the global statistics of a class falls linearly from
 * 1 (nothing learned) to 0 at this many learned messages of that class.
 */
#define BAYES_USER_MATURE_MSGS	1000

/* bayes_options_default - the embedded defaults. */
void bayes_options_default(struct bayes_options *o);

struct bayes;

/*
 * bayes_open - open (or with BAYES_OPEN_CREATE create) the database at
 * path. On failure returns NULL and writes a one-line reason to err; *kind_r
 * (if not NULL) gets the error kind. opt NULL means the defaults.
 */
struct bayes *bayes_open(const char *path, unsigned flags, const struct bayes_options *opt,
			 char *err, size_t errlen, enum bayes_errkind *kind_r);

/* bayes_close - close b and set *b to NULL. NULL is fine. */
void bayes_close(struct bayes **b);

/*
 * bayes_cache_refresh - on the handle that owns opt.cache: load the cache
 * when it is not loaded or another connection has committed since it was
 * (PRAGMA data_version). Returns 1 when it (re)loaded, 0 when nothing was
 * to do (or the handle owns no cache), -1 on error (the cache stays
 * unloaded; readers use SQLite).
 */
int bayes_cache_refresh(struct bayes *b);

const char *bayes_errmsg(const struct bayes *b);
enum bayes_errkind bayes_errkind(const struct bayes *b);

/* One feature that weighed in a score, for explanations. */
struct bayes_feature {
	const char *text;	/* readable text, or NULL if the handle keeps none */
	uint64_t hash;
	double prob;		/* the feature's own spam probability */
	uint32_t spam, ham;	/* its counts */
};

#define BAYES_MAX_TOP 20

struct bayes_result {
	double prob;		/* spam probability in [0,1] */
	bool spam;		/* prob >= spam_threshold */
	unsigned mime_flags;	/* MIME_ERR_* of the parse */
	size_t nfeatures;	/* unique features in the message */
	size_t nused;		/* features that had statistics and weighed in */
	uint64_t learned_spam, learned_ham;	/* message totals behind the score */
	size_t ntop;
	struct bayes_feature top[BAYES_MAX_TOP];	/* strongest first; texts valid until the next call on b */
};

/*
 * struct bayes_msg_meta - facts about a message from outside it (the SMTP
 * client address and HELO), scored as features. Any field may be NULL.
 */
struct bayes_msg_meta {
	const char *client_ip;
	const char *helo;
};

/*
 * bayes_check - score the message data[0..size) with the statistics of
 * user (NULL or "" = global). meta may be NULL. Fills *r.
 *
 * A user's statistics are blended with the global ones, class by class:
 * with wS = max(0, 1 - user_spam_msgs / user_mature_msgs) (and wH alike),
 * a token's spam count is user_spam + round(wS * global_spam) and the spam
 * message total user_msgs + round(wS * global_msgs); the same for ham. A
 * user with nothing learned (or unknown) scores exactly as global; a
 * mature user on their own statistics alone. r->learned_* are the blended
 * totals.
 */
int bayes_check(struct bayes *b, const char *user, const unsigned char *data, size_t size,
		const struct bayes_msg_meta *meta, struct bayes_result *r);

/*
 * bayes_learn - learn the message as cls for user, unconditionally (an
 * explicit user action). Remembers its digest: learning it again as the
 * same class is BAYES_ALREADY, as the other class BAYES_RELEARNED. One
 * transaction; on return 0 the learn is committed.
 */
int bayes_learn(struct bayes *b, const char *user, enum bayes_class cls,
		const unsigned char *data, size_t size, enum bayes_learn_outcome *out_r);

/*
 * bayes_batch_begin/commit - bulk training: the learns and forgets made
 * between them share one transaction, so each database page they touch is
 * written once per batch instead of once per message. Nothing learned in a
 * batch is durable, nor may it be reported learned, before
 * bayes_batch_commit returns 0. A learn that fails inside a batch rolls
 * the whole batch back: it and every later learn of the batch return -1,
 * and bayes_batch_commit returns -1. Not for a handle owning a shared
 * cache (the daemon's writer). With the Redis backend the calls succeed
 * and change nothing: each learn commits on its own.
 */
int bayes_batch_begin(struct bayes *b);
int bayes_batch_commit(struct bayes *b);

/*
 * bayes_train - the feedback step: given the true class and the probability
 * the message was scored with, learn it or not according to the handle's
 * training mode (*out_r is BAYES_SKIPPED when not).
 */
int bayes_train(struct bayes *b, const char *user, enum bayes_class cls, double scored_prob,
		const unsigned char *data, size_t size, enum bayes_learn_outcome *out_r);

/*
 * bayes_autolearn - learn the message as cls for user because it was
 * scored scored_prob, beyond an autolearn threshold (the caller's
 * choice), with no one's confirmation. The learned-message memory
 * records it as automatic (STORE_LEARNED_AUTO), and a learn by hand
 * always wins:
 *   - a message already learned by hand (bayes_learn) is left alone:
 *     *out_r is BAYES_KEPT_MANUAL, whatever class it was learned as;
 *   - a later bayes_learn of an autolearned message makes it a manual
 *     learn: counts moved as for any relearn (BAYES_RELEARNED) when the
 *     class differs, and the automatic mark cleared in any case
 *     (BAYES_ALREADY when the class was the same).
 * The training mode decides as for bayes_train(), except that "error"
 * presupposes a true label, which an autolearn does not have: under all
 * and error every call learns; under mature only while user (global
 * for NULL) has learned fewer than the mature count of either class
 * (*out_r BAYES_SKIPPED afterwards). One transaction.
 */
int bayes_autolearn(struct bayes *b, const char *user, enum bayes_class cls, double scored_prob,
		    const unsigned char *data, size_t size, enum bayes_learn_outcome *out_r);

/* bayes_forget - remove the message's contribution, if it was learned. */
int bayes_forget(struct bayes *b, const char *user, const unsigned char *data, size_t size,
		 enum bayes_learn_outcome *out_r);

/* struct bayes_stats: types.h */

/* bayes_stats - statistics of user (NULL = global) into *st. */
int bayes_stats(struct bayes *b, const char *user, struct bayes_stats *st);

/* One user's own statistics (without the global ones it is blended with). */
struct bayes_user_stats {
	char *name;
	uint64_t learned_spam, learned_ham;	/* messages */
	uint64_t tokens;			/* the user's token rows */
	uint64_t remembered;			/* the user's learned-message digests */
};

/*
 * bayes_users - every user of per-user statistics with their own figures,
 * sorted by name, from one snapshot: *users_r is an array of *n_r entries
 * (NULL and 0 when there are none), owned by the caller and released with
 * bayes_users_free(). 0, or -1 (errmsg says why; nothing to free).
 */
int bayes_users(struct bayes *b, struct bayes_user_stats **users_r, size_t *n_r);

/* bayes_users_free - free what bayes_users() returned and set *users to NULL. */
void bayes_users_free(struct bayes_user_stats **users, size_t n);

/*
 * Expiry: the rules (BAYES_EXPIRE_*, struct bayes_expire_rules) and
 * struct bayes_expire_state are in types.h.
 */

/* bayes_expire_rules_default - the BAYES_EXPIRE_* defaults. */
void bayes_expire_rules_default(struct bayes_expire_rules *r);

/* bayes_expire_begin - start a run with rules r (NULL = defaults) at time now. */
void bayes_expire_begin(struct bayes_expire_state *st, const struct bayes_expire_rules *r, int64_t now);

/*
 * bayes_expire_step - one transaction of at most rules.batch_rows rows.
 * Returns 1 when there is more to do, 0 when the run is finished (and
 * recorded as last_expire), -1 on error (the run may be resumed with
 * another step). Writers elsewhere wait for one step at most.
 */
int bayes_expire_step(struct bayes *b, struct bayes_expire_state *st);

/* bayes_expire - a whole run: begin, then steps until done. 0 or -1. */
int bayes_expire(struct bayes *b, const struct bayes_expire_rules *r, int64_t now,
		 struct bayes_expire_state *st_r);

/*
 * bayes_dump - write every user's statistics to out in the portable text
 * format (README, "Statistics: per-user, expiry, backup"). One read
 * transaction: a consistent snapshot. 0, or -1 (errmsg says why).
 */
int bayes_dump(struct bayes *b, FILE *out);

/*
 * bayes_restore - read a dump from in into b, which must be empty (no
 * statistics, no users): BAYES_ERR_INPUT otherwise, and for a malformed
 * or truncated dump; BAYES_ERR_INCOMPATIBLE for a dump written with other
 * tokenizer parameters. One transaction: on error nothing is written.
 */
int bayes_restore(struct bayes *b, FILE *in);

/*
 * bayes_digest - the learned-message key of a message: a hash of its
 * content that ignores trace headers (Received, Return-Path, Delivered-To,
 * ...) and bayesd's own X-Spam-* headers and treats CRLF as LF.
 */
void bayes_digest(const unsigned char *data, size_t size, uint8_t out[16]);

/*
 * bayes_last_features - the feature hashes (sorted, unique) of the last
 * message checked or learned on b, in *hash_r, valid until the next call
 * on b; returns their number (0 and NULL when none). A check with meta
 * includes the client IP and HELO features (bayes_meta_features). For
 * the scan history.
 */
size_t bayes_last_features(const struct bayes *b, const uint64_t **hash_r);

/*
 * bayes_meta_features - the feature hashes (sorted) that meta alone adds
 * to a check, in *hash_r (allocated, the caller frees it); returns their
 * number. Taking them out of a check's features gives what a learn of
 * the message (which has no meta) applies. Forgets the last message.
 */
size_t bayes_meta_features(struct bayes *b, const struct bayes_msg_meta *meta, uint64_t **hash_r);

/*
 * bayes_learn_features - learn (or with forget, forget) a message known
 * only by its digest and its feature hashes hash[0..n) (sorted, unique):
 * what bayes_learn and bayes_forget do, with the same learned-message
 * memory, for a message nobody has any more (a scan history row). One
 * transaction; 0 or -1.
 */
int bayes_learn_features(struct bayes *b, const char *user, enum bayes_class cls, bool forget,
			 const uint8_t digest[16], const uint64_t *hash, size_t n,
			 enum bayes_learn_outcome *out_r);

#endif
