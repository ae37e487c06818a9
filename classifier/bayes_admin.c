/*
 * bayes_admin.c - the engine's administration: statistics of the
 * database and of each user, expiry by age in short transactions, and
 * dump and restore as text. See bayes.h; the handle is in
 * bayes_internal.h.
 */
#include "bayes_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/dump.h"
#include "tokens/count_cache.h"
#include "util.h"

int bayes_stats(struct bayes *b, const char *user, struct bayes_stats *st)
{
	int64_t uid = 0;
	static __thread char params[512];
	struct buf pb = { 0 };

	memset(st, 0, sizeof(*st));
	b->errkind = BAYES_ERR_NONE;
	if (eng_file_moved(b) < 0)
		return -1;
	int rc = store_user_id(b->store, user, false, &uid);
	if (rc < 0)
		return eng_store_err(b);
	if (rc == 0)
		uid = -1;	/* unknown user: all zero */
	if (store_stats(b->store, uid, st) < 0)
		return eng_store_err(b);
	tok_params_string(&b->opt.tok, &pb);
	snprintf(params, sizeof(params), "%s", pb.data ? pb.data : "");
	buf_free(&pb);
	st->tok_params = params;
	return 0;
}

/* by_user_name - qsort order of bayes_users() */
static int by_user_name(const void *a, const void *b)
{
	return strcmp(((const struct bayes_user_stats *)a)->name, ((const struct bayes_user_stats *)b)->name);
}

/*
 * bayes_users - the users table first (ids and names), then each user's
 * figures, all in one read transaction so the list is one snapshot.
 */
int bayes_users(struct bayes *b, struct bayes_user_stats **users_r, size_t *n_r)
{
	struct bayes_user_stats *u = NULL;
	int64_t *ids = NULL;
	struct store_row row;
	size_t n = 0, cap = 0;
	int rc;

	*users_r = NULL;
	*n_r = 0;
	b->errkind = BAYES_ERR_NONE;
	if (store_read_begin(b->store) < 0)
		return eng_store_err(b);
	store_rows_begin(b->store, STORE_USERS);
	while ((rc = store_rows_next(b->store, &row)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			u = xrealloc(u, cap * sizeof(*u));
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		memset(&u[n], 0, sizeof(u[n]));
		u[n].name = xstrdup(row.name ? row.name : "");
		ids[n++] = row.user;
	}
	store_rows_end(b->store);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct bayes_stats st;

		if (store_stats(b->store, ids[i], &st) < 0) {
			rc = -1;
			break;
		}
		u[i].learned_spam = st.learned_spam;
		u[i].learned_ham = st.learned_ham;
		u[i].tokens = st.tokens;
		u[i].remembered = st.remembered;
	}
	store_read_end(b->store);
	free(ids);
	if (rc < 0) {
		rc = eng_store_err(b);
		bayes_users_free(&u, n);
		return rc;
	}
	if (n > 1)
		qsort(u, n, sizeof(*u), by_user_name);
	*users_r = u;
	*n_r = n;
	return 0;
}

/* bayes_users_free - free the names and the array */
void bayes_users_free(struct bayes_user_stats **users, size_t n)
{
	if (*users == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*users)[i].name);
	free(*users);
	*users = NULL;
}

/* bayes_expire_rules_default - the documented BAYES_EXPIRE_* rules. */
void bayes_expire_rules_default(struct bayes_expire_rules *r)
{
	r->hapax_days = BAYES_EXPIRE_HAPAX_DAYS;
	r->neutral_days = BAYES_EXPIRE_NEUTRAL_DAYS;
	r->any_days = BAYES_EXPIRE_ANY_DAYS;
	r->learned_days = BAYES_EXPIRE_LEARNED_DAYS;
	r->batch_rows = BAYES_EXPIRE_BATCH;
}

/* The phases of an expiry run. */
enum {
	EXPIRE_TOKENS,
	EXPIRE_LEARNED,
	EXPIRE_RECORD,
	EXPIRE_DONE,
};

/* bayes_expire_begin - a fresh run at now. */
void bayes_expire_begin(struct bayes_expire_state *st, const struct bayes_expire_rules *r, int64_t now)
{
	memset(st, 0, sizeof(*st));
	if (r)
		st->rules = *r;
	else
		bayes_expire_rules_default(&st->rules);
	if (st->rules.batch_rows == 0)
		st->rules.batch_rows = BAYES_EXPIRE_BATCH;
	st->now = now;
	st->phase = EXPIRE_TOKENS;
	st->cur_user = -1;	/* before every user id: the scan starts at the beginning */
	st->cur_hash = 0;
}

