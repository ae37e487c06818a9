/*
 * store_sqlite.c - the SQLite statistics backend (backend = sqlite, the
 * default). See store.h for the contract, store_backend.h for the plumbing.
 *
 * Schema (version 1):
 *   meta(key, value)                      tokenizer parameters, creation time
 *   users(id, name)                       id 0 is the global statistics, name ""
 *   totals(user_id, spam, ham)            messages learned per class
 *   tokens(user_id, hash, spam, ham, seen) WITHOUT ROWID: one B-tree keyed by
 *                                          (user, hash), so a lookup is one descent
 *   learned(user_id, digest, class, at)   memory of learned messages
 *
 * Hashes are unsigned 64-bit in C and stored as the same bits in SQLite's
 * signed INTEGER. "seen" is the day (Unix time / 86400) a token was last
 * learned, for expiry.
 */
#include "store/store_backend.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/sqlite/store_sqlite_internal.h"
#include "util.h"

/* reads from the mapped file skip a copy and a system call per page */
#define STORE_MMAP_PRAGMA	"PRAGMA mmap_size=4294967296"
#define STORE_CACHE_PRAGMA	"PRAGMA cache_size=-65536"	/* 64 MB page cache */


static const char *const stmt_sql[STMT_MAX] = {
	[STMT_GET_META] = "SELECT value FROM meta WHERE key = ?1",
	[STMT_PUT_META] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
	[STMT_GET_USER] = "SELECT id FROM users WHERE name = ?1",
	[STMT_PUT_USER] = "INSERT INTO users(name) VALUES (?1)",
	[STMT_GET_TOTALS] = "SELECT spam, ham FROM totals WHERE user_id = ?1",
	[STMT_ADD_TOTALS] = "INSERT INTO totals(user_id, spam, ham) VALUES (?1, max(?2, 0), max(?3, 0)) "
			    "ON CONFLICT(user_id) DO UPDATE SET spam = max(spam + ?2, 0), ham = max(ham + ?3, 0)",
	[STMT_GET_TOKEN] = "SELECT spam, ham FROM tokens WHERE user_id = ?1 AND hash = ?2",
	[STMT_ADD_TOKEN] = "INSERT INTO tokens(user_id, hash, spam, ham, seen) VALUES (?1, ?2, max(?3, 0), max(?4, 0), ?5) "
			   "ON CONFLICT(user_id, hash) DO UPDATE SET spam = max(spam + ?3, 0), ham = max(ham + ?4, 0), "
			   "seen = max(seen, ?5)",
	[STMT_PRUNE_TOKEN] = "DELETE FROM tokens WHERE user_id = ?1 AND hash = ?2 AND spam = 0 AND ham = 0",
	[STMT_GET_LEARNED] = "SELECT class FROM learned WHERE user_id = ?1 AND digest = ?2",
	[STMT_PUT_LEARNED] = "INSERT OR REPLACE INTO learned(user_id, digest, class, at) VALUES (?1, ?2, ?3, ?4)",
	[STMT_DEL_LEARNED] = "DELETE FROM learned WHERE user_id = ?1 AND digest = ?2",
	[STMT_COUNT_TOKENS] = "SELECT count(*) FROM tokens WHERE user_id = ?1",
	/* the bulk load: tcache_load() puts each row in the cache (see there) */
	[STMT_ALL_TOKENS] = "SELECT tcache_load(hash, spam, ham) FROM tokens WHERE user_id = ?1",
	/* the bulk load when the table holds one user's tokens only: no key
	 * comparison per row, and count(*) counts cells per page */
	[STMT_OTHER_USERS_TOKENS] = "SELECT EXISTS(SELECT 1 FROM tokens WHERE user_id < ?1) "
				    "OR EXISTS(SELECT 1 FROM tokens WHERE user_id > ?1)",
	[STMT_COUNT_EVERY_TOKEN] = "SELECT count(*) FROM tokens",
	[STMT_EVERY_TOKEN] = "SELECT tcache_load(hash, spam, ham) FROM tokens",
	[STMT_DATA_VERSION] = "PRAGMA data_version",
	[STMT_COUNT_LEARNED] = "SELECT count(*) FROM learned WHERE user_id = ?1",
	[STMT_COUNT_USERS] = "SELECT count(*) FROM users WHERE id <> 0",
	/* dump: whole tables in key order */
	[STMT_ROWS_META] = "SELECT key, value FROM meta ORDER BY key",
	[STMT_ROWS_USERS] = "SELECT id, name FROM users WHERE id <> 0 ORDER BY id",
	[STMT_ROWS_TOTALS] = "SELECT user_id, spam, ham FROM totals ORDER BY user_id",
	[STMT_ROWS_TOKENS] = "SELECT user_id, hash, spam, ham, seen FROM tokens ORDER BY user_id, hash",
	[STMT_ROWS_LEARNED] = "SELECT user_id, digest, class, at FROM learned ORDER BY user_id, digest",
	/* restore: rows as they come */
	[STMT_INS_USER] = "INSERT INTO users(id, name) VALUES (?1, ?2)",
	[STMT_INS_TOTALS] = "INSERT OR REPLACE INTO totals(user_id, spam, ham) VALUES (?1, ?2, ?3)",
	[STMT_INS_TOKEN] = "INSERT INTO tokens(user_id, hash, spam, ham, seen) VALUES (?1, ?2, ?3, ?4, ?5)",
	[STMT_INS_LEARNED] = "INSERT INTO learned(user_id, digest, class, at) VALUES (?1, ?2, ?3, ?4)",
	[STMT_IS_EMPTY] = "SELECT EXISTS(SELECT 1 FROM tokens) OR EXISTS(SELECT 1 FROM learned) "
			  "OR EXISTS(SELECT 1 FROM users WHERE id <> 0) "
			  "OR EXISTS(SELECT 1 FROM totals WHERE spam <> 0 OR ham <> 0)",
	/* expiry: a chunk of the key space after a cursor (a row value uses the primary key) */
	[STMT_SCAN_TOKENS] = "SELECT user_id, hash, spam, ham, seen FROM tokens WHERE (user_id, hash) > (?1, ?2) "
			     "ORDER BY user_id, hash LIMIT ?3",
	[STMT_DEL_TOKEN] = "DELETE FROM tokens WHERE user_id = ?1 AND hash = ?2",
	[STMT_EXPIRE_LEARNED] = "DELETE FROM learned WHERE (user_id, digest) IN "
				"(SELECT user_id, digest FROM learned WHERE at < ?1 LIMIT ?2)",
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_BEGIN_READ] = "BEGIN DEFERRED",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
};

