/*
 * mbox.h - split an mbox file into its messages, bytes pushed in,
 * messages pulled out (bayesc import-mbox, learn_* --mbox).
 *
 * The format (mbox(5), RFC 4155): each message starts with a separator
 * line "From SENDER DATE" and ends with a blank line. A separator is a
 * line that starts with "From " at the very start of the file or right
 * after a blank line; a "From " line anywhere else is body text (writers
 * of mboxo that forgot to quote one are thereby forgiven). Lines that
 * read ">From ", ">>From ", ... lose one '>' (mboxrd's quoting, which
 * also undoes mboxo's). The separator line and the blank line before the
 * next separator are not part of the message. CRLF line ends are kept as
 * they are and count as blank lines when the line is empty; a last line
 * without a newline is still part of the last message.
 *
 * Limits. A message longer than max_message bytes is cut there (the rest
 * up to the next separator is read and dropped; mbox_truncated() says
 * so). Lines are examined whole up to MBOX_LINE_MAX bytes; a longer line
 * is passed through in pieces (it cannot be a separator), so memory stays
 * bounded by max_message plus the input chunk.
 *
 * Usage:
 *	p = mbox_parser_init(max);
 *	while (read a chunk) {
 *		mbox_push(p, chunk, n);
 *		while (mbox_next(p, &msg, &len) == 1)
 *			use msg[0..len), valid until the next call on p;
 *	}
 *	mbox_finish(p);
 *	while (mbox_next(p, &msg, &len) == 1) ...;
 *	mbox_parser_deinit(&p);
 */
#ifndef BAYESC_MBOX_H
#define BAYESC_MBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MBOX_DEFAULT_MAX_MESSAGE	(64 * 1024 * 1024)	/* bytes kept of one message */
#define MBOX_LINE_MAX			(64 * 1024)		/* bytes of a line examined whole */

struct mbox_parser;

/* mbox_parser_init - a parser keeping at most max_message bytes per message (0 = default). */
struct mbox_parser *mbox_parser_init(size_t max_message);

/* mbox_parser_deinit - free *p and set it to NULL. NULL is fine. */
void mbox_parser_deinit(struct mbox_parser **p);

/* mbox_push - more of the file; data is copied. Not after mbox_finish(). */
void mbox_push(struct mbox_parser *p, const unsigned char *data, size_t size);

/* mbox_finish - the end of the file: the last message can be completed. */
void mbox_finish(struct mbox_parser *p);

/*
 * mbox_next - the next whole message: 1 with data_r and size_r set (owned
 * by p, valid until the next call on p), or 0 when none is complete yet
 * (push more) or, after mbox_finish(), when the file is done. A message
 * may be empty (two separators in a row).
 */
int mbox_next(struct mbox_parser *p, const unsigned char **data_r, size_t *size_r);

/* mbox_truncated - the message mbox_next() last returned was cut at max_message. */
bool mbox_truncated(const struct mbox_parser *p);

/* mbox_consumed - bytes of input read up to the end of the last message returned. */
uint64_t mbox_consumed(const struct mbox_parser *p);

/*
 * mbox_skipped - bytes before the first separator line: not 0 means the
 * file does not start like an mbox (they belong to no message).
 */
uint64_t mbox_skipped(const struct mbox_parser *p);

#endif
