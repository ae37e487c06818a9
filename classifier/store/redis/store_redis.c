/*
 * store_redis.c - the Redis statistics backend (backend = redis): the
 * statistics of several bayesd nodes in one Redis server. See store.h for
 * the contract and README "Redis layout" for the keys.
 *
 * Keys, all under the prefix P (redis_prefix, "bayes:" by default):
 *   P meta          hash: tokenizer, schema, created, last_expire
 *   P users         hash: user name -> id;  P names: id -> name
 *   P nextuser      the last user id given out
 *   P version       data version: raised by every commit
 *   P n:ID          hash: spam, ham (messages learned by user ID; 0 = global)
 *   P t:ID          hash: 8-byte big-endian token hash -> 12 bytes of
 *                   little-endian uint32 spam, ham and day last learned
 *   P l:ID          hash: 16-byte message digest -> "CLASS:UNIXTIME"
 *
 * Reads: the totals and every token of a message are two HMGETs sent
 * together, one round trip. Writes: store_add and store_learned_put/del
 * only record what to do; store_commit sends it all as one Lua script
 * (store_redis_lua.c), which first checks that every learned-message
 * field the transaction read still holds what it read, and writes
 * nothing when one does not (STORE_CONFLICT: another node learned the
 * same message; bayes.c runs the learn again). Counts are added on the
 * server, so concurrent learns of different messages all count.
 *
 * This file has the handle, reads and write transactions; whole tables
 * (dump, restore) are in store_redis_rows.c and expiry in
 * store_redis_expire.c, sharing store_redis_int.h.
 *
 * Failure: every wait is bounded (redis_link.c); a failed call returns
 * -1 with BAYES_ERR_DB and a message naming the server, and the next call
 * connects again. Each new connection checks the meta hash again (the
 * server may have come back empty).
 */
#include "store/redis/store_redis_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct store_ops redis_ops;

/*
 * Arguments.
 */

void rstore_argv_buf_reset(struct argv_buf *b)
{
	b->used = 0;
	b->n = 0;
}

void rstore_argv_buf_free(struct argv_buf *b)
{
	free(b->data);
	free(b->off);
	free(b->len);
	free(b->argv);
	memset(b, 0, sizeof(*b));
}

/* rstore_argv_add - append one argument of len bytes. */
void rstore_argv_add(struct argv_buf *b, const void *p, size_t len)
{
	if (b->used + len > b->cap) {
		b->cap = (b->used + len) * 2 + 4096;
		b->data = xrealloc(b->data, b->cap);
	}
	if (b->n == b->ncap) {
		b->ncap = b->ncap ? 2 * b->ncap : 256;
		b->off = xrealloc(b->off, b->ncap * sizeof(*b->off));
		b->len = xrealloc(b->len, b->ncap * sizeof(*b->len));
	}
	if (len)
		memcpy(b->data + b->used, p, len);
	b->off[b->n] = b->used;
	b->len[b->n] = len;
	b->used += len;
	b->n++;
}

void rstore_argv_str(struct argv_buf *b, const char *s)
{
	rstore_argv_add(b, s, strlen(s));
}

void rstore_argv_int(struct argv_buf *b, long long v)
{
	char num[24];

	rstore_argv_add(b, num, (size_t)snprintf(num, sizeof(num), "%lld", v));
}

/* rstore_argv_finish - the argv array for the arguments added (valid until the next add). */
const char **rstore_argv_finish(struct argv_buf *b)
{
	if (b->argv_cap < b->n) {
		b->argv_cap = b->n + 64;
		b->argv = xrealloc(b->argv, b->argv_cap * sizeof(*b->argv));
	}
	for (size_t i = 0; i < b->n; i++)
		b->argv[i] = b->data + b->off[i];
	return b->argv;
}

/*
 * Keys and values.
 */

/* rstore_key - P + suffix into out (REDIS_KEY_MAX). */
const char *rstore_key(const struct redis_store *s, char *out, const char *suffix)
{
	snprintf(out, REDIS_KEY_MAX, "%s%s", s->prefix, suffix);
	return out;
}

/* rstore_user_key - P + kind + ":" + user id, e.g. "bayes:t:0". */
const char *rstore_user_key(const struct redis_store *s, char *out, char kind, int64_t user)
{
	snprintf(out, REDIS_KEY_MAX, "%s%c:%" PRId64, s->prefix, kind, user);
	return out;
}

void rstore_put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

uint64_t rstore_get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

uint32_t rstore_get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void rstore_put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

