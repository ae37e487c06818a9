/*
 * mime.c - the one-pass RFC 5322 / MIME walk behind mime_parse(). See
 * mime.h for what the sink sees.
 *
 * The message is held in memory by the caller and never copied whole. The
 * walk keeps a stack of the boundaries of the enclosing multiparts; a part
 * (or a nested message) ends at the first line that is a delimiter of any
 * of them, so a multipart whose boundary never closes is ended by its
 * parent's, as in Postfix and Dovecot. Each line is looked at once to find
 * where parts end (lines that do not start with "--" are skipped with
 * mem_find), plus once more, up to max_part_bytes, to decode a text part:
 * the walk is linear in the message size and depth <= max_depth keeps the
 * recursion (one frame per nesting level) bounded.
 *
 * Parts that are not text/plain or text/html are reported but not decoded.
 */
#include "message/mime.h"
#include "message/charset.h"
#include "message/decode.h"
#include "message/html.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DECODE_CHUNK	(64 * 1024)	/* raw bytes decoded per step */
#define TYPE_MAX	64
#define CHARSET_MAX	48
#define ENCODING_MAX	32

struct boundary {
	char *s;
	size_t len;
};

/* struct walk - everything one mime_parse() call uses. */
struct walk {
	struct mime_limits lim;
	const struct mime_sink *sink;
	void *ctx;
	unsigned flags;
	unsigned nparts;
	size_t text_bytes;		/* text handed to sink->text so far */
	bool stop;			/* over max_parts: read nothing more */
	struct boundary *stack;		/* innermost last */
	unsigned nstack, cap_stack;
	/* Scratch buffers, reused from part to part. */
	struct buf name, hval, val, tmp, ctype, cte, cdisp, fname, dec, utf8, html;
};

/* What the header block of one entity said. */
struct entity {
	char type[TYPE_MAX];
	char charset[CHARSET_MAX];
	char encoding[ENCODING_MAX];
	bool have_ctype, have_cte, have_cdisp;
	bool bad_boundary;
	char *boundary;			/* xstrdup'ed, multipart only */
};

/* mime_limits_default - see mime.h. */
void mime_limits_default(struct mime_limits *lim)
{
	lim->max_header_bytes = MIME_DEFAULT_MAX_HEADER_BYTES;
	lim->max_part_bytes = MIME_DEFAULT_MAX_PART_BYTES;
	lim->max_text_bytes = MIME_DEFAULT_MAX_TEXT_BYTES;
	lim->max_parts = MIME_DEFAULT_MAX_PARTS;
	lim->max_depth = MIME_DEFAULT_MAX_DEPTH;
}

/* is_blank - blanks and stray line-end characters in header values. */
static inline bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * match_delim - is the line at p a delimiter of a boundary on the stack?
 * Innermost first. On a match sets *which, *close (a "--b--" line) and
 * *after (the start of the next line).
 */
static bool match_delim(const struct walk *w, const char *p, const char *end,
			unsigned *which, bool *close, const char **after)
{
	size_t avail = (size_t)(end - p);

	if (avail < 2 || p[0] != '-' || p[1] != '-')
		return false;
	for (unsigned i = w->nstack; i-- > 0;) {
		const struct boundary *b = &w->stack[i];
		const char *r = p + 2 + b->len;
		bool c = false;

		if (avail - 2 < b->len || memcmp(p + 2, b->s, b->len) != 0)
			continue;
		if (end - r >= 2 && r[0] == '-' && r[1] == '-') {
			c = true;
			r += 2;
		}
		while (r < end && (*r == ' ' || *r == '\t' || *r == '\r'))
			r++;
		if (r < end && *r != '\n')
			continue;
		*which = i;
		*close = c;
		*after = r < end ? r + 1 : end;
		return true;
	}
	return false;
}

/*
 * find_delim - from p (a line start), the start of the first delimiter line
 * of any enclosing boundary, or end.
 */
static const char *find_delim(const struct walk *w, const char *p, const char *end,
			      unsigned *which, bool *close, const char **after)
{
	if (w->nstack == 0)
		return end;
	for (;;) {
		if (match_delim(w, p, end, which, close, after))
			return p;
		const char *q = mem_find(p, (size_t)(end - p), "\n--", 3);
		if (q == NULL)
			return end;
		p = q + 1;
	}
}

