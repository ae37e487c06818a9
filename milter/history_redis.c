/*
 * history_redis.c - the scan history as a capped list on Redis
 * (history_redis.h).
 */
#include "history_redis.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "store/redis/redis_link.h"
#include "util.h"

#define HR_PAGE_FIRST	128	/* rows read by the first LRANGE of a sync */
#define HR_PAGE_MAX	4096	/* pages double up to this */

static pthread_mutex_t hr_lock = PTHREAD_MUTEX_INITIALIZER;	/* hr_opt */
static struct bayes_redis_options hr_opt;
static bool hr_configured;

static struct redis_link *hr_w;		/* the writer thread's */
static struct redis_link *hr_r;		/* readers', under history.c's reader lock */
static sqlite3 *hr_mem;			/* readers' copy of the list */

/*
 * The push: KEYS history:id, history, history:hashes; ARGV the row, its
 * hashes ("" = none), history_size. Returns the row's id.
 */
static const char hr_push_lua[] =
	"local id = redis.call('INCR', KEYS[1])\n"
	"local size = tonumber(ARGV[3])\n"
	"redis.call('LPUSH', KEYS[2], id .. ' ' .. ARGV[1])\n"
	"if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], id, ARGV[2]) end\n"
	"for _, e in ipairs(redis.call('LRANGE', KEYS[2], size, -1)) do\n"
	"  redis.call('HDEL', KEYS[3], string.sub(e, 1, string.find(e, ' ', 1, true) - 1))\n"
	"end\n"
	"redis.call('LTRIM', KEYS[2], 0, size - 1)\n"
	"return id\n";

/* the readers' copy: the rows, and a view with the SQLite file's columns */
static const char hr_mem_schema[] =
	"CREATE TABLE rows(id INTEGER PRIMARY KEY, t REAL NOT NULL, qid TEXT, msgid TEXT, sender TEXT,"
	" hfrom TEXT, subject TEXT, nrcpt INTEGER, rcpts TEXT, ip TEXT, helo TEXT, size INTEGER,"
	" prob REAL, action TEXT, user TEXT, features TEXT, ms REAL, digest TEXT, nhash INTEGER);"
	"CREATE INDEX rows_digest ON rows(digest);"
	/* zeroblob keeps only a length: length(hashes)/8 and IS NOT NULL work without the bytes */
	"CREATE VIEW history AS SELECT id, t, qid, msgid, sender, hfrom, subject, nrcpt, rcpts, ip,"
	" helo, size, prob, action, user, features, ms, digest,"
	" CASE WHEN nhash > 0 THEN zeroblob(nhash * 8) END AS hashes FROM rows;";

/* the row's JSON members, in the order of the columns of rows (after id) */
static const char *const hr_cols[] = {
	"t", "qid", "msgid", "sender", "hfrom", "subject", "nrcpt", "rcpts", "ip", "helo", "size",
	"prob", "action", "user", "features", "ms", "digest", "nhash",
};

void history_redis_configure(const struct bayes_redis_options *o)
{
	pthread_mutex_lock(&hr_lock);
	if (!hr_configured)
		hr_opt = *o;
	hr_configured = true;
	pthread_mutex_unlock(&hr_lock);
}

/* hr_key - redis_prefix + suffix into out */
static const char *hr_key(char *out, size_t outlen, const char *suffix)
{
	pthread_mutex_lock(&hr_lock);
	snprintf(out, outlen, "%s%s", hr_opt.prefix, suffix);
	pthread_mutex_unlock(&hr_lock);
	return out;
}

/* hr_link - *l, made on first use. NULL with err. */
static struct redis_link *hr_link(struct redis_link **l, bool readonly, char *err, size_t errlen)
{
	if (*l == NULL) {
		struct bayes_redis_options o;

		pthread_mutex_lock(&hr_lock);
		o = hr_opt;
		pthread_mutex_unlock(&hr_lock);
		*l = redis_link_new(&o, readonly, err, errlen);
	}
	return *l;
}

/* hr_reply_fail - err from a NULL or error reply r (freed); -1. */
static int hr_reply_fail(struct redis_link *l, redisReply *r, const char *what, char *err, size_t errlen)
{
	if (r == NULL)
		snprintf(err, errlen, "history: %s: %s", what, redis_link_error(l));
	else
		snprintf(err, errlen, "history: %s: redis: %.*s", what, (int)r->len, r->str ? r->str : "");
	if (r)
		freeReplyObject(r);
	return -1;
}

