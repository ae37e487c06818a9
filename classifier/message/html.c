/*
 * html.c - HTML to visible text, plus the URLs of links and images. See
 * html.h.
 *
 * This is not an HTML parser: it keeps no element stack and never looks
 * back, which is what makes it linear. It follows a browser's tokenizer
 * closely enough for spam filtering: what is inside a tag, comment, script
 * or style block is not text; character references are decoded; soft
 * hyphens and zero-width characters (used to break up words so filters do
 * not see them) are dropped.
 */
#include "message/html.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define CP_DROP		0xFFFFFFFFu	/* an entity that produces nothing */
#define CP_SPACE	0xFFFFFFFEu	/* an entity that is white space */
#define TAG_NAME_MAX	16
#define ENTITY_NAME_MAX	10

struct html_out {
	struct buf *out;
	size_t base;		/* out->len on entry: do not emit leading blanks */
	int pend;		/* blank owed before the next text: 0, 1 space, 2 newline */
};

static const struct {
	const char *name;
	uint32_t cp;
} entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	{ "nbsp", CP_SPACE }, { "ensp", CP_SPACE }, { "emsp", CP_SPACE }, { "thinsp", CP_SPACE },
	{ "shy", CP_DROP }, { "zwnj", CP_DROP }, { "zwj", CP_DROP },
	{ "copy", 0xA9 }, { "reg", 0xAE }, { "trade", 0x2122 }, { "hellip", 0x2026 },
	{ "mdash", 0x2014 }, { "ndash", 0x2013 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 },
	{ "ldquo", 0x201C }, { "rdquo", 0x201D }, { "bull", 0x2022 }, { "middot", 0xB7 },
	{ "euro", 0x20AC }, { "pound", 0xA3 }, { "yen", 0xA5 }, { "cent", 0xA2 },
	{ "sect", 0xA7 }, { "deg", 0xB0 }, { "plusmn", 0xB1 }, { "times", 0xD7 },
	{ "divide", 0xF7 }, { "laquo", 0xAB }, { "raquo", 0xBB }, { "iexcl", 0xA1 },
	{ "iquest", 0xBF }, { "para", 0xB6 }, { "micro", 0xB5 },
	{ "auml", 0xE4 }, { "ouml", 0xF6 }, { "uuml", 0xFC }, { "Auml", 0xC4 },
	{ "Ouml", 0xD6 }, { "Uuml", 0xDC }, { "szlig", 0xDF }, { "eacute", 0xE9 },
	{ "Eacute", 0xC9 }, { "egrave", 0xE8 }, { "ecirc", 0xEA }, { "euml", 0xEB },
	{ "aacute", 0xE1 }, { "agrave", 0xE0 }, { "acirc", 0xE2 }, { "atilde", 0xE3 },
	{ "aring", 0xE5 }, { "aelig", 0xE6 }, { "ccedil", 0xE7 }, { "iacute", 0xED },
	{ "igrave", 0xEC }, { "icirc", 0xEE }, { "iuml", 0xEF }, { "ntilde", 0xF1 },
	{ "Ntilde", 0xD1 }, { "oacute", 0xF3 }, { "ograve", 0xF2 }, { "ocirc", 0xF4 },
	{ "otilde", 0xF5 }, { "oslash", 0xF8 }, { "uacute", 0xFA }, { "ugrave", 0xF9 },
	{ "ucirc", 0xFB }, { "yacute", 0xFD }, { "yuml", 0xFF }, { "Aacute", 0xC1 },
	{ "Agrave", 0xC0 }, { "Ccedil", 0xC7 }, { "Oacute", 0xD3 }, { "Uacute", 0xDA },
};

/* Windows-1252 meanings of &#128; .. &#159;, as browsers read them. */
static const uint16_t c1_map[32] = {
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

static const char *const block_tags[] = {
	"address", "article", "aside", "blockquote", "body", "br", "caption", "center",
	"dd", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
	"h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hr", "html", "li", "main",
	"nav", "ol", "option", "p", "pre", "section", "table", "tbody", "tfoot",
	"thead", "title", "tr", "ul",
};

static const char *const url_attrs[] = {
	"href", "src", "action", "background", "poster", "cite",
};

/* is_blank - HTML white space. */
static inline bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* is_alpha - ASCII letter. */
static inline bool is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* is_alnum - ASCII letter or digit. */
static inline bool is_alnum(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

/* in_list - is the lower-case name one of list? (Every tag is looked up
 * in the 42 block tags: the first byte rules most out without a call.) */
static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i][0] == name[0] && strcmp(name, list[i]) == 0)
			return true;
	return false;
}

