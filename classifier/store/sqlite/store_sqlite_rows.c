/*
 * store_sqlite_rows.c - the SQLite backend's whole-table work: listing
 * every row of a table (bayesc dump, the daemon's cache load), inserting
 * restored rows (bayesc restore), and expiry (bayesc expire). See
 * store_sqlite_internal.h.
 */
#include "store/sqlite/store_sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static const enum stmt_id rows_stmt[] = {
	[STORE_META] = STMT_ROWS_META,
	[STORE_USERS] = STMT_ROWS_USERS,
	[STORE_TOTALS] = STMT_ROWS_TOTALS,
	[STORE_TOKENS] = STMT_ROWS_TOKENS,
	[STORE_LEARNED] = STMT_ROWS_LEARNED,
};

/* store_rows_begin - start listing table t. */
int sqlite_rows_begin(struct store *base, enum store_table t)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	s->rows = sqlite_stmt(s, rows_stmt[t]);
	/*
	 * A listing of the token table (the daemon's cache load, a dump)
	 * reads every page once. Through the map or a 64 MB page cache each
	 * page it touched would stay in our RSS: the database's size on top
	 * of the cache the daemon is building. It reads through a small
	 * page cache instead, and read_end restores the settings.
	 */
	if (t == STORE_TOKENS && !s->scanning) {
		s->scanning = true;
		sqlite3_exec(s->db, "PRAGMA mmap_size=0", NULL, NULL, NULL);
		sqlite3_exec(s->db, "PRAGMA cache_size=-2048", NULL, NULL, NULL);
	}
	return 0;
}

/* store_rows_next - the next row of the listing. */
int sqlite_rows_next(struct store *base, struct store_row *r)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = s->rows;
	int rc;

	if (st == NULL)
		return 0;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return sqlite_fail(s, rc, "reading rows");
	memset(r, 0, sizeof(*r));
	if (st == s->stmt[STMT_ROWS_META]) {
		r->name = (const char *)sqlite3_column_text(st, 0);
		r->value = (const char *)sqlite3_column_text(st, 1);
	} else if (st == s->stmt[STMT_ROWS_USERS]) {
		r->user = sqlite3_column_int64(st, 0);
		r->name = (const char *)sqlite3_column_text(st, 1);
	} else if (st == s->stmt[STMT_ROWS_TOTALS]) {
		r->user = sqlite3_column_int64(st, 0);
		r->spam = (uint64_t)sqlite3_column_int64(st, 1);
		r->ham = (uint64_t)sqlite3_column_int64(st, 2);
	} else if (st == s->stmt[STMT_ROWS_TOKENS]) {
		r->user = sqlite3_column_int64(st, 0);
		r->hash = (uint64_t)sqlite3_column_int64(st, 1);
		r->spam = (uint64_t)sqlite3_column_int64(st, 2);
		r->ham = (uint64_t)sqlite3_column_int64(st, 3);
		r->seen = sqlite3_column_int64(st, 4);
	} else {
		r->user = sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == 16)
			memcpy(r->digest, sqlite3_column_blob(st, 1), 16);
		r->cls = sqlite3_column_int(st, 2);
		r->at = sqlite3_column_int64(st, 3);
	}
	return 1;
}

/* store_rows_end - finish the listing. */
void sqlite_rows_end(struct store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	if (s->rows)
		sqlite3_reset(s->rows);
	s->rows = NULL;
}