/* body_end - a body runs up to the line break before the delimiter at e. */
static const char *body_end(const char *body, const char *e, const char *end)
{
	if (e == end)
		return e;
	if (e > body && e[-1] == '\n')
		e--;
	if (e > body && e[-1] == '\r')
		e--;
	return e;
}

/*
 * first_token - lower-cased first token of a header value into out. v may
 * be NULL: an empty struct buf (a parameter given as "charset=") has no data.
 * Types, charsets and encodings are ASCII tokens (RFC 2045): the token ends
 * at the first 8-bit byte, so what the sink gets is always valid UTF-8.
 */
static void first_token(const char *v, char *out, size_t size)
{
	size_t n = 0;

	if (v == NULL) {
		out[0] = '\0';
		return;
	}
	while (is_blank(*v) || *v == '"')
		v++;
	while (*v && !is_blank(*v) && *v != ';' && *v != '"' && *v != '(' && n + 1 < size
	       && (unsigned char)*v < 0x80)
		out[n++] = ascii_lower(*v++);
	out[n] = '\0';
}

/*
 * finish_field - a header field is complete: report it and remember the
 * Content-* fields (the first of each wins, as in most MUAs).
 */
static void finish_field(struct walk *w, unsigned depth, const char *name, size_t name_len,
			 struct entity *ent)
{
	struct buf *v = &w->hval;
	size_t s = 0, e = v->len;

	while (s < e && is_blank(v->data[s]))
		s++;
	while (e > s && is_blank(v->data[e - 1]))
		e--;
	const char *val = v->data + s;
	size_t len = e - s;

	if (len && memchr(val, '\0', len)) {
		w->flags |= MIME_ERR_NUL;
		for (size_t i = 0; i < len; i++)
			if (val[i] == '\0')
				v->data[s + i] = ' ';
	}
	v->data[e] = '\0';
	if (name_len == 12 && ascii_casecmp_n(name, "content-type", 12) == 0 && !ent->have_ctype) {
		ent->have_ctype = true;
		buf_reset(&w->ctype);
		buf_append(&w->ctype, val, len);
	} else if (name_len == 25 && ascii_casecmp_n(name, "content-transfer-encoding", 25) == 0
		   && !ent->have_cte) {
		ent->have_cte = true;
		buf_reset(&w->cte);
		buf_append(&w->cte, val, len);
	} else if (name_len == 19 && ascii_casecmp_n(name, "content-disposition", 19) == 0
		   && !ent->have_cdisp) {
		ent->have_cdisp = true;
		buf_reset(&w->cdisp);
		buf_append(&w->cdisp, val, len);
	}
	if (w->sink->header == NULL)
		return;

	/* 8-bit bytes: keep them, converting to UTF-8 when they are not. */
	size_t valid = charset_utf8_valid(val, len);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)val[i] >= 0x80) {
			w->flags |= MIME_ERR_8BIT_HEADER;
			break;
		}
	if (valid != len) {
		unsigned cf = 0;
		buf_reset(&w->tmp);
		charset_to_utf8(NULL, val, len, &w->tmp, &cf);
		val = w->tmp.data;
		len = w->tmp.len;
	}
	buf_reset(&w->val);
	if (mem_find(val, len, "=?", 2))
		rfc2047_decode(val, len, &w->val, NULL);
	else
		buf_append(&w->val, val, len);
	buf_reserve(&w->val, 0);	/* decoding may append nothing: data still NULL */
	/* A decoded word may carry a NUL or blanks at the ends. */
	for (size_t i = 0; i < w->val.len; i++)
		if (w->val.data[i] == '\0')
			w->val.data[i] = ' ';
	s = 0;
	e = w->val.len;
	while (s < e && is_blank(w->val.data[s]))
		s++;
	while (e > s && is_blank(w->val.data[e - 1]))
		e--;
	w->val.data[e] = '\0';
	buf_reset(&w->name);
	buf_append(&w->name, name, name_len);
	w->sink->header(w->ctx, depth, w->name.data, w->name.len, w->val.data + s, e - s);
}

/*
 * parse_headers - read the header block at p and report its fields. Returns
 * where the body starts: after the blank line, or at the first line that
 * is no header field (a delimiter, or text when the blank line is missing).
 */
