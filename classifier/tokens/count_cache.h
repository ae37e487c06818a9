/*
 * count_cache.h - a process-wide copy of the global token statistics in
 * memory, shared by many engine handles in many threads.
 *
 * bayesd scores every message against the global statistics (user 0):
 * about a thousand point lookups per message. Done in SQLite they are most
 * of the daemon's time. A struct count_cache holds user 0's token counts and
 * message totals in one open-addressing table that every read-only handle
 * reads under a shared lock, so a check needs no SQLite at all when the
 * whole table fits (a "complete" cache), and only the misses when it does
 * not (a "partial" cache: the tokens seen most, then the rest while room
 * is left; a miss is looked up in the store).
 *
 * One owner keeps it current: the handle of the single writer (the one
 * read-write struct bayes the cache is given to). It loads the table
 * (bayes_cache_refresh), applies the deltas of its own learns after each
 * commit and before the learn is acknowledged (count_cache_apply), and drops
 * the table (count_cache_invalidate) when something it cannot follow happens:
 * another process committed, an expiry deleted rows, the handle was
 * closed. Until the owner loads it again, readers are told "not loaded"
 * and read SQLite as before, so a reader never sees counts older than an
 * acknowledged learn.
 *
 * Memory is bounded by max_tokens: 12 bytes per slot, at most 3/4 full,
 * slots a power of two (2M tokens: 48 MB). Counts are kept in 16 bits
 * each; a token with a count too big for that is kept as "ask the store".
 *
 * Thread safety: every function may be called from any thread; lookups
 * take a read lock for the copy of one message's counts, the owner's
 * changes a write lock (a new table is built without any lock and swapped
 * in).
 *
 * Rooms: may use store/store.h and util.h.
 */
#ifndef BAYES_COUNT_CACHE_H
#define BAYES_COUNT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Default bound, tokens (bayesd's cache_max_tokens). */
#define COUNT_CACHE_DEFAULT_MAX_TOKENS	2000000

struct count_cache;

/* count_cache_new - an empty (not loaded) cache of at most max_tokens tokens (0: never loads). */
struct count_cache *count_cache_new(size_t max_tokens);

/* count_cache_free - free c and set *c to NULL; no handle may use it any more. NULL is fine. */
void count_cache_free(struct count_cache **c);

/*
 * count_cache_lookup - counts of the n hashes into out[0..n), and the global
 * message totals into *nspam_r, *nham_r, from one consistent state of the
 * table. Hashes the cache cannot answer (partial cache, count too large)
 * are listed by index, ascending, in miss[0..*nmiss_r) (miss has room for
 * n); their out[] entries are zero and the caller reads them from the
 * store. Returns 1 when answered, 0 when the cache is not loaded (nothing
 * written: read everything from the store).
 */
int count_cache_lookup(struct count_cache *c, const uint64_t *hash, size_t n, struct store_counts *out,
		    uint64_t *nspam_r, uint64_t *nham_r, size_t *miss, size_t *nmiss_r);

/*
 * Loading, by the owner: count_cache_build_begin for a table of rows tokens
 * (a complete cache when rows <= max_tokens), count_cache_build_add for each
 * row (returns false when the table is full: the rest are left to the
 * store, and the cache is partial), then count_cache_build_finish to swap it
 * in as loaded at the owner's data version, or count_cache_build_abort.
 */
struct count_cache_build;
struct count_cache_build *count_cache_build_begin(struct count_cache *c, uint64_t rows);
bool count_cache_build_add(struct count_cache_build *b, uint64_t hash, uint64_t spam, uint64_t ham);
void count_cache_build_finish(struct count_cache *c, struct count_cache_build **b, uint64_t nspam,
			   uint64_t nham, int64_t version);
void count_cache_build_abort(struct count_cache_build **b);

/*
 * count_cache_loaded - whether a table is loaded; *version_r (if not NULL)
 * gets the data version it was loaded at.
 */
bool count_cache_loaded(struct count_cache *c, int64_t *version_r);

/* count_cache_invalidate - drop the table: readers go to the store until the next load. */
void count_cache_invalidate(struct count_cache *c);

/*
 * count_cache_apply - the owner committed dspam/dham to each of the n tokens
 * and dmsg_spam/dmsg_ham to the message totals of user 0: follow it,
 * clamping at zero as the store does. New tokens are added to a complete
 * cache while it is under its bound (past it, the cache becomes partial);
 * a partial cache leaves them to the store. No-op when not loaded.
 */
void count_cache_apply(struct count_cache *c, const uint64_t *hash, size_t n, int dspam, int dham,
		    int dmsg_spam, int dmsg_ham);

/* What the cache holds, for logs and tests. */
struct count_cache_info {
	bool loaded, complete;
	size_t tokens, slots, bytes, max_tokens;
};
void count_cache_info(struct count_cache *c, struct count_cache_info *info);

#endif