static const char schema_sql[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
	"INSERT INTO users(id, name) VALUES (0, '');"
	"CREATE TABLE totals(user_id INTEGER PRIMARY KEY, spam INTEGER NOT NULL DEFAULT 0,"
	" ham INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO totals(user_id, spam, ham) VALUES (0, 0, 0);"
	"CREATE TABLE tokens(user_id INTEGER NOT NULL, hash INTEGER NOT NULL, spam INTEGER NOT NULL,"
	" ham INTEGER NOT NULL, seen INTEGER NOT NULL, PRIMARY KEY(user_id, hash)) WITHOUT ROWID;"
	"CREATE TABLE learned(user_id INTEGER NOT NULL, digest BLOB NOT NULL, class INTEGER NOT NULL,"
	" at INTEGER NOT NULL, PRIMARY KEY(user_id, digest)) WITHOUT ROWID;"
	"PRAGMA user_version = 1;";

/*
 * A read-only bulk handle (bayesc --db check of a folder) keeps its read
 * snapshot from one call to the next for up to this long: a BEGIN, the
 * totals, PRAGMA data_version and a ROLLBACK per message were a tenth of
 * a short message's check. Another process's commit is seen at most this
 * much later, and a checkpoint waits for the reader at most this long.
 */
#define SNAPSHOT_KEEP_MS	200

/* kind_of - map an SQLite result code to our error kinds. */
static enum bayes_errkind kind_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return BAYES_ERR_BUSY;
	default:
		return BAYES_ERR_DB;
	}
}

