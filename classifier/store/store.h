/*
 * store.h - the statistics store: token counts, message totals and the
 * memory of learned messages, per user (user 0 = global).
 *
 * Two backends implement it (store_backend.h): SQLite, one database file
 * in WAL mode (store_sqlite.c, the default), and Redis, statistics shared
 * by several bayesd nodes (store_redis.c). store_options.backend (the
 * engine's bayes_options.backend) picks one at store_open(); nothing
 * above this interface knows which it is.
 * Both keep the tokenizer's parameters at creation and compare them at
 * every open, so statistics written by another tokenizer are never mixed
 * in.
 *
 * Return values: 0 ok, -1 error (store_errmsg/store_errkind say why), and
 * for lookups that can miss, 1 found / 0 not found / -1 error.
 *
 * Rooms: may use util.h and types.h of classifier/ only (never bayes.h,
 * tokens/, score/, message/).
 */
#ifndef BAYES_STORE_H
#define BAYES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "types.h"

#define STORE_SCHEMA_VERSION 1

struct store;

/* Counts of one token. */
struct store_counts {
	uint32_t spam, ham;
};

/*
 * What store_open needs of the engine's options (struct bayes_options):
 * the backend, its Redis settings, and SQLite's durability and busy wait.
 */
struct store_options {
	enum bayes_backend backend;
	struct bayes_redis_options redis;
	bool sync_full;			/* PRAGMA synchronous=FULL */
	int busy_timeout_ms;
};

/*
 * store_open - open the store opt->backend names: the SQLite file at path,
 * or the Redis statistics of opt->redis (path is then only a name in
 * messages). flags are BAYES_OPEN_*. tok_params is the canonical
 * tokenizer string: written when the store is created, compared otherwise
 * (mismatch: BAYES_ERR_INCOMPATIBLE). NULL with err on failure.
 */
struct store *store_open(const char *path, unsigned flags, const char *tok_params,
			 const struct store_options *opt, char *err, size_t errlen,
			 enum bayes_errkind *kind_r);
void store_close(struct store **s);

const char *store_errmsg(const struct store *s);
enum bayes_errkind store_errkind(const struct store *s);

/*
 * store_user_id - the id of user name ("" or NULL = 0, global). With create,
 * a missing user is added (inside the current transaction); without, a
 * missing user gives 0 (not found) and *id_r is untouched.
 */
int store_user_id(struct store *s, const char *name, bool create, int64_t *id_r);

/* store_totals - learned message counts of user. */
int store_totals(struct store *s, int64_t user, uint64_t *spam_r, uint64_t *ham_r);

/*
 * store_lookup - counts of the n hashes (sorted ascending) for user into
 * out[0..n); missing tokens get zero counts. Returns the number found, or -1.
 */
long store_lookup(struct store *s, int64_t user, const uint64_t *hash, size_t n,
		  struct store_counts *out);

/*
 * store_lookup_message - store_totals and store_lookup of one message at
 * once: a networked backend reads both in one round trip.
 */
long store_lookup_message(struct store *s, int64_t user, const uint64_t *hash, size_t n,
			  struct store_counts *out, uint64_t *spam_r, uint64_t *ham_r);

/*
 * store_read_begin/end - one read transaction around the lookups of one
 * message: a consistent snapshot, and the file locks taken once instead
 * of once per statement.
 */
int store_read_begin(struct store *s);
void store_read_end(struct store *s);

/*
 * store_data_version - PRAGMA data_version of this connection: it changes
 * when another connection commits, never for this one's own commits.
 */
int store_data_version(struct store *s, int64_t *v_r);

/*
 * Transactions: one per learn. With SQLite, begin is BEGIN IMMEDIATE with
 * a bounded busy wait. With Redis, the writes are kept until commit and
 * applied there at once, after checking that nothing this transaction
 * read from the learned-message memory has changed meanwhile: when it
 * has (another node learned the same message), commit writes nothing and
 * returns STORE_CONFLICT, and the caller runs the transaction again.
 */
#define STORE_CONFLICT	(-2)
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/*
 * store_add - add dspam/dham (may be negative) to each of the n tokens and
 * to the user's message totals (dmsg_spam/dmsg_ham). Rows falling to zero
 * are removed. Must be inside store_begin/commit.
 */
