/*
 * token_cache.h - a user's token table in memory, for the SQLite backend's
 * bulk handles (BAYES_OPEN_BULK: bayesc --db check of a folder, eval, the
 * training modes). store_sqlite.c loads it from the tokens table and says
 * when it is stale; this file is the table itself.
 * Rooms: may use store/store.h and util.h.
 */
#ifndef BAYES_TOKEN_CACHE_H
#define BAYES_TOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/*
 * struct tcache - open addressing, linear probing, key 0 = empty (the
 * tokenizer never makes hash 0). store_sqlite.c keeps it valid while
 * PRAGMA data_version is unchanged, i.e. while no other connection has
 * committed; the handle's own changes are applied to it as they are made
 * (tcache_add), and a rollback drops it. A slot holds the key beside its
 * counts: a probe is one cache miss, not two.
 */
struct tcache_slot {
	uint64_t key;
	struct store_counts val;
};
struct tcache {
	struct tcache_slot *slot;
	size_t cap;		/* slots, or 0 when not loaded */
	size_t n;
	int64_t user;		/* whose table (store_sqlite.c's) */
	int64_t data_version;	/* as of which PRAGMA data_version */
};

/* tcache_alloc - an empty table of cap slots (c must be dropped or zero). */
void tcache_alloc(struct tcache *c, size_t cap);

/* tcache_drop - free the table; c is all zero after. */
void tcache_drop(struct tcache *c);

/* tcache_put - set key's counts, growing at 3/4 full. Key 0 is ignored. */
void tcache_put(struct tcache *c, uint64_t key, uint32_t spam, uint32_t ham);

/*
 * tcache_add - add dspam, dham to the counts of the n keys, clamping at
 * zero as the SQL update does.
 */
void tcache_add(struct tcache *c, const uint64_t *hash, size_t n, int dspam, int dham);

/*
 * tcache_lookup - the counts of the n keys into out (0, 0 for a key not
 * in the table); returns how many have a count.
 */
size_t tcache_lookup(const struct tcache *c, const uint64_t *hash, size_t n,
		     struct store_counts *out);

#endif