/* sqlite_fail - see store_sqlite_internal.h. */
int sqlite_fail(struct sqlite_store *s, int rc, const char *what)
{
	s->base.errkind = kind_of(rc);
	snprintf(s->base.errmsg, sizeof(s->base.errmsg), "%s: %s: %s", s->path, what,
		 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	return -1;
}

/* sqlite_stmt - see store_sqlite_internal.h. */
sqlite3_stmt *sqlite_stmt(struct sqlite_store *s, enum stmt_id id)
{
	sqlite3_stmt *st = s->stmt[id];

	sqlite3_reset(st);
	return st;
}

/* sqlite_exec_step - see store_sqlite_internal.h. */
int sqlite_exec_step(struct sqlite_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sqlite_fail(s, rc, what);
	return 0;
}

/* get_meta - value of key into out: 1 found, 0 missing, -1 error. */
static int get_meta(struct sqlite_store *s, const char *key, char *out, size_t outlen)
{
	sqlite3_stmt *st = sqlite_stmt(s, STMT_GET_META);
	int rc;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sqlite_fail(s, rc, "reading meta");
}

/* sqlite_put_meta - see store_sqlite_internal.h. */
int sqlite_put_meta(struct sqlite_store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = sqlite_stmt(s, STMT_PUT_META);

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return sqlite_exec_step(s, st, "writing meta");
}

/* create_schema - a new, empty database: tables and version, in an open transaction. */
static int create_schema(struct sqlite_store *s)
{
	char *msg = NULL;
	int rc;

	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sqlite_fail(s, rc, "creating schema");
	rc = sqlite3_exec(s->db, schema_sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(s->base.errmsg, sizeof(s->base.errmsg), "%s: creating schema: %s", s->path, msg ? msg : "?");
		s->base.errkind = kind_of(rc);
		sqlite3_free(msg);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/*
 * tcache_load - the SQL aggregate tcache_load(hash, spam, ham): puts each
 * row into the handle's cache. A row handed back to C costs a return from
 * the VDBE, a re-entry and three sqlite3_column_int64() calls, each taking
 * the connection's mutex; this keeps the whole load in one sqlite3_step(),
 * about a third cheaper. Its result is NULL.
 */
static void tcache_load_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct tcache *c = sqlite3_user_data(ctx);

	(void)argc;
	tcache_put(c, (uint64_t)sqlite3_value_int64(argv[0]), (uint32_t)sqlite3_value_int64(argv[1]),
		   (uint32_t)sqlite3_value_int64(argv[2]));
}

static void tcache_load_final(sqlite3_context *ctx)
{
	sqlite3_result_null(ctx);
}

/* prepare_all - prepare the statement table (and the function it uses). */
static int prepare_all(struct sqlite_store *s)
{
	/* DIRECTONLY: a view or trigger in the file cannot call it */
	int frc = sqlite3_create_function_v2(s->db, "tcache_load", 3, SQLITE_UTF8 | SQLITE_DIRECTONLY,
					     &s->cache, NULL, tcache_load_step, tcache_load_final, NULL);
	if (frc != SQLITE_OK)
		return sqlite_fail(s, frc, "preparing statements");
	for (int i = 0; i < STMT_MAX; i++) {
		int rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					    &s->stmt[i], NULL);
		if (rc != SQLITE_OK)
			return sqlite_fail(s, rc, "preparing statements");
	}
	return 0;
}

/* check_header - is the file a SQLite database at all? (cheap, clear error) */
/*
 * open_immutable - open path read-only with SQLite's immutable=1 (a file
 * on a read-only mount). The URI escapes the characters a URI gives a
 * meaning to, so any path works.
 */
static int open_immutable(struct sqlite_store *s, const char *path)
{
	struct buf uri;
	int rc;

	buf_init(&uri);
	buf_append(&uri, "file:", 5);
	for (const char *p = path; *p; p++) {
		if (*p == '%' || *p == '?' || *p == '#')
			buf_printf(&uri, "%%%02X", (unsigned char)*p);
		else
			buf_putc(&uri, *p);
	}
	buf_append(&uri, "?immutable=1", 12);
	rc = sqlite3_open_v2(uri.data, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
			     NULL);
	buf_free(&uri);
	if (rc != SQLITE_OK)
		sqlite_fail(s, rc, "open (immutable)");
	return rc;
}

/* store_file_looks_sqlite - see store.h. */
bool store_file_looks_sqlite(const char *path, long long size)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	FILE *f;
	bool ok;

	if (size == 0)
		return true;	/* an empty file: SQLite treats it as a new database */
	if ((f = fopen(path, "rb")) == NULL)
		return true;	/* let sqlite3_open report it */
	ok = fread(head, 1, sizeof(head), f) == sizeof(head) && memcmp(head, magic, 16) == 0;
	fclose(f);
	return ok;
}

