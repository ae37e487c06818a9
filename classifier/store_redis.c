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
 * Failure: every wait is bounded (redis_link.c); a failed call returns
 * -1 with BAYES_ERR_DB and a message naming the server, and the next call
 * connects again. Each new connection checks the meta hash again (the
 * server may have come back empty).
 */
#include "store_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis_link.h"
#include "store_redis_lua.h"
#include "util.h"

#define REDIS_KEY_MAX		300
#define REDIS_TXN_KEYS		8	/* distinct hashes one learn touches: 2 users x 3 */
#define REDIS_SCAN_COUNT	1000	/* HSCAN COUNT: fields per round trip */
#define REDIS_RESTORE_BATCH	1000	/* restore: commands per pipeline */
#define TOKEN_VALUE_LEN		12

/* struct argv_buf - command arguments kept as one byte buffer and offsets. */
struct argv_buf {
	char *data;
	size_t used, cap;
	size_t *off, *len;
	size_t n, ncap;
	const char **argv;	/* argv_buf_finish: pointers into data */
	size_t argv_cap;
};

/* struct redis_rows - one store_rows_begin iteration: a batch of rows in key order. */
struct redis_rows {
	bool active;
	enum store_table t;
	int64_t *users;		/* user ids, ascending (per-user tables) */
	size_t nusers, next_user;
	struct store_row *row;
	size_t n, i, cap;
	char **strs;		/* strings the batch's rows point to */
	size_t nstrs, strs_cap;
};

struct redis_store {
	struct store base;	/* first: the generic part (store_backend.h) */
	struct redis_link *link;
	char *name;		/* "redis HOST:PORT prefix P" for messages */
	char prefix[128];
	char *tok_params;
	bool readonly, create;
	unsigned checked_generation;	/* connection whose meta was checked (0 = none) */
	char sha[REDIS_SCRIPT_MAX][48];	/* SCRIPT LOAD results, valid for sha_generation */
	unsigned sha_generation[REDIS_SCRIPT_MAX];

	/* the open write transaction */
	bool in_txn;
	char txn_keys[REDIS_TXN_KEYS][REDIS_KEY_MAX];
	int ntxn_keys;
	struct argv_buf ops;
	bool restoring;			/* rows were written directly: undo them on rollback */
	int64_t restore_max_user;
	int restore_pending;		/* pipelined restore commands not yet answered */

	struct redis_rows rows;
	struct argv_buf cmd;		/* scratch for building one command */
};

static const struct store_ops redis_ops;

/*
 * Arguments.
 */

static void argv_buf_reset(struct argv_buf *b)
{
	b->used = 0;
	b->n = 0;
}

static void argv_buf_free(struct argv_buf *b)
{
	free(b->data);
	free(b->off);
	free(b->len);
	free(b->argv);
	memset(b, 0, sizeof(*b));
}

/* argv_add - append one argument of len bytes. */
static void argv_add(struct argv_buf *b, const void *p, size_t len)
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

static void argv_str(struct argv_buf *b, const char *s)
{
	argv_add(b, s, strlen(s));
}

static void argv_int(struct argv_buf *b, long long v)
{
	char num[24];

	argv_add(b, num, (size_t)snprintf(num, sizeof(num), "%lld", v));
}

/* argv_finish - the argv array for the arguments added (valid until the next add). */
static const char **argv_finish(struct argv_buf *b)
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

/* key - P + suffix into out (REDIS_KEY_MAX). */
static const char *key(const struct redis_store *s, char *out, const char *suffix)
{
	snprintf(out, REDIS_KEY_MAX, "%s%s", s->prefix, suffix);
	return out;
}

/* user_key - P + kind + ":" + user id, e.g. "bayes:t:0". */
static const char *user_key(const struct redis_store *s, char *out, char kind, int64_t user)
{
	snprintf(out, REDIS_KEY_MAX, "%s%c:%" PRId64, s->prefix, kind, user);
	return out;
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

/* token_decode - a token value: false when it is not 12 bytes. */
static bool token_decode(const char *v, size_t len, uint32_t *spam, uint32_t *ham, uint32_t *seen)
{
	const unsigned char *p = (const unsigned char *)v;

	if (len != TOKEN_VALUE_LEN)
		return false;
	*spam = get_le32(p);
	*ham = get_le32(p + 4);
	*seen = get_le32(p + 8);
	return true;
}

/* reply_int - an integer reply, or a number in a string reply (HGET of a counter). */
static bool reply_int(const redisReply *r, long long *v)
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

/* reply_count - a counter field: 0 when missing. */
static uint64_t reply_count(const redisReply *r)
{
	long long v = 0;

	if (r->type == REDIS_REPLY_NIL || !reply_int(r, &v) || v < 0)
		return 0;
	return (uint64_t)v;
}

/*
 * Errors.
 */

/* fail - record an error of kind; always returns -1. */
static int fail(struct redis_store *s, enum bayes_errkind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct redis_store *s, enum bayes_errkind kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->base.errmsg, sizeof(s->base.errmsg), fmt, ap);
	va_end(ap);
	s->base.errkind = kind;
	return -1;
}

/* link_fail - the link's error (server unreachable, timeout, closed). */
static int link_fail(struct redis_store *s, const char *what)
{
	return fail(s, BAYES_ERR_DB, "%s (%s)", redis_link_error(s->link), what);
}

