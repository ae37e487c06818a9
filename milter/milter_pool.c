/*
 * milter_pool.c - the pool of read-only engine handles (milter_pool.h),
 * the engine options a config asks for, and the startup probe of the
 * database.
 */
#include "milter_pool.h"

#include <pthread.h>
#include <string.h>

#include "log.h"
#include "milter.h"
#include "milter_internal.h"

static struct count_cache *milter_cache;	/* shared token cache, or NULL */

static struct {
	pthread_mutex_t lock;
	struct bayesd_config *cfg;	/* the current config, referenced */
	struct milter_handle idle[MILTER_POOL_MAX];
	size_t nidle;
} milter_pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* milter_cache_set - the shared token cache the handles read */
void milter_cache_set(struct count_cache *cache)
{
	milter_cache = cache;
}

/* milter_engine_options - the engine options a config asks for */
void milter_engine_options(const struct bayesd_config *cfg, struct bayes_options *o)
{
	bayes_options_default(o);
	o->spam_threshold = cfg->spam_threshold;
	o->train_mode = cfg->train_mode;
	o->sync_full = cfg->sync_full;
	o->learn_global_too = cfg->per_user_global;
	o->cache = milter_cache;
	o->keep_text = cfg->history;	/* the history shows the deciding features' text */
	config_store_options(cfg, o);
}

bool milter_pool_get(struct bayesd_config *cfg, struct milter_handle *h,
			      char *err, size_t errlen, enum bayes_errkind *kind_r)
{
	struct bayes_options o;

	pthread_mutex_lock(&milter_pool.lock);
	for (size_t i = milter_pool.nidle; i-- > 0;) {
		if (milter_pool.idle[i].cfg != cfg)
			continue;
		*h = milter_pool.idle[i];
		milter_pool.idle[i] = milter_pool.idle[--milter_pool.nidle];
		pthread_mutex_unlock(&milter_pool.lock);
		return true;
	}
	pthread_mutex_unlock(&milter_pool.lock);

	milter_engine_options(cfg, &o);
	*kind_r = BAYES_ERR_NONE;
	h->b = bayes_open(cfg->database, BAYES_OPEN_RDONLY, &o, err, errlen, kind_r);
	if (!h->b) {
		if (*kind_r == BAYES_ERR_NONE)
			*kind_r = BAYES_ERR_DB;
		return false;
	}
	config_ref(cfg);
	h->cfg = cfg;
	return true;
}

/* milter_handle_close - close a handle and drop its config */
static void milter_handle_close(struct milter_handle *h)
{
	bayes_close(&h->b);
	config_unref(&h->cfg);
}

void milter_pool_put(struct milter_handle *h, bool broken)
{
	bool keep;

	pthread_mutex_lock(&milter_pool.lock);
	keep = !broken && h->cfg == milter_pool.cfg &&
	       milter_pool.nidle < h->cfg->milter_threads_hint && milter_pool.nidle < MILTER_POOL_MAX;
	if (keep)
		milter_pool.idle[milter_pool.nidle++] = *h;
	pthread_mutex_unlock(&milter_pool.lock);
	if (!keep)
		milter_handle_close(h);
}

/* milter_reload - the current config changed: close idle handles of older ones */
void milter_reload(void)
{
	struct milter_handle old[MILTER_POOL_MAX];
	size_t nold = 0;
	struct bayesd_config *prev;

	pthread_mutex_lock(&milter_pool.lock);
	prev = milter_pool.cfg;
	milter_pool.cfg = config_current();
	for (size_t i = milter_pool.nidle; i-- > 0;) {
		if (milter_pool.idle[i].cfg == milter_pool.cfg)
			continue;
		old[nold++] = milter_pool.idle[i];
		milter_pool.idle[i] = milter_pool.idle[--milter_pool.nidle];
	}
	pthread_mutex_unlock(&milter_pool.lock);
	for (size_t i = 0; i < nold; i++)
		milter_handle_close(&old[i]);
	config_unref(&prev);
}

void milter_pool_close(void)
{
	pthread_mutex_lock(&milter_pool.lock);
	while (milter_pool.nidle > 0)
		milter_handle_close(&milter_pool.idle[--milter_pool.nidle]);
	config_unref(&milter_pool.cfg);
	pthread_mutex_unlock(&milter_pool.lock);
}

/* milter_probe - try the database once at startup and say what is wrong */
void milter_probe(const struct bayesd_config *cfg)
{
	struct bayes_options o;
	enum bayes_errkind kind = BAYES_ERR_NONE;
	char err[512];
	struct bayes *b;

	milter_engine_options(cfg, &o);
	b = bayes_open(cfg->database, BAYES_OPEN_RDONLY, &o, err, sizeof(err), &kind);
	if (!b) {
		/* the engine's reason usually names the file already */
		log_warning("%s%s%s; messages get on_error=%s until the database is usable",
			    strstr(err, cfg->database) ? "" : cfg->database,
			    strstr(err, cfg->database) ? "" : ": ", err,
			    cfg->on_error == ON_ERROR_ACCEPT ? "accept" : "tempfail");
		return;
	}
	bayes_close(&b);
}