/* rstore_token_decode - a token value: false when it is not 12 bytes. */
bool rstore_token_decode(const char *v, size_t len, uint32_t *spam, uint32_t *ham, uint32_t *seen)
{
	const unsigned char *p = (const unsigned char *)v;

	if (len != TOKEN_VALUE_LEN)
		return false;
	*spam = rstore_get_le32(p);
	*ham = rstore_get_le32(p + 4);
	*seen = rstore_get_le32(p + 8);
	return true;
}

/* rstore_reply_int - an integer reply, or a number in a string reply (HGET of a counter). */
bool rstore_reply_int(const redisReply *r, long long *v)
{
	char *end;

	if (r->type == REDIS_REPLY_INTEGER) {
		*v = r->integer;
		return true;
	}
	if (r->type != REDIS_REPLY_STRING || r->len == 0)
		return false;
	errno = 0;
	*v = strtoll(r->str, &end, 10);
	return errno == 0 && *end == '\0';
}

/* rstore_reply_count - a counter field: 0 when missing. */
uint64_t rstore_reply_count(const redisReply *r)
{
	long long v = 0;

	if (r->type == REDIS_REPLY_NIL || !rstore_reply_int(r, &v) || v < 0)
		return 0;
	return (uint64_t)v;
}

/*
 * Errors.
 */

/* rstore_fail - record an error of kind; always returns -1. */
int rstore_fail(struct redis_store *s, enum bayes_errkind kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->base.errmsg, sizeof(s->base.errmsg), fmt, ap);
	va_end(ap);
	s->base.errkind = kind;
	return -1;
}

/* rstore_link_fail - the link's error (server unreachable, timeout, closed). */
int rstore_link_fail(struct redis_store *s, const char *what)
{
	return rstore_fail(s, BAYES_ERR_DB, "%s (%s)", redis_link_error(s->link), what);
}

/* rstore_reply_fail - an unexpected reply; frees it. */
int rstore_reply_fail(struct redis_store *s, redisReply *r, const char *what)
{
	rstore_fail(s, BAYES_ERR_DB, "redis %s: %s: %s", redis_link_server(s->link), what,
	     r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	if (r)
		freeReplyObject(r);
	return -1;
}

/*
 * Commands.
 */

/* rstore_command - the reply of the command in s->cmd, or NULL (error recorded). */
redisReply *rstore_command(struct redis_store *s, const char *what)
{
	const char **argv = rstore_argv_finish(&s->cmd);
	redisReply *r = redis_link_argv(s->link, (int)s->cmd.n, argv, s->cmd.len);

	if (r == NULL)
		rstore_link_fail(s, what);
	return r;
}

/* rstore_command_ok - run s->cmd and check it did not fail; 0 or -1. */
int rstore_command_ok(struct redis_store *s, const char *what)
{
	redisReply *r = rstore_command(s, what);

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ERROR)
		return rstore_reply_fail(s, r, what);
	freeReplyObject(r);
	return 0;
}

/*
 * script - EVALSHA of script id with nkeys keys and the arguments in args
 * (which it appends to s->cmd). Loads the script once per connection;
 * when the server forgot it since (SCRIPT FLUSH), loads it again.
 */
redisReply *rstore_script(struct redis_store *s, enum redis_script id, int nkeys, const char *const *keys,
			  const struct argv_buf *args, const char *what)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		unsigned gen = redis_link_generation(s->link);
		redisReply *r;

		if (s->sha_generation[id] != gen || gen == 0) {
			rstore_argv_buf_reset(&s->cmd);
			rstore_argv_str(&s->cmd, "SCRIPT");
			rstore_argv_str(&s->cmd, "LOAD");
			rstore_argv_str(&s->cmd, redis_script_text[id]);
			if ((r = rstore_command(s, what)) == NULL)
				return NULL;
			if (r->type != REDIS_REPLY_STRING || r->len >= (int)sizeof(s->sha[id])) {
				rstore_reply_fail(s, r, "loading a script");
				return NULL;
			}
			memcpy(s->sha[id], r->str, (size_t)r->len + 1);
			freeReplyObject(r);
			s->sha_generation[id] = redis_link_generation(s->link);
		}
		rstore_argv_buf_reset(&s->cmd);
		rstore_argv_str(&s->cmd, "EVALSHA");
		rstore_argv_str(&s->cmd, s->sha[id]);
		rstore_argv_int(&s->cmd, nkeys);
		for (int i = 0; i < nkeys; i++)
			rstore_argv_str(&s->cmd, keys[i]);
		for (size_t i = 0; args && i < args->n; i++)
			rstore_argv_add(&s->cmd, args->data + args->off[i], args->len[i]);
		if ((r = rstore_command(s, what)) == NULL)
			return NULL;
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(r);
			s->sha_generation[id] = 0;
			continue;
		}
		return r;
	}
	rstore_fail(s, BAYES_ERR_DB, "redis %s: %s: the server keeps forgetting scripts",
	     redis_link_server(s->link), what);
	return NULL;
}