/* reply_fail - an unexpected reply; frees it. */
static int reply_fail(struct redis_store *s, redisReply *r, const char *what)
{
	fail(s, BAYES_ERR_DB, "redis %s: %s: %s", redis_link_server(s->link), what,
	     r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	if (r)
		freeReplyObject(r);
	return -1;
}

/*
 * Commands.
 */

/* command - the reply of the command in s->cmd, or NULL (error recorded). */
static redisReply *command(struct redis_store *s, const char *what)
{
	const char **argv = argv_finish(&s->cmd);
	redisReply *r = redis_link_argv(s->link, (int)s->cmd.n, argv, s->cmd.len);

	if (r == NULL)
		link_fail(s, what);
	return r;
}

/* command_ok - run s->cmd and check it did not fail; 0 or -1. */
static int command_ok(struct redis_store *s, const char *what)
{
	redisReply *r = command(s, what);

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ERROR)
		return reply_fail(s, r, what);
	freeReplyObject(r);
	return 0;
}

/*
 * script - EVALSHA of script id with nkeys keys and the arguments in args
 * (which it appends to s->cmd). Loads the script once per connection;
 * when the server forgot it since (SCRIPT FLUSH), loads it again.
 */
static redisReply *script(struct redis_store *s, enum redis_script id, int nkeys, const char *const *keys,
			  const struct argv_buf *args, const char *what)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		unsigned gen = redis_link_generation(s->link);
		redisReply *r;

		if (s->sha_generation[id] != gen || gen == 0) {
			argv_buf_reset(&s->cmd);
			argv_str(&s->cmd, "SCRIPT");
			argv_str(&s->cmd, "LOAD");
			argv_str(&s->cmd, redis_script_text[id]);
			if ((r = command(s, what)) == NULL)
				return NULL;
			if (r->type != REDIS_REPLY_STRING || r->len >= (int)sizeof(s->sha[id])) {
				reply_fail(s, r, "loading a script");
				return NULL;
			}
			memcpy(s->sha[id], r->str, (size_t)r->len + 1);
			freeReplyObject(r);
			s->sha_generation[id] = redis_link_generation(s->link);
		}
		argv_buf_reset(&s->cmd);
		argv_str(&s->cmd, "EVALSHA");
		argv_str(&s->cmd, s->sha[id]);
		argv_int(&s->cmd, nkeys);
		for (int i = 0; i < nkeys; i++)
			argv_str(&s->cmd, keys[i]);
		for (size_t i = 0; args && i < args->n; i++)
			argv_add(&s->cmd, args->data + args->off[i], args->len[i]);
		if ((r = command(s, what)) == NULL)
			return NULL;
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(r);
			s->sha_generation[id] = 0;
			continue;
		}
		return r;
	}
	fail(s, BAYES_ERR_DB, "redis %s: %s: the server keeps forgetting scripts",
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

	key(s, k, "meta");
	if (s->create) {
		char now[32];
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		const char *a1[] = { "HSETNX", k, "tokenizer", s->tok_params };
		const char *a2[] = { "HSETNX", k, "schema", "1" };
		const char *a3[] = { "HSETNX", k, "created", now };
		const char *a4[] = { "HSETNX", user_key(s, n0, 'n', 0), "spam", "0" };
		const char *a5[] = { "HSETNX", n0, "ham", "0" };
		const char *const *av[] = { a1, a2, a3, a4, a5 };
		int ac[] = { 4, 4, 4, 4, 4 };
		redisReply *rr[5];
		if (!redis_link_pipeline(s->link, 5, ac, av, NULL, rr))
			return link_fail(s, "creating the statistics");
		bool bad = false;
		for (int i = 0; i < 5; i++) {
			bad |= rr[i]->type == REDIS_REPLY_ERROR;
			if (bad && rr[i]->type == REDIS_REPLY_ERROR)
				fail(s, BAYES_ERR_DB, "redis %s: creating the statistics: %s",
				     redis_link_server(s->link), rr[i]->str);
			freeReplyObject(rr[i]);
		}
		if (bad)
			return -1;
	}
	const char *argv[] = { "HMGET", k, "tokenizer", "schema" };
	if ((r = redis_link_argv(s->link, 4, argv, NULL)) == NULL)
		return link_fail(s, "reading the tokenizer parameters");
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return reply_fail(s, r, "reading the tokenizer parameters");
	const redisReply *tok = r->element[0], *schema = r->element[1];
	int rc = 0;
	if (tok->type != REDIS_REPLY_STRING) {
		rc = fail(s, BAYES_ERR_DB, "%s: no statistics there yet", s->name);
	} else if (strcmp(tok->str, s->tok_params) != 0) {
		rc = fail(s, BAYES_ERR_INCOMPATIBLE,
			  "%s: statistics written by an incompatible tokenizer (%s; this one is %s)",
			  s->name, tok->str, s->tok_params);
	} else if (schema->type != REDIS_REPLY_STRING || atoi(schema->str) != STORE_SCHEMA_VERSION) {
		rc = fail(s, BAYES_ERR_INCOMPATIBLE, "%s: schema version %s; this bayesd reads version %d",
			  s->name, schema->type == REDIS_REPLY_STRING ? schema->str : "none", STORE_SCHEMA_VERSION);
	}
	freeReplyObject(r);
	return rc;
}