int history_redis_insert(const char *row, const uint64_t *hash, size_t nhash, unsigned size,
			 char *err, size_t errlen)
{
	char kid[160], klist[160], khash[160], nsize[24];
	struct redis_link *l;
	unsigned char *blob = NULL;
	redisReply *r;

	if ((l = hr_link(&hr_w, false, err, errlen)) == NULL)
		return -1;
	if (nhash > 0) {
		blob = xmalloc(nhash * 8);
		for (size_t i = 0; i < nhash; i++)
			for (int b = 0; b < 8; b++)
				blob[8 * i + b] = (unsigned char)(hash[i] >> (8 * b));
	}
	snprintf(nsize, sizeof(nsize), "%u", size);
	const char *argv[] = { "EVAL", hr_push_lua, "3", hr_key(kid, sizeof(kid), "history:id"),
			       hr_key(klist, sizeof(klist), "history"),
			       hr_key(khash, sizeof(khash), "history:hashes"), row,
			       blob ? (const char *)blob : "", nsize };
	size_t argvlen[ARRAY_SIZE(argv)];
	for (size_t i = 0; i < ARRAY_SIZE(argv); i++)
		argvlen[i] = strlen(argv[i]);
	argvlen[7] = nhash * 8;
	r = redis_link_argv(l, (int)ARRAY_SIZE(argv), argv, argvlen);
	free(blob);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		return hr_reply_fail(l, r, "push", err, errlen);
	freeReplyObject(r);
	return 0;
}