/*
 * check_meta - on a new connection: are these our statistics, written by
 * this tokenizer? A writer allowed to create them creates them when the
 * prefix is empty (HSETNX: of two nodes starting at once, one wins and the
 * other then compares).
 */
static int check_meta(struct redis_store *s)
{
	char k[REDIS_KEY_MAX], n0[REDIS_KEY_MAX];
	redisReply *r;

	rstore_key(s, k, "meta");
	if (s->create) {
		char now[32];
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		const char *a1[] = { "HSETNX", k, "tokenizer", s->tok_params };
		const char *a2[] = { "HSETNX", k, "schema", "1" };
		const char *a3[] = { "HSETNX", k, "created", now };
		const char *a4[] = { "HSETNX", rstore_user_key(s, n0, 'n', 0), "spam", "0" };
		const char *a5[] = { "HSETNX", n0, "ham", "0" };
		const char *const *av[] = { a1, a2, a3, a4, a5 };
		int ac[] = { 4, 4, 4, 4, 4 };
		redisReply *rr[5];
		if (!redis_link_pipeline(s->link, 5, ac, av, NULL, rr))
			return rstore_link_fail(s, "creating the statistics");
		bool bad = false;
		for (int i = 0; i < 5; i++) {
			bad |= rr[i]->type == REDIS_REPLY_ERROR;
			if (bad && rr[i]->type == REDIS_REPLY_ERROR)
				rstore_fail(s, BAYES_ERR_DB, "redis %s: creating the statistics: %s",
				     redis_link_server(s->link), rr[i]->str);
			freeReplyObject(rr[i]);
		}
		if (bad)
			return -1;
	}
	const char *argv[] = { "HMGET", k, "tokenizer", "schema" };
	if ((r = redis_link_argv(s->link, 4, argv, NULL)) == NULL)
		return rstore_link_fail(s, "reading the tokenizer parameters");
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return rstore_reply_fail(s, r, "reading the tokenizer parameters");
	const redisReply *tok = r->element[0], *schema = r->element[1];
	int rc = 0;
	if (tok->type != REDIS_REPLY_STRING) {
		rc = rstore_fail(s, BAYES_ERR_DB, "%s: no statistics there yet", s->name);
	} else if (strcmp(tok->str, s->tok_params) != 0) {
		rc = rstore_fail(s, BAYES_ERR_INCOMPATIBLE,
			  "%s: statistics written by an incompatible tokenizer (%s; this one is %s)",
			  s->name, tok->str, s->tok_params);
	} else if (schema->type != REDIS_REPLY_STRING || atoi(schema->str) != STORE_SCHEMA_VERSION) {
		rc = rstore_fail(s, BAYES_ERR_INCOMPATIBLE, "%s: schema version %s; this bayesd reads version %d",
			  s->name, schema->type == REDIS_REPLY_STRING ? schema->str : "none", STORE_SCHEMA_VERSION);
	}
	freeReplyObject(r);
	return rc;
}

/* rstore_ready - a connection whose statistics were checked; 0 or -1. */
int rstore_ready(struct redis_store *s)
{
	int rc = redis_link_ready(s->link);

	if (rc < 0)
		return rstore_link_fail(s, "connecting");
	if (rc == 0 && s->checked_generation == redis_link_generation(s->link))
		return 0;
	s->checked_generation = 0;
	if (check_meta(s) < 0) {
		/* an incompatible server stays so: do not keep the connection either */
		redis_link_drop(s->link);
		return -1;
	}
	s->checked_generation = redis_link_generation(s->link);
	return 0;
}

/*
 * Open and close.
 */

struct store *store_redis_open(const char *path, unsigned flags, const char *tok_params,
			       const struct store_options *opt, char *err, size_t errlen,
			       enum bayes_errkind *kind_r)
{
	struct redis_store *s = xcalloc(1, sizeof(*s));
	char why[600];