/* bayes_expire_step - one transaction of the run. */
int bayes_expire_step(struct bayes *b, struct bayes_expire_state *st)
{
	size_t limit = st->rules.batch_rows;
	long n = 0;

	b->errkind = BAYES_ERR_NONE;
	if (st->phase == EXPIRE_DONE)
		return 0;
	if (eng_file_moved(b) < 0)
		return -1;
	/* the cache does not follow deletions: drop it before they are visible */
	if (b->cache_owner)
		count_cache_invalidate(b->opt.cache);
	if (store_begin(b->store) < 0)
		return eng_store_err(b);
	switch (st->phase) {
	case EXPIRE_TOKENS:
		/* a failed step leaves the cursor past rows it did not delete: rescan next run */
		n = store_expire_tokens(b->store, st, limit);
		break;
	case EXPIRE_LEARNED:
		n = st->rules.learned_days == 0 ? 0 :
			store_expire_learned(b->store, st->now - (int64_t)st->rules.learned_days * 86400, limit);
		if (n > 0)
			st->learned += (uint64_t)n;
		break;
	case EXPIRE_RECORD: {
		char v[32];
		snprintf(v, sizeof(v), "%lld", (long long)st->now);
		n = store_meta_put(b->store, "last_expire", v);
		break;
	}
	}
	if (n < 0)
		goto failed;
	if (store_commit(b->store) < 0)
		return eng_store_err(b);
	if (st->phase == EXPIRE_RECORD || (size_t)n < limit)
		st->phase++;
	return st->phase == EXPIRE_DONE ? 0 : 1;

failed:
	eng_store_err(b);
	store_rollback(b->store);
	return -1;
}

/* bayes_expire - a whole run. */
int bayes_expire(struct bayes *b, const struct bayes_expire_rules *r, int64_t now,
		 struct bayes_expire_state *st_r)
{
	struct bayes_expire_state st;
	int rc;

	bayes_expire_begin(&st, r, now);
	while ((rc = bayes_expire_step(b, &st)) > 0)
		;
	if (st_r)
		*st_r = st;
	return rc;
}

/* tok_string - this handle's canonical tokenizer string into out. */
static void tok_string(const struct bayes *b, char *out, size_t outlen)
{
	struct buf pb = { 0 };

	tok_params_string(&b->opt.tok, &pb);
	snprintf(out, outlen, "%s", pb.data ? pb.data : "");
	buf_free(&pb);
}

/* bayes_dump - the statistics as text, from one snapshot. */
int bayes_dump(struct bayes *b, FILE *out)
{
	char params[512], err[600];
	int rc;

	b->errkind = BAYES_ERR_NONE;
	tok_string(b, params, sizeof(params));
	if (eng_read_begin(b) < 0)
		return eng_store_err(b);
	rc = dump_write(b->store, params, out, err, sizeof(err));
	eng_read_end(b);
	if (rc < 0)
		return eng_set_err(b, BAYES_ERR_DB, err);
	return 0;
}

/* bayes_restore - a dump into an empty database, in one transaction. */
int bayes_restore(struct bayes *b, FILE *in)
{
	enum bayes_errkind kind = BAYES_ERR_NONE;
	char params[512], err[600];
	int empty;

	b->errkind = BAYES_ERR_NONE;
	tok_string(b, params, sizeof(params));
	if (b->cache_owner)
		count_cache_invalidate(b->opt.cache);
	if (store_begin(b->store) < 0)
		return eng_store_err(b);
	if ((empty = store_is_empty(b->store)) < 0) {
		eng_store_err(b);
		store_rollback(b->store);
		return -1;
	}
	if (!empty) {
		store_rollback(b->store);
		return eng_set_err(b, BAYES_ERR_INPUT,
			       "the database is not empty: restore only into a new database");
	}
	if (dump_read(b->store, params, in, err, sizeof(err), &kind) < 0) {
		store_rollback(b->store);
		return eng_set_err(b, kind ? kind : BAYES_ERR_DB, err);
	}
	if (store_commit(b->store) < 0)
		return eng_store_err(b);
	return 0;
}
