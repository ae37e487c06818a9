/*
 * milter_pool.h - the milter's pool of read-only engine handles.
 *
 * struct bayes is single-threaded, so a callback borrows a handle for
 * bayes_check() and gives it back. Handles are opened lazily with the
 * config of the borrowing connection; one that failed with a database
 * error is closed (the next message reopens), and after a reload
 * (milter_reload(), milter.h) handles of the old config are closed as
 * they come back. Every handle is read-only: the milter never writes the
 * database. For milter.c only.
 */
#ifndef BAYESD_MILTER_POOL_H
#define BAYESD_MILTER_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "bayes.h"
#include "config.h"

#define MILTER_POOL_MAX		1024	/* ceiling of read_handles */

struct milter_handle {
	struct bayes *b;
	struct bayesd_config *cfg;	/* opened with (referenced) */
};

/*
 * milter_pool_get - borrow a handle opened with cfg: an idle one, or a
 * new one. Returns false with the reason in err and its kind in *kind_r.
 */
bool milter_pool_get(struct bayesd_config *cfg, struct milter_handle *h, char *err, size_t errlen,
		     enum bayes_errkind *kind_r);

/*
 * milter_pool_put - give a handle back; broken ones, ones of an old
 * config and ones beyond read_handles are closed.
 */
void milter_pool_put(struct milter_handle *h, bool broken);

/* milter_pool_close - close every idle handle and drop the current config (at shutdown). */
void milter_pool_close(void);

#endif