	(void)path;	/* the statistics are on the server */
	s->base.ops = &redis_ops;
	s->readonly = (flags & BAYES_OPEN_RDONLY) != 0;
	s->create = (flags & BAYES_OPEN_CREATE) && !s->readonly;
	s->tok_params = xstrdup(tok_params);
	snprintf(s->prefix, sizeof(s->prefix), "%s", opt->redis.prefix);
	s->link = redis_link_new(&opt->redis, s->readonly, why, sizeof(why));
	if (s->link == NULL) {
		rstore_fail(s, BAYES_ERR_INPUT, "%s", why);
		goto failed;
	}
	size_t nlen = strlen(opt->redis.servers) + strlen(s->prefix) + 32;
	s->name = xmalloc(nlen);
	snprintf(s->name, nlen, "redis %s prefix '%s'", redis_link_server(s->link), s->prefix);
	if (rstore_ready(s) < 0)
		goto failed;
	return &s->base;

failed:
	snprintf(err, errlen, "%s", s->base.errmsg);
	if (kind_r)
		*kind_r = s->base.errkind;
	redis_ops.close(&s->base);
	return NULL;
}


static void redis_close(struct store *base)
{
	struct redis_store *s = (struct redis_store *)base;

	if (s->in_txn)
		redis_ops.rollback(base);
	rstore_rows_clear(&s->rows);
	free(s->rows.users);
	free(s->rows.row);
	free(s->rows.strs);
	redis_link_free(&s->link);
	rstore_argv_buf_free(&s->ops);
	rstore_argv_buf_free(&s->cmd);
	free(s->tok_params);
	free(s->name);
	free(s);
}

/*
 * Reads.
 */

static int redis_user_id(struct store *base, const char *name, bool create, int64_t *id_r)
{
	struct redis_store *s = (struct redis_store *)base;
	char users[REDIS_KEY_MAX], names[REDIS_KEY_MAX], next[REDIS_KEY_MAX];
	redisReply *r;
	long long id;

	if (name == NULL || *name == '\0') {
		*id_r = 0;
		return 1;
	}
	if (rstore_ready(s) < 0)
		return -1;
	rstore_key(s, users, "users");
	if (create) {
		const char *keys[] = { users, rstore_key(s, names, "names"), rstore_key(s, next, "nextuser") };
		struct argv_buf a = { 0 };
		rstore_argv_str(&a, name);
		r = rstore_script(s, REDIS_SCRIPT_USER, 3, keys, &a, "adding a user");
		rstore_argv_buf_free(&a);
	} else {
		rstore_argv_buf_reset(&s->cmd);
		rstore_argv_str(&s->cmd, "HGET");
		rstore_argv_str(&s->cmd, users);
		rstore_argv_str(&s->cmd, name);
		r = rstore_command(s, "looking up a user");
	}
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return 0;
	}
	if (!rstore_reply_int(r, &id) || id < 0)
		return rstore_reply_fail(s, r, "looking up a user");
	freeReplyObject(r);
	*id_r = id;
	return 1;
}

/* rstore_add_totals_command - HMGET P n:user spam ham into b. */
void rstore_add_totals_command(struct redis_store *s, struct argv_buf *b, int64_t user)
{
	char k[REDIS_KEY_MAX];

	rstore_argv_str(b, "HMGET");
	rstore_argv_str(b, rstore_user_key(s, k, 'n', user));
	rstore_argv_str(b, "spam");
	rstore_argv_str(b, "ham");
}

/* rstore_totals_of - the two counts of an HMGET spam ham reply. */
int rstore_totals_of(struct redis_store *s, redisReply *r, uint64_t *spam_r, uint64_t *ham_r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return rstore_reply_fail(s, r, "reading totals");
	*spam_r = rstore_reply_count(r->element[0]);
	*ham_r = rstore_reply_count(r->element[1]);
	freeReplyObject(r);
	return 0;
}

int rstore_totals(struct store *base, int64_t user, uint64_t *spam_r, uint64_t *ham_r)
{
	struct redis_store *s = (struct redis_store *)base;
	redisReply *r;

	*spam_r = *ham_r = 0;
	if (rstore_ready(s) < 0)
		return -1;
	rstore_argv_buf_reset(&s->cmd);
	rstore_add_totals_command(s, &s->cmd, user);
	if ((r = rstore_command(s, "reading totals")) == NULL)
		return -1;
	return rstore_totals_of(s, r, spam_r, ham_r);
}