/* data_version - PRAGMA data_version: changes when another connection commits. */
static int data_version(struct sqlite_store *s, int64_t *v_r)
{
	sqlite3_stmt *st = sqlite_stmt(s, STMT_DATA_VERSION);
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		*v_r = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : sqlite_fail(s, rc, "reading data version");
}

/*
 * tcache_ready - make sure the cache holds user's current table: 1 ready,
 * 0 not used (not bulk), -1 error. Called inside a read transaction.
 */
static int tcache_ready(struct sqlite_store *s, int64_t user)
{
	struct tcache *c = &s->cache;
	int64_t v = 0;
	int rc;

	if (!s->bulk)
		return 0;
	/* nothing can change inside one snapshot */
	if (s->kept && c->cap && c->user == user && s->version_checked)
		return 1;
	if (data_version(s, &v) < 0)
		return -1;
	if (c->cap && c->user == user && c->data_version == v) {
		s->version_checked = true;
		return 1;
	}
	/*
	 * Blended scoring reads a user's and the global table for each
	 * message: keep the table that is loaded and read the other one with
	 * SQL, instead of reloading in turn.
	 */
	if (c->cap && c->data_version == v)
		return 0;
	tcache_drop(c);
	/*
	 * Most databases hold the global table only. Then the whole table is
	 * read without a WHERE: SQLite compares each row's key with the end
	 * of the range otherwise, which was a third of the load's cost.
	 */
	bool only = false;
	sqlite3_stmt *st = sqlite_stmt(s, STMT_OTHER_USERS_TOKENS);
	sqlite3_bind_int64(st, 1, user);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		only = sqlite3_column_int(st, 0) == 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return sqlite_fail(s, rc, "loading tokens");
	/* size the table once: rehashing millions of rows costs more than counting */
	uint64_t rows = 0;
	st = sqlite_stmt(s, only ? STMT_COUNT_EVERY_TOKEN : STMT_COUNT_TOKENS);
	if (!only)
		sqlite3_bind_int64(st, 1, user);
	if (sqlite3_step(st) == SQLITE_ROW)
		rows = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	/* 3/5 full: room for a quarter more (train modes learn as they go) */
	tcache_alloc(c, rows / 3 * 5 + (1u << 16));
	st = sqlite_stmt(s, only ? STMT_EVERY_TOKEN : STMT_ALL_TOKENS);
	if (!only)
		sqlite3_bind_int64(st, 1, user);
	rc = sqlite3_step(st);		/* one row: the aggregate's NULL */
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		tcache_drop(c);
		return sqlite_fail(s, rc, "loading tokens");
	}
	c->user = user;
	c->data_version = v;
	s->version_checked = true;
	return 1;
}

static const struct store_ops sqlite_ops;
static void sqlite_close(struct store *base);
static void sqlite_rollback(struct store *base);

struct store *store_sqlite_open(const char *path, unsigned flags, const char *tok_params,
				const struct store_options *opt, char *err, size_t errlen,
				enum bayes_errkind *kind_r)
{
	struct sqlite_store *s = xcalloc(1, sizeof(*s));
	bool sync_full = opt->sync_full;
	int busy_timeout_ms = opt->busy_timeout_ms;
	struct stat sb;
	int oflags, rc, version = -1;
	bool exists;

