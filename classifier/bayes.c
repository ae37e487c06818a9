/*
 * bayes.c - the engine's handle: options, open and close, errors, and the
 * checks every entry point makes first (the path still names the file
 * opened; a read snapshot). The entry points live in bayes_check.c (check),
 * bayes_learn.c (learn, train, forget, the shared cache) and
 * bayes_admin.c (statistics, users, expiry, dump and restore); the handle
 * itself in bayes_internal.h. See bayes.h.
 */
#include "bayes_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/batch_deltas.h"
#include "tokens/count_cache.h"
#include "util.h"

void bayes_options_default(struct bayes_options *o)
{
	memset(o, 0, sizeof(*o));
	tok_params_default(&o->tok);
	mime_limits_default(&o->lim);
	o->spam_threshold = BAYES_DEFAULT_SPAM_THRESHOLD;
	o->train_mode = BAYES_TRAIN_ERROR;
	o->robs = o->min_dev = o->mean_scale = -1.0;
	o->keep_text = false;
	o->sync_full = false;
	o->busy_timeout_ms = 5000;
	o->learn_global_too = true;
	o->user_mature_msgs = BAYES_USER_MATURE_MSGS;
	o->backend = BAYES_BACKEND_SQLITE;
	snprintf(o->redis.servers, sizeof(o->redis.servers), "%s", BAYES_REDIS_DEFAULT_SERVERS);
	snprintf(o->redis.prefix, sizeof(o->redis.prefix), "%s", BAYES_REDIS_DEFAULT_PREFIX);
	o->redis.connect_timeout_ms = BAYES_REDIS_DEFAULT_TIMEOUT_MS;
	o->redis.command_timeout_ms = BAYES_REDIS_DEFAULT_TIMEOUT_MS;
}

const char *bayes_outcome_name(enum bayes_learn_outcome o)
{
	switch (o) {
	case BAYES_LEARNED: return "learned";
	case BAYES_ALREADY: return "already learned";
	case BAYES_RELEARNED: return "relearned";
	case BAYES_FORGOTTEN: return "forgotten";
	case BAYES_NOT_LEARNED: return "not learned";
	case BAYES_SKIPPED: return "skipped";
	case BAYES_KEPT_MANUAL: return "kept manual learn";
	}
	return "?";
}

int eng_set_err(struct bayes *b, enum bayes_errkind kind, const char *msg)
{
	b->errkind = kind;
	snprintf(b->errmsg, sizeof(b->errmsg), "%s", msg);
	return -1;
}

int eng_store_err(struct bayes *b)
{
	return eng_set_err(b, store_errkind(b->store), store_errmsg(b->store));
}

int eng_file_moved(struct bayes *b)
{
	struct stat sb;
	char msg[1100];

	if (!b->file_known)
		return 0;
	bool gone = stat(b->path, &sb) != 0;
	if (!gone && sb.st_dev == b->dev && sb.st_ino == b->ino) {
		if (sb.st_size == b->size && sb.st_mtim.tv_sec == b->mtime.tv_sec &&
		    sb.st_mtim.tv_nsec == b->mtime.tv_nsec)
			return 0;	/* unchanged since its header was last good */
		/*
		 * Overwritten in place (cat x > db): SQLite's cached pages would
		 * go on taking learns. The header is cheap to look at.
		 */
		if (store_file_looks_sqlite(b->path, (long long)sb.st_size)) {
			b->size = sb.st_size;
			b->mtime = sb.st_mtim;
			return 0;
		}
		snprintf(msg, sizeof(msg), "%s: the database file was overwritten while in use "
			 "(it is not SQLite any more)", b->path);
		return eng_set_err(b, BAYES_ERR_DB, msg);
	}
	snprintf(msg, sizeof(msg), "%s: the database file was %s while in use", b->path,
		 gone ? "removed" : "replaced");
	return eng_set_err(b, BAYES_ERR_DB, msg);
}

/*
 * read_begin/end - a read snapshot around the lookups of one call; inside
 * a batch's open write transaction the reads belong to it instead (they
 * see the batch's own learns, and ending them must not roll it back).
 */