/* counts_of - the counts of an HMGET of n token fields into out; found, or -1. */
static long counts_of(struct redis_store *s, redisReply *r, size_t n, struct store_counts *out)
{
	long found = 0;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
		return rstore_reply_fail(s, r, "reading tokens");
	for (size_t i = 0; i < n; i++) {
		const redisReply *e = r->element[i];
		uint32_t seen;

		out[i].spam = out[i].ham = 0;
		if (e->type == REDIS_REPLY_NIL)
			continue;
		if (e->type != REDIS_REPLY_STRING ||
		    !rstore_token_decode(e->str, (size_t)e->len, &out[i].spam, &out[i].ham, &seen)) {
			freeReplyObject(r);
			return rstore_fail(s, BAYES_ERR_DB, "%s: a token value is not %d bytes", s->name,
				    TOKEN_VALUE_LEN);
		}
		found++;
	}
	freeReplyObject(r);
	return found;
}

/* add_lookup_command - HMGET P t:user and the n token fields into b. */
static void add_lookup_command(struct redis_store *s, struct argv_buf *b, int64_t user,
			       const uint64_t *hash, size_t n)
{
	char k[REDIS_KEY_MAX];
	unsigned char f[8];

	rstore_argv_str(b, "HMGET");
	rstore_argv_str(b, rstore_user_key(s, k, 't', user));
	for (size_t i = 0; i < n; i++) {
		rstore_put_be64(f, hash[i]);
		rstore_argv_add(b, f, 8);
	}
}

static long redis_lookup_message(struct store *base, int64_t user, const uint64_t *hash, size_t n,
				 struct store_counts *out, uint64_t *spam_r, uint64_t *ham_r)
{
	struct redis_store *s = (struct redis_store *)base;
	redisReply *r[2];

	if (rstore_ready(s) < 0)
		return -1;
	if (n == 0) {
		if (spam_r)
			return rstore_totals(base, user, spam_r, ham_r);
		return 0;
	}
	rstore_argv_buf_reset(&s->cmd);
	if (spam_r)
		rstore_add_totals_command(s, &s->cmd, user);
	size_t first = s->cmd.n;
	add_lookup_command(s, &s->cmd, user, hash, n);
	const char **argv = rstore_argv_finish(&s->cmd);
	if (!spam_r) {
		redisReply *one = redis_link_argv(s->link, (int)n + 2, argv, s->cmd.len);
		if (one == NULL)
			return rstore_link_fail(s, "reading tokens");
		return counts_of(s, one, n, out);
	}
	/* the totals and the tokens: two commands, one round trip */
	int argc[2] = { (int)first, (int)(s->cmd.n - first) };
	const char *const *av[2] = { argv, argv + first };
	const size_t *const al[2] = { s->cmd.len, s->cmd.len + first };
	if (!redis_link_pipeline(s->link, 2, argc, av, al, r))
		return rstore_link_fail(s, "reading tokens");
	if (rstore_totals_of(s, r[0], spam_r, ham_r) < 0) {
		freeReplyObject(r[1]);
		return -1;
	}
	return counts_of(s, r[1], n, out);
}

static long redis_lookup(struct store *base, int64_t user, const uint64_t *hash, size_t n,
			 struct store_counts *out)
{
	return redis_lookup_message(base, user, hash, n, out, NULL, NULL);
}

/*
 * A read "transaction" is the round trip of one message: the totals and
 * the tokens are read together, and Redis runs every learn's script
 * whole, so they never show half a learn. Beginning one makes sure the
 * connection is there.
 */
static int redis_read_begin(struct store *base)
{
	return rstore_ready((struct redis_store *)base);
}

static void redis_read_end(struct store *base)
{
	(void)base;
}

static int redis_data_version(struct store *base, int64_t *v_r)
{
	struct redis_store *s = (struct redis_store *)base;
	char k[REDIS_KEY_MAX];
	redisReply *r;
	long long v = 0;

	if (rstore_ready(s) < 0)
		return -1;
	rstore_argv_buf_reset(&s->cmd);
	rstore_argv_str(&s->cmd, "GET");
	rstore_argv_str(&s->cmd, rstore_key(s, k, "version"));
	if ((r = rstore_command(s, "reading the data version")) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_NIL && !rstore_reply_int(r, &v))
		return rstore_reply_fail(s, r, "reading the data version");
	freeReplyObject(r);
	*v_r = v;
	return 0;
}

/*
 * Write transactions.
 */

/* txn_key - the KEYS index (from 2; 1 is the version) of key k in the open transaction. */
static int txn_key(struct redis_store *s, const char *k)
{
	for (int i = 0; i < s->ntxn_keys; i++)
		if (strcmp(s->txn_keys[i], k) == 0)
			return i + 2;
	if (s->ntxn_keys == REDIS_TXN_KEYS)
		return -1;
	snprintf(s->txn_keys[s->ntxn_keys++], REDIS_KEY_MAX, "%s", k);
	return s->ntxn_keys + 1;
}