	s->base.ops = &sqlite_ops;
	s->path = xstrdup(path);
	s->readonly = (flags & BAYES_OPEN_RDONLY) != 0;
	s->bulk = (flags & BAYES_OPEN_BULK) != 0;
	s->keep_snapshot = s->bulk && (flags & BAYES_OPEN_RDONLY);
	exists = stat(path, &sb) == 0;
	if (!exists && (!(flags & BAYES_OPEN_CREATE) || s->readonly)) {
		snprintf(s->base.errmsg, sizeof(s->base.errmsg), "database %s does not exist", path);
		s->base.errkind = BAYES_ERR_DB;
		goto failed;
	}
	if (exists && !S_ISREG(sb.st_mode)) {
		snprintf(s->base.errmsg, sizeof(s->base.errmsg), "database %s is not a regular file", path);
		s->base.errkind = BAYES_ERR_DB;
		goto failed;
	}
	if (exists && !store_file_looks_sqlite(path, (long long)sb.st_size)) {
		snprintf(s->base.errmsg, sizeof(s->base.errmsg), "%s is not a bayesd database (not SQLite)", path);
		s->base.errkind = BAYES_ERR_INCOMPATIBLE;
		goto failed;
	}
	/*
	 * Read-only handles still open the file read-write: in WAL mode a
	 * reader must be able to update the shared-memory index. They never
	 * write through it (the milter only calls lookups).
	 */
	oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	if (flags & BAYES_OPEN_CREATE)
		oflags |= SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &s->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		sqlite_fail(s, rc, "open");
		goto failed;
	}
	sqlite3_busy_timeout(s->db, busy_timeout_ms > 0 ? busy_timeout_ms : 5000);
	sqlite3_extended_result_codes(s->db, 1);

	/* The schema version tells a new file from ours from someone else's. */
	for (int attempt = 0; attempt < 2; attempt++) {
		sqlite3_stmt *st = NULL;
		rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
		if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		else
			rc = sqlite3_errcode(s->db);
		sqlite3_finalize(st);
		/*
		 * On a read-only file system a WAL reader cannot create the
		 * shared-memory index (db-shm) and the first read fails. Nothing
		 * can change the file there, so a reader may open it immutable:
		 * no locks, no index, scoring works; learning is refused by the
		 * read-write open that cannot happen.
		 */
		if (version >= 0 || !s->readonly || attempt > 0 || (rc & 0xff) != SQLITE_CANTOPEN)
			break;
		sqlite3_close(s->db);
		s->db = NULL;
		if (open_immutable(s, path) != SQLITE_OK)
			break;
	}
	{
		if (version < 0 && !s->readonly && (rc & 0xff) == SQLITE_CANTOPEN && path_on_readonly_fs(path)) {
			snprintf(s->base.errmsg, sizeof(s->base.errmsg),
				 "%s is on a read-only file system: it can be scored with, not learned into",
				 path);
			s->base.errkind = BAYES_ERR_DB;
			goto failed;
		}
		if (version < 0) {
			sqlite_fail(s, rc, "reading schema version");
			if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
				s->base.errkind = BAYES_ERR_INCOMPATIBLE;
			goto failed;
		}
	}
	if (version == 0) {
		int ntables = 0;
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			ntables = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		if (ntables > 0) {
			snprintf(s->base.errmsg, sizeof(s->base.errmsg), "%s is an SQLite file but not a bayesd database", path);
			s->base.errkind = BAYES_ERR_INCOMPATIBLE;
			goto failed;
		}
		if (s->readonly || !(flags & BAYES_OPEN_CREATE)) {
			snprintf(s->base.errmsg, sizeof(s->base.errmsg), "database %s is empty (never written)", path);
			s->base.errkind = BAYES_ERR_DB;
			goto failed;
		}
	} else if (version != STORE_SCHEMA_VERSION) {
		snprintf(s->base.errmsg, sizeof(s->base.errmsg),
			 "database %s has schema version %d; this bayesd reads version %d", path, version,
			 STORE_SCHEMA_VERSION);
		s->base.errkind = BAYES_ERR_INCOMPATIBLE;
		goto failed;
	}

	if (!s->readonly) {
		rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			sqlite_fail(s, rc, "setting WAL mode");
			goto failed;
		}
	}
	/*
	 * synchronous=NORMAL in WAL mode: a commit survives a crash of the
	 * process; a power loss may lose the last commits but never corrupts
	 * the file. FULL also survives power loss, at an fsync per learn.
	 */
	sqlite3_exec(s->db, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
		     NULL, NULL, NULL);
	sqlite3_exec(s->db, STORE_CACHE_PRAGMA, NULL, NULL, NULL);
	sqlite3_exec(s->db, "PRAGMA temp_store=MEMORY", NULL, NULL, NULL);
	sqlite3_exec(s->db, STORE_MMAP_PRAGMA, NULL, NULL, NULL);

	if (version == 0) {
		if (create_schema(s) < 0)
			goto failed;
		if (prepare_all(s) < 0)
			goto failed;
		char now[32];
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		if (sqlite_put_meta(s, "tokenizer", tok_params) < 0 || sqlite_put_meta(s, "created", now) < 0)
			goto failed;
		rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			sqlite_fail(s, rc, "creating schema");
			goto failed;
		}
	} else {
		char have[300];
		if (prepare_all(s) < 0)
			goto failed;
		rc = get_meta(s, "tokenizer", have, sizeof(have));
		if (rc < 0)
			goto failed;
		if (rc == 0 || strcmp(have, tok_params) != 0) {
			snprintf(s->base.errmsg, sizeof(s->base.errmsg),
				 "database %s was written by an incompatible tokenizer (%s; this one is %s)",
				 path, rc ? have : "none recorded", tok_params);
			s->base.errkind = BAYES_ERR_INCOMPATIBLE;
			goto failed;
		}
	}
	return &s->base;

