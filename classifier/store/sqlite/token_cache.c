/*
 * token_cache.c - a user's token table in memory for the SQLite backend's
 * bulk handles. See token_cache.h.
 */
#include "store/sqlite/token_cache.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define TCACHE_PREFETCH		16	/* lookups: tokens to look ahead */

/* tcache_alloc - see token_cache.h. */
void tcache_alloc(struct tcache *c, size_t cap)
{
	c->cap = cap;
	c->n = 0;
	c->slot = mem_huge_calloc(cap, sizeof(*c->slot));
}

/* tcache_drop - see token_cache.h. */
void tcache_drop(struct tcache *c)
{
	free(c->slot);
	memset(c, 0, sizeof(*c));
}

/* tcache_slot - the slot of key: where it is, or the empty one it would go in */
static size_t tcache_slot(const struct tcache *c, uint64_t key)
{
	size_t i = hash_home_slot(key, c->cap);

	while (c->slot[i].key != 0 && c->slot[i].key != key)
		if (++i == c->cap)
			i = 0;
	return i;
}

/* tcache_put - see token_cache.h. */
void tcache_put(struct tcache *c, uint64_t key, uint32_t spam, uint32_t ham)
{
	if (key == 0)
		return;
	if ((c->n + 1) * 4 > c->cap * 3) {
		struct tcache old = *c;
		c->cap = old.cap ? old.cap * 2 : 1u << 16;
		c->slot = mem_huge_calloc(c->cap, sizeof(*c->slot));
		c->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.slot[i].key) {
				c->slot[tcache_slot(c, old.slot[i].key)] = old.slot[i];
				c->n++;
			}
		free(old.slot);
	}
	size_t i = tcache_slot(c, key);
	if (c->slot[i].key == 0) {
		c->slot[i].key = key;
		c->n++;
	}
	c->slot[i].val.spam = spam;
	c->slot[i].val.ham = ham;
}

/* tcache_add - see token_cache.h. */
void tcache_add(struct tcache *c, const uint64_t *hash, size_t n, int dspam, int dham)
{
	for (size_t i = 0; i < n; i++) {
		size_t j = tcache_slot(c, hash[i]);
		int64_t sp = (int64_t)dspam, hm = (int64_t)dham;

		if (c->slot[j].key == hash[i]) {
			sp += c->slot[j].val.spam;
			hm += c->slot[j].val.ham;
		}
		tcache_put(c, hash[i], sp > 0 ? (uint32_t)sp : 0, hm > 0 ? (uint32_t)hm : 0);
	}
}

/* tcache_lookup - see token_cache.h. */
size_t tcache_lookup(const struct tcache *c, const uint64_t *hash, size_t n,
		     struct store_counts *out)
{
	size_t found = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j;

		/*
		 * Each probe is a cache miss into a table of tens of MB: ask
		 * for the slot TCACHE_PREFETCH tokens ahead, so the misses
		 * overlap instead of following one another.
		 */
		if (i + TCACHE_PREFETCH < n)
			__builtin_prefetch(&c->slot[hash_home_slot(hash[i + TCACHE_PREFETCH], c->cap)]);
		j = tcache_slot(c, hash[i]);
		if (c->slot[j].key == hash[i] && hash[i] != 0) {
			out[i] = c->slot[j].val;
			found += out[i].spam || out[i].ham;
		} else {
			out[i].spam = out[i].ham = 0;
		}
	}
	return found;
}
