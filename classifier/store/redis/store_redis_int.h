/*
 * store_redis_int.h - what the files of the Redis backend share: the
 * handle, the argument buffer, key and value encodings, and the command
 * helpers (store_redis.c). store_redis_rows.c lists and restores whole
 * tables, store_redis_expire.c expires. Nothing outside these files
 * includes it.
 *
 * Rooms: may use store/, util.h and types.h only.
 */
#ifndef BAYES_STORE_REDIS_INT_H
#define BAYES_STORE_REDIS_INT_H

#include "store/store_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/redis/redis_link.h"
#include "store/redis/store_redis_lua.h"
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

/* Helpers, in store_redis.c (each described there). */
void rstore_argv_buf_reset(struct argv_buf *b);
void rstore_argv_buf_free(struct argv_buf *b);
void rstore_argv_add(struct argv_buf *b, const void *p, size_t len);
void rstore_argv_str(struct argv_buf *b, const char *s);
void rstore_argv_int(struct argv_buf *b, long long v);
const char **rstore_argv_finish(struct argv_buf *b);
const char *rstore_key(const struct redis_store *s, char *out, const char *suffix);
const char *rstore_user_key(const struct redis_store *s, char *out, char kind, int64_t user);
void rstore_put_be64(unsigned char *p, uint64_t v);
uint64_t rstore_get_be64(const unsigned char *p);
uint32_t rstore_get_le32(const unsigned char *p);
void rstore_put_le32(unsigned char *p, uint32_t v);
bool rstore_token_decode(const char *v, size_t len, uint32_t *spam, uint32_t *ham, uint32_t *seen);
bool rstore_reply_int(const redisReply *r, long long *v);
uint64_t rstore_reply_count(const redisReply *r);
int rstore_fail(struct redis_store *s, enum bayes_errkind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int rstore_link_fail(struct redis_store *s, const char *what);
int rstore_reply_fail(struct redis_store *s, redisReply *r, const char *what);
redisReply *rstore_command(struct redis_store *s, const char *what);
int rstore_command_ok(struct redis_store *s, const char *what);
redisReply *rstore_script(struct redis_store *s, enum redis_script id, int nkeys, const char *const *keys,
			  const struct argv_buf *args, const char *what);
int rstore_ready(struct redis_store *s);
void rstore_add_totals_command(struct redis_store *s, struct argv_buf *b, int64_t user);
int rstore_totals_of(struct redis_store *s, redisReply *r, uint64_t *spam_r, uint64_t *ham_r);
int rstore_totals(struct store *base, int64_t user, uint64_t *spam_r, uint64_t *ham_r);
int rstore_cmp_i64(const void *a, const void *b);
int rstore_list_users(struct redis_store *s, int64_t **ids_r, size_t *n_r);
int rstore_hscan(struct redis_store *s, const char *k, uint64_t *cursor, unsigned count,
		 redisReply **reply_r, redisReply **items_r);

/* Whole tables and restore, in store_redis_rows.c. */
void rstore_rows_clear(struct redis_rows *rw);
int rstore_restore_finish(struct redis_store *s);
void rstore_restore_undo(struct redis_store *s);
int redis_rows_begin(struct store *base, enum store_table t);
int redis_rows_next(struct store *base, struct store_row *r);
void redis_rows_end(struct store *base);
int redis_row_put(struct store *base, enum store_table t, const struct store_row *r);
int redis_is_empty(struct store *base);

/* Expiry, in store_redis_expire.c. */
long redis_expire_tokens(struct store *base, struct bayes_expire_state *e, size_t limit);
long redis_expire_learned(struct store *base, int64_t before, size_t limit);

#endif
