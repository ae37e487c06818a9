/*
 * decode.c - base64 and quoted-printable body decoders (incremental, any
 * split), RFC 2047 encoded-word and RFC 2231 parameter decoding. See
 * decode.h for the contract.
 *
 * The body decoders work a byte at a time through small state machines with
 * a table lookup; they never allocate beyond growing the output buffer, and
 * reserve the output once per call so the inner loops do not branch on
 * capacity.
 */
#include "message/decode.h"
#include "message/charset.h"

#include <string.h>

/* Values of base64 characters; 64 = blank (skipped silently), 65 = '=',
 * 66 = garbage. */
#define B64_BLANK	64
#define B64_PAD		65
#define B64_BAD		66

static unsigned char b64_val[256];
static unsigned char hex_val[256];	/* 0..15, or 16 when not hex */

/* tables_init - fill the lookup tables (once; idempotent and race-free
 * because every thread writes the same values). */
static void tables_init(void)
{
	static volatile int done;
	const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	if (done)
		return;
	for (int i = 0; i < 256; i++) {
		b64_val[i] = B64_BAD;
		hex_val[i] = 16;
	}
	for (int i = 0; i < 64; i++)
		b64_val[(unsigned char)abc[i]] = (unsigned char)i;
	b64_val['-'] = 62;	/* URL-safe alphabet, seen in the wild */
	b64_val['_'] = 63;
	b64_val[' '] = b64_val['\t'] = b64_val['\r'] = b64_val['\n'] = B64_BLANK;
	b64_val['\f'] = b64_val['\v'] = B64_BLANK;
	b64_val['='] = B64_PAD;
	for (int i = 0; i < 10; i++)
		hex_val['0' + i] = (unsigned char)i;
	for (int i = 0; i < 6; i++) {
		hex_val['a' + i] = (unsigned char)(10 + i);
		hex_val['A' + i] = (unsigned char)(10 + i);
	}
	done = 1;
}

/* b64_init - start a new stream. */
void b64_init(struct b64_state *st)
{
	tables_init();
	st->bits = 0;
	st->nbits = 0;
	st->errors = 0;
}

/* b64_decode - decode a piece; see decode.h. */
size_t b64_decode(struct b64_state *st, const char *in, size_t n, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in, *end = p + n;
	unsigned bits = st->bits, nbits = st->nbits;
	unsigned char *o;
	size_t start = out->len;

	buf_reserve(out, n / 4 * 3 + 3);
	o = (unsigned char *)out->data + out->len;
	while (p < end) {
		unsigned v = b64_val[*p++];

		if (v < 64) {
			bits = (bits << 6) | v;
			nbits += 6;
			if (nbits >= 8) {
				nbits -= 8;
				*o++ = (unsigned char)(bits >> nbits);
				bits &= (1u << nbits) - 1;
			}
		} else if (v == B64_PAD) {
			/* End of a quantum: leftover bits are padding. */
			bits = 0;
			nbits = 0;
		} else if (v == B64_BAD) {
			st->errors++;
		}
	}
	st->bits = bits;
	st->nbits = nbits;
	out->len = (size_t)((char *)o - out->data);
	out->data[out->len] = '\0';
	return out->len - start;
}

/* b64_finish - drop what is left; 6 bits left means a lone character. */
void b64_finish(struct b64_state *st, struct buf *out)
{
	(void)out;
	if (st->nbits == 6)
		st->errors++;
	st->bits = 0;
	st->nbits = 0;
}

/* qp_init - start a new stream. */
void qp_init(struct qp_state *st)
{
	tables_init();
	st->npend = 0;
	st->errors = 0;
}

/* qp_flush_literal - a held-back sequence turned out not to be an escape:
 * emit it as written. */
static void qp_flush_literal(struct qp_state *st, struct buf *out)
{
	buf_append(out, st->pend, st->npend);
	st->npend = 0;
	st->errors++;
}

/*
 * qp_decode - decode a piece; see decode.h.
 *
 * st->pend holds a possible escape that the input split: "=" then either one
 * hex digit, or blanks, or blanks and CR. Every byte is handled by looking
 * at what is held back, so the result does not depend on where the input
 * was cut.
 */
