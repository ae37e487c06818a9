/*
 * mime.h - one-pass RFC 5322 / MIME walk of a message held in memory.
 *
 * mime_parse() walks the header block and the MIME tree of a message and
 * reports what it finds to a sink: decoded header fields, decoded body text
 * (already converted to UTF-8; HTML already reduced to text), URLs found in
 * HTML attributes, and one event per MIME part. The caller's buffer is never
 * modified and every pointer handed to the sink is valid only for the
 * duration of that callback.
 *
 * Every limit is explicit (struct mime_limits). When one is hit the walk
 * stops reading that part (or the message) and sets a flag in the result:
 * what was read up to then has been reported and can still be scored.
 * Malformed input never fails the walk: broken base64, a boundary that never
 * closes, a lying charset are handled as well as they can be, and flagged.
 *
 * Rooms: may use message/ and util.h.
 */
#ifndef BAYES_MIME_H
#define BAYES_MIME_H

#include <stddef.h>
#include <stdint.h>

/* Defaults for struct mime_limits; each is also a setting in bayesd.conf. */
#define MIME_DEFAULT_MAX_HEADER_BYTES	(256 * 1024)	/* one header block */
#define MIME_DEFAULT_MAX_PART_BYTES	(1024 * 1024)	/* decoded bytes kept per part */
#define MIME_DEFAULT_MAX_TEXT_BYTES	(2 * 1024 * 1024)	/* decoded text per message */
#define MIME_DEFAULT_MAX_PARTS		1000
#define MIME_DEFAULT_MAX_DEPTH		20
#define MIME_DEFAULT_MAX_BOUNDARY	200	/* RFC 2046 says 70; be tolerant */

struct mime_limits {
	size_t max_header_bytes;
	size_t max_part_bytes;
	size_t max_text_bytes;
	unsigned max_parts;
	unsigned max_depth;
};

/* mime_limits_default - fill lim with the MIME_DEFAULT_* values. */
void mime_limits_default(struct mime_limits *lim);

/* Flags in the result of mime_parse(): what was odd or cut. Not errors. */
#define MIME_ERR_TRUNC_HEADER	(1u << 0)	/* a header block over max_header_bytes */
#define MIME_ERR_TRUNC_PART	(1u << 1)	/* a part over max_part_bytes */
#define MIME_ERR_TRUNC_TEXT	(1u << 2)	/* text over max_text_bytes */
#define MIME_ERR_PARTS		(1u << 3)	/* more parts than max_parts */
#define MIME_ERR_NESTING	(1u << 4)	/* nested deeper than max_depth */
#define MIME_ERR_BOUNDARY	(1u << 5)	/* a multipart whose boundary never closed / missing */
#define MIME_ERR_ENCODING	(1u << 6)	/* broken base64 / QP / 2047 */
#define MIME_ERR_CHARSET	(1u << 7)	/* unknown or lying charset, detected or replaced */
#define MIME_ERR_8BIT_HEADER	(1u << 8)	/* raw 8-bit bytes in headers */
#define MIME_ERR_NUL		(1u << 9)	/* NUL bytes seen */

/* What kind of text a text event carries. */
enum mime_text_kind {
	MIME_TEXT_PLAIN,	/* text/plain (or untyped body) */
	MIME_TEXT_HTML,		/* text/html reduced to visible text */
};

/* Information about one MIME part, reported before its content. */
struct mime_part_info {
	unsigned depth;		/* 0 = the message itself */
	unsigned index;		/* running part number, 0 = the message */
	const char *type;	/* lower-cased "type/subtype", "text/plain" if absent */
	const char *charset;	/* lower-cased declared charset or NULL */
	const char *encoding;	/* lower-cased Content-Transfer-Encoding or NULL */
	const char *filename;	/* decoded (2231/2047) file name in UTF-8 or NULL */
	size_t raw_size;	/* size of the part's raw body in the message */
};

/*
 * struct mime_sink - the callbacks mime_parse() calls. Any may be NULL.
 * All strings are UTF-8 (decoded), NUL-terminated, with the length given.
 *
 * header: one unfolded header field; depth 0 for the message's own header,
 *	deeper for part headers. name is as written (not case-folded); value
 *	has RFC 2047 words decoded and leading/trailing blanks removed.
 * part: a MIME part begins (called for the top-level message too).
 * text: decoded text of a text/plain or text/html part, in one or more
 *	chunks; chunk boundaries are at UTF-8 character boundaries.
 * url: a URL from an HTML attribute (href, src, action, background...).
 *	URLs in plain text are left to the tokenizer.
 */
struct mime_sink {
	void (*header)(void *ctx, unsigned depth, const char *name, size_t name_len,
		       const char *value, size_t value_len);
	void (*part)(void *ctx, const struct mime_part_info *info);
	void (*text)(void *ctx, enum mime_text_kind kind, const char *text, size_t len);
	void (*url)(void *ctx, const char *url, size_t len);
};

/*
 * mime_parse - walk the message data[0..size) and report it to sink.
 * lim may be NULL for the defaults. Returns the MIME_ERR_* flags (0 for a
 * clean message). Never fails: every input yields some result.
 */
unsigned mime_parse(const unsigned char *data, size_t size,
		    const struct mime_limits *lim,
		    const struct mime_sink *sink, void *ctx);

#endif
