/*
 * store_redis_expire.c - expiry on the Redis backend: the same rules as
 * SQLite (store_expire_row), in bounded steps. See store_redis.c.
 */
#include "store/redis/store_redis_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * The same rules as SQLite (store_expire_row), as a scan in
 * bounded steps. The cursor is (user, HSCAN cursor of that user's token
 * hash). Condemned rows are deleted by a script only if they still hold
 * the value the scan saw: a token a learn touched meanwhile stays.
 */

/* delete_if - delete the field/value pairs of args from hash k that are unchanged; count or -1. */
static long delete_if(struct redis_store *s, const char *k, const struct argv_buf *args)
{
	char vk[REDIS_KEY_MAX];
	const char *keys[] = { k, rstore_key(s, vk, "version") };
	long long n;
	redisReply *r;

	if (args->n == 0)
		return 0;
	if ((r = rstore_script(s, REDIS_SCRIPT_DELETE_IF, 2, keys, args, "expiring")) == NULL)
		return -1;
	if (!rstore_reply_int(r, &n))
		return rstore_reply_fail(s, r, "expiring");
	freeReplyObject(r);
	return (long)n;
}

long redis_expire_tokens(struct store *base, struct bayes_expire_state *e, size_t limit)
{
	struct redis_store *s = (struct redis_store *)base;
	struct argv_buf doomed = { 0 };
	int64_t *ids = NULL;
	size_t nids = 0, ui = 0;
	long examined = 0;
	char k[REDIS_KEY_MAX];

	if (rstore_ready(s) < 0 || rstore_list_users(s, &ids, &nids) < 0)
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
		if (rstore_totals(base, user, &ns, &nh) < 0)
			goto failed;
		rstore_user_key(s, k, 't', user);
		do {
			redisReply *r, *items;
			size_t want = limit - (size_t)examined;
			if (rstore_hscan(s, k, &e->cur_hash, want < REDIS_SCAN_COUNT ? (unsigned)want : REDIS_SCAN_COUNT,
				  &r, &items) < 0)
				goto failed;
			rstore_argv_buf_reset(&doomed);
			for (size_t i = 0; i < items->elements; i += 2) {
				const redisReply *f = items->element[i], *v = items->element[i + 1];
				uint32_t sp, hm, seen;
				uint64_t *counter;
				examined++;
				if (!rstore_token_decode(v->str, (size_t)v->len, &sp, &hm, &seen))
					continue;
				if ((counter = store_expire_row(e, sp, hm, seen, ns, nh)) != NULL) {
					(*counter)++;
					rstore_argv_add(&doomed, f->str, (size_t)f->len);
					rstore_argv_add(&doomed, v->str, (size_t)v->len);
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
	rstore_argv_buf_free(&doomed);
	return examined;

failed:
	free(ids);
	rstore_argv_buf_free(&doomed);
	return -1;
}

long redis_expire_learned(struct store *base, int64_t before, size_t limit)
{
	struct redis_store *s = (struct redis_store *)base;
	struct argv_buf doomed = { 0 };
	int64_t *ids = NULL;
	size_t nids = 0;
	long deleted = 0;
	char k[REDIS_KEY_MAX];

	if (rstore_ready(s) < 0 || rstore_list_users(s, &ids, &nids) < 0)
		return -1;
	for (size_t ui = 0; ui < nids && (size_t)deleted < limit; ui++) {
		uint64_t cursor = 0;
		rstore_user_key(s, k, 'l', ids[ui]);
		do {
			redisReply *r, *items;
			if (rstore_hscan(s, k, &cursor, REDIS_SCAN_COUNT, &r, &items) < 0)
				goto failed;
			rstore_argv_buf_reset(&doomed);
			for (size_t i = 0; i < items->elements && (size_t)deleted + doomed.n / 2 < limit; i += 2) {
				const redisReply *f = items->element[i], *v = items->element[i + 1];
				const char *colon = memchr(v->str, ':', (size_t)v->len);
				if (colon && strtoll(colon + 1, NULL, 10) < before) {
					rstore_argv_add(&doomed, f->str, (size_t)f->len);
					rstore_argv_add(&doomed, v->str, (size_t)v->len);
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
	rstore_argv_buf_free(&doomed);
	return deleted;

failed:
	free(ids);
	rstore_argv_buf_free(&doomed);
	return -1;
}