/* txn_record - start a record op on the hash k: tag and key index; false when full. */
static bool txn_record(struct redis_store *s, const char *tag, const char *k)
{
	int idx = txn_key(s, k);

	if (idx < 0)
		return false;
	rstore_argv_str(&s->ops, tag);
	rstore_argv_int(&s->ops, idx);
	return true;
}

static int redis_begin(struct store *base)
{
	struct redis_store *s = (struct redis_store *)base;

	if (s->readonly)
		return rstore_fail(s, BAYES_ERR_DB, "%s: opened read-only", s->name);
	if (rstore_ready(s) < 0)
		return -1;
	rstore_argv_buf_reset(&s->ops);
	s->ntxn_keys = 0;
	s->restoring = false;
	s->restore_max_user = 0;
	s->restore_pending = 0;
	s->in_txn = true;
	return 0;
}


static int redis_commit(struct store *base)
{
	struct redis_store *s = (struct redis_store *)base;
	char version[REDIS_KEY_MAX];
	const char *keys[REDIS_TXN_KEYS + 1];
	redisReply *r;
	long long v;

	if (!s->in_txn)
		return rstore_fail(s, BAYES_ERR_DB, "%s: commit without a transaction", s->name);
	if (s->restoring) {
		if (rstore_restore_finish(s) < 0) {
			redis_ops.rollback(base);
			return -1;
		}
		s->in_txn = false;
		return 0;
	}
	if (s->ops.n == 0) {
		s->in_txn = false;
		return 0;
	}
	keys[0] = rstore_key(s, version, "version");
	for (int i = 0; i < s->ntxn_keys; i++)
		keys[i + 1] = s->txn_keys[i];
	r = rstore_script(s, REDIS_SCRIPT_COMMIT, s->ntxn_keys + 1, keys, &s->ops, "committing a learn");
	s->in_txn = false;
	rstore_argv_buf_reset(&s->ops);
	if (r == NULL)
		return -1;
	if (!rstore_reply_int(r, &v))
		return rstore_reply_fail(s, r, "committing a learn");
	freeReplyObject(r);
	if (v < 0) {
		rstore_fail(s, BAYES_ERR_BUSY, "%s: another node changed this message's record meanwhile (try again)", s->name);
		return STORE_CONFLICT;
	}
	return 0;
}

static void redis_rollback(struct store *base)
{
	struct redis_store *s = (struct redis_store *)base;

	if (s->in_txn && s->restoring)
		rstore_restore_undo(s);
	rstore_argv_buf_reset(&s->ops);
	s->ntxn_keys = 0;
	s->restoring = false;
	s->in_txn = false;
}

/* too_many_keys - a transaction touching more hashes than a learn does. */
static int too_many_keys(struct redis_store *s)
{
	return rstore_fail(s, BAYES_ERR_INPUT, "%s: one transaction touches more than %d hashes", s->name,
		    REDIS_TXN_KEYS);
}

static int redis_add(struct store *base, int64_t user, const uint64_t *hash, size_t n,
		     int dspam, int dham, int dmsg_spam, int dmsg_ham)
{
	struct redis_store *s = (struct redis_store *)base;
	char tk[REDIS_KEY_MAX], nk[REDIS_KEY_MAX];
	unsigned char f[8];

	if (!s->in_txn)
		return rstore_fail(s, BAYES_ERR_DB, "%s: write outside a transaction", s->name);
	int nidx = txn_key(s, rstore_user_key(s, nk, 'n', user));
	if (nidx < 0 || !txn_record(s, "T", rstore_user_key(s, tk, 't', user)))
		return too_many_keys(s);
	rstore_argv_int(&s->ops, nidx);
	rstore_argv_int(&s->ops, dspam);
	rstore_argv_int(&s->ops, dham);
	rstore_argv_int(&s->ops, dmsg_spam);
	rstore_argv_int(&s->ops, dmsg_ham);
	rstore_argv_int(&s->ops, (long long)(stats_clock() / 86400));
	rstore_argv_int(&s->ops, (long long)n);
	for (size_t i = 0; i < n; i++) {
		rstore_put_be64(f, hash[i]);
		rstore_argv_add(&s->ops, f, 8);
	}
	return 0;
}

