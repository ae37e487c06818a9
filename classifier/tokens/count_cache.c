/*
 * count_cache.c - the shared in-memory copy of the global token statistics.
 * See count_cache.h for the contract.
 *
 * The table: open addressing with linear probing over two arrays (keys,
 * and both counts packed into 32 bits), key 0 = empty slot (the tokenizer
 * never makes hash 0; a lookup of 0 is a miss). At most 3/4 full, so a
 * miss in a complete cache ends after a few probes. Nothing is ever
 * removed: a token whose counts fell to zero stays with zero counts, which
 * reads the same as a missing one.
 */
#include "tokens/count_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define COUNT_CACHE_MIN_SLOTS	1024
#define COUNT_CACHE_SAT		0xFFFFu		/* a count this large: ask the store */
#define COUNT_CACHE_PREFETCH	16		/* lookups: tokens to look ahead */

struct count_cache_table {
	uint64_t *key;
	uint32_t *val;		/* spam << 16 | ham */
	size_t cap;		/* slots (any number) */
	size_t n;
	bool complete;		/* every token of user 0 is here */
	uint64_t nspam, nham;	/* message totals */
};

struct count_cache {
	pthread_rwlock_t lock;
	size_t max_tokens;
	struct count_cache_table *t;	/* NULL: not loaded */
	int64_t version;		/* the owner's data version at load */
};

struct count_cache_build {
	struct count_cache_table *t;
	size_t max_tokens;
};

/*
 * slots_for - the table size for n tokens: 3/5 full, so learning can add a
 * quarter more tokens before the table (at most 3/4 full) must grow.
 */
static size_t slots_for(size_t n)
{
	size_t cap = n / 3 * 5 + 64;

	return cap < COUNT_CACHE_MIN_SLOTS ? COUNT_CACHE_MIN_SLOTS : cap;
}

/* table_new - an empty table of cap slots. */
static struct count_cache_table *table_new(size_t cap)
{
	struct count_cache_table *t = xcalloc(1, sizeof(*t));

	t->cap = cap;
	t->key = mem_huge_calloc(cap, sizeof(*t->key));
	t->val = mem_huge_calloc(cap, sizeof(*t->val));
	return t;
}

/* table_free - free t and set *t to NULL. */
static void table_free(struct count_cache_table **tp)
{
	struct count_cache_table *t = *tp;

	if (t == NULL)
		return;
	free(t->key);
	free(t->val);
	free(t);
	*tp = NULL;
}

/* table_slot - where key is, or the empty slot it would go in */
static inline size_t table_slot(const struct count_cache_table *t, uint64_t key)
{
	size_t i = hash_home_slot(key, t->cap);

	while (t->key[i] != 0 && t->key[i] != key)
		if (++i == t->cap)
			i = 0;
	return i;
}

/* pack - both counts in 32 bits, saturating at COUNT_CACHE_SAT. */
static uint32_t pack(uint64_t spam, uint64_t ham)
{
	if (spam > COUNT_CACHE_SAT)
		spam = COUNT_CACHE_SAT;
	if (ham > COUNT_CACHE_SAT)
		ham = COUNT_CACHE_SAT;
	return (uint32_t)(spam << 16 | ham);
}

/* saturated - does v stand for "too large, ask the store"? */
static inline bool saturated(uint32_t v)
{
	return (v >> 16) == COUNT_CACHE_SAT || (v & 0xFFFF) == COUNT_CACHE_SAT;
}

/* table_grow - double the table (keys stay, slots move). */
static void table_grow(struct count_cache_table *t)
{
	struct count_cache_table *n = table_new(t->cap * 2);

	for (size_t i = 0; i < t->cap; i++) {
		if (t->key[i] == 0)
			continue;
		size_t j = table_slot(n, t->key[i]);
		n->key[j] = t->key[i];
		n->val[j] = t->val[i];
	}
	free(t->key);
	free(t->val);
	t->key = n->key;
	t->val = n->val;
	t->cap = n->cap;
	free(n);
}

/*
 * table_insert - put key with packed counts v, growing up to max_tokens;
 * false when the token is new and there is no room.
 */
static bool table_insert(struct count_cache_table *t, size_t max_tokens, uint64_t key, uint32_t v)
{
	size_t i = table_slot(t, key);

	if (t->key[i] == 0) {
		if (t->n >= max_tokens)
			return false;
		if (t->n + 1 > t->cap / 4 * 3) {
			table_grow(t);
			i = table_slot(t, key);
		}
		t->key[i] = key;
		t->n++;
	}
	t->val[i] = v;
	return true;
}

/* count_cache_new - an empty cache. */
struct count_cache *count_cache_new(size_t max_tokens)
{
	struct count_cache *c = xcalloc(1, sizeof(*c));
	pthread_rwlockattr_t a;

	/* a steady stream of readers must not keep the owner's apply waiting */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&c->lock, &a);
	pthread_rwlockattr_destroy(&a);
	c->max_tokens = max_tokens;
	return c;
}

/* count_cache_free - free the cache. */
void count_cache_free(struct count_cache **cp)
{
	struct count_cache *c = *cp;

	if (c == NULL)
		return;
	table_free(&c->t);
	pthread_rwlock_destroy(&c->lock);
	free(c);
	*cp = NULL;
}