/* ready - a connection whose statistics were checked; 0 or -1. */
static int ready(struct redis_store *s)
{
	int rc = redis_link_ready(s->link);

	if (rc < 0)
		return link_fail(s, "connecting");
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
			       const struct bayes_options *opt, char *err, size_t errlen,
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
		fail(s, BAYES_ERR_INPUT, "%s", why);
		goto failed;
	}
	size_t nlen = strlen(opt->redis.servers) + strlen(s->prefix) + 32;
	s->name = xmalloc(nlen);
	snprintf(s->name, nlen, "redis %s prefix '%s'", redis_link_server(s->link), s->prefix);
	if (ready(s) < 0)
		goto failed;
	return &s->base;

failed:
	snprintf(err, errlen, "%s", s->base.errmsg);
	if (kind_r)
		*kind_r = s->base.errkind;
	redis_ops.close(&s->base);
	return NULL;
}

static void rows_clear(struct redis_rows *rw);

static void redis_close(struct store *base)
{
	struct redis_store *s = (struct redis_store *)base;

	if (s->in_txn)
		redis_ops.rollback(base);
	rows_clear(&s->rows);
	free(s->rows.users);
	free(s->rows.row);
	free(s->rows.strs);
	redis_link_free(&s->link);
	argv_buf_free(&s->ops);
	argv_buf_free(&s->cmd);
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
	if (ready(s) < 0)
		return -1;
	key(s, users, "users");
	if (create) {
		const char *keys[] = { users, key(s, names, "names"), key(s, next, "nextuser") };
		struct argv_buf a = { 0 };
		argv_str(&a, name);
		r = script(s, REDIS_SCRIPT_USER, 3, keys, &a, "adding a user");
		argv_buf_free(&a);
	} else {
		argv_buf_reset(&s->cmd);
		argv_str(&s->cmd, "HGET");
		argv_str(&s->cmd, users);
		argv_str(&s->cmd, name);
		r = command(s, "looking up a user");
	}
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return 0;
	}
	if (!reply_int(r, &id) || id < 0)
		return reply_fail(s, r, "looking up a user");
	freeReplyObject(r);
	*id_r = id;
	return 1;
}

/* add_totals_command - HMGET P n:user spam ham into b. */
static void add_totals_command(struct redis_store *s, struct argv_buf *b, int64_t user)
{
	char k[REDIS_KEY_MAX];

	argv_str(b, "HMGET");
	argv_str(b, user_key(s, k, 'n', user));
	argv_str(b, "spam");
	argv_str(b, "ham");
}

/* totals_of - the two counts of an HMGET spam ham reply. */
static int totals_of(struct redis_store *s, redisReply *r, uint64_t *spam_r, uint64_t *ham_r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return reply_fail(s, r, "reading totals");
	*spam_r = reply_count(r->element[0]);
	*ham_r = reply_count(r->element[1]);
	freeReplyObject(r);
	return 0;
}

static int redis_totals(struct store *base, int64_t user, uint64_t *spam_r, uint64_t *ham_r)
{
	struct redis_store *s = (struct redis_store *)base;
	redisReply *r;

	*spam_r = *ham_r = 0;
	if (ready(s) < 0)
		return -1;
	argv_buf_reset(&s->cmd);
	add_totals_command(s, &s->cmd, user);
	if ((r = command(s, "reading totals")) == NULL)
		return -1;
	return totals_of(s, r, spam_r, ham_r);
}