static const char *parse_headers(struct walk *w, const char *p, const char *end,
				 unsigned depth, struct entity *ent)
{
	const char *start = p, *name = NULL;
	size_t name_len = 0;
	bool over = false;

	if (depth == 0 && end - p >= 5 && memcmp(p, "From ", 5) == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
		start = p;
	}
	buf_reset(&w->hval);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		const char *le = nl ? nl : end;
		unsigned which;
		bool close;
		const char *after;

		if (le > p && le[-1] == '\r')
			le--;
		if (le == p) {
			p = next;
			break;
		}
		if (!over && (size_t)(next - start) > w->lim.max_header_bytes) {
			over = true;
			w->flags |= MIME_ERR_TRUNC_HEADER;
			if (name)
				finish_field(w, depth, name, name_len, ent);
			name = NULL;
		}
		if (*p == ' ' || *p == '\t') {
			if (name) {
				/* Unfold: drop the line break, keep the blank. */
				buf_append(&w->hval, p, (size_t)(le - p));
			}
			p = next;
			continue;
		}
		if (w->nstack && match_delim(w, p, end, &which, &close, &after))
			break;
		const char *c = p;
		while (c < le && *c != ':' && (unsigned char)*c > ' ' && (unsigned char)*c < 127)
			c++;
		const char *ne = c;
		while (c < le && (*c == ' ' || *c == '\t'))
			c++;
		if (c == le || *c != ':' || ne == p)
			break;	/* not a header field: the body starts here */
		if (name)
			finish_field(w, depth, name, name_len, ent);
		if (over) {
			name = NULL;
		} else {
			name = p;
			name_len = (size_t)(ne - p);
			buf_reset(&w->hval);
			buf_append(&w->hval, c + 1, (size_t)(le - c - 1));
		}
		p = next;
	}
	if (name)
		finish_field(w, depth, name, name_len, ent);
	return p;
}

/* entity_info - work out type, charset, encoding, boundary and file name
 * from the Content-* fields parse_headers() kept. */
static void entity_info(struct walk *w, struct entity *ent, bool in_digest)
{
	strcpy(ent->type, in_digest ? "message/rfc822" : "text/plain");
	ent->charset[0] = '\0';
	ent->encoding[0] = '\0';
	ent->boundary = NULL;
	ent->bad_boundary = false;
	buf_reset(&w->fname);
	if (ent->have_ctype) {
		char t[TYPE_MAX];

		first_token(w->ctype.data, t, sizeof(t));
		char *slash = strchr(t, '/');
		if (slash && slash != t && slash[1])
			strcpy(ent->type, t);
		buf_reset(&w->tmp);
		if (mime_param_get(w->ctype.data, "charset", &w->tmp))
			first_token(w->tmp.data, ent->charset, sizeof(ent->charset));
		if (strncmp(ent->type, "multipart/", 10) == 0) {
			buf_reset(&w->tmp);
			if (mime_param_get(w->ctype.data, "boundary", &w->tmp) && w->tmp.len > 0
			    && w->tmp.len <= MIME_DEFAULT_MAX_BOUNDARY)
				ent->boundary = xstrndup(w->tmp.data, w->tmp.len);
			else
				ent->bad_boundary = true;
		}
	}
	if (ent->have_cte)
		first_token(w->cte.data, ent->encoding, sizeof(ent->encoding));
	if (!(ent->have_cdisp && mime_param_get(w->cdisp.data, "filename", &w->fname))
	    && ent->have_ctype)
		mime_param_get(w->ctype.data, "name", &w->fname);
}

/* report_part - tell the sink that a part begins. */
static void report_part(struct walk *w, const struct entity *ent, unsigned depth,
			unsigned index, size_t raw_size)
{
	struct mime_part_info info;

	if (w->sink->part == NULL)
		return;
	info.depth = depth;
	info.index = index;
	info.type = ent->type;
	info.charset = ent->charset[0] ? ent->charset : NULL;
	info.encoding = ent->encoding[0] ? ent->encoding : NULL;
	info.filename = w->fname.len ? w->fname.data : NULL;
	info.raw_size = raw_size;
	w->sink->part(w->ctx, &info);
}

/*
 * decode_text - decode the body s[0..e) of a text part, convert it to
 * UTF-8, reduce HTML, and hand the text to the sink within the limits.
 */