int eng_read_begin(struct bayes *b)
{
	if (!b->batch_txn)
		return store_read_begin(b->store);
	/* the batch's reads see its learns: write what is pending first */
	return batch_deltas_empty(b->pending) ? 0 : batch_deltas_flush(b->pending, b->store);
}

void eng_read_end(struct bayes *b)
{
	if (!b->batch_txn)
		store_read_end(b->store);
}

const char *bayes_errmsg(const struct bayes *b)
{
	return b->errmsg;
}

enum bayes_errkind bayes_errkind(const struct bayes *b)
{
	return b->errkind;
}

/* store_options_of - what the store needs of the engine's options o. */
static void store_options_of(const struct bayes_options *o, struct store_options *so)
{
	memset(so, 0, sizeof(*so));
	so->backend = o->backend;
	so->redis = o->redis;
	so->sync_full = o->sync_full;
	so->busy_timeout_ms = o->busy_timeout_ms;
}

struct bayes *bayes_open(const char *path, unsigned flags, const struct bayes_options *opt,
			 char *err, size_t errlen, enum bayes_errkind *kind_r)
{
	struct bayes *b = xcalloc(1, sizeof(*b));
	struct buf params = { 0 };
	struct store_options so;

	if (opt)
		b->opt = *opt;
	else
		bayes_options_default(&b->opt);
	/*
	 * The shared cache follows the learns of this process only; with
	 * Redis other nodes learn too, and it would go stale.
	 */
	if (b->opt.backend == BAYES_BACKEND_REDIS)
		b->opt.cache = NULL;
	score_params_default(&b->sp);
	score_params_combiner(&b->sp, (enum score_combiner)b->opt.combiner);
	if (b->opt.robs >= 0)
		b->sp.robs = b->opt.robs;
	if (b->opt.min_dev >= 0)
		b->sp.min_dev = b->opt.min_dev;
	if (b->opt.mean_scale >= 0)
		b->sp.mean_scale = b->opt.mean_scale;
	tok_params_string(&b->opt.tok, &params);
	store_options_of(&b->opt, &so);
	b->store = store_open(path, flags, params.data, &so, err, errlen, kind_r);
	/*
	 * Statistics made by an earlier default tokenizer keep working: the
	 * database's tokenizer wins over the default. Tried in turn: no cap
	 * on the header's 4-grams (before it came), no 4-grams at all.
	 */
	for (int step = 0; b->store == NULL && step < 2 && b->opt.tok.ngram_bytes && err
			   && strstr(err, "incompatible tokenizer"); step++) {
		char err2[64];
		enum bayes_errkind kind2;

		if (step == 0 && b->opt.tok.ngram_header_bytes == 0)
			continue;
		if (step == 0)
			b->opt.tok.ngram_header_bytes = 0;
		else
			b->opt.tok.ngram_bytes = 0;
		tok_params_string(&b->opt.tok, &params);
		b->store = store_open(path, flags, params.data, &so, err2, sizeof(err2), &kind2);
	}
	buf_free(&params);
	if (b->store == NULL) {
		free(b);
		return NULL;
	}
	b->cache_owner = b->opt.cache != NULL && !(flags & BAYES_OPEN_RDONLY);
	struct stat sb;
	if (b->opt.backend == BAYES_BACKEND_SQLITE && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
		b->path = xstrdup(path);
		b->dev = sb.st_dev;
		b->ino = sb.st_ino;
		b->file_known = true;
	}
	b->tok = tokenizer_new(&b->opt.tok, b->opt.keep_text, err, errlen);
	if (b->tok == NULL) {
		if (kind_r)
			*kind_r = BAYES_ERR_DB;
		store_close(&b->store);
		free(b->path);
		free(b);
		return NULL;
	}
	return b;
}

void bayes_close(struct bayes **bp)
{
	struct bayes *b = *bp;

	if (b == NULL)
		return;
	/* nobody follows this database's changes into the cache any more */
	if (b->cache_owner)
		count_cache_invalidate(b->opt.cache);
	store_close(&b->store);
	tokenizer_free(&b->tok);
	free(b->counts);
	free(b->gcounts);
	free(b->fprob);
	free(b->memo);
	free(b->miss);
	free(b->mhash);
	free(b->mcounts);
	free(b->path);
	batch_deltas_free(&b->pending);
	free(b);
	*bp = NULL;
}