failed:
	snprintf(err, errlen, "%s", s->base.errmsg);
	if (kind_r)
		*kind_r = s->base.errkind;
	sqlite_close(&s->base);
	return NULL;
}

static void sqlite_close(struct store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;

	if (s->in_txn)
		sqlite_rollback(&s->base);
	tcache_drop(&s->cache);
	for (int i = 0; i < STMT_MAX; i++)
		sqlite3_finalize(s->stmt[i]);
	if (s->db)
		sqlite3_close_v2(s->db);
	free(s->path);
	free(s);
}

static int sqlite_user_id(struct store *base, const char *name, bool create, int64_t *id_r)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	if (name == NULL || *name == '\0') {
		*id_r = 0;
		return 1;
	}
	st = sqlite_stmt(s, STMT_GET_USER);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id_r = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sqlite_fail(s, rc, "looking up user");
	if (!create)
		return 0;
	st = sqlite_stmt(s, STMT_PUT_USER);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite_exec_step(s, st, "adding user") < 0)
		return -1;
	*id_r = sqlite3_last_insert_rowid(s->db);
	return 1;
}

int sqlite_totals(struct store *base, int64_t user, uint64_t *spam_r, uint64_t *ham_r)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = sqlite_stmt(s, STMT_GET_TOTALS);
	int rc;

	if (s->kept && s->totals_known && s->totals_user == user) {
		*spam_r = s->totals_spam;
		*ham_r = s->totals_ham;
		return 0;
	}
	*spam_r = *ham_r = 0;
	sqlite3_bind_int64(st, 1, user);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*spam_r = (uint64_t)sqlite3_column_int64(st, 0);
		*ham_r = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sqlite_fail(s, rc, "reading totals");
	if (s->kept) {
		s->totals_known = true;
		s->totals_user = user;
		s->totals_spam = *spam_r;
		s->totals_ham = *ham_r;
	}
	return 0;
}

static long sqlite_lookup(struct store *base, int64_t user, const uint64_t *hash, size_t n,
		  struct store_counts *out)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st;
	long found = 0;
	int cached = tcache_ready(s, user);

	if (cached < 0)
		return -1;
	if (cached)
		return (long)tcache_lookup(&s->cache, hash, n, out);
	st = sqlite_stmt(s, STMT_GET_TOKEN);
	sqlite3_bind_int64(st, 1, user);
	for (size_t i = 0; i < n; i++) {
		int rc;

		sqlite3_bind_int64(st, 2, (sqlite3_int64)hash[i]);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			out[i].spam = (uint32_t)sqlite3_column_int64(st, 0);
			out[i].ham = (uint32_t)sqlite3_column_int64(st, 1);
			found++;
		} else if (rc == SQLITE_DONE) {
			out[i].spam = out[i].ham = 0;
		} else {
			sqlite3_reset(st);
			return sqlite_fail(s, rc, "reading tokens");
		}
		sqlite3_reset(st);
	}
	return found;
}