/* store_row_put - insert one restored row. */
int sqlite_row_put(struct store *base, enum store_table t, const struct store_row *r)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st;

	/* the in-memory copy does not follow restores */
	if (s->cache.cap)
		tcache_drop(&s->cache);
	switch (t) {
	case STORE_META:
		return sqlite_put_meta(s, r->name, r->value);
	case STORE_USERS:
		st = sqlite_stmt(s, STMT_INS_USER);
		sqlite3_bind_int64(st, 1, r->user);
		sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
		return sqlite_exec_step(s, st, "restoring users");
	case STORE_TOTALS:
		st = sqlite_stmt(s, STMT_INS_TOTALS);
		sqlite3_bind_int64(st, 1, r->user);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)r->spam);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)r->ham);
		return sqlite_exec_step(s, st, "restoring totals");
	case STORE_TOKENS:
		st = sqlite_stmt(s, STMT_INS_TOKEN);
		sqlite3_bind_int64(st, 1, r->user);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)r->hash);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)r->spam);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)r->ham);
		sqlite3_bind_int64(st, 5, r->seen);
		return sqlite_exec_step(s, st, "restoring tokens");
	case STORE_LEARNED:
		st = sqlite_stmt(s, STMT_INS_LEARNED);
		sqlite3_bind_int64(st, 1, r->user);
		sqlite3_bind_blob(st, 2, r->digest, 16, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, r->cls);
		sqlite3_bind_int64(st, 4, r->at);
		return sqlite_exec_step(s, st, "restoring learned messages");
	}
	return sqlite_fail(s, SQLITE_MISUSE, "restoring: unknown table");
}

/* store_is_empty - has nothing been learned into s? */
int sqlite_is_empty(struct store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = sqlite_stmt(s, STMT_IS_EMPTY);
	int rc = sqlite3_step(st), full = 0;

	if (rc == SQLITE_ROW)
		full = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return sqlite_fail(s, rc, "checking for statistics");
	return !full;
}

/* store_expire_tokens - one chunk of the token expiry scan. */
long sqlite_expire_tokens(struct store *base, struct bayes_expire_state *e, size_t limit)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	struct { int64_t user; uint64_t hash; } *doomed = xmalloc((limit ? limit : 1) * sizeof(*doomed));
	sqlite3_stmt *st = sqlite_stmt(s, STMT_SCAN_TOKENS);
	size_t ndoomed = 0;
	long seen_rows = 0;
	int64_t tuser = -1;
	uint64_t ns = 0, nh = 0;
	int rc;

	/* the in-memory copy does not follow deletions */
	if (s->cache.cap)
		tcache_drop(&s->cache);
	sqlite3_bind_int64(st, 1, e->cur_user);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)e->cur_hash);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t user = sqlite3_column_int64(st, 0);
		uint64_t hash = (uint64_t)sqlite3_column_int64(st, 1);
		uint64_t spam = (uint64_t)sqlite3_column_int64(st, 2);
		uint64_t ham = (uint64_t)sqlite3_column_int64(st, 3);
		int64_t seen = sqlite3_column_int64(st, 4);
		uint64_t *counter;

		seen_rows++;
		e->cur_user = user;
		e->cur_hash = hash;
		if (user != tuser) {
			/* a second statement inside the scan: totals are another table */
			if (sqlite_totals(&s->base, user, &ns, &nh) < 0) {
				sqlite3_reset(st);
				free(doomed);
				return -1;
			}
			tuser = user;
		}
		counter = store_expire_row(e, spam, ham, seen, ns, nh);
		if (counter) {
			(*counter)++;
			doomed[ndoomed].user = user;
			doomed[ndoomed].hash = hash;
			ndoomed++;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(doomed);
		return sqlite_fail(s, rc, "scanning tokens");
	}
	/* delete after the scan: never change a table under a running SELECT on it */
	st = sqlite_stmt(s, STMT_DEL_TOKEN);
	for (size_t i = 0; i < ndoomed; i++) {
		sqlite3_bind_int64(st, 1, doomed[i].user);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)doomed[i].hash);
		if (sqlite_exec_step(s, st, "expiring tokens") < 0) {
			free(doomed);
			return -1;
		}
	}
	free(doomed);
	return seen_rows;
}

/* store_expire_learned - forget up to limit old learned digests. */
long sqlite_expire_learned(struct store *base, int64_t before, size_t limit)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = sqlite_stmt(s, STMT_EXPIRE_LEARNED);

	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	if (sqlite_exec_step(s, st, "expiring learned messages") < 0)
		return -1;
	return (long)sqlite3_changes(s->db);
}
