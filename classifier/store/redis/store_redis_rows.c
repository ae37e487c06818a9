/*
 * store_redis_rows.c - whole tables of the Redis backend: listing them in
 * the order SQLite lists them (dump, and so dumps of both backends are
 * byte for byte the same), restoring rows (pipelined), and telling
 * whether anything was ever learned. See store_redis.c for the keys.
 */
#include "store/redis/store_redis_int.h"

#include <stdlib.h>
#include <string.h>

/* rstore_rows_clear - forget the batch of rows and its strings. */
void rstore_rows_clear(struct redis_rows *rw)
{
	for (size_t i = 0; i < rw->nstrs; i++)
		free(rw->strs[i]);
	rw->nstrs = 0;
	rw->n = rw->i = 0;
}

/* rows_add - a new zeroed row at the end of the batch. */
static struct store_row *rows_add(struct redis_rows *rw)
{
	if (rw->n == rw->cap) {
		rw->cap = rw->cap ? 2 * rw->cap : 1024;
		rw->row = xrealloc(rw->row, rw->cap * sizeof(*rw->row));
	}
	memset(&rw->row[rw->n], 0, sizeof(rw->row[0]));
	return &rw->row[rw->n++];
}

/* rows_str - a copy of len bytes the batch owns, NUL-terminated. */
static const char *rows_str(struct redis_rows *rw, const char *p, size_t len)
{
	char *c = xmalloc(len + 1);

	memcpy(c, p, len);
	c[len] = '\0';
	if (rw->nstrs == rw->strs_cap) {
		rw->strs_cap = rw->strs_cap ? 2 * rw->strs_cap : 64;
		rw->strs = xrealloc(rw->strs, rw->strs_cap * sizeof(*rw->strs));
	}
	rw->strs[rw->nstrs++] = c;
	return c;
}

static int row_by_name(const void *a, const void *b)
{
	return strcmp(((const struct store_row *)a)->name, ((const struct store_row *)b)->name);
}

static int row_by_user(const void *a, const void *b)
{
	return rstore_cmp_i64(&((const struct store_row *)a)->user, &((const struct store_row *)b)->user);
}

/* row_by_hash - the order SQLite lists tokens in (hashes as signed 64-bit), so dumps match. */
static int row_by_hash(const void *a, const void *b)
{
	int64_t x = (int64_t)((const struct store_row *)a)->hash, y = (int64_t)((const struct store_row *)b)->hash;

	return x < y ? -1 : x > y;
}

static int row_by_digest(const void *a, const void *b)
{
	return memcmp(((const struct store_row *)a)->digest, ((const struct store_row *)b)->digest, 16);
}

/* rows_hash_pairs - HGETALL k into *r (field/value array); 0 or -1. */
static int rows_hgetall(struct redis_store *s, const char *k, redisReply **r_r)
{
	redisReply *r;

	rstore_argv_buf_reset(&s->cmd);
	rstore_argv_str(&s->cmd, "HGETALL");
	rstore_argv_str(&s->cmd, k);
	if ((r = rstore_command(s, "reading rows")) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2)
		return rstore_reply_fail(s, r, "reading rows");
	*r_r = r;
	return 0;
}

/*
 * rows_load_user - the batch: every row of user's hash of the table
 * (tokens or learned messages), sorted by key, as SQLite lists them.
 */
