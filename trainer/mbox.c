/*
 * mbox.c - split an mbox file into messages. See mbox.h for the format
 * rules and the calling pattern.
 *
 * The parser looks at one line at a time. Pushed bytes wait in "in" until
 * a whole line is there (or MBOX_LINE_MAX bytes of one, which are then
 * taken as a piece of a long body line); each line either starts a
 * message (a separator), or is appended to the message being assembled,
 * unquoted and within max_message. The blank line that precedes a
 * separator is appended like any other and taken off again when the
 * separator shows it was the mbox's and not the message's.
 */
#include "mbox.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct mbox_parser {
	struct buf in;			/* pushed bytes; unexamined from in_pos */
	size_t in_pos;
	struct buf msg;			/* the message being assembled */
	size_t max_message;
	bool eof;			/* mbox_finish() was called */
	bool done;			/* the last message was handed out */
	bool started;			/* a separator was seen: lines belong to a message */
	bool line_start;		/* the next byte starts a line */
	bool prev_blank;		/* the last line was empty */
	size_t blank_len;		/* bytes of that empty line appended to msg */
	bool truncated;			/* msg was cut at max_message */
	bool emitted;			/* msg was handed out: clear it first */
	bool out_truncated;		/* what mbox_truncated() reports */
	uint64_t offset;		/* bytes examined */
	uint64_t consumed;		/* up to the end of the last message handed out */
	uint64_t skipped;		/* bytes before the first separator */
};

/* mbox_parser_init - a parser at the start of a file */
struct mbox_parser *mbox_parser_init(size_t max_message)
{
	struct mbox_parser *p = xcalloc(1, sizeof(*p));

	p->max_message = max_message ? max_message : MBOX_DEFAULT_MAX_MESSAGE;
	p->line_start = true;
	return p;
}

/* mbox_parser_deinit - free the parser and what it holds */
void mbox_parser_deinit(struct mbox_parser **pp)
{
	struct mbox_parser *p = *pp;

	if (p == NULL)
		return;
	buf_free(&p->in);
	buf_free(&p->msg);
	free(p);
	*pp = NULL;
}

/* mbox_push - queue bytes for mbox_next() */
void mbox_push(struct mbox_parser *p, const unsigned char *data, size_t size)
{
	if (size > 0)
		buf_append(&p->in, data, size);
}

/* mbox_finish - no more bytes will come */
void mbox_finish(struct mbox_parser *p)
{
	p->eof = true;
}

/* mbox_truncated - the last message handed out was cut */
bool mbox_truncated(const struct mbox_parser *p)
{
	return p->out_truncated;
}

/* mbox_consumed - input bytes behind the last message handed out */
uint64_t mbox_consumed(const struct mbox_parser *p)
{
	return p->consumed;
}

/* mbox_skipped - input bytes before the first separator */
uint64_t mbox_skipped(const struct mbox_parser *p)
{
	return p->skipped;
}

/* mbox_is_blank - a whole line with nothing but its line end */
static bool mbox_is_blank(const char *l, size_t len)
{
	return (len == 1 && l[0] == '\n') || (len == 2 && l[0] == '\r' && l[1] == '\n');
}

/* mbox_drop_blank - take the separator's blank line off the message's end */
static void mbox_drop_blank(struct mbox_parser *p)
{
	if (p->prev_blank && p->blank_len <= p->msg.len) {
		p->msg.len -= p->blank_len;
		if (p->msg.data)
			p->msg.data[p->msg.len] = '\0';
	}
	p->blank_len = 0;
}

/*
 * mbox_line - one line, or a piece of a long one (complete false: no line
 * end in it, and more of the same line follows). Returns true when the
 * line was a separator that ended a message, which is then in p->msg.
 */
static bool mbox_line(struct mbox_parser *p, const char *l, size_t len, bool complete)
{
	uint64_t line_offset = p->offset;
	bool at_start = p->line_start;
	bool blank, ended;

	p->offset += len;
	p->line_start = complete;
	/*
	 * A line longer than MBOX_LINE_MAX is never a separator (mbox.h): it
	 * arrives whole or as pieces depending on how the input was pushed,
	 * and its first piece must not split the file where the whole line
	 * would not.
	 */
	if (at_start && complete && len <= MBOX_LINE_MAX && len >= 5 && memcmp(l, "From ", 5) == 0 &&
	    (line_offset == 0 || p->prev_blank)) {
		ended = p->started;
		if (ended) {
			mbox_drop_blank(p);
			p->consumed = line_offset;
		}
		p->started = true;
		p->prev_blank = false;
		return ended;
	}
	blank = at_start && complete && mbox_is_blank(l, len);
	if (!p->started) {
		p->skipped += len;
		p->prev_blank = blank;
		return false;
	}
	/* mboxrd: ">From ", ">>From ", ... lose one '>' */
	if (at_start && len > 5 && l[0] == '>') {
		size_t q = 1;

		while (q < len && l[q] == '>')
			q++;
		if (len - q >= 5 && memcmp(l + q, "From ", 5) == 0)
			l++, len--;
	}
	size_t room = p->max_message - p->msg.len;
	if (len > room) {
		p->truncated = true;
		len = room;
	}
	if (len > 0)
		buf_append(&p->msg, l, len);
	p->prev_blank = blank;
	p->blank_len = blank ? len : 0;
	return false;
}

/* mbox_emit - hand out p->msg */
static int mbox_emit(struct mbox_parser *p, const unsigned char **data_r, size_t *size_r)
{
	p->emitted = true;
	p->out_truncated = p->truncated;
	*data_r = (const unsigned char *)(p->msg.data ? p->msg.data : "");
	*size_r = p->msg.len;
	return 1;
}

/* mbox_next - examine lines until a message is complete or input runs out */
int mbox_next(struct mbox_parser *p, const unsigned char **data_r, size_t *size_r)
{
	if (p->emitted) {
		buf_reset(&p->msg);
		p->truncated = false;
		p->emitted = false;
	}
	for (;;) {
		const char *line = p->in.data + p->in_pos;
		size_t avail = p->in.len - p->in_pos, len;
		const char *nl = avail > 0 ? memchr(line, '\n', avail) : NULL;
		bool complete = true;

		if (nl != NULL) {
			len = (size_t)(nl - line) + 1;
		} else if (avail >= MBOX_LINE_MAX) {
			len = avail;	/* a piece of a long line */
			complete = false;
		} else if (p->eof && avail > 0) {
			len = avail;	/* the last line, without a newline */
		} else {
			break;
		}
		p->in_pos += len;
		if (mbox_line(p, line, len, complete))
			return mbox_emit(p, data_r, size_r);
	}
	/* keep only the partial line */
	if (p->in_pos > 0) {
		memmove(p->in.data, p->in.data + p->in_pos, p->in.len - p->in_pos);
		p->in.len -= p->in_pos;
		p->in_pos = 0;
	}
	if (p->eof && p->started && !p->done) {
		p->done = true;
		mbox_drop_blank(p);
		p->consumed = p->offset;
		return mbox_emit(p, data_r, size_r);
	}
	return 0;
}
