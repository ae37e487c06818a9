/*
 * store_backend.h - what a statistics backend provides to store.c.
 *
 * store.c is a thin dispatcher: every store_* call of store.h goes
 * through the struct store_ops of the backend the store was opened with
 * (store_sqlite.c, store_redis.c). A backend's own handle begins with a
 * struct store, so the dispatcher can read the error fields without
 * knowing the backend, and the backend casts the pointer it is given back
 * to its own type.
 *
 * Only store.c and the backends include this file; bayes.c and dump.c
 * see store.h alone, so scoring and learning never know which backend
 * is in use.
 *
 * Rooms: may use store/ and util.h, types.h only.
 */
#ifndef BAYES_STORE_BACKEND_H
#define BAYES_STORE_BACKEND_H

#include "store/store.h"

struct store_ops {
	const char *name;	/* "sqlite", "redis" */
	void (*close)(struct store *s);
	int (*user_id)(struct store *s, const char *name, bool create, int64_t *id_r);
	int (*totals)(struct store *s, int64_t user, uint64_t *spam_r, uint64_t *ham_r);
	long (*lookup)(struct store *s, int64_t user, const uint64_t *hash, size_t n,
		       struct store_counts *out);
	/* optional: totals and lookup at once (NULL: the dispatcher calls both) */
	long (*lookup_message)(struct store *s, int64_t user, const uint64_t *hash, size_t n,
			       struct store_counts *out, uint64_t *spam_r, uint64_t *ham_r);
	int (*read_begin)(struct store *s);
	void (*read_end)(struct store *s);
	int (*data_version)(struct store *s, int64_t *v_r);
	int (*begin)(struct store *s);
	int (*commit)(struct store *s);
	void (*rollback)(struct store *s);
	int (*add)(struct store *s, int64_t user, const uint64_t *hash, size_t n,
		   int dspam, int dham, int dmsg_spam, int dmsg_ham);
	int (*learned_get)(struct store *s, int64_t user, const uint8_t digest[16], int *cls_r);
	int (*learned_put)(struct store *s, int64_t user, const uint8_t digest[16], int cls);
	int (*learned_del)(struct store *s, int64_t user, const uint8_t digest[16]);
	int (*stats)(struct store *s, int64_t user, struct bayes_stats *st);
	int (*meta_get)(struct store *s, const char *key, char *out, size_t outlen);
	int (*meta_put)(struct store *s, const char *key, const char *value);
	int (*rows_begin)(struct store *s, enum store_table t);
	int (*rows_next)(struct store *s, struct store_row *r);
	void (*rows_end)(struct store *s);
	int (*row_put)(struct store *s, enum store_table t, const struct store_row *r);
	int (*is_empty)(struct store *s);
	long (*expire_tokens)(struct store *s, struct bayes_expire_state *st, size_t limit);
	long (*expire_learned)(struct store *s, int64_t before, size_t limit);
};

/* The generic head of every backend's handle. */
struct store {
	const struct store_ops *ops;
	enum bayes_errkind errkind;
	char errmsg[1024];
};

/* The backends' constructors: the arguments of store_open(). */
struct store *store_sqlite_open(const char *path, unsigned flags, const char *tok_params,
				const struct store_options *opt, char *err, size_t errlen,
				enum bayes_errkind *kind_r);
struct store *store_redis_open(const char *path, unsigned flags, const char *tok_params,
			       const struct store_options *opt, char *err, size_t errlen,
			       enum bayes_errkind *kind_r);

/*
 * store_expire_row - the expiry rules of types.h applied to one token row
 * of a user whose message totals are user_spam and user_ham: the counter
 * of e the row is condemned under (hapaxes, neutral, stale), or NULL when
 * it stays. Shared by the backends so both condemn exactly the same rows.
 */
uint64_t *store_expire_row(struct bayes_expire_state *e, uint64_t spam, uint64_t ham, int64_t seen,
			   uint64_t user_spam, uint64_t user_ham);

#endif