/* store_data_version - see store.h. */
static int sqlite_data_version(struct store *base, int64_t *v_r)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	return data_version(s, v_r);
}

static int sqlite_begin(struct store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	if (s->readonly) {
		snprintf(s->base.errmsg, sizeof(s->base.errmsg), "%s: opened read-only", s->path);
		s->base.errkind = BAYES_ERR_DB;
		return -1;
	}
	if (sqlite_exec_step(s, sqlite_stmt(s, STMT_BEGIN), "begin") < 0)
		return -1;
	s->in_txn = true;
	s->writing = true;
	return 0;
}

/* monotonic_ms - a clock for the kept snapshot's age */
static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sqlite_read_begin(struct store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;

	if (s->kept) {
		if (monotonic_ms() - s->snap_began_ms < SNAPSHOT_KEEP_MS)
			return 0;
		sqlite_rollback(&s->base);	/* old enough: a fresh one */
	}
	if (sqlite_exec_step(s, sqlite_stmt(s, STMT_BEGIN_READ), "begin") < 0)
		return -1;
	s->in_txn = true;
	s->version_checked = s->totals_known = false;
	if (s->keep_snapshot && !s->scanning) {
		s->kept = true;
		s->snap_began_ms = monotonic_ms();
	}
	return 0;
}

static void sqlite_read_end(struct store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;

	if (s->kept && !s->scanning)
		return;		/* ended by a later read_begin, or close */
	sqlite_rollback(&s->base);
	if (s->scanning) {	/* back to the settings for point lookups */
		s->scanning = false;
		sqlite3_exec(s->db, STORE_MMAP_PRAGMA, NULL, NULL, NULL);
		sqlite3_exec(s->db, STORE_CACHE_PRAGMA, NULL, NULL, NULL);
	}
}

static int sqlite_commit(struct store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	int rc = sqlite3_step(sqlite_stmt(s, STMT_COMMIT));

	sqlite3_reset(s->stmt[STMT_COMMIT]);
	if (rc != SQLITE_DONE) {
		sqlite_fail(s, rc, "commit");
		sqlite_rollback(&s->base);
		return -1;
	}
	s->in_txn = false;
	s->writing = false;
	return 0;
}

static void sqlite_rollback(struct store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	/* the cache may hold changes that are now undone */
	if (s->writing && s->cache.cap)
		tcache_drop(&s->cache);
	s->writing = false;
	if (sqlite3_get_autocommit(s->db) == 0) {
		sqlite3_step(sqlite_stmt(s, STMT_ROLLBACK));
		sqlite3_reset(s->stmt[STMT_ROLLBACK]);
	}
	s->in_txn = false;
	s->kept = false;
}

static int sqlite_add(struct store *base, int64_t user, const uint64_t *hash, size_t n,
	      int dspam, int dham, int dmsg_spam, int dmsg_ham)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = sqlite_stmt(s, STMT_ADD_TOKEN);
	sqlite3_int64 day = (sqlite3_int64)(stats_clock() / 86400);

	sqlite3_bind_int64(st, 1, user);
	sqlite3_bind_int(st, 3, dspam);
	sqlite3_bind_int(st, 4, dham);
	sqlite3_bind_int64(st, 5, day);
	for (size_t i = 0; i < n; i++) {
		int rc;

		sqlite3_bind_int64(st, 2, (sqlite3_int64)hash[i]);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return sqlite_fail(s, rc, "updating tokens");
	}
	/* keep the in-memory copy in step */
	if (s->cache.cap && s->cache.user == user)
		tcache_add(&s->cache, hash, n, dspam, dham);
	/* Counts that fell to zero: drop the rows so the table holds only evidence. */
	if (dspam < 0 || dham < 0) {
		st = sqlite_stmt(s, STMT_PRUNE_TOKEN);
		sqlite3_bind_int64(st, 1, user);
		for (size_t i = 0; i < n; i++) {
			sqlite3_bind_int64(st, 2, (sqlite3_int64)hash[i]);
			if (sqlite_exec_step(s, st, "pruning tokens") < 0)
				return -1;
		}
	}
	st = sqlite_stmt(s, STMT_ADD_TOTALS);
	sqlite3_bind_int64(st, 1, user);
	sqlite3_bind_int(st, 2, dmsg_spam);
	sqlite3_bind_int(st, 3, dmsg_ham);
	return sqlite_exec_step(s, st, "updating totals");
}

