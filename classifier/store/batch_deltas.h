/*
 * batch_deltas.h - count changes of a batch of learns, summed per token before
 * they reach the store.
 *
 * A batch of learns (bayes_batch_begin) touches the common tokens once per
 * message; summing the changes first turns a batch's thousands of row
 * updates for "the", "http" or a mailer's header into one each. The store
 * then sees each distinct (user, token) once, in key order, grouped by the
 * size of the change so one store_add call carries many tokens.
 *
 * Not thread safe: one per engine handle.
 *
 * Rooms: may use store/ and util.h only.
 */
#ifndef BAYES_BATCH_DELTAS_H
#define BAYES_BATCH_DELTAS_H

#include <stddef.h>
#include <stdint.h>

struct batch_deltas;
struct store;

struct batch_deltas *batch_deltas_new(void);
void batch_deltas_free(struct batch_deltas **d);

/* batch_deltas_add - add (ds, dh) to each of the n tokens of user. */
void batch_deltas_add(struct batch_deltas *d, int64_t user, const uint64_t *hash, size_t n, int ds, int dh);

/* batch_deltas_add_totals - add (ds, dh) to user's message totals. */
void batch_deltas_add_totals(struct batch_deltas *d, int64_t user, int ds, int dh);

/* batch_deltas_empty - true when nothing is waiting. */
int batch_deltas_empty(const struct batch_deltas *d);

/* batch_deltas_clear - forget everything waiting (the batch was rolled back). */
void batch_deltas_clear(struct batch_deltas *d);

/*
 * batch_deltas_flush - apply everything to s (inside the caller's write
 * transaction) and empty d. Returns 0, or -1 with the store's error (d is
 * emptied either way: the caller rolls the transaction back).
 */
int batch_deltas_flush(struct batch_deltas *d, struct store *s);

#endif