size_t qp_decode(struct qp_state *st, const char *in, size_t n, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in, *end = p + n;
	size_t start = out->len;

	buf_reserve(out, n);
	while (p < end) {
		unsigned char c;

		if (st->npend == 0) {
			/* Fast path: copy up to the next '='. */
			const unsigned char *eq = memchr(p, '=', (size_t)(end - p));
			size_t run = eq ? (size_t)(eq - p) : (size_t)(end - p);

			if (run) {
				memcpy(out->data + out->len, p, run);
				out->len += run;
				p += run;
			}
			if (p == end)
				break;
			st->pend[0] = '=';
			st->npend = 1;
			p++;
			continue;
		}
		c = *p;
		unsigned char last = st->pend[st->npend - 1];
		if (st->npend == 1) {
			/* After "=". */
			if (hex_val[c] < 16) {
				st->pend[st->npend++] = c;
				p++;
			} else if (c == '\n') {
				st->npend = 0;	/* soft line break */
				p++;
			} else if (c == ' ' || c == '\t' || c == '\r') {
				st->pend[st->npend++] = c;
				p++;
			} else {
				qp_flush_literal(st, out);	/* reprocess c */
			}
		} else if (st->npend == 2 && hex_val[st->pend[1]] < 16) {
			/* After "=X". */
			if (hex_val[c] < 16) {
				buf_putc(out, (char)(hex_val[st->pend[1]] << 4 | hex_val[c]));
				st->npend = 0;
				p++;
			} else {
				qp_flush_literal(st, out);
			}
		} else if (last == '\r') {
			/* After "=<blanks>\r": a soft break whether or not LF follows. */
			st->npend = 0;
			if (c == '\n')
				p++;
		} else {
			/* After "=<blanks>". */
			if (c == '\n') {
				st->npend = 0;
				p++;
			} else if ((c == ' ' || c == '\t' || c == '\r')
				   && st->npend < sizeof(st->pend)) {
				st->pend[st->npend++] = c;
				p++;
			} else {
				qp_flush_literal(st, out);
			}
		}
		/* Literal flushes and putc may have grown the buffer; keep n spare. */
		buf_reserve(out, (size_t)(end - p) + sizeof(st->pend));
	}
	out->data[out->len] = '\0';
	return out->len - start;
}

/* qp_finish - flush a held-back sequence. "=" + blanks + CR at the very end
 * is a soft break. */
void qp_finish(struct qp_state *st, struct buf *out)
{
	if (st->npend && st->pend[st->npend - 1] != '\r')
		qp_flush_literal(st, out);
	st->npend = 0;
}

/*
 * RFC 2047.
 */

#define EW_MAX_CHARSET	64

struct ew {
	const char *start, *end;	/* the whole word "=?...?=" */
	char charset[EW_MAX_CHARSET];
	char enc;			/* 'b' or 'q' */
	const char *text;
	size_t text_len;
};

/* ew_parse - parse an encoded word at p (which points at "=?"). Returns
 * false if it is malformed. *no_more_r is set when no "?=" follows at all,
 * so no later word can be complete either. */