static int redis_learned_get(struct store *base, int64_t user, const uint8_t digest[16], int *cls_r)
{
	struct redis_store *s = (struct redis_store *)base;
	char k[REDIS_KEY_MAX];
	redisReply *r;
	int found = 0;

	if (rstore_ready(s) < 0)
		return -1;
	rstore_user_key(s, k, 'l', user);
	rstore_argv_buf_reset(&s->cmd);
	rstore_argv_str(&s->cmd, "HGET");
	rstore_argv_str(&s->cmd, k);
	rstore_argv_add(&s->cmd, digest, 16);
	if ((r = rstore_command(s, "reading the message memory")) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING) {
		*cls_r = atoi(r->str);
		found = 1;
	} else if (r->type != REDIS_REPLY_NIL) {
		return rstore_reply_fail(s, r, "reading the message memory");
	}
	/* the commit checks that what the learn decided on still holds */
	if (s->in_txn) {
		if (!txn_record(s, found ? "R" : "N", k)) {
			freeReplyObject(r);
			return too_many_keys(s);
		}
		rstore_argv_add(&s->ops, digest, 16);
		if (found)
			rstore_argv_add(&s->ops, r->str, (size_t)r->len);
	}
	freeReplyObject(r);
	return found;
}

static int redis_learned_put(struct store *base, int64_t user, const uint8_t digest[16], int cls)
{
	struct redis_store *s = (struct redis_store *)base;
	char k[REDIS_KEY_MAX], v[48];

	if (!s->in_txn)
		return rstore_fail(s, BAYES_ERR_DB, "%s: write outside a transaction", s->name);
	if (!txn_record(s, "P", rstore_user_key(s, k, 'l', user)))
		return too_many_keys(s);
	rstore_argv_add(&s->ops, digest, 16);
	rstore_argv_add(&s->ops, v, (size_t)snprintf(v, sizeof(v), "%d:%lld", cls, (long long)stats_clock()));
	return 0;
}

static int redis_learned_del(struct store *base, int64_t user, const uint8_t digest[16])
{
	struct redis_store *s = (struct redis_store *)base;
	char k[REDIS_KEY_MAX];

	if (!s->in_txn)
		return rstore_fail(s, BAYES_ERR_DB, "%s: write outside a transaction", s->name);
	if (!txn_record(s, "D", rstore_user_key(s, k, 'l', user)))
		return too_many_keys(s);
	rstore_argv_add(&s->ops, digest, 16);
	return 0;
}

/*
 * Statistics and meta.
 */

/* used_memory - INFO memory's used_memory, or -1. */
static int64_t used_memory(struct redis_store *s)
{
	const char *argv[] = { "INFO", "memory" };
	redisReply *r = redis_link_argv(s->link, 2, argv, NULL);
	int64_t v = -1;

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING) {
		const char *p = strstr(r->str, "used_memory:");
		if (p)
			v = strtoll(p + strlen("used_memory:"), NULL, 10);
	}
	freeReplyObject(r);
	return v;
}

static int redis_stats(struct store *base, int64_t user, struct bayes_stats *st)
{
	struct redis_store *s = (struct redis_store *)base;
	char nk[REDIS_KEY_MAX], tk[REDIS_KEY_MAX], lk[REDIS_KEY_MAX], names[REDIS_KEY_MAX], meta[REDIS_KEY_MAX];
	const char *a0[] = { "HMGET", rstore_user_key(s, nk, 'n', user), "spam", "ham" };
	const char *a1[] = { "HLEN", rstore_user_key(s, tk, 't', user) };
	const char *a2[] = { "HLEN", rstore_user_key(s, lk, 'l', user) };
	const char *a3[] = { "HLEN", rstore_key(s, names, "names") };
	const char *a4[] = { "HGET", rstore_key(s, meta, "meta"), "last_expire" };
	const char *const *av[] = { a0, a1, a2, a3, a4 };
	int ac[] = { 4, 2, 2, 2, 3 };
	redisReply *r[5];

	if (rstore_ready(s) < 0)
		return -1;
	if (!redis_link_pipeline(s->link, 5, ac, av, NULL, r))
		return rstore_link_fail(s, "reading statistics");
	int rc = rstore_totals_of(s, r[0], &st->learned_spam, &st->learned_ham);
	st->tokens = rstore_reply_count(r[1]);
	st->remembered = rstore_reply_count(r[2]);
	st->users = rstore_reply_count(r[3]);
	st->last_expire = (int64_t)rstore_reply_count(r[4]);
	for (int i = 1; i < 5; i++)
		freeReplyObject(r[i]);
	if (rc < 0)
		return -1;
	/* the whole server's memory: what sizing a Redis needs */
	st->db_bytes = used_memory(s);
	st->schema_version = STORE_SCHEMA_VERSION;
	return 0;
}