/* hr_mem_open - the empty copy. NULL on failure. */
static sqlite3 *hr_mem_open(void)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, hr_mem_schema, NULL, NULL, NULL) != SQLITE_OK) {
		log_warning("history: in-memory copy: %s", db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

/* hr_elem_id - the id an "ID JSON" element starts with (0 if none). */
static int64_t hr_elem_id(const redisReply *e)
{
	if (e == NULL || e->type != REDIS_REPLY_STRING)
		return 0;
	return strtoll(e->str, NULL, 10);
}

/* hr_bind - the JSON member v into column i of st. */
static void hr_bind(sqlite3_stmt *st, int i, json_t *v)
{
	if (json_is_string(v))
		sqlite3_bind_text(st, i, json_string_value(v), (int)json_string_length(v), SQLITE_TRANSIENT);
	else if (json_is_integer(v))
		sqlite3_bind_int64(st, i, json_integer_value(v));
	else if (json_is_real(v))
		sqlite3_bind_double(st, i, json_real_value(v));
	else
		sqlite3_bind_null(st, i);
}

/* hr_store - insert the element e ("ID JSON") into the copy. false: not a row (skipped). */
static bool hr_store(sqlite3_stmt *ins, const redisReply *e)
{
	int64_t id = hr_elem_id(e);
	const char *sp = id > 0 ? memchr(e->str, ' ', e->len) : NULL;
	json_t *o;

	if (sp == NULL || (o = json_loadb(sp + 1, e->len - (size_t)(sp + 1 - e->str), 0, NULL)) == NULL)
		return false;
	sqlite3_reset(ins);
	sqlite3_clear_bindings(ins);
	sqlite3_bind_int64(ins, 1, id);
	for (size_t i = 0; i < ARRAY_SIZE(hr_cols); i++)
		hr_bind(ins, (int)i + 2, json_object_get(o, hr_cols[i]));
	bool ok = sqlite3_step(ins) == SQLITE_DONE;
	json_decref(o);
	return ok;
}

/* hr_same - is the element e ("ID JSON") the copy's row id (its time)? */
static bool hr_same(const redisReply *e, int64_t id)
{
	const char *sp = memchr(e->str, ' ', e->len);
	json_t *o = sp ? json_loadb(sp + 1, e->len - (size_t)(sp + 1 - e->str), 0, NULL) : NULL;
	sqlite3_stmt *st = NULL;
	bool same = false;

	if (o && sqlite3_prepare_v2(hr_mem, "SELECT t FROM rows WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		same = sqlite3_step(st) == SQLITE_ROW &&
		       sqlite3_column_double(st, 0) == json_number_value(json_object_get(o, "t"));
	}
	sqlite3_finalize(st);
	json_decref(o);
	return same;
}

/* hr_newest - the newest id of the copy (0 if empty) */
static int64_t hr_newest(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t id = 0;

	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) FROM rows", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

/* hr_index - LINDEX of the list: *e the element (NULL past the end). false on failure. */
static bool hr_index(struct redis_link *l, const char *klist, long i, redisReply **e, char *err, size_t errlen)
{
	char si[24];

	snprintf(si, sizeof(si), "%ld", i);
	const char *argv[] = { "LINDEX", klist, si };
	redisReply *r = redis_link_argv(l, 3, argv, NULL);
	if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
		hr_reply_fail(l, r, "read", err, errlen);
		return false;
	}
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		r = NULL;
	}
	*e = r;
	return true;
}

/* hr_read - the list's elements [0, n) into the copy, in growing pages. */
static bool hr_read(struct redis_link *l, const char *klist, long n, char *err, size_t errlen)
{
	sqlite3_stmt *ins = NULL;
	long page = HR_PAGE_FIRST;
	bool ok = true;

	if (sqlite3_prepare_v2(hr_mem, "INSERT OR REPLACE INTO rows VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &ins, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "history: %s", sqlite3_errmsg(hr_mem));
		return false;
	}
	for (long start = 0; ok && start < n; start += page, page = page < HR_PAGE_MAX ? 2 * page : page) {
		char a[24], b[24];
		long end = start + page < n ? start + page : n;

		snprintf(a, sizeof(a), "%ld", start);
		snprintf(b, sizeof(b), "%ld", end - 1);
		const char *argv[] = { "LRANGE", klist, a, b };
		redisReply *r = redis_link_argv(l, 4, argv, NULL);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
			ok = hr_reply_fail(l, r, "read", err, errlen) == 0;
			break;
		}
		for (size_t i = 0; i < r->elements; i++)
			hr_store(ins, r->element[i]);
		if (r->elements < (size_t)(end - start))
			n = 0;	/* the list got shorter meanwhile: what is there is read */
		freeReplyObject(r);
	}
	sqlite3_finalize(ins);
	return ok;
}

/*
 * hr_sync - bring the copy up to date. The script numbers the rows as it
 * pushes them, so the list holds consecutive ids, newest first: the
 * copy's newest, K, is at index N - K when the newest is N. If that
 * element is K's row, only the N - K before it are new; if not (the keys
 * were deleted and the rows numbered anew, a row lost), the copy starts
 * afresh from the whole list. Then the copy drops what the list trimmed.
 */
static int hr_sync(struct redis_link *l, char *err, size_t errlen)
{
	char klist[160];
	int64_t known = hr_newest(hr_mem), newest, oldest;
	redisReply *e;
	long fresh;

	hr_key(klist, sizeof(klist), "history");
	if (!hr_index(l, klist, 0, &e, err, errlen))
		return -1;
	newest = hr_elem_id(e);
	if (e)
		freeReplyObject(e);
	fresh = newest > 0 ? LONG_MAX : 0;
	if (known > 0 && newest >= known) {
		if (!hr_index(l, klist, (long)(newest - known), &e, err, errlen))
			return -1;
		if (e && hr_elem_id(e) == known && hr_same(e, known))
			fresh = (long)(newest - known);
		if (e)
			freeReplyObject(e);
	}
	sqlite3_exec(hr_mem, "BEGIN", NULL, NULL, NULL);
	if (fresh == LONG_MAX || newest == 0)
		sqlite3_exec(hr_mem, "DELETE FROM rows", NULL, NULL, NULL);
	bool ok = hr_read(l, klist, fresh, err, errlen);
	if (ok && (ok = hr_index(l, klist, -1, &e, err, errlen))) {
		oldest = e ? hr_elem_id(e) : INT64_MAX;
		if (e)
			freeReplyObject(e);
		sqlite3_stmt *del;
		if (sqlite3_prepare_v2(hr_mem, "DELETE FROM rows WHERE id < ?", -1, &del, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(del, 1, oldest);
			sqlite3_step(del);
		}
		sqlite3_finalize(del);
	}
	sqlite3_exec(hr_mem, ok ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	return ok ? 0 : -1;
}

sqlite3 *history_redis_reader(char *err, size_t errlen)
{
	struct redis_link *l;

	if ((l = hr_link(&hr_r, true, err, errlen)) == NULL)
		return NULL;
	if (hr_mem == NULL && (hr_mem = hr_mem_open()) == NULL) {
		snprintf(err, errlen, "history: no memory for the copy of the list");
		return NULL;
	}
	return hr_sync(l, err, errlen) == 0 ? hr_mem : NULL;
}

int history_redis_hashes(int64_t id, uint64_t **hash_r, size_t *n_r, char *err, size_t errlen)
{
	char khash[160], sid[24];
	struct redis_link *l;
	redisReply *r;

	*hash_r = NULL;
	*n_r = 0;
	if ((l = hr_link(&hr_r, true, err, errlen)) == NULL)
		return -1;
	snprintf(sid, sizeof(sid), "%lld", (long long)id);
	const char *argv[] = { "HGET", hr_key(khash, sizeof(khash), "history:hashes"), sid };
	r = redis_link_argv(l, 3, argv, NULL);
	if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		return hr_reply_fail(l, r, "read", err, errlen);
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		snprintf(err, errlen, "the history row was trimmed from the list since");
		return 0;
	}
	size_t n = r->len / 8;
	uint64_t *h = xmalloc(n ? n * sizeof(*h) : 1);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0;
		for (int b = 7; b >= 0; b--)
			v = v << 8 | (unsigned char)r->str[8 * i + (size_t)b];
		h[i] = v;
	}
	freeReplyObject(r);
	*hash_r = h;
	*n_r = n;
	return 1;
}

void history_redis_close(void)
{
	sqlite3_close(hr_mem);
	hr_mem = NULL;
	redis_link_free(&hr_r);
	/* hr_w belongs to the writer thread, stopped before this */
	redis_link_free(&hr_w);
	pthread_mutex_lock(&hr_lock);
	hr_configured = false;
	pthread_mutex_unlock(&hr_lock);
}
