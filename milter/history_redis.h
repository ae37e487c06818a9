/*
 * history_redis.h - the scan history kept on Redis (history_store = redis,
 * or auto with backend = redis): a capped list that every node of a
 * cluster writes to and reads from, so node B's web page shows the mail
 * node A scanned.
 *
 * Keys, under redis_prefix:
 *   history        a list, newest first, of "ID JSON": ID from
 *                  history:id, JSON the row's columns (history.c's
 *                  schema, hashes left out); LTRIMmed to history_size
 *   history:id     the counter that numbers the rows
 *   history:hashes a hash, ID -> the row's feature hashes (8 bytes each,
 *                  little-endian), what a learn by digest applies; a
 *                  field goes when its row is trimmed
 * One Lua script does the numbering, the push, the trim and the clean-up,
 * so the list stays in id order whatever the number of writers.
 *
 * Readers keep a copy of the list in an in-memory SQLite database with a
 * view named "history" of the same columns as the SQLite history file,
 * so history.c's queries serve both. Each read brings the copy up to
 * date: the rows newer than its newest, read from the head of the list
 * in pages, and the rows trimmed since dropped.
 *
 * Threads: history_redis_insert() on the writer thread only; the readers'
 * functions under history.c's reader lock.
 */
#ifndef BAYESD_HISTORY_REDIS_H
#define BAYESD_HISTORY_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "types.h"

/* history_redis_configure - the Redis to use (copied); at start. */
void history_redis_configure(const struct bayes_redis_options *o);

/*
 * history_redis_insert - push one row (JSON object text without "id")
 * with its feature hashes, keep the newest size rows. 0, or -1 with a
 * reason in err. The writer thread only.
 */
int history_redis_insert(const char *row, const uint64_t *hash, size_t nhash, unsigned size,
			 char *err, size_t errlen);

/*
 * history_redis_reader - the readers' in-memory copy, brought up to date;
 * NULL with a reason in err when Redis cannot be read. Owned here.
 */
sqlite3 *history_redis_reader(char *err, size_t errlen);

/*
 * history_redis_hashes - the feature hashes of row id into *hash_r
 * (caller frees). 1 found, 0 gone (trimmed since), -1 error in err.
 */
int history_redis_hashes(int64_t id, uint64_t **hash_r, size_t *n_r, char *err, size_t errlen);

/* history_redis_close - drop the readers' copy and both links (at exit). */
void history_redis_close(void);

#endif
