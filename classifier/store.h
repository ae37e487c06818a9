/*
 * store.h - the SQLite statistics store: token counts, message totals and
 * the memory of learned messages, per user (user 0 = global).
 *
 * One database file in WAL mode, so readers never wait for the writer.
 * Every statement is prepared once at open (an enum and a matching table of
 * SQL). The schema version is PRAGMA user_version; the tokenizer's
 * parameters are stored in the meta table at creation and compared at every
 * open, so statistics written by another tokenizer are never mixed in.
 *
 * Return values: 0 ok, -1 error (store_errmsg/store_errkind say why), and
 * for lookups that can miss, 1 found / 0 not found / -1 error.
 */
#ifndef BAYES_STORE_H
#define BAYES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bayes.h"

#define STORE_SCHEMA_VERSION 1

struct store;

/* Counts of one token. */
struct store_counts {
	uint32_t spam, ham;
};

/*
 * store_open - open path (BAYES_OPEN_* flags). tok_params is the canonical
 * tokenizer string: written when the database is created, compared
 * otherwise (mismatch: BAYES_ERR_INCOMPATIBLE). NULL with err on failure.
 */
struct store *store_open(const char *path, unsigned flags, const char *tok_params, bool sync_full,
			 int busy_timeout_ms, char *err, size_t errlen, enum bayes_errkind *kind_r);
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
 * store_read_begin/end - one read transaction around the lookups of one
 * message: a consistent snapshot, and the file locks taken once instead
 * of once per statement.
 */
int store_read_begin(struct store *s);
void store_read_end(struct store *s);

/* Transactions: one per learn. begin is BEGIN IMMEDIATE with a bounded busy wait. */
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

#endif