static int rows_load_user(struct redis_store *s, int64_t user)
{
	struct redis_rows *rw = &s->rows;
	char k[REDIS_KEY_MAX];
	uint64_t cursor = 0;

	rstore_rows_clear(rw);
	rstore_user_key(s, k, rw->t == STORE_TOKENS ? 't' : 'l', user);
	do {
		redisReply *r, *items;
		if (rstore_hscan(s, k, &cursor, REDIS_SCAN_COUNT, &r, &items) < 0)
			return -1;
		for (size_t i = 0; i < items->elements; i += 2) {
			const redisReply *f = items->element[i], *v = items->element[i + 1];
			struct store_row *row;
			if (rw->t == STORE_TOKENS) {
				uint32_t sp, hm, seen;
				if (f->len != 8 || !rstore_token_decode(v->str, (size_t)v->len, &sp, &hm, &seen))
					continue;
				row = rows_add(rw);
				row->hash = rstore_get_be64((const unsigned char *)f->str);
				row->spam = sp;
				row->ham = hm;
				row->seen = seen;
			} else {
				const char *colon = memchr(v->str, ':', (size_t)v->len);
				if (f->len != 16 || colon == NULL)
					continue;
				row = rows_add(rw);
				memcpy(row->digest, f->str, 16);
				row->cls = atoi(v->str);
				row->at = strtoll(colon + 1, NULL, 10);
			}
			row->user = user;
		}
		freeReplyObject(r);
	} while (cursor != 0);
	/* HSCAN may return a field twice: sort, then keep one of each */
	if (rw->n > 1)
		qsort(rw->row, rw->n, sizeof(*rw->row), rw->t == STORE_TOKENS ? row_by_hash : row_by_digest);
	size_t w = 0;
	for (size_t i = 0; i < rw->n; i++)
		if (w == 0 || (rw->t == STORE_TOKENS ? row_by_hash : row_by_digest)(&rw->row[w - 1], &rw->row[i]) != 0)
			rw->row[w++] = rw->row[i];
	rw->n = w;
	return 0;
}

int redis_rows_begin(struct store *base, enum store_table t)
{
	struct redis_store *s = (struct redis_store *)base;
	struct redis_rows *rw = &s->rows;
	char k[REDIS_KEY_MAX];
	redisReply *r = NULL;

	rstore_rows_clear(rw);
	free(rw->users);
	rw->users = NULL;
	rw->nusers = rw->next_user = 0;
	rw->t = t;
	rw->active = true;
	if (rstore_ready(s) < 0)
		goto failed;
	switch (t) {
	case STORE_META:
	case STORE_USERS:
		if (rows_hgetall(s, rstore_key(s, k, t == STORE_META ? "meta" : "names"), &r) < 0)
			goto failed;
		for (size_t i = 0; i < r->elements; i += 2) {
			const redisReply *f = r->element[i], *v = r->element[i + 1];
			/* the schema version is the backend's own, as PRAGMA user_version is SQLite's */
			if (t == STORE_META && f->len == 6 && memcmp(f->str, "schema", 6) == 0)
				continue;
			struct store_row *row = rows_add(rw);
			if (t == STORE_META) {
				row->name = rows_str(rw, f->str, (size_t)f->len);
				row->value = rows_str(rw, v->str, (size_t)v->len);
			} else {
				row->user = strtoll(f->str, NULL, 10);
				row->name = rows_str(rw, v->str, (size_t)v->len);
			}
		}
		freeReplyObject(r);
		if (rw->n > 1)
			qsort(rw->row, rw->n, sizeof(*rw->row), t == STORE_META ? row_by_name : row_by_user);
		return 0;
	case STORE_TOTALS:
		if (rstore_list_users(s, &rw->users, &rw->nusers) < 0)
			goto failed;
		for (size_t i = 0; i < rw->nusers; i++) {
			uint64_t sp, hm;
			rstore_argv_buf_reset(&s->cmd);
			rstore_add_totals_command(s, &s->cmd, rw->users[i]);
			if ((r = rstore_command(s, "reading totals")) == NULL)
				goto failed;
			bool exists = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
				      (r->element[0]->type != REDIS_REPLY_NIL || r->element[1]->type != REDIS_REPLY_NIL);
			if (rstore_totals_of(s, r, &sp, &hm) < 0)
				goto failed;
			if (exists) {
				struct store_row *row = rows_add(rw);
				row->user = rw->users[i];
				row->spam = sp;
				row->ham = hm;
			}
		}
		return 0;
	case STORE_TOKENS:
	case STORE_LEARNED:
		/* one user's hash at a time: memory for the largest, not for all */
		if (rstore_list_users(s, &rw->users, &rw->nusers) < 0)
			goto failed;
		return 0;
	}
failed:
	rw->active = false;
	return -1;
}

int redis_rows_next(struct store *base, struct store_row *r)
{
	struct redis_store *s = (struct redis_store *)base;
	struct redis_rows *rw = &s->rows;

	if (!rw->active)
		return 0;
	while (rw->i == rw->n) {
		if ((rw->t != STORE_TOKENS && rw->t != STORE_LEARNED) || rw->next_user == rw->nusers)
			return 0;
		if (rows_load_user(s, rw->users[rw->next_user++]) < 0)
			return -1;
	}
	*r = rw->row[rw->i++];
	return 1;
}

