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

#include "mime.h"
#include "tokenize.h"

/* Default thresholds on the probability (settings in bayesd.conf). */
#define BAYES_DEFAULT_SPAM_THRESHOLD	0.90
#define BAYES_DEFAULT_REJECT_THRESHOLD	0.999

enum bayes_class {
	BAYES_HAM = 0,
	BAYES_SPAM = 1,
};

enum bayes_errkind {
	BAYES_ERR_NONE = 0,
	BAYES_ERR_BUSY,		/* database locked: try later */
	BAYES_ERR_DB,		/* database missing, corrupt, full, I/O error */
	BAYES_ERR_INCOMPATIBLE,	/* written by another tokenizer / schema */
	BAYES_ERR_INPUT,	/* bad argument (e.g. empty message) */
};

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
};

/* bayes_outcome_name - "learned", "already learned", "relearned", ... */
const char *bayes_outcome_name(enum bayes_learn_outcome o);

#define BAYES_OPEN_RDONLY	0x01	/* never write (the milter's handles) */
#define BAYES_OPEN_CREATE	0x02	/* create the database if it is missing */

struct bayes_options {
	struct tok_params tok;		/* used when creating; checked on open */
	struct mime_limits lim;
	double spam_threshold;		/* prob >= this is spam */
	enum bayes_train_mode train_mode;
	bool keep_text;			/* tokenizer keeps text: needed for explain */
	bool sync_full;			/* PRAGMA synchronous=FULL (survive power loss) */
	int busy_timeout_ms;
};

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
 * bayes_train - the feedback step: given the true class and the probability
 * the message was scored with, learn it or not according to the handle's
 * training mode (*out_r is BAYES_SKIPPED when not).
 */
int bayes_train(struct bayes *b, const char *user, enum bayes_class cls, double scored_prob,
		const unsigned char *data, size_t size, enum bayes_learn_outcome *out_r);

/* bayes_forget - remove the message's contribution, if it was learned. */
int bayes_forget(struct bayes *b, const char *user, const unsigned char *data, size_t size,
		 enum bayes_learn_outcome *out_r);

struct bayes_stats {
	uint64_t learned_spam, learned_ham;	/* messages */
	uint64_t tokens;			/* rows in the token table */
	uint64_t remembered;			/* learned-message digests kept */
	uint64_t users;
	int64_t db_bytes;
	const char *tok_params;			/* canonical tokenizer parameters */
	int schema_version;
};

/* bayes_stats - statistics of user (NULL = global) into *st. */
int bayes_stats(struct bayes *b, const char *user, struct bayes_stats *st);

/*
 * bayes_digest - the learned-message key of a message: a hash of its
 * content that ignores trace headers (Received, Return-Path, Delivered-To,
 * ...) and bayesd's own X-Spam-* headers and treats CRLF as LF.
 */
void bayes_digest(const unsigned char *data, size_t size, uint8_t out[16]);

#endif