static void decode_text(struct walk *w, const char *type, const char *charset,
			const char *encoding, const char *s, const char *e)
{
	bool html = strcmp(type, "text/html") == 0;
	size_t cap = w->lim.max_part_bytes;
	struct buf *dec = &w->dec;

	if (w->sink->text == NULL && !(html && w->sink->url))
		return;
	if (w->text_bytes >= w->lim.max_text_bytes) {
		w->flags |= MIME_ERR_TRUNC_TEXT;
		return;
	}
	bool cut = false;

	buf_reset(dec);
	if (strcmp(encoding, "base64") == 0 || strcmp(encoding, "quoted-printable") == 0) {
		bool b64 = encoding[0] == 'b';
		struct b64_state bs;
		struct qp_state qs;
		const char *c = s;

		b64_init(&bs);
		qp_init(&qs);
		while (c < e && dec->len < cap) {
			size_t n = (size_t)(e - c) < DECODE_CHUNK ? (size_t)(e - c) : DECODE_CHUNK;
			if (b64)
				b64_decode(&bs, c, n, dec);
			else
				qp_decode(&qs, c, n, dec);
			c += n;
		}
		if (b64)
			b64_finish(&bs, dec);
		else
			qp_finish(&qs, dec);
		if (bs.errors || qs.errors)
			w->flags |= MIME_ERR_ENCODING;
		if (c < e || dec->len > cap)
			cut = true;
	} else {
		/* 7bit, 8bit, binary, absent or unknown: as is. */
		size_t n = (size_t)(e - s);
		if (n > cap) {
			n = cap;
			cut = true;
		}
		buf_append(dec, s, n);
	}
	if (dec->len > cap) {
		dec->len = cap;
		dec->data[cap] = '\0';
	}
	if (cut) {
		w->flags |= MIME_ERR_TRUNC_PART;
		/* Do not let a cut UTF-8 character make the text look invalid. */
		dec->len = charset_utf8_trim_tail(dec->data, dec->len);
		dec->data[dec->len] = '\0';
	}
	if (dec->len && memchr(dec->data, '\0', dec->len)) {
		w->flags |= MIME_ERR_NUL;
		for (size_t i = 0; i < dec->len; i++)
			if (dec->data[i] == '\0')
				dec->data[i] = ' ';
	}

	unsigned cf = 0;
	buf_reset(&w->utf8);
	charset_to_utf8(charset[0] ? charset : NULL, dec->data ? dec->data : "", dec->len,
			&w->utf8, &cf);
	if (cf & (CHARSET_F_UNKNOWN | CHARSET_F_INVALID | CHARSET_F_FALLBACK | CHARSET_F_MISMATCH
		  | (charset[0] ? CHARSET_F_DETECTED : 0)))
		w->flags |= MIME_ERR_CHARSET;
	struct buf *text = &w->utf8;
	if (html) {
		buf_reset(&w->html);
		html_reduce(w->utf8.data ? w->utf8.data : "", w->utf8.len, &w->html,
			    w->sink->url, w->ctx);
		text = &w->html;
	}
	if (w->sink->text == NULL || text->len == 0)
		return;
	size_t room = w->lim.max_text_bytes - w->text_bytes, len = text->len;
	if (len > room) {
		len = charset_utf8_cut(text->data, room);
		w->flags |= MIME_ERR_TRUNC_TEXT;
	}
	if (len == 0)
		return;
	char save = text->data[len];
	text->data[len] = '\0';
	w->sink->text(w->ctx, html ? MIME_TEXT_HTML : MIME_TEXT_PLAIN, text->data, len);
	text->data[len] = save;
	w->text_bytes += len;
}

/* push_boundary - a multipart begins: its boundary joins the stack. */
static void push_boundary(struct walk *w, char *b)
{
	if (w->nstack == w->cap_stack) {
		w->cap_stack = w->cap_stack ? w->cap_stack * 2 : 8;
		w->stack = xrealloc(w->stack, w->cap_stack * sizeof(*w->stack));
	}
	w->stack[w->nstack].s = b;
	w->stack[w->nstack].len = strlen(b);
	w->nstack++;
}

/* pop_boundary - the innermost multipart ended. */
static void pop_boundary(struct walk *w)
{
	w->nstack--;
	free(w->stack[w->nstack].s);
	w->stack[w->nstack].s = NULL;
}

/*
 * parse_entity - walk the entity (header block and body) at p. Returns
 * where it ended: the start of a delimiter line of an enclosing multipart,
 * or end.
 */