int store_add(struct store *s, int64_t user, const uint64_t *hash, size_t n,
	      int dspam, int dham, int dmsg_spam, int dmsg_ham);

/*
 * store_learned_get - the class a message digest was learned as for user:
 * 1 found (*cls_r set), 0 not learned, -1 error.
 */
int store_learned_get(struct store *s, int64_t user, const uint8_t digest[16], int *cls_r);
int store_learned_put(struct store *s, int64_t user, const uint8_t digest[16], int cls);
int store_learned_del(struct store *s, int64_t user, const uint8_t digest[16]);

/* store_stats - row counts for bayes_stats(). */
int store_stats(struct store *s, int64_t user, struct bayes_stats *st);

/*
 * A learned-message row's class is the message's class (BAYES_HAM or
 * BAYES_SPAM), plus STORE_LEARNED_AUTO (below) for an autolearn, plus
 * STORE_LEARNED_GLOBAL when that learn also added the
 * message to the global statistics (a user's learn with
 * learn_global_too), so a forget or relearn takes back exactly that.
 */
#define STORE_LEARNED_GLOBAL	2
/*
 * STORE_LEARNED_AUTO: the learn was an autolearn (bayes_autolearn), not
 * a user's: a learn by hand replaces it, an autolearn never replaces a
 * learn by hand. The class is always (class & 1).
 */
#define STORE_LEARNED_AUTO	4

/* store_meta_get - value of key into out: 1 found, 0 missing, -1 error. */
int store_meta_get(struct store *s, const char *key, char *out, size_t outlen);
/* store_meta_put - set key to value (inside a transaction, or on its own). */
int store_meta_put(struct store *s, const char *key, const char *value);

/*
 * Whole tables, for dump and restore. struct store_row carries the
 * columns of one row of any table; which fields are used depends on it:
 *   STORE_META     name (key), value
 *   STORE_USERS    user (id), name         (user 0, the global one, is not listed)
 *   STORE_TOTALS   user, spam, ham
 *   STORE_TOKENS   user, hash, spam, ham, seen
 *   STORE_LEARNED  user, digest, cls, at
 */
enum store_table {
	STORE_META,
	STORE_USERS,
	STORE_TOTALS,
	STORE_TOKENS,
	STORE_LEARNED,
};

struct store_row {
	int64_t user;
	const char *name, *value;
	uint64_t hash;
	uint64_t spam, ham;
	int64_t seen;
	uint8_t digest[16];
	int cls;
	int64_t at;
};

/*
 * store_rows_begin/next/end - every row of table t in key order, inside a
 * transaction the caller holds. next returns 1 (row in *r; its strings are
 * valid until the next call), 0 at the end, -1 on error. One iteration at
 * a time per store.
 */
int store_rows_begin(struct store *s, enum store_table t);
int store_rows_next(struct store *s, struct store_row *r);
void store_rows_end(struct store *s);

/* store_row_put - insert one row of table t (restore; inside store_begin/commit). */
int store_row_put(struct store *s, enum store_table t, const struct store_row *r);

/*
 * store_file_looks_sqlite - false when the file at path, of size bytes,
 * is not empty and does not start with SQLite's header (an unreadable
 * file passes: opening it reports why).
 */
bool store_file_looks_sqlite(const char *path, long long size);

/* store_is_empty - 1 when nothing was ever learned into s, 0 if something was, -1 error. */
int store_is_empty(struct store *s);

/*
 * store_expire_tokens - inside a write transaction: examine up to limit
 * token rows following the cursor (st->cur_user, st->cur_hash) in key
 * order, delete those st->rules condemn at st->now, add them to st's
 * counters and advance the cursor. Returns the rows examined (fewer than
 * limit: the table is done), -1 on error.
 */
long store_expire_tokens(struct store *s, struct bayes_expire_state *st, size_t limit);

/*
 * store_expire_learned - inside a write transaction: delete up to limit
 * learned-message rows learned before Unix time before. Returns the rows
 * deleted, -1 on error.
 */
long store_expire_learned(struct store *s, int64_t before, size_t limit);

#endif