/* counts_of - the counts of an HMGET of n token fields into out; found, or -1. */
static long counts_of(struct redis_store *s, redisReply *r, size_t n, struct store_counts *out)
{
	long found = 0;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
		return reply_fail(s, r, "reading tokens");
	for (size_t i = 0; i < n; i++) {
		const redisReply *e = r->element[i];
		uint32_t seen;

		out[i].spam = out[i].ham = 0;
		if (e->type == REDIS_REPLY_NIL)
			continue;
		if (e->type != REDIS_REPLY_STRING ||
		    !token_decode(e->str, (size_t)e->len, &out[i].spam, &out[i].ham, &seen)) {
			freeReplyObject(r);
			return fail(s, BAYES_ERR_DB, "%s: a token value is not %d bytes", s->name,
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

	argv_str(b, "HMGET");
	argv_str(b, user_key(s, k, 't', user));
	for (size_t i = 0; i < n; i++) {
		put_be64(f, hash[i]);
		argv_add(b, f, 8);
	}
}

static long redis_lookup_message(struct store *base, int64_t user, const uint64_t *hash, size_t n,
				 struct store_counts *out, uint64_t *spam_r, uint64_t *ham_r)
{
	struct redis_store *s = (struct redis_store *)base;
	redisReply *r[2];

	if (ready(s) < 0)
		return -1;
	if (n == 0) {
		if (spam_r)
			return redis_totals(base, user, spam_r, ham_r);
		return 0;
	}
	argv_buf_reset(&s->cmd);
	if (spam_r)
		add_totals_command(s, &s->cmd, user);
	size_t first = s->cmd.n;
	add_lookup_command(s, &s->cmd, user, hash, n);
	const char **argv = argv_finish(&s->cmd);
	if (!spam_r) {
		redisReply *one = redis_link_argv(s->link, (int)n + 2, argv, s->cmd.len);
		if (one == NULL)
			return link_fail(s, "reading tokens");
		return counts_of(s, one, n, out);
	}
	/* the totals and the tokens: two commands, one round trip */
	int argc[2] = { (int)first, (int)(s->cmd.n - first) };
	const char *const *av[2] = { argv, argv + first };
	const size_t *const al[2] = { s->cmd.len, s->cmd.len + first };
	if (!redis_link_pipeline(s->link, 2, argc, av, al, r))
		return link_fail(s, "reading tokens");
	if (totals_of(s, r[0], spam_r, ham_r) < 0) {
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
	return ready((struct redis_store *)base);
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

	if (ready(s) < 0)
		return -1;
	argv_buf_reset(&s->cmd);
	argv_str(&s->cmd, "GET");
	argv_str(&s->cmd, key(s, k, "version"));
	if ((r = command(s, "reading the data version")) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_NIL && !reply_int(r, &v))
		return reply_fail(s, r, "reading the data version");
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
	argv_str(&s->ops, tag);
	argv_int(&s->ops, idx);
	return true;
}

static int redis_begin(struct store *base)
{
	struct redis_store *s = (struct redis_store *)base;

	if (s->readonly)
		return fail(s, BAYES_ERR_DB, "%s: opened read-only", s->name);
	if (ready(s) < 0)
		return -1;
	argv_buf_reset(&s->ops);
	s->ntxn_keys = 0;
	s->restoring = false;
	s->restore_max_user = 0;
	s->restore_pending = 0;
	s->in_txn = true;
	return 0;
}

static int restore_finish(struct redis_store *s);
static void restore_undo(struct redis_store *s);

static int redis_commit(struct store *base)
{
	struct redis_store *s = (struct redis_store *)base;
	char version[REDIS_KEY_MAX];
	const char *keys[REDIS_TXN_KEYS + 1];
	redisReply *r;
	long long v;

	if (!s->in_txn)
		return fail(s, BAYES_ERR_DB, "%s: commit without a transaction", s->name);
	if (s->restoring) {
		if (restore_finish(s) < 0) {
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
	keys[0] = key(s, version, "version");
	for (int i = 0; i < s->ntxn_keys; i++)
		keys[i + 1] = s->txn_keys[i];
	r = script(s, REDIS_SCRIPT_COMMIT, s->ntxn_keys + 1, keys, &s->ops, "committing a learn");
	s->in_txn = false;
	argv_buf_reset(&s->ops);
	if (r == NULL)
		return -1;
	if (!reply_int(r, &v))
		return reply_fail(s, r, "committing a learn");
	freeReplyObject(r);
	if (v < 0) {
		fail(s, BAYES_ERR_BUSY, "%s: another node changed this message's record meanwhile (try again)", s->name);
		return STORE_CONFLICT;
	}
	return 0;
}

static void redis_rollback(struct store *base)
{
	struct redis_store *s = (struct redis_store *)base;

	if (s->in_txn && s->restoring)
		restore_undo(s);
	argv_buf_reset(&s->ops);
	s->ntxn_keys = 0;
	s->restoring = false;
	s->in_txn = false;
}

/* too_many_keys - a transaction touching more hashes than a learn does. */
static int too_many_keys(struct redis_store *s)
{
	return fail(s, BAYES_ERR_INPUT, "%s: one transaction touches more than %d hashes", s->name,
		    REDIS_TXN_KEYS);
}

static int redis_add(struct store *base, int64_t user, const uint64_t *hash, size_t n,
		     int dspam, int dham, int dmsg_spam, int dmsg_ham)
{
	struct redis_store *s = (struct redis_store *)base;
	char tk[REDIS_KEY_MAX], nk[REDIS_KEY_MAX];
	unsigned char f[8];

	if (!s->in_txn)
		return fail(s, BAYES_ERR_DB, "%s: write outside a transaction", s->name);
	int nidx = txn_key(s, user_key(s, nk, 'n', user));
	if (nidx < 0 || !txn_record(s, "T", user_key(s, tk, 't', user)))
		return too_many_keys(s);
	argv_int(&s->ops, nidx);
	argv_int(&s->ops, dspam);
	argv_int(&s->ops, dham);
	argv_int(&s->ops, dmsg_spam);
	argv_int(&s->ops, dmsg_ham);
	argv_int(&s->ops, (long long)(time(NULL) / 86400));
	argv_int(&s->ops, (long long)n);
	for (size_t i = 0; i < n; i++) {
		put_be64(f, hash[i]);
		argv_add(&s->ops, f, 8);
	}
	return 0;
}

static int redis_learned_get(struct store *base, int64_t user, const uint8_t digest[16], int *cls_r)
{
	struct redis_store *s = (struct redis_store *)base;
	char k[REDIS_KEY_MAX];
	redisReply *r;
	int found = 0;

	if (ready(s) < 0)
		return -1;
	user_key(s, k, 'l', user);
	argv_buf_reset(&s->cmd);
	argv_str(&s->cmd, "HGET");
	argv_str(&s->cmd, k);
	argv_add(&s->cmd, digest, 16);
	if ((r = command(s, "reading the message memory")) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING) {
		*cls_r = atoi(r->str);
		found = 1;
	} else if (r->type != REDIS_REPLY_NIL) {
		return reply_fail(s, r, "reading the message memory");
	}
	/* the commit checks that what the learn decided on still holds */
	if (s->in_txn) {
		if (!txn_record(s, found ? "R" : "N", k)) {
			freeReplyObject(r);
			return too_many_keys(s);
		}
		argv_add(&s->ops, digest, 16);
		if (found)
			argv_add(&s->ops, r->str, (size_t)r->len);
	}
	freeReplyObject(r);
	return found;
}

static int redis_learned_put(struct store *base, int64_t user, const uint8_t digest[16], int cls)
{
	struct redis_store *s = (struct redis_store *)base;
	char k[REDIS_KEY_MAX], v[48];

	if (!s->in_txn)
		return fail(s, BAYES_ERR_DB, "%s: write outside a transaction", s->name);
	if (!txn_record(s, "P", user_key(s, k, 'l', user)))
		return too_many_keys(s);
	argv_add(&s->ops, digest, 16);
	argv_add(&s->ops, v, (size_t)snprintf(v, sizeof(v), "%d:%lld", cls, (long long)time(NULL)));
	return 0;
}

static int redis_learned_del(struct store *base, int64_t user, const uint8_t digest[16])
{
	struct redis_store *s = (struct redis_store *)base;
	char k[REDIS_KEY_MAX];

	if (!s->in_txn)
		return fail(s, BAYES_ERR_DB, "%s: write outside a transaction", s->name);
	if (!txn_record(s, "D", user_key(s, k, 'l', user)))
		return too_many_keys(s);
	argv_add(&s->ops, digest, 16);
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
	const char *a0[] = { "HMGET", user_key(s, nk, 'n', user), "spam", "ham" };
	const char *a1[] = { "HLEN", user_key(s, tk, 't', user) };
	const char *a2[] = { "HLEN", user_key(s, lk, 'l', user) };
	const char *a3[] = { "HLEN", key(s, names, "names") };
	const char *a4[] = { "HGET", key(s, meta, "meta"), "last_expire" };
	const char *const *av[] = { a0, a1, a2, a3, a4 };
	int ac[] = { 4, 2, 2, 2, 3 };
	redisReply *r[5];

	if (ready(s) < 0)
		return -1;
	if (!redis_link_pipeline(s->link, 5, ac, av, NULL, r))
		return link_fail(s, "reading statistics");
	int rc = totals_of(s, r[0], &st->learned_spam, &st->learned_ham);
	st->tokens = reply_count(r[1]);
	st->remembered = reply_count(r[2]);
	st->users = reply_count(r[3]);
	st->last_expire = (int64_t)reply_count(r[4]);
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

	if (ready(s) < 0)
		return -1;
	argv_buf_reset(&s->cmd);
	argv_str(&s->cmd, "HGET");
	argv_str(&s->cmd, key(s, k, "meta"));
	argv_str(&s->cmd, name);
	if ((r = command(s, "reading meta")) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return 0;
	}
	if (r->type != REDIS_REPLY_STRING)
		return reply_fail(s, r, "reading meta");
	snprintf(out, outlen, "%s", r->str);
	freeReplyObject(r);
	return 1;
}

static int redis_meta_put(struct store *base, const char *name, const char *value)
{
	struct redis_store *s = (struct redis_store *)base;
	char k[REDIS_KEY_MAX];

	if (ready(s) < 0)
		return -1;
	argv_buf_reset(&s->cmd);
	argv_str(&s->cmd, "HSET");
	argv_str(&s->cmd, key(s, k, "meta"));
	argv_str(&s->cmd, name);
	argv_str(&s->cmd, value);
	return command_ok(s, "writing meta");
}

/*
 * Whole tables: users, scans.
 */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* list_users - every user id, 0 (global) first, ascending, into *ids_r (caller frees). */
static int list_users(struct redis_store *s, int64_t **ids_r, size_t *n_r)
{
	char k[REDIS_KEY_MAX];
	redisReply *r;
	int64_t *ids;
	size_t n = 1;

	argv_buf_reset(&s->cmd);
	argv_str(&s->cmd, "HKEYS");
	argv_str(&s->cmd, key(s, k, "names"));
	if ((r = command(s, "listing users")) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY)
		return reply_fail(s, r, "listing users");
	ids = xmalloc((r->elements + 1) * sizeof(*ids));
	ids[0] = 0;
	for (size_t i = 0; i < r->elements; i++) {
		long long v;
		if (reply_int(r->element[i], &v) && v > 0)
			ids[n++] = v;
	}
	freeReplyObject(r);
	qsort(ids, n, sizeof(*ids), cmp_i64);
	*ids_r = ids;
	*n_r = n;
	return 0;
}

/*
 * hscan - one HSCAN of hash k from *cursor (at most about count fields):
 * the reply's field/value array, and *cursor advanced (0: done). The
 * caller frees *reply_r. 0 or -1.
 */
static int hscan(struct redis_store *s, const char *k, uint64_t *cursor, unsigned count,
		 redisReply **reply_r, redisReply **items_r)
{
	char cur[24];
	redisReply *r;

	argv_buf_reset(&s->cmd);
	argv_str(&s->cmd, "HSCAN");
	argv_str(&s->cmd, k);
	argv_add(&s->cmd, cur, (size_t)snprintf(cur, sizeof(cur), "%" PRIu64, *cursor));
	argv_str(&s->cmd, "COUNT");
	argv_int(&s->cmd, count);
	if ((r = command(s, "scanning")) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY || r->element[1]->elements % 2)
		return reply_fail(s, r, "scanning");
	*cursor = strtoull(r->element[0]->str, NULL, 10);
	*reply_r = r;
	*items_r = r->element[1];
	return 0;
}

/* rows_clear - forget the batch of rows and its strings. */
static void rows_clear(struct redis_rows *rw)
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
	return cmp_i64(&((const struct store_row *)a)->user, &((const struct store_row *)b)->user);
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

	argv_buf_reset(&s->cmd);
	argv_str(&s->cmd, "HGETALL");
	argv_str(&s->cmd, k);
	if ((r = command(s, "reading rows")) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2)
		return reply_fail(s, r, "reading rows");
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

	rows_clear(rw);
	user_key(s, k, rw->t == STORE_TOKENS ? 't' : 'l', user);
	do {
		redisReply *r, *items;
		if (hscan(s, k, &cursor, REDIS_SCAN_COUNT, &r, &items) < 0)
			return -1;
		for (size_t i = 0; i < items->elements; i += 2) {
			const redisReply *f = items->element[i], *v = items->element[i + 1];
			struct store_row *row;
			if (rw->t == STORE_TOKENS) {
				uint32_t sp, hm, seen;
				if (f->len != 8 || !token_decode(v->str, (size_t)v->len, &sp, &hm, &seen))
					continue;
				row = rows_add(rw);
				row->hash = get_be64((const unsigned char *)f->str);
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
	qsort(rw->row, rw->n, sizeof(*rw->row), rw->t == STORE_TOKENS ? row_by_hash : row_by_digest);
	size_t w = 0;
	for (size_t i = 0; i < rw->n; i++)
		if (w == 0 || (rw->t == STORE_TOKENS ? row_by_hash : row_by_digest)(&rw->row[w - 1], &rw->row[i]) != 0)
			rw->row[w++] = rw->row[i];
	rw->n = w;
	return 0;
}

static int redis_rows_begin(struct store *base, enum store_table t)
{
	struct redis_store *s = (struct redis_store *)base;
	struct redis_rows *rw = &s->rows;
	char k[REDIS_KEY_MAX];
	redisReply *r = NULL;

	rows_clear(rw);
	free(rw->users);
	rw->users = NULL;
	rw->nusers = rw->next_user = 0;
	rw->t = t;
	rw->active = true;
	if (ready(s) < 0)
		goto failed;
	switch (t) {
	case STORE_META:
	case STORE_USERS:
		if (rows_hgetall(s, key(s, k, t == STORE_META ? "meta" : "names"), &r) < 0)
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
		qsort(rw->row, rw->n, sizeof(*rw->row), t == STORE_META ? row_by_name : row_by_user);
		return 0;
	case STORE_TOTALS:
		if (list_users(s, &rw->users, &rw->nusers) < 0)
			goto failed;
		for (size_t i = 0; i < rw->nusers; i++) {
			uint64_t sp, hm;
			argv_buf_reset(&s->cmd);
			add_totals_command(s, &s->cmd, rw->users[i]);
			if ((r = command(s, "reading totals")) == NULL)
				goto failed;
			bool exists = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
				      (r->element[0]->type != REDIS_REPLY_NIL || r->element[1]->type != REDIS_REPLY_NIL);
			if (totals_of(s, r, &sp, &hm) < 0)
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
		if (list_users(s, &rw->users, &rw->nusers) < 0)
			goto failed;
		return 0;
	}
failed:
	rw->active = false;
	return -1;
}

static int redis_rows_next(struct store *base, struct store_row *r)
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

static void redis_rows_end(struct store *base)
{
	struct redis_store *s = (struct redis_store *)base;

	rows_clear(&s->rows);
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
		return link_fail(s, "restoring");
	return 0;
}

/* restore_send - append the command in s->cmd to the restore pipeline. */
static int restore_send(struct redis_store *s)
{
	const char **argv = argv_finish(&s->cmd);

	if (!redis_link_append(s->link, (int)s->cmd.n, argv, s->cmd.len))
		return link_fail(s, "restoring");
	if (++s->restore_pending >= REDIS_RESTORE_BATCH)
		return restore_drain(s);
	return 0;
}

static int redis_row_put(struct store *base, enum store_table t, const struct store_row *r)
{
	struct redis_store *s = (struct redis_store *)base;
	char k[REDIS_KEY_MAX], k2[REDIS_KEY_MAX], v[48];
	unsigned char f[8], tv[TOKEN_VALUE_LEN];

	if (!s->in_txn)
		return fail(s, BAYES_ERR_DB, "%s: restore outside a transaction", s->name);
	s->restoring = true;
	argv_buf_reset(&s->cmd);
	switch (t) {
	case STORE_META:
		argv_str(&s->cmd, "HSET");
		argv_str(&s->cmd, key(s, k, "meta"));
		argv_str(&s->cmd, r->name);
		argv_str(&s->cmd, r->value);
		break;
	case STORE_USERS:
		/* both directions at once: one HSET each, in one round trip */
		argv_str(&s->cmd, "HSET");
		argv_str(&s->cmd, key(s, k, "users"));
		argv_str(&s->cmd, r->name);
		argv_int(&s->cmd, r->user);
		if (restore_send(s) < 0)
			return -1;
		argv_buf_reset(&s->cmd);
		argv_str(&s->cmd, "HSET");
		argv_str(&s->cmd, key(s, k2, "names"));
		argv_int(&s->cmd, r->user);
		argv_str(&s->cmd, r->name);
		if (r->user > s->restore_max_user)
			s->restore_max_user = r->user;
		break;
	case STORE_TOTALS:
		argv_str(&s->cmd, "HSET");
		argv_str(&s->cmd, user_key(s, k, 'n', r->user));
		argv_str(&s->cmd, "spam");
		argv_int(&s->cmd, (long long)r->spam);
		argv_str(&s->cmd, "ham");
		argv_int(&s->cmd, (long long)r->ham);
		break;
	case STORE_TOKENS:
		put_be64(f, r->hash);
		put_le32(tv, (uint32_t)r->spam);
		put_le32(tv + 4, (uint32_t)r->ham);
		put_le32(tv + 8, (uint32_t)r->seen);
		argv_str(&s->cmd, "HSET");
		argv_str(&s->cmd, user_key(s, k, 't', r->user));
		argv_add(&s->cmd, f, 8);
		argv_add(&s->cmd, tv, sizeof(tv));
		break;
	case STORE_LEARNED:
		argv_str(&s->cmd, "HSET");
		argv_str(&s->cmd, user_key(s, k, 'l', r->user));
		argv_add(&s->cmd, r->digest, 16);
		argv_add(&s->cmd, v, (size_t)snprintf(v, sizeof(v), "%d:%lld", r->cls, (long long)r->at));
		break;
	default:
		return fail(s, BAYES_ERR_INPUT, "%s: restoring: unknown table", s->name);
	}
	return restore_send(s);
}

/* restore_finish - the restored users' ids are taken: new users get the next ones. */
static int restore_finish(struct redis_store *s)
{
	char k[REDIS_KEY_MAX], vk[REDIS_KEY_MAX];

	if (restore_drain(s) < 0)
		return -1;
	argv_buf_reset(&s->cmd);
	argv_str(&s->cmd, "SET");
	argv_str(&s->cmd, key(s, k, "nextuser"));
	argv_int(&s->cmd, s->restore_max_user);
	if (command_ok(s, "restoring") < 0)
		return -1;
	argv_buf_reset(&s->cmd);
	argv_str(&s->cmd, "INCR");
	argv_str(&s->cmd, key(s, vk, "version"));
	return command_ok(s, "restoring");
}

/* restore_undo - delete what a failed restore wrote (the statistics were empty). */
static void restore_undo(struct redis_store *s)
{
	int64_t *ids = NULL;
	size_t n = 0;
	char k[REDIS_KEY_MAX];
	static const char *const kinds = "tln";

	restore_drain(s);
	if (list_users(s, &ids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		for (const char *c = kinds; *c; c++) {
			argv_buf_reset(&s->cmd);
			argv_str(&s->cmd, "DEL");
			argv_str(&s->cmd, user_key(s, k, *c, ids[i]));
			command_ok(s, "undoing a restore");
		}
	free(ids);
	static const char *const whole[] = { "users", "names", "nextuser" };
	for (size_t i = 0; i < ARRAY_SIZE(whole); i++) {
		argv_buf_reset(&s->cmd);
		argv_str(&s->cmd, "DEL");
		argv_str(&s->cmd, key(s, k, whole[i]));
		command_ok(s, "undoing a restore");
	}
	/* the global totals exist from creation on */
	argv_buf_reset(&s->cmd);
	argv_str(&s->cmd, "HSET");
	argv_str(&s->cmd, user_key(s, k, 'n', 0));
	argv_str(&s->cmd, "spam");
	argv_str(&s->cmd, "0");
	argv_str(&s->cmd, "ham");
	argv_str(&s->cmd, "0");
	command_ok(s, "undoing a restore");
}

static int redis_is_empty(struct store *base)
{
	struct redis_store *s = (struct redis_store *)base;
	char names[REDIS_KEY_MAX], tk[REDIS_KEY_MAX], lk[REDIS_KEY_MAX], nk[REDIS_KEY_MAX];
	const char *a0[] = { "HLEN", key(s, names, "names") };
	const char *a1[] = { "HLEN", user_key(s, tk, 't', 0) };
	const char *a2[] = { "HLEN", user_key(s, lk, 'l', 0) };
	const char *a3[] = { "HMGET", user_key(s, nk, 'n', 0), "spam", "ham" };
	const char *const *av[] = { a0, a1, a2, a3 };
	int ac[] = { 2, 2, 2, 4 };
	redisReply *r[4];
	uint64_t sp = 0, hm = 0;

	if (ready(s) < 0)
		return -1;
	if (!redis_link_pipeline(s->link, 4, ac, av, NULL, r))
		return link_fail(s, "checking for statistics");
	uint64_t full = reply_count(r[0]) + reply_count(r[1]) + reply_count(r[2]);
	for (int i = 0; i < 3; i++)
		freeReplyObject(r[i]);
	if (totals_of(s, r[3], &sp, &hm) < 0)
		return -1;
	return full + sp + hm == 0;
}

/*
 * Expiry: the same rules as SQLite (store_expire_row), as a scan in
 * bounded steps. The cursor is (user, HSCAN cursor of that user's token
 * hash). Condemned rows are deleted by a script only if they still hold
 * the value the scan saw: a token a learn touched meanwhile stays.
 */

/* delete_if - delete the field/value pairs of args from hash k that are unchanged; count or -1. */
static long delete_if(struct redis_store *s, const char *k, const struct argv_buf *args)
{
	char vk[REDIS_KEY_MAX];
	const char *keys[] = { k, key(s, vk, "version") };
	long long n;
	redisReply *r;

	if (args->n == 0)
		return 0;
	if ((r = script(s, REDIS_SCRIPT_DELETE_IF, 2, keys, args, "expiring")) == NULL)
		return -1;
	if (!reply_int(r, &n))
		return reply_fail(s, r, "expiring");
	freeReplyObject(r);
	return (long)n;
}

static long redis_expire_tokens(struct store *base, struct bayes_expire_state *e, size_t limit)
{
	struct redis_store *s = (struct redis_store *)base;
	struct argv_buf doomed = { 0 };
	int64_t *ids = NULL;
	size_t nids = 0, ui = 0;
	long examined = 0;
	char k[REDIS_KEY_MAX];

	if (ready(s) < 0 || list_users(s, &ids, &nids) < 0)
		return -1;
	if (e->cur_user < 0) {
		e->cur_user = 0;
		e->cur_hash = 0;
	}
	while (ui < nids && ids[ui] < e->cur_user)
		ui++;
	while (ui < nids && (size_t)examined < limit) {
		uint64_t ns, nh;
		int64_t user = ids[ui];

		if (user != e->cur_user) {
			/* the user the cursor pointed to is gone: start the next one */
			e->cur_user = user;
			e->cur_hash = 0;
		}
		if (redis_totals(base, user, &ns, &nh) < 0)
			goto failed;
		user_key(s, k, 't', user);
		do {
			redisReply *r, *items;
			size_t want = limit - (size_t)examined;
			if (hscan(s, k, &e->cur_hash, want < REDIS_SCAN_COUNT ? (unsigned)want : REDIS_SCAN_COUNT,
				  &r, &items) < 0)
				goto failed;
			argv_buf_reset(&doomed);
			for (size_t i = 0; i < items->elements; i += 2) {
				const redisReply *f = items->element[i], *v = items->element[i + 1];
				uint32_t sp, hm, seen;
				uint64_t *counter;
				examined++;
				if (!token_decode(v->str, (size_t)v->len, &sp, &hm, &seen))
					continue;
				if ((counter = store_expire_row(e, sp, hm, seen, ns, nh)) != NULL) {
					(*counter)++;
					argv_add(&doomed, f->str, (size_t)f->len);
					argv_add(&doomed, v->str, (size_t)v->len);
				}
			}
			freeReplyObject(r);
			if (delete_if(s, k, &doomed) < 0)
				goto failed;
		} while (e->cur_hash != 0 && (size_t)examined < limit);
		if (e->cur_hash == 0) {
			/* this user is done: the next one from its beginning */
			ui++;
			e->cur_user = ui < nids ? ids[ui] : INT64_MAX;
		}
	}
	if (ui == nids && (size_t)examined >= limit)
		examined = (long)limit - 1;	/* done: say so, even when it came out even */
	free(ids);
	argv_buf_free(&doomed);
	return examined;

failed:
	free(ids);
	argv_buf_free(&doomed);
	return -1;
}

static long redis_expire_learned(struct store *base, int64_t before, size_t limit)
{
	struct redis_store *s = (struct redis_store *)base;
	struct argv_buf doomed = { 0 };
	int64_t *ids = NULL;
	size_t nids = 0;
	long deleted = 0;
	char k[REDIS_KEY_MAX];

	if (ready(s) < 0 || list_users(s, &ids, &nids) < 0)
		return -1;
	for (size_t ui = 0; ui < nids && (size_t)deleted < limit; ui++) {
		uint64_t cursor = 0;
		user_key(s, k, 'l', ids[ui]);
		do {
			redisReply *r, *items;
			if (hscan(s, k, &cursor, REDIS_SCAN_COUNT, &r, &items) < 0)
				goto failed;
			argv_buf_reset(&doomed);
			for (size_t i = 0; i < items->elements && (size_t)deleted + doomed.n / 2 < limit; i += 2) {
				const redisReply *f = items->element[i], *v = items->element[i + 1];
				const char *colon = memchr(v->str, ':', (size_t)v->len);
				if (colon && strtoll(colon + 1, NULL, 10) < before) {
					argv_add(&doomed, f->str, (size_t)f->len);
					argv_add(&doomed, v->str, (size_t)v->len);
				}
			}
			freeReplyObject(r);
			long n = delete_if(s, k, &doomed);
			if (n < 0)
				goto failed;
			deleted += n;
		} while (cursor != 0 && (size_t)deleted < limit);
	}
	free(ids);
	argv_buf_free(&doomed);
	return deleted;

failed:
	free(ids);
	argv_buf_free(&doomed);
	return -1;
}

static const struct store_ops redis_ops = {
	.name = "redis",
	.close = redis_close,
	.user_id = redis_user_id,
	.totals = redis_totals,
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