/* put_utf8 - append code point cp as UTF-8. */
static void put_utf8(struct buf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_append(b, u, n);
}

/*
 * entity - decode the character reference at p ('&'). Returns the bytes it
 * takes (0 if it is not a reference: the '&' is literal) and sets *cp to
 * the code point, CP_SPACE or CP_DROP.
 */
static size_t entity(const char *p, const char *end, uint32_t *cp)
{
	const char *q = p + 1;

	if (q < end && *q == '#') {
		uint32_t v = 0;
		bool hex = false, any = false;

		q++;
		if (q < end && (*q == 'x' || *q == 'X')) {
			hex = true;
			q++;
		}
		for (; q < end; q++) {
			unsigned char c = (unsigned char)*q;
			unsigned d;

			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				d = (unsigned)((c | 0x20) - 'a' + 10);
			else
				break;
			any = true;
			if (v <= 0x10FFFF)
				v = v * (hex ? 16 : 10) + d;
		}
		if (!any)
			return 0;
		if (q < end && *q == ';')
			q++;
		if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			v = 0xFFFD;
		else if (v >= 0x80 && v <= 0x9F)
			v = c1_map[v - 0x80];
		if (v == 0xAD || (v >= 0x200B && v <= 0x200D) || v == 0xFEFF || v == 0x2060)
			v = CP_DROP;
		else if (v == 0xA0 || (v >= 0x2000 && v <= 0x200A))
			v = CP_SPACE;
		*cp = v;
		return (size_t)(q - p);
	}
	char name[ENTITY_NAME_MAX + 1];
	size_t len = 0;
	while (q < end && is_alnum((unsigned char)*q) && len < ENTITY_NAME_MAX)
		name[len++] = *q++;
	if (len == 0)
		return 0;
	name[len] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(entities); i++)
		if (entities[i].name[0] == name[0] && strcmp(name, entities[i].name) == 0) {
			if (q < end && *q == ';')
				q++;
			*cp = entities[i].cp;
			return (size_t)(q - p);
		}
	return 0;
}

/* put_text - append text, first paying any blank owed. */
static void put_text(struct html_out *h, const char *s, size_t n)
{
	if (h->pend) {
		if (h->out->len > h->base)
			buf_putc(h->out, h->pend == 2 ? '\n' : ' ');
		h->pend = 0;
	}
	buf_append(h->out, s, n);
}

/* owe_blank - a blank (1) or line break (2) is due before the next text. */
static inline void owe_blank(struct html_out *h, int kind)
{
	if (h->pend < kind)
		h->pend = kind;
}

/* report_url - entity-decode value[0..n), drop blanks and line breaks
 * as browsers do, and hand it to the callback. */
static void report_url(const char *v, size_t n, struct buf *url,
		       void (*url_cb)(void *, const char *, size_t), void *ctx)
{
	const char *end = v + n;

	buf_reset(url);
	while (v < end) {
		uint32_t cp;
		size_t k;

		if (*v == '&' && (k = entity(v, end, &cp)) > 0) {
			if (cp != CP_DROP && cp != CP_SPACE)
				put_utf8(url, cp);
			v += k;
		} else {
			if (!is_blank((unsigned char)*v))
				buf_putc(url, *v);
			v++;
		}
	}
	if (url->len)
		url_cb(ctx, url->data, url->len);
}

/* skip_raw_text - after <script> or <style>: the position of the matching
 * end tag, or end. */
static const char *skip_raw_text(const char *p, const char *end, const char *name)
{
	size_t nlen = strlen(name);

	while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		if ((size_t)(end - p) >= nlen + 2 && p[1] == '/'
		    && ascii_casecmp_n(p + 2, name, nlen) == 0)
			return p;
		p++;
	}
	return end;
}

/*
 * tag - handle the markup starting at p ('<'). Returns where text resumes.
 */