/* count_cache_lookup - one message's counts, under the read lock. */
int count_cache_lookup(struct count_cache *c, const uint64_t *hash, size_t n, struct store_counts *out,
		    uint64_t *nspam_r, uint64_t *nham_r, size_t *miss, size_t *nmiss_r)
{
	const struct count_cache_table *t;
	size_t nmiss = 0;

	pthread_rwlock_rdlock(&c->lock);
	t = c->t;
	if (t == NULL) {
		pthread_rwlock_unlock(&c->lock);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t j;

		/* the probes are cache misses: start one COUNT_CACHE_PREFETCH ahead */
		if (i + COUNT_CACHE_PREFETCH < n) {
			size_t h = hash_home_slot(hash[i + COUNT_CACHE_PREFETCH], t->cap);

			__builtin_prefetch(&t->key[h]);
			__builtin_prefetch(&t->val[h]);
		}
		out[i].spam = out[i].ham = 0;
		if (hash[i] == 0) {
			miss[nmiss++] = i;
			continue;
		}
		j = table_slot(t, hash[i]);
		if (t->key[j] == 0) {
			if (!t->complete)
				miss[nmiss++] = i;
			continue;
		}
		if (saturated(t->val[j])) {
			miss[nmiss++] = i;
			continue;
		}
		out[i].spam = t->val[j] >> 16;
		out[i].ham = t->val[j] & 0xFFFF;
	}
	*nspam_r = t->nspam;
	*nham_r = t->nham;
	pthread_rwlock_unlock(&c->lock);
	*nmiss_r = nmiss;
	return 1;
}

/* count_cache_build_begin - a new table for rows tokens. */
struct count_cache_build *count_cache_build_begin(struct count_cache *c, uint64_t rows)
{
	struct count_cache_build *b = xcalloc(1, sizeof(*b));
	bool complete = rows <= c->max_tokens;

	b->max_tokens = c->max_tokens;
	b->t = table_new(slots_for(complete ? (size_t)rows : c->max_tokens));
	b->t->complete = complete;
	return b;
}

/* count_cache_build_add - one row; false when full (the cache is then partial). */
bool count_cache_build_add(struct count_cache_build *b, uint64_t hash, uint64_t spam, uint64_t ham)
{
	if (hash == 0)
		return true;	/* never looked up here: the store answers */
	if (!table_insert(b->t, b->max_tokens, hash, pack(spam, ham))) {
		b->t->complete = false;
		return false;
	}
	return true;
}

/* count_cache_build_finish - swap the new table in. */
void count_cache_build_finish(struct count_cache *c, struct count_cache_build **bp, uint64_t nspam,
			   uint64_t nham, int64_t version)
{
	struct count_cache_build *b = *bp;
	struct count_cache_table *old;

	b->t->nspam = nspam;
	b->t->nham = nham;
	pthread_rwlock_wrlock(&c->lock);
	old = c->t;
	c->t = b->t;
	c->version = version;
	pthread_rwlock_unlock(&c->lock);
	table_free(&old);
	free(b);
	*bp = NULL;
}

/* count_cache_build_abort - throw a half-built table away. */
void count_cache_build_abort(struct count_cache_build **bp)
{
	struct count_cache_build *b = *bp;

	if (b == NULL)
		return;
	table_free(&b->t);
	free(b);
	*bp = NULL;
}

/* count_cache_loaded - is a table loaded, and at which version? */
bool count_cache_loaded(struct count_cache *c, int64_t *version_r)
{
	bool loaded;

	pthread_rwlock_rdlock(&c->lock);
	loaded = c->t != NULL;
	if (loaded && version_r)
		*version_r = c->version;
	pthread_rwlock_unlock(&c->lock);
	return loaded;
}

/* count_cache_invalidate - drop the table. */
void count_cache_invalidate(struct count_cache *c)
{
	struct count_cache_table *old;

	pthread_rwlock_wrlock(&c->lock);
	old = c->t;
	c->t = NULL;
	pthread_rwlock_unlock(&c->lock);
	table_free(&old);
}

/* clamp_add - count + delta, never below zero (as the store's max(x, 0)). */
static uint64_t clamp_add(uint64_t count, int delta)
{
	int64_t v = (int64_t)count + delta;

	return v > 0 ? (uint64_t)v : 0;
}

/* count_cache_apply - follow one committed learn or forget. */
void count_cache_apply(struct count_cache *c, const uint64_t *hash, size_t n, int dspam, int dham,
		    int dmsg_spam, int dmsg_ham)
{
	struct count_cache_table *t;

	pthread_rwlock_wrlock(&c->lock);
	t = c->t;
	if (t == NULL) {
		pthread_rwlock_unlock(&c->lock);
		return;
	}
	for (size_t i = 0; i < n && (dspam != 0 || dham != 0); i++) {
		size_t j;

		if (hash[i] == 0)
			continue;
		j = table_slot(t, hash[i]);
		if (t->key[j] != 0) {
			uint32_t v = t->val[j];
			if (!saturated(v))
				t->val[j] = pack(clamp_add(v >> 16, dspam), clamp_add(v & 0xFFFF, dham));
			continue;
		}
		/* a token the cache does not hold: in a partial cache the store has it */
		if (!t->complete || (dspam <= 0 && dham <= 0))
			continue;
		if (!table_insert(t, c->max_tokens, hash[i], pack(clamp_add(0, dspam), clamp_add(0, dham))))
			t->complete = false;	/* full: from now on misses go to the store */
	}
	t->nspam = clamp_add(t->nspam, dmsg_spam);
	t->nham = clamp_add(t->nham, dmsg_ham);
	pthread_rwlock_unlock(&c->lock);
}

/* count_cache_info - the cache's size and state. */
void count_cache_info(struct count_cache *c, struct count_cache_info *info)
{
	memset(info, 0, sizeof(*info));
	pthread_rwlock_rdlock(&c->lock);
	info->max_tokens = c->max_tokens;
	if (c->t) {
		info->loaded = true;
		info->complete = c->t->complete;
		info->tokens = c->t->n;
		info->slots = c->t->cap;
		info->bytes = c->t->cap * (sizeof(*c->t->key) + sizeof(*c->t->val));
	}
	pthread_rwlock_unlock(&c->lock);
}