void redis_rows_end(struct store *base)
{
	struct redis_store *s = (struct redis_store *)base;

	rstore_rows_clear(&s->rows);
	s->rows.active = false;
}

/*
 * Restore: rows go to the server directly, pipelined, not through the
 * commit script (a dump can hold millions of rows). bayes_restore only
 * restores into empty statistics, so a rollback deletes what was written.
 */

/* restore_drain - collect the answers of the pipelined restore commands; 0 or -1. */
static int restore_drain(struct redis_store *s)
{
	int n = s->restore_pending;

	s->restore_pending = 0;
	if (n > 0 && !redis_link_collect(s->link, n))
		return rstore_link_fail(s, "restoring");
	return 0;
}

/* restore_send - append the command in s->cmd to the restore pipeline. */
static int restore_send(struct redis_store *s)
{
	const char **argv = rstore_argv_finish(&s->cmd);

	if (!redis_link_append(s->link, (int)s->cmd.n, argv, s->cmd.len))
		return rstore_link_fail(s, "restoring");
	if (++s->restore_pending >= REDIS_RESTORE_BATCH)
		return restore_drain(s);
	return 0;
}

int redis_row_put(struct store *base, enum store_table t, const struct store_row *r)
{
	struct redis_store *s = (struct redis_store *)base;
	char k[REDIS_KEY_MAX], k2[REDIS_KEY_MAX], v[48];
	unsigned char f[8], tv[TOKEN_VALUE_LEN];

	if (!s->in_txn)
		return rstore_fail(s, BAYES_ERR_DB, "%s: restore outside a transaction", s->name);
	s->restoring = true;
	rstore_argv_buf_reset(&s->cmd);
	switch (t) {
	case STORE_META:
		rstore_argv_str(&s->cmd, "HSET");
		rstore_argv_str(&s->cmd, rstore_key(s, k, "meta"));
		rstore_argv_str(&s->cmd, r->name);
		rstore_argv_str(&s->cmd, r->value);
		break;
	case STORE_USERS:
		/* both directions at once: one HSET each, in one round trip */
		rstore_argv_str(&s->cmd, "HSET");
		rstore_argv_str(&s->cmd, rstore_key(s, k, "users"));
		rstore_argv_str(&s->cmd, r->name);
		rstore_argv_int(&s->cmd, r->user);
		if (restore_send(s) < 0)
			return -1;
		rstore_argv_buf_reset(&s->cmd);
		rstore_argv_str(&s->cmd, "HSET");
		rstore_argv_str(&s->cmd, rstore_key(s, k2, "names"));
		rstore_argv_int(&s->cmd, r->user);
		rstore_argv_str(&s->cmd, r->name);
		if (r->user > s->restore_max_user)
			s->restore_max_user = r->user;
		break;
	case STORE_TOTALS:
		rstore_argv_str(&s->cmd, "HSET");
		rstore_argv_str(&s->cmd, rstore_user_key(s, k, 'n', r->user));
		rstore_argv_str(&s->cmd, "spam");
		rstore_argv_int(&s->cmd, (long long)r->spam);
		rstore_argv_str(&s->cmd, "ham");
		rstore_argv_int(&s->cmd, (long long)r->ham);
		break;
	case STORE_TOKENS:
		rstore_put_be64(f, r->hash);
		rstore_put_le32(tv, (uint32_t)r->spam);
		rstore_put_le32(tv + 4, (uint32_t)r->ham);
		rstore_put_le32(tv + 8, (uint32_t)r->seen);
		rstore_argv_str(&s->cmd, "HSET");
		rstore_argv_str(&s->cmd, rstore_user_key(s, k, 't', r->user));
		rstore_argv_add(&s->cmd, f, 8);
		rstore_argv_add(&s->cmd, tv, sizeof(tv));
		break;
	case STORE_LEARNED:
		rstore_argv_str(&s->cmd, "HSET");
		rstore_argv_str(&s->cmd, rstore_user_key(s, k, 'l', r->user));
		rstore_argv_add(&s->cmd, r->digest, 16);
		rstore_argv_add(&s->cmd, v, (size_t)snprintf(v, sizeof(v), "%d:%lld", r->cls, (long long)r->at));
		break;
	default:
		return rstore_fail(s, BAYES_ERR_INPUT, "%s: restoring: unknown table", s->name);
	}
	return restore_send(s);
}