static int sqlite_learned_get(struct store *base, int64_t user, const uint8_t digest[16], int *cls_r)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = sqlite_stmt(s, STMT_GET_LEARNED);
	int rc;

	sqlite3_bind_int64(st, 1, user);
	sqlite3_bind_blob(st, 2, digest, 16, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*cls_r = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : sqlite_fail(s, rc, "reading learned messages");
}

static int sqlite_learned_put(struct store *base, int64_t user, const uint8_t digest[16], int cls)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = sqlite_stmt(s, STMT_PUT_LEARNED);

	sqlite3_bind_int64(st, 1, user);
	sqlite3_bind_blob(st, 2, digest, 16, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, cls);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)stats_clock());
	return sqlite_exec_step(s, st, "remembering learned message");
}

static int sqlite_learned_del(struct store *base, int64_t user, const uint8_t digest[16])
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = sqlite_stmt(s, STMT_DEL_LEARNED);

	sqlite3_bind_int64(st, 1, user);
	sqlite3_bind_blob(st, 2, digest, 16, SQLITE_STATIC);
	return sqlite_exec_step(s, st, "forgetting learned message");
}

/* count - run a count(*) statement bound to user. */
static int count(struct sqlite_store *s, enum stmt_id id, int64_t user, bool bind, uint64_t *out)
{
	sqlite3_stmt *st = sqlite_stmt(s, id);
	int rc;

	if (bind)
		sqlite3_bind_int64(st, 1, user);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : sqlite_fail(s, rc, "counting");
}

static int sqlite_stats(struct store *base, int64_t user, struct bayes_stats *st)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	struct stat sb;

	if (sqlite_totals(&s->base, user, &st->learned_spam, &st->learned_ham) < 0 ||
	    count(s, STMT_COUNT_TOKENS, user, true, &st->tokens) < 0 ||
	    count(s, STMT_COUNT_LEARNED, user, true, &st->remembered) < 0 ||
	    count(s, STMT_COUNT_USERS, 0, false, &st->users) < 0)
		return -1;
	st->db_bytes = stat(s->path, &sb) == 0 ? (int64_t)sb.st_size : -1;
	st->schema_version = STORE_SCHEMA_VERSION;
	char last[32];
	int rc = get_meta(s, "last_expire", last, sizeof(last));
	if (rc < 0)
		return -1;
	st->last_expire = rc ? strtoll(last, NULL, 10) : 0;
	return 0;
}

/* store_meta_get - see store.h. */
static int sqlite_meta_get(struct store *base, const char *key, char *out, size_t outlen)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	return get_meta(s, key, out, outlen);
}

/* store_meta_put - see store.h. */
static int sqlite_meta_put(struct store *base, const char *key, const char *value)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	return sqlite_put_meta(s, key, value);
}

/* rows_stmt - the statement that lists each table, for store_rows_begin. */
static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sqlite_close,
	.user_id = sqlite_user_id,
	.totals = sqlite_totals,
	.lookup = sqlite_lookup,
	.lookup_message = NULL,	/* two local statements cost nothing extra */
	.read_begin = sqlite_read_begin,
	.read_end = sqlite_read_end,
	.data_version = sqlite_data_version,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.add = sqlite_add,
	.learned_get = sqlite_learned_get,
	.learned_put = sqlite_learned_put,
	.learned_del = sqlite_learned_del,
	.stats = sqlite_stats,
	.meta_get = sqlite_meta_get,
	.meta_put = sqlite_meta_put,
	.rows_begin = sqlite_rows_begin,
	.rows_next = sqlite_rows_next,
	.rows_end = sqlite_rows_end,
	.row_put = sqlite_row_put,
	.is_empty = sqlite_is_empty,
	.expire_tokens = sqlite_expire_tokens,
	.expire_learned = sqlite_expire_learned,
};
