/*
 * store_sqlite_internal.h - what the SQLite backend's files share: the
 * statement table and the handle. store_sqlite.c opens, reads, learns and
 * scores; store_sqlite_rows.c lists and restores whole tables (dump,
 * restore) and expires. Private to classifier/store/sqlite.
 * Rooms: may use store/store_backend.h and token_cache.h.
 */
#ifndef BAYES_STORE_SQLITE_INTERNAL_H
#define BAYES_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/sqlite/token_cache.h"
#include "store/store_backend.h"

/* The prepared statements, made once per handle (stmt_sql in store_sqlite.c). */
enum stmt_id {
	STMT_GET_META,
	STMT_PUT_META,
	STMT_GET_USER,
	STMT_PUT_USER,
	STMT_GET_TOTALS,
	STMT_ADD_TOTALS,
	STMT_GET_TOKEN,
	STMT_ADD_TOKEN,
	STMT_PRUNE_TOKEN,
	STMT_GET_LEARNED,
	STMT_PUT_LEARNED,
	STMT_DEL_LEARNED,
	STMT_COUNT_TOKENS,
	STMT_ALL_TOKENS,
	STMT_OTHER_USERS_TOKENS,
	STMT_COUNT_EVERY_TOKEN,
	STMT_EVERY_TOKEN,
	STMT_DATA_VERSION,
	STMT_COUNT_LEARNED,
	STMT_COUNT_USERS,
	STMT_ROWS_META,
	STMT_ROWS_USERS,
	STMT_ROWS_TOTALS,
	STMT_ROWS_TOKENS,
	STMT_ROWS_LEARNED,
	STMT_INS_USER,
	STMT_INS_TOTALS,
	STMT_INS_TOKEN,
	STMT_INS_LEARNED,
	STMT_IS_EMPTY,
	STMT_SCAN_TOKENS,
	STMT_DEL_TOKEN,
	STMT_EXPIRE_LEARNED,
	STMT_BEGIN,
	STMT_BEGIN_READ,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_MAX
};

struct sqlite_store {
	struct store base;	/* first: the generic part (store_backend.h) */
	sqlite3 *db;
	bool bulk;
	struct tcache cache;
	/* the kept snapshot (SNAPSHOT_KEEP_MS) */
	bool keep_snapshot;	/* bulk and read-only */
	bool kept;		/* a kept snapshot is open */
	int64_t snap_began_ms;
	/* what the open snapshot has read already (cleared at each BEGIN) */
	bool version_checked;	/* the cache's data version is the snapshot's */
	bool totals_known;	/* totals_user's totals are those below */
	int64_t totals_user;
	uint64_t totals_spam, totals_ham;
	char *path;
	sqlite3_stmt *stmt[STMT_MAX];
	bool readonly;
	bool scanning;			/* a token listing runs with a small cache, no map */
	bool in_txn;
	bool writing;		/* the open transaction is a write (BEGIN IMMEDIATE) */
	sqlite3_stmt *rows;	/* store_rows_begin's iteration, or NULL */
};

/* sqlite_fail - record an SQLite failure rc while doing what; returns -1. */
int sqlite_fail(struct sqlite_store *s, int rc, const char *what);

/* sqlite_stmt - the prepared statement id, reset (its bindings stay). */
sqlite3_stmt *sqlite_stmt(struct sqlite_store *s, enum stmt_id id);

/* sqlite_exec_step - step st (a statement with no rows) and reset it; 0 or -1. */
int sqlite_exec_step(struct sqlite_store *s, sqlite3_stmt *st, const char *what);

/* sqlite_put_meta - set meta key to value; 0 or -1. */
int sqlite_put_meta(struct sqlite_store *s, const char *key, const char *value);

/* The store_ops of store_backend.h that store_sqlite_rows.c provides,
 * and sqlite_totals, which its expiry uses. */
int sqlite_totals(struct store *base, int64_t user, uint64_t *spam_r, uint64_t *ham_r);
int sqlite_rows_begin(struct store *base, enum store_table t);
int sqlite_rows_next(struct store *base, struct store_row *r);
void sqlite_rows_end(struct store *base);
int sqlite_row_put(struct store *base, enum store_table t, const struct store_row *r);
int sqlite_is_empty(struct store *base);
long sqlite_expire_tokens(struct store *base, struct bayes_expire_state *e, size_t limit);
long sqlite_expire_learned(struct store *base, int64_t before, size_t limit);

#endif