static const char *parse_entity(struct walk *w, const char *p, const char *end,
				unsigned depth, bool in_digest)
{
	struct entity ent;
	unsigned which, index;
	bool close;
	const char *after, *body, *q;

	if (w->stop)
		return end;
	if (w->nparts >= w->lim.max_parts) {
		w->flags |= MIME_ERR_PARTS;
		w->stop = true;
		return end;
	}
	index = w->nparts++;
	memset(&ent, 0, sizeof(ent));
	body = parse_headers(w, p, end, depth, &ent);
	entity_info(w, &ent, in_digest);

	bool multipart = strncmp(ent.type, "multipart/", 10) == 0;
	bool message = strcmp(ent.type, "message/rfc822") == 0
		       || strcmp(ent.type, "message/global") == 0;
	/* An encoded message/rfc822 is against RFC 2046; not descended. */
	if (message && ent.encoding[0] && strcmp(ent.encoding, "7bit") != 0
	    && strcmp(ent.encoding, "8bit") != 0 && strcmp(ent.encoding, "binary") != 0)
		message = false;
	if ((multipart || message) && depth >= w->lim.max_depth) {
		w->flags |= MIME_ERR_NESTING;
		multipart = message = false;
		strcpy(ent.type, "application/octet-stream");	/* opaque */
	}
	if (multipart && ent.boundary == NULL) {
		/* No usable boundary: read the body as plain text. */
		w->flags |= MIME_ERR_BOUNDARY;
		multipart = false;
	}

	if (message) {
		report_part(w, &ent, depth, index, 0);
		return parse_entity(w, body, end, depth + 1, false);
	}
	if (!multipart) {
		q = find_delim(w, body, end, &which, &close, &after);
		const char *be = body_end(body, q, end);
		report_part(w, &ent, depth, index, (size_t)(be - body));
		if (strncmp(ent.type, "multipart/", 10) == 0)	/* boundary missing */
			decode_text(w, "text/plain", ent.charset, ent.encoding, body, be);
		else if (strcmp(ent.type, "text/plain") == 0 || strcmp(ent.type, "text/html") == 0)
			decode_text(w, ent.type, ent.charset, ent.encoding, body, be);
		free(ent.boundary);
		return q;
	}

	report_part(w, &ent, depth, index, 0);
	bool digest = strcmp(ent.type, "multipart/digest") == 0;
	unsigned self = w->nstack;
	bool seen_own = false;
	push_boundary(w, ent.boundary);
	q = find_delim(w, body, end, &which, &close, &after);
	for (;;) {
		if (q == end || which != self) {
			/* The boundary never closed (or never appeared). */
			w->flags |= MIME_ERR_BOUNDARY;
			if (!seen_own && !w->stop)
				decode_text(w, "text/plain", ent.charset, ent.encoding, body,
					    body_end(body, q, end));
			break;
		}
		seen_own = true;
		if (close) {
			/* The epilogue runs to an enclosing delimiter. */
			pop_boundary(w);
			return find_delim(w, after, end, &which, &close, &after);
		}
		q = parse_entity(w, after, end, depth + 1, digest);
		if (w->stop)
			break;
		q = find_delim(w, q, end, &which, &close, &after);
	}
	pop_boundary(w);
	return w->stop ? end : q;
}

/* mime_parse - see mime.h. */
unsigned mime_parse(const unsigned char *data, size_t size,
		    const struct mime_limits *lim,
		    const struct mime_sink *sink, void *ctx)
{
	static const struct mime_sink no_sink;
	struct walk w;

	memset(&w, 0, sizeof(w));
	if (lim)
		w.lim = *lim;
	else
		mime_limits_default(&w.lim);
	if (w.lim.max_parts == 0)
		w.lim.max_parts = 1;
	w.sink = sink ? sink : &no_sink;
	w.ctx = ctx;
	parse_entity(&w, (const char *)data, (const char *)data + size, 0, false);
	while (w.nstack)
		pop_boundary(&w);
	free(w.stack);
	buf_free(&w.name);
	buf_free(&w.hval);
	buf_free(&w.val);
	buf_free(&w.tmp);
	buf_free(&w.ctype);
	buf_free(&w.cte);
	buf_free(&w.cdisp);
	buf_free(&w.fname);
	buf_free(&w.dec);
	buf_free(&w.utf8);
	buf_free(&w.html);
	return w.flags;
}
