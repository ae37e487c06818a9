/*
 * bayesc_exit.h - bayesc's exit codes: trainer/ (bayesc.h includes this)
 * and corpus/eval.c return them, and corpus/ never includes trainer/.
 *
 * Rooms: may use nothing (no includes).
 */
#ifndef BAYESC_EXIT_H
#define BAYESC_EXIT_H

/*
 * Exit codes. check exits 0 whenever every message was scored, spam or ham
 * (rspamc style), so callers that time or wrap it can tell "scored" from
 * "failed"; with -c (spamc -c style) it exits 1 when any message is spam.
 * Errors have their own codes from 64 up, never 1.
 */
#define BAYESC_EXIT_OK		0
#define BAYESC_EXIT_SPAM	1	/* check -c: a message is spam */
#define BAYESC_EXIT_USAGE	64	/* EX_USAGE */
#define BAYESC_EXIT_DATAERR	65	/* EX_DATAERR: unreadable input, no mail found */
#define BAYESC_EXIT_NOINPUT	66	/* EX_NOINPUT: database missing */
#define BAYESC_EXIT_UNAVAIL	69	/* EX_UNAVAILABLE: daemon down, refused */
#define BAYESC_EXIT_SOFTWARE	70	/* EX_SOFTWARE */
#define BAYESC_EXIT_TEMPFAIL	75	/* EX_TEMPFAIL: database busy */
#define BAYESC_EXIT_DBERR	76	/* database corrupt or incompatible (EX_PROTOCOL) */

#endif