/* rstore_restore_finish - the restored users' ids are taken: new users get the next ones. */
int rstore_restore_finish(struct redis_store *s)
{
	char k[REDIS_KEY_MAX], vk[REDIS_KEY_MAX];

	if (restore_drain(s) < 0)
		return -1;
	rstore_argv_buf_reset(&s->cmd);
	rstore_argv_str(&s->cmd, "SET");
	rstore_argv_str(&s->cmd, rstore_key(s, k, "nextuser"));
	rstore_argv_int(&s->cmd, s->restore_max_user);
	if (rstore_command_ok(s, "restoring") < 0)
		return -1;
	rstore_argv_buf_reset(&s->cmd);
	rstore_argv_str(&s->cmd, "INCR");
	rstore_argv_str(&s->cmd, rstore_key(s, vk, "version"));
	return rstore_command_ok(s, "restoring");
}

/* rstore_restore_undo - delete what a failed restore wrote (the statistics were empty). */
void rstore_restore_undo(struct redis_store *s)
{
	int64_t *ids = NULL;
	size_t n = 0;
	char k[REDIS_KEY_MAX];
	static const char *const kinds = "tln";

	restore_drain(s);
	if (rstore_list_users(s, &ids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		for (const char *c = kinds; *c; c++) {
			rstore_argv_buf_reset(&s->cmd);
			rstore_argv_str(&s->cmd, "DEL");
			rstore_argv_str(&s->cmd, rstore_user_key(s, k, *c, ids[i]));
			rstore_command_ok(s, "undoing a restore");
		}
	free(ids);
	static const char *const whole[] = { "users", "names", "nextuser" };
	for (size_t i = 0; i < ARRAY_SIZE(whole); i++) {
		rstore_argv_buf_reset(&s->cmd);
		rstore_argv_str(&s->cmd, "DEL");
		rstore_argv_str(&s->cmd, rstore_key(s, k, whole[i]));
		rstore_command_ok(s, "undoing a restore");
	}
	/* the global totals exist from creation on */
	rstore_argv_buf_reset(&s->cmd);
	rstore_argv_str(&s->cmd, "HSET");
	rstore_argv_str(&s->cmd, rstore_user_key(s, k, 'n', 0));
	rstore_argv_str(&s->cmd, "spam");
	rstore_argv_str(&s->cmd, "0");
	rstore_argv_str(&s->cmd, "ham");
	rstore_argv_str(&s->cmd, "0");
	rstore_command_ok(s, "undoing a restore");
}

int redis_is_empty(struct store *base)
{
	struct redis_store *s = (struct redis_store *)base;
	char names[REDIS_KEY_MAX], tk[REDIS_KEY_MAX], lk[REDIS_KEY_MAX], nk[REDIS_KEY_MAX];
	const char *a0[] = { "HLEN", rstore_key(s, names, "names") };
	const char *a1[] = { "HLEN", rstore_user_key(s, tk, 't', 0) };
	const char *a2[] = { "HLEN", rstore_user_key(s, lk, 'l', 0) };
	const char *a3[] = { "HMGET", rstore_user_key(s, nk, 'n', 0), "spam", "ham" };
	const char *const *av[] = { a0, a1, a2, a3 };
	int ac[] = { 2, 2, 2, 4 };
	redisReply *r[4];
	uint64_t sp = 0, hm = 0;

	if (rstore_ready(s) < 0)
		return -1;
	if (!redis_link_pipeline(s->link, 4, ac, av, NULL, r))
		return rstore_link_fail(s, "checking for statistics");
	uint64_t full = rstore_reply_count(r[0]) + rstore_reply_count(r[1]) + rstore_reply_count(r[2]);
	for (int i = 0; i < 3; i++)
		freeReplyObject(r[i]);
	if (rstore_totals_of(s, r[3], &sp, &hm) < 0)
		return -1;
	return full + sp + hm == 0;
}