static int redis_meta_get(struct store *base, const char *name, char *out, size_t outlen)
{
	struct redis_store *s = (struct redis_store *)base;
	char k[REDIS_KEY_MAX];
	redisReply *r;

	if (rstore_ready(s) < 0)
		return -1;
	rstore_argv_buf_reset(&s->cmd);
	rstore_argv_str(&s->cmd, "HGET");
	rstore_argv_str(&s->cmd, rstore_key(s, k, "meta"));
	rstore_argv_str(&s->cmd, name);
	if ((r = rstore_command(s, "reading meta")) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return 0;
	}
	if (r->type != REDIS_REPLY_STRING)
		return rstore_reply_fail(s, r, "reading meta");
	snprintf(out, outlen, "%s", r->str);
	freeReplyObject(r);
	return 1;
}

static int redis_meta_put(struct store *base, const char *name, const char *value)
{
	struct redis_store *s = (struct redis_store *)base;
	char k[REDIS_KEY_MAX];

	if (rstore_ready(s) < 0)
		return -1;
	rstore_argv_buf_reset(&s->cmd);
	rstore_argv_str(&s->cmd, "HSET");
	rstore_argv_str(&s->cmd, rstore_key(s, k, "meta"));
	rstore_argv_str(&s->cmd, name);
	rstore_argv_str(&s->cmd, value);
	return rstore_command_ok(s, "writing meta");
}

/*
 * Whole tables: users, scans.
 */

int rstore_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* rstore_list_users - every user id, 0 (global) first, ascending, into *ids_r (caller frees). */
int rstore_list_users(struct redis_store *s, int64_t **ids_r, size_t *n_r)
{
	char k[REDIS_KEY_MAX];
	redisReply *r;
	int64_t *ids;
	size_t n = 1;

	rstore_argv_buf_reset(&s->cmd);
	rstore_argv_str(&s->cmd, "HKEYS");
	rstore_argv_str(&s->cmd, rstore_key(s, k, "names"));
	if ((r = rstore_command(s, "listing users")) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY)
		return rstore_reply_fail(s, r, "listing users");
	ids = xmalloc((r->elements + 1) * sizeof(*ids));
	ids[0] = 0;
	for (size_t i = 0; i < r->elements; i++) {
		long long v;
		if (rstore_reply_int(r->element[i], &v) && v > 0)
			ids[n++] = v;
	}
	freeReplyObject(r);
	qsort(ids, n, sizeof(*ids), rstore_cmp_i64);
	*ids_r = ids;
	*n_r = n;
	return 0;
}

/*
 * hscan - one HSCAN of hash k from *cursor (at most about count fields):
 * the reply's field/value array, and *cursor advanced (0: done). The
 * caller frees *reply_r. 0 or -1.
 */
int rstore_hscan(struct redis_store *s, const char *k, uint64_t *cursor, unsigned count,
		 redisReply **reply_r, redisReply **items_r)
{
	char cur[24];
	redisReply *r;

	rstore_argv_buf_reset(&s->cmd);
	rstore_argv_str(&s->cmd, "HSCAN");
	rstore_argv_str(&s->cmd, k);
	rstore_argv_add(&s->cmd, cur, (size_t)snprintf(cur, sizeof(cur), "%" PRIu64, *cursor));
	rstore_argv_str(&s->cmd, "COUNT");
	rstore_argv_int(&s->cmd, count);
	if ((r = rstore_command(s, "scanning")) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY || r->element[1]->elements % 2)
		return rstore_reply_fail(s, r, "scanning");
	*cursor = strtoull(r->element[0]->str, NULL, 10);
	*reply_r = r;
	*items_r = r->element[1];
	return 0;
}


static const struct store_ops redis_ops = {
	.name = "redis",
	.close = redis_close,
	.user_id = redis_user_id,
	.totals = rstore_totals,
	.lookup = redis_lookup,
	.lookup_message = redis_lookup_message,
	.read_begin = redis_read_begin,
	.read_end = redis_read_end,
	.data_version = redis_data_version,
	.begin = redis_begin,
	.commit = redis_commit,
	.rollback = redis_rollback,
	.add = redis_add,
	.learned_get = redis_learned_get,
	.learned_put = redis_learned_put,
	.learned_del = redis_learned_del,
	.stats = redis_stats,
	.meta_get = redis_meta_get,
	.meta_put = redis_meta_put,
	.rows_begin = redis_rows_begin,
	.rows_next = redis_rows_next,
	.rows_end = redis_rows_end,
	.row_put = redis_row_put,
	.is_empty = redis_is_empty,
	.expire_tokens = redis_expire_tokens,
	.expire_learned = redis_expire_learned,
};
