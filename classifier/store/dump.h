/*
 * dump.h - the portable text form of a statistics database: what
 * "bayesc dump" writes and "bayesc restore" reads (bayes_dump() and
 * bayes_restore() are the engine's entry points; this is the format).
 *
 * Format version 1, one record per line, fields separated by one space,
 * numbers in decimal unless said otherwise, in this order:
 *
 *   bayesd-dump 1 TOKPARAMS        header: format version, then the rest of
 *                                  the line is the tokenizer parameter string
 *   m KEY VALUE                    a meta entry (e.g. last_expire)
 *   u ID NAME                      a user; ID 0 (global, name "") is implicit
 *   n ID SPAM HAM                  messages learned per class by user ID
 *   t ID HASH SPAM HAM SEEN        a token: HASH 16 lowercase hex digits,
 *                                  SEEN the day (Unix time / 86400) it was
 *                                  last learned
 *   l ID DIGEST CLASS AT           a learned message: DIGEST 32 hex digits,
 *                                  CLASS 0 ham / 1 spam, plus 2 when the learn
 *                                  also went into the global statistics; AT
 *                                  Unix time
 *   end USERS TOTALS TOKENS LEARNED  row counts; a dump without it is truncated
 *
 * KEY, VALUE and NAME are percent-encoded: '%', bytes up to 0x20 and 0x7f
 * are written %XX. Lines starting with '#' are comments. Every ID must be
 * 0 or announced by an earlier u line.
 *
 * Rooms: may use store/, util.h and types.h only.
 */
#ifndef BAYES_DUMP_H
#define BAYES_DUMP_H

#include <stddef.h>
#include <stdio.h>

#include "store/store.h"
#include "types.h"

#define DUMP_VERSION	1
#define DUMP_MAGIC	"bayesd-dump"

/*
 * dump_write - write s (inside a read transaction the caller holds) to
 * out; tok_params is the database's tokenizer string. 0, or -1 with a
 * one-line reason in err.
 */
int dump_write(struct store *s, const char *tok_params, FILE *out, char *err, size_t errlen);

/*
 * dump_read - parse a dump from in and insert its rows into s (inside a
 * write transaction the caller holds and rolls back on failure). A header
 * whose parameters differ from tok_params is BAYES_ERR_INCOMPATIBLE, a
 * malformed or truncated dump BAYES_ERR_INPUT, a store failure the store's
 * kind. 0, or -1 with a one-line reason in err and the kind in *kind_r.
 */
int dump_read(struct store *s, const char *tok_params, FILE *in, char *err, size_t errlen,
	      enum bayes_errkind *kind_r);

#endif
