/*
 * store.c - the statistics store's dispatcher: every call of store.h goes
 * to the backend the store was opened with (store_backend.h). Also the
 * expiry rules both backends apply.
 */
#include "store/store_backend.h"

#include <math.h>
#include <stdio.h>

struct store *store_open(const char *path, unsigned flags, const char *tok_params,
			 const struct store_options *opt, char *err, size_t errlen,
			 enum bayes_errkind *kind_r)
{
	switch (opt->backend) {
	case BAYES_BACKEND_SQLITE:
		return store_sqlite_open(path, flags, tok_params, opt, err, errlen, kind_r);
	case BAYES_BACKEND_REDIS:
		return store_redis_open(path, flags, tok_params, opt, err, errlen, kind_r);
	}
	snprintf(err, errlen, "unknown statistics backend %d", (int)opt->backend);
	if (kind_r)
		*kind_r = BAYES_ERR_INPUT;
	return NULL;
}

void store_close(struct store **sp)
{
	if (*sp == NULL)
		return;
	(*sp)->ops->close(*sp);
	*sp = NULL;
}

const char *store_errmsg(const struct store *s)
{
	return s->errmsg;
}

enum bayes_errkind store_errkind(const struct store *s)
{
	return s->errkind;
}

int store_user_id(struct store *s, const char *name, bool create, int64_t *id_r)
{
	return s->ops->user_id(s, name, create, id_r);
}

int store_totals(struct store *s, int64_t user, uint64_t *spam_r, uint64_t *ham_r)
{
	return s->ops->totals(s, user, spam_r, ham_r);
}

long store_lookup(struct store *s, int64_t user, const uint64_t *hash, size_t n,
		  struct store_counts *out)
{
	return s->ops->lookup(s, user, hash, n, out);
}

long store_lookup_message(struct store *s, int64_t user, const uint64_t *hash, size_t n,
			  struct store_counts *out, uint64_t *spam_r, uint64_t *ham_r)
{
	if (s->ops->lookup_message)
		return s->ops->lookup_message(s, user, hash, n, out, spam_r, ham_r);
	if (s->ops->totals(s, user, spam_r, ham_r) < 0)
		return -1;
	return s->ops->lookup(s, user, hash, n, out);
}

int store_read_begin(struct store *s)
{
	return s->ops->read_begin(s);
}

void store_read_end(struct store *s)
{
	s->ops->read_end(s);
}

int store_data_version(struct store *s, int64_t *v_r)
{
	return s->ops->data_version(s, v_r);
}

int store_begin(struct store *s)
{
	return s->ops->begin(s);
}

int store_commit(struct store *s)
{
	return s->ops->commit(s);
}

void store_rollback(struct store *s)
{
	s->ops->rollback(s);
}

int store_add(struct store *s, int64_t user, const uint64_t *hash, size_t n,
	      int dspam, int dham, int dmsg_spam, int dmsg_ham)
{
	return s->ops->add(s, user, hash, n, dspam, dham, dmsg_spam, dmsg_ham);
}

int store_learned_get(struct store *s, int64_t user, const uint8_t digest[16], int *cls_r)
{
	return s->ops->learned_get(s, user, digest, cls_r);
}

int store_learned_put(struct store *s, int64_t user, const uint8_t digest[16], int cls)
{
	return s->ops->learned_put(s, user, digest, cls);
}

int store_learned_del(struct store *s, int64_t user, const uint8_t digest[16])
{
	return s->ops->learned_del(s, user, digest);
}

int store_stats(struct store *s, int64_t user, struct bayes_stats *st)
{
	return s->ops->stats(s, user, st);
}

int store_meta_get(struct store *s, const char *key, char *out, size_t outlen)
{
	return s->ops->meta_get(s, key, out, outlen);
}

int store_meta_put(struct store *s, const char *key, const char *value)
{
	return s->ops->meta_put(s, key, value);
}

int store_rows_begin(struct store *s, enum store_table t)
{
	return s->ops->rows_begin(s, t);
}

int store_rows_next(struct store *s, struct store_row *r)
{
	return s->ops->rows_next(s, r);
}

void store_rows_end(struct store *s)
{
	s->ops->rows_end(s);
}

int store_row_put(struct store *s, enum store_table t, const struct store_row *r)
{
	return s->ops->row_put(s, t, r);
}

int store_is_empty(struct store *s)
{
	return s->ops->is_empty(s);
}

long store_expire_tokens(struct store *s, struct bayes_expire_state *st, size_t limit)
{
	return s->ops->expire_tokens(s, st, limit);
}

long store_expire_learned(struct store *s, int64_t before, size_t limit)
{
	return s->ops->expire_learned(s, before, limit);
}

/* expire_neutral - is a rare token's evidence neutral, given its user's totals? */
static bool expire_neutral(uint64_t spam, uint64_t ham, uint64_t nspam, uint64_t nham)
{
	double fs = (double)spam / (double)(nspam ? nspam : 1);
	double fh = (double)ham / (double)(nham ? nham : 1);

	if (fs + fh <= 0.0)
		return true;
	return fabs(fs / (fs + fh) - 0.5) < BAYES_EXPIRE_NEUTRAL;
}

/* expire_older - was day seen more than days ago at now? (days 0: rule off) */
static bool expire_older(int64_t seen, unsigned days, int64_t now)
{
	return days > 0 && now / 86400 - seen > (int64_t)days;
}

/* store_expire_row - which rule, if any, condemns this row (see store_backend.h). */
uint64_t *store_expire_row(struct bayes_expire_state *e, uint64_t spam, uint64_t ham, int64_t seen,
			   uint64_t user_spam, uint64_t user_ham)
{
	if (spam + ham == 1 && expire_older(seen, e->rules.hapax_days, e->now))
		return &e->hapaxes;
	if (spam + ham < BAYES_EXPIRE_RARE && expire_older(seen, e->rules.neutral_days, e->now) &&
	    expire_neutral(spam, ham, user_spam, user_ham))
		return &e->neutral;
	if (expire_older(seen, e->rules.any_days, e->now))
		return &e->stale;
	return NULL;
}