static bool ew_parse(const char *p, const char *end, struct ew *w, bool *no_more_r)
{
	const char *q = p + 2, *cs = q;
	size_t cslen;

	while (q < end && *q != '?' && q - cs < EW_MAX_CHARSET - 1
	       && *q != ' ' && *q != '\t' && *q != '\r' && *q != '\n')
		q++;
	if (q >= end || *q != '?' || q == cs)
		return false;
	cslen = (size_t)(q - cs);
	if (end - q < 4)
		return false;
	char e = ascii_lower(q[1]);
	if ((e != 'b' && e != 'q') || q[2] != '?')
		return false;
	const char *text = q + 3;
	const char *close = memmem(text, (size_t)(end - text), "?=", 2);
	if (close == NULL) {
		*no_more_r = true;
		return false;
	}
	/* Encoded text has no blanks; a blank means this is not a word. */
	for (const char *t = text; t < close; t++)
		if (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')
			return false;
	for (size_t i = 0; i < cslen; i++)
		w->charset[i] = ascii_lower(cs[i]);
	w->charset[cslen] = '\0';
	char *star = strchr(w->charset, '*');	/* RFC 2231 language */
	if (star)
		*star = '\0';
	w->start = p;
	w->end = close + 2;
	w->enc = e;
	w->text = text;
	w->text_len = (size_t)(close - text);
	return true;
}

/* ew_decode_text - decode the payload of w and append the bytes to raw. */
static void ew_decode_text(const struct ew *w, struct buf *raw)
{
	if (w->enc == 'b') {
		struct b64_state b;

		b64_init(&b);
		b64_decode(&b, w->text, w->text_len, raw);
		return;
	}
	buf_reserve(raw, w->text_len);
	for (size_t i = 0; i < w->text_len; i++) {
		unsigned char c = (unsigned char)w->text[i];

		if (c == '_') {
			c = ' ';
		} else if (c == '=' && i + 2 < w->text_len
			   && hex_val[(unsigned char)w->text[i + 1]] < 16
			   && hex_val[(unsigned char)w->text[i + 2]] < 16) {
			c = (unsigned char)(hex_val[(unsigned char)w->text[i + 1]] << 4
					    | hex_val[(unsigned char)w->text[i + 2]]);
			i += 2;
		}
		raw->data[raw->len++] = (char)c;
	}
	raw->data[raw->len] = '\0';
}

/* flush_raw - convert the joined bytes of adjacent words to UTF-8. */
static void flush_raw(struct buf *raw, const char *charset, struct buf *out)
{
	unsigned cf = 0;

	if (raw->len)
		charset_to_utf8(charset, raw->data, raw->len, out, &cf);
	buf_reset(raw);
}

/* rfc2047_decode - see decode.h. */
bool rfc2047_decode(const char *in, size_t n, struct buf *out, unsigned *errors_r)
{
	if (in == NULL)
		in = "";	/* an empty struct buf has no data: no arithmetic on NULL */
	const char *p = in, *end = in + n, *lit = in;
	struct buf raw = { 0 };
	char raw_cs[EW_MAX_CHARSET] = "";
	bool any = false, after_word = false, no_more = false;

	tables_init();
	if (n == 0)
		return false;
	while (!no_more) {
		const char *q = memmem(p, (size_t)(end - p), "=?", 2);
		struct ew w;

		if (q == NULL)
			break;
		if (!ew_parse(q, end, &w, &no_more)) {
			if (errors_r && q + 2 < end)
				(*errors_r)++;
			p = q + 2;
			continue;
		}
		/* Text between the previous word and this one. */
		bool blanks_only = true;
		for (const char *t = lit; t < q; t++)
			if (*t != ' ' && *t != '\t' && *t != '\r' && *t != '\n') {
				blanks_only = false;
				break;
			}
		if (!(after_word && blanks_only)) {
			flush_raw(&raw, raw_cs, out);
			if (q > lit) {
				unsigned cf = 0;
				charset_to_utf8(NULL, lit, (size_t)(q - lit), out, &cf);
			}
		} else if (strcmp(raw_cs, w.charset) != 0) {
			flush_raw(&raw, raw_cs, out);
		}
		strcpy(raw_cs, w.charset);
		ew_decode_text(&w, &raw);
		any = true;
		after_word = true;
		p = lit = w.end;
	}
	flush_raw(&raw, raw_cs, out);
	if (end > lit) {
		unsigned cf = 0;
		charset_to_utf8(NULL, lit, (size_t)(end - lit), out, &cf);
	}
	buf_free(&raw);
	return any;
}

/*
 * RFC 2231 and plain parameters.
 */

#define PARAM_MAX_SEGMENTS	64

struct seg {
	unsigned idx;
	bool ext;		/* name*N*= : percent-encoded */
	size_t off, len;	/* in the scratch buffer */
};

/* is_blank - header white space. */
static inline bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* pct_decode - append s[0..n) with %XX decoded. */
static void pct_decode(const char *s, size_t n, struct buf *out)
{
	buf_reserve(out, n);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%' && i + 2 < n && hex_val[(unsigned char)s[i + 1]] < 16
		    && hex_val[(unsigned char)s[i + 2]] < 16) {
			c = (char)(hex_val[(unsigned char)s[i + 1]] << 4
				   | hex_val[(unsigned char)s[i + 2]]);
			i += 2;
		}
		out->data[out->len++] = c;
	}
	out->data[out->len] = '\0';
}