static const char *tag(struct html_out *h, const char *p, const char *end, struct buf *url,
		       void (*url_cb)(void *, const char *, size_t), void *ctx)
{
	const char *q = p + 1;
	bool closing = false;
	char name[TAG_NAME_MAX + 1];
	size_t nlen = 0;

	if (q < end && *q == '!') {
		const char *e;

		if (end - q >= 3 && q[1] == '-' && q[2] == '-') {
			e = memmem(q + 3, (size_t)(end - q - 3), "-->", 3);
			return e ? e + 3 : end;
		}
		e = memchr(q, '>', (size_t)(end - q));
		return e ? e + 1 : end;
	}
	if (q < end && *q == '?') {
		const char *e = memchr(q, '>', (size_t)(end - q));
		return e ? e + 1 : end;
	}
	if (q < end && *q == '/') {
		closing = true;
		q++;
		if (q < end && !is_alpha((unsigned char)*q)) {
			const char *e = memchr(q, '>', (size_t)(end - q));
			return e ? e + 1 : end;
		}
	}
	if (q >= end || !is_alpha((unsigned char)*q)) {
		put_text(h, "<", 1);	/* a lone '<' is text */
		return p + 1;
	}
	while (q < end && !is_blank((unsigned char)*q) && *q != '/' && *q != '>') {
		if (nlen < TAG_NAME_MAX)
			name[nlen++] = ascii_lower(*q);
		q++;
	}
	name[nlen] = '\0';

	/* Attributes. */
	for (;;) {
		while (q < end && (is_blank((unsigned char)*q) || *q == '/'))
			q++;
		if (q >= end)
			return end;
		if (*q == '>') {
			q++;
			break;
		}
		const char *an = q;
		while (q < end && !is_blank((unsigned char)*q) && *q != '/' && *q != '>'
		       && (*q != '=' || q == an))
			q++;
		size_t alen = (size_t)(q - an);
		while (q < end && is_blank((unsigned char)*q))
			q++;
		if (q >= end || *q != '=')
			continue;
		q++;
		while (q < end && is_blank((unsigned char)*q))
			q++;
		if (q >= end)
			return end;
		const char *vs, *ve;
		if (*q == '"' || *q == '\'') {
			vs = q + 1;
			ve = memchr(vs, *q, (size_t)(end - vs));
			if (ve == NULL)
				return end;	/* unclosed quote hides the rest */
			q = ve + 1;
		} else {
			vs = q;
			while (q < end && !is_blank((unsigned char)*q) && *q != '>')
				q++;
			ve = q;
		}
		if (url_cb && !closing && alen < 12) {
			char an_l[12];
			for (size_t i = 0; i < alen; i++)
				an_l[i] = ascii_lower(an[i]);
			an_l[alen] = '\0';
			if (in_list(an_l, url_attrs, ARRAY_SIZE(url_attrs)))
				report_url(vs, (size_t)(ve - vs), url, url_cb, ctx);
		}
	}
	if (in_list(name, block_tags, ARRAY_SIZE(block_tags)))
		owe_blank(h, 2);
	else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0 || strcmp(name, "img") == 0)
		owe_blank(h, 1);
	if (!closing && (strcmp(name, "script") == 0 || strcmp(name, "style") == 0))
		return skip_raw_text(q, end, name);
	return q;
}

/* html_reduce - see html.h. */
void html_reduce(const char *html, size_t n, struct buf *text_out,
		 void (*url_cb)(void *ctx, const char *url, size_t len), void *ctx)
{
	struct html_out h = { text_out, text_out->len, 0 };
	const char *p = html, *end = html + n;
	struct buf url = { 0 };

	buf_reserve(text_out, n / 2);
	while (p < end) {
		unsigned char c = (unsigned char)*p;

		if (c == '<') {
			p = tag(&h, p, end, &url, url_cb, ctx);
		} else if (c == '&') {
			uint32_t cp;
			size_t k = entity(p, end, &cp);

			if (k == 0) {
				put_text(&h, "&", 1);
				p++;
				continue;
			}
			p += k;
			if (cp == CP_SPACE) {
				owe_blank(&h, 1);
			} else if (cp != CP_DROP) {
				put_text(&h, "", 0);
				put_utf8(text_out, cp);
			}
		} else if (is_blank(c)) {
			owe_blank(&h, 1);
			p++;
		} else {
			const char *q = p + 1;
			while (q < end && *q != '<' && *q != '&' && !is_blank((unsigned char)*q))
				q++;
			put_text(&h, p, (size_t)(q - p));
			p = q;
		}
	}
	buf_free(&url);
}