/* mime_param_get - see decode.h. */
bool mime_param_get(const char *value, const char *name, struct buf *out)
{
	size_t nlen = strlen(name);
	const char *p = value;
	struct buf scratch = { 0 };
	struct seg segs[PARAM_MAX_SEGMENTS];
	unsigned nsegs = 0;
	bool have_plain = false, have_ext1 = false;
	size_t plain_off = 0, plain_len = 0, ext1_off = 0, ext1_len = 0;

	tables_init();
	/* Skip the type/subtype or disposition: up to the first ';' outside quotes. */
	for (bool inq = false; *p && (inq || *p != ';'); p++) {
		if (*p == '"')
			inq = !inq;
		else if (*p == '\\' && inq && p[1])
			p++;
	}
	while (*p) {
		const char *an, *ae;

		while (*p == ';' || is_blank(*p))
			p++;
		an = p;
		while (*p && *p != '=' && *p != ';' && !is_blank(*p))
			p++;
		ae = p;
		while (is_blank(*p))
			p++;
		if (*p != '=') {
			continue;	/* attribute without value: skip */
		}
		p++;
		while (is_blank(*p))
			p++;
		/* The value, unquoted into scratch. */
		size_t voff = scratch.len;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				buf_putc(&scratch, *p++);
			}
			if (*p == '"')
				p++;
			while (*p && *p != ';')	/* junk after the quote */
				p++;
		} else {
			const char *vs = p;
			while (*p && *p != ';')
				p++;
			const char *ve = p;
			while (ve > vs && is_blank(ve[-1]))
				ve--;
			buf_append(&scratch, vs, (size_t)(ve - vs));
		}
		size_t vlen = scratch.len - voff;

		/* Which form of the parameter is this? */
		size_t alen = (size_t)(ae - an);
		if (alen < nlen || ascii_casecmp_n(an, name, nlen) != 0)
			continue;
		if (alen == nlen) {
			if (!have_plain) {
				have_plain = true;
				plain_off = voff;
				plain_len = vlen;
			}
		} else if (an[nlen] == '*' && alen == nlen + 1) {
			if (!have_ext1) {
				have_ext1 = true;
				ext1_off = voff;
				ext1_len = vlen;
			}
		} else if (an[nlen] == '*' && an[nlen + 1] >= '0' && an[nlen + 1] <= '9') {
			const char *d = an + nlen + 1;
			unsigned idx = 0;

			while (d < ae && *d >= '0' && *d <= '9' && idx < 100000)
				idx = idx * 10 + (unsigned)(*d++ - '0');
			bool ext = (d < ae && *d == '*');
			if (ext)
				d++;
			if (d != ae || nsegs == PARAM_MAX_SEGMENTS)
				continue;
			segs[nsegs].idx = idx;
			segs[nsegs].ext = ext;
			segs[nsegs].off = voff;
			segs[nsegs].len = vlen;
			nsegs++;
		}
	}

	bool found = true;
	struct buf bytes = { 0 };
	char charset[EW_MAX_CHARSET] = "";

	if (have_ext1 || nsegs) {
		/* Extended value or continuations: collect the bytes in order. */
		if (have_ext1) {
			nsegs = 1;
			segs[0].idx = 0;
			segs[0].ext = true;
			segs[0].off = ext1_off;
			segs[0].len = ext1_len;
		}
		/* Insertion sort: at most PARAM_MAX_SEGMENTS entries. */
		for (unsigned i = 1; i < nsegs; i++) {
			struct seg s = segs[i];
			unsigned j = i;
			while (j > 0 && segs[j - 1].idx > s.idx) {
				segs[j] = segs[j - 1];
				j--;
			}
			segs[j] = s;
		}
		for (unsigned i = 0; i < nsegs; i++) {
			const char *s = scratch.data + segs[i].off;
			size_t len = segs[i].len;

			if (i > 0 && segs[i].idx == segs[i - 1].idx)
				continue;	/* duplicate index */
			if (i == 0 && segs[i].ext) {
				/* charset'language'value */
				const char *q1 = memchr(s, '\'', len);
				const char *q2 = q1 ? memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - s)) : NULL;
				if (q2) {
					size_t cl = (size_t)(q1 - s);
					if (cl >= sizeof(charset))
						cl = 0;
					for (size_t k = 0; k < cl; k++)
						charset[k] = ascii_lower(s[k]);
					charset[cl] = '\0';
					len -= (size_t)(q2 + 1 - s);
					s = q2 + 1;
				}
			}
			if (segs[i].ext)
				pct_decode(s, len, &bytes);
			else
				buf_append(&bytes, s, len);
		}
		unsigned cf = 0;
		if (bytes.len)
			charset_to_utf8(charset[0] ? charset : NULL, bytes.data, bytes.len, out, &cf);
	} else if (have_plain) {
		rfc2047_decode(scratch.data ? scratch.data + plain_off : "", plain_len, out, NULL);
	} else {
		found = false;
	}
	buf_free(&bytes);
	buf_free(&scratch);
	return found;
}
