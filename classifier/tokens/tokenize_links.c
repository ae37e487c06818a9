/*
 * tokenize_links.c - the tokenizer's small parsers (dotted quads, host
 * bytes, registered domains from the public suffix list) and its URL and
 * e-mail address features: url:, url-domain:, url-path:, email: (see the
 * rules atop tokenize.c). Uses tokenize_internal.h, util.h and libpsl.
 */
#include "tokens/tokenize_internal.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ubrk.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utypes.h>

#include <libpsl.h>

/* ------------------------------------------------------------------ */
/* small parsers                                                       */

/* tok_is_ipv4 - s[0..len) is a dotted quad of numbers 0..255. */
bool tok_is_ipv4(const char *s, size_t len)
{
	unsigned dots = 0, digits = 0, val = 0;

	if (len < 7 || len > 15)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			val = val * 10 + (unsigned)(s[i] - '0');
			if (++digits > 3 || val > 255)
				return false;
		} else if (s[i] == '.') {
			if (digits == 0 || ++dots > 3)
				return false;
			digits = val = 0;
		} else {
			return false;
		}
	}
	return dots == 3 && digits > 0;
}

/* is_local_byte - may appear in the local part of an address we scan for. */
static inline bool is_local_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '=';
}

/* reg_psl - the public suffix list tok_reg_domain() uses; reg_psl_load sets it once */
static const psl_ctx_t *reg_psl;

static void reg_psl_load(void)
{
	reg_psl = psl_builtin();
	if (reg_psl == NULL)
		reg_psl = psl_latest(NULL);	/* kept for the life of the process */
}

/*
 * tok_reg_domain - the registered domain of a lower-case host, from the
 * public suffix list (libpsl, its ICANN and private sections): the label
 * under the longest public suffix, so foo.github.io and foo.blogspot.com
 * are their own, example.co.uk is one. libpsl's built-in list (fixed for a
 * libpsl build, so the tokens stay the same from run to run), else the
 * newest one on the system. Returns the offset in host where the domain
 * starts: 0 for a host that is a public suffix itself or has no dot.
 */
size_t tok_reg_domain(const char *host, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	char copy[256];
	const char *rd;

	pthread_once(&once, reg_psl_load);
	if (reg_psl == NULL || len == 0 || len >= sizeof(copy) || memchr(host, '.', len) == NULL)
		return 0;
	memcpy(copy, host, len);
	copy[len] = '\0';
	rd = psl_registrable_domain(reg_psl, copy);
	return rd != NULL ? (size_t)(rd - copy) : 0;
}

/*
 * tok_host_clean - copy host s[0..len) lower-cased into out, without trailing
 * dots. Returns false when nothing usable is left.
 */
bool tok_host_clean(const char *s, size_t len, struct buf *out)
{
	buf_reset(out);
	while (len > 0 && s[len - 1] == '.')
		len--;
	while (len > 0 && s[0] == '.')
		s++, len--;
	if (len == 0 || len > TOK_MAX_URL_HOST)
		return false;
	for (size_t i = 0; i < len; i++)
		buf_putc(out, (char)tok_ascii_lower_tab[(unsigned char)s[i]]);
	return true;
}

/* ------------------------------------------------------------------ */
/* URLs and addresses                                                  */

/* host_features - url:host and url-domain:dom, or the IP forms. */
static void host_features(struct tokenizer *t, const char *h, size_t len)
{
	if (!tok_host_clean(h, len, &t->tmp))
		return;
	tok_feat_add2(t, "url:", 4, t->tmp.data, t->tmp.len);
	if (tok_is_ipv4(t->tmp.data, t->tmp.len)) {
		tok_feat_add(t, "url-ip", 6);
		tok_feat_add2(t, "ip:", 3, t->tmp.data, t->tmp.len);
		return;
	}
	size_t off = tok_reg_domain(t->tmp.data, t->tmp.len);

	tok_feat_add2(t, "url-domain:", 11, t->tmp.data + off, t->tmp.len - off);
}

/*
 * tok_address_features - the features of an address local@domain found in
 * text (s[0..len)): pfx "email" gives "email:a@d" and "email-domain:regdom",
 * a header prefix "from:" gives "from:addr:a@d", "from:dom:host" and
 * "from:dom:regdom".
 */
void tok_address_features(struct tokenizer *t, const char *pfx, const char *s, size_t len)
{
	struct buf *a = &t->tmp;
	const char *at;
	size_t off, dstart;

	buf_reset(a);
	for (size_t i = 0; i < len; i++)
		buf_putc(a, (char)tok_ascii_lower_tab[(unsigned char)s[i]]);
	at = memchr(a->data, '@', a->len);
	if (at == NULL)
		return;
	dstart = (size_t)(at - a->data) + 1;
	off = dstart + tok_reg_domain(a->data + dstart, a->len - dstart);
	if (pfx == NULL) {
		tok_feat_add2(t, "email:", 6, a->data, a->len);
		tok_feat_add2(t, "email-domain:", 13, a->data + off, a->len - off);
	} else {
		tok_feat_add3(t, pfx, "addr:", a->data, a->len);
		tok_feat_add3(t, pfx, "dom:", a->data + dstart, a->len - dstart);
		if (off != dstart)
			tok_feat_add3(t, pfx, "dom:", a->data + off, a->len - off);
	}
}

/*
 * tok_find_address - the address around the '@' at s[at], not reaching back
 * before lo: start and end in *b_r, *e_r. It must have a non-empty local
 * part and a dotted domain.
 */
/*
 * utf8_cut_end - move a cut at s[e] (e < n: text continues) back to a
 * character boundary, not below lo: a length cap must not split a UTF-8
 * sequence, or a feature's readable text would not be UTF-8.
 */
static size_t utf8_cut_end(const unsigned char *s, size_t lo, size_t e, size_t n)
{
	while (e > lo && e < n && (s[e] & 0xC0) == 0x80)
		e--;
	return e;
}

bool tok_find_address(const char *text, size_t n, size_t lo, size_t at,
			 size_t *b_r, size_t *e_r)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t b = at, e = at + 1;

	while (b > lo && at - b < 64 && is_local_byte(s[b - 1]))
		b--;
	while (b < at && ((s[b] & 0xC0) == 0x80 || s[b] == '.'))	/* capped mid-character */
		b++;
	while (e < n && e - at < TOK_MAX_URL_HOST && tok_is_host_byte(s[e]))
		e++;
	e = utf8_cut_end(s, at + 1, e, n);
	while (e > at + 1 && (s[e - 1] == '.' || s[e - 1] == '-'))
		e--;
	if (b == at || e <= at + 1 || memchr(s + at + 1, '.', e - at - 1) == NULL)
		return false;
	*b_r = b;
	*e_r = e;
	return true;
}

/*
 * tok_url_at - a URL whose host starts at s[h]: host features and path words.
 * Returns the offset just past what was used.
 */
size_t tok_url_at(struct tokenizer *t, const char *text, size_t n, size_t h)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t e = h, hs = h, he;
	unsigned npath = 0;

	/* authority: up to / ? # or anything that cannot be in it */
	while (e < n && e - h < 512 && s[e] != '/' && s[e] != '?' && s[e] != '#' &&
	       s[e] > ' ' && s[e] != '"' && s[e] != '<' && s[e] != '>' && s[e] != '\'' &&
	       s[e] != '\\')
		e++;
	e = utf8_cut_end(s, h, e, n);
	for (size_t i = h; i < e; i++)	/* user info */
		if (s[i] == '@')
			hs = i + 1;
	he = hs;
	while (he < e && tok_is_host_byte(s[he]))
		he++;
	if (he > hs)
		host_features(t, text + hs, he - hs);

	/* path: purely alphabetic words only */
	while (e < n && s[e] > ' ' && s[e] != '"' && s[e] != '<' && s[e] != '>' && s[e] != '\'') {
		size_t ws = e;
		bool alpha = true;

		while (e < n && tok_ascii_class[s[e]] >= AC_LETTER && tok_ascii_class[s[e]] <= AC_USCORE) {
			alpha &= tok_ascii_class[s[e]] == AC_LETTER;
			e++;
		}
		if (e > ws + 2 && e - ws <= t->p.max_word && alpha && npath < TOK_MAX_PATH_WORDS) {
			buf_reset(&t->word);
			for (size_t i = ws; i < e; i++)
				buf_putc(&t->word, (char)tok_ascii_lower_tab[s[i]]);
			tok_feat_add2(t, "url-path:", 9, t->word.data, t->word.len);
			npath++;
		}
		if (e == ws)
			e++;
	}
	return e;
}

/* tok_ci_eq - s[0..len) equals lower-case lit, ignoring ASCII case. */
bool tok_ci_eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && ascii_casecmp_n(s, lit, len) == 0;
}

/*
 * tok_scan_links - find URLs (scheme://..., www....) and e-mail addresses in
 * text and add their features. Cheap on text without any: four memchr
 * passes (mem_find).
 */
void tok_scan_links(struct tokenizer *t, const char *s, size_t n)
{
	const char *p, *end = s + n;

	for (p = s; (p = mem_find(p, (size_t)(end - p), "://", 3)) != NULL; p += 3) {
		const char *sc = p;

		while (sc > s && p - sc < 16 && (tok_ascii_class[(unsigned char)sc[-1]] == AC_LETTER ||
						 tok_ascii_class[(unsigned char)sc[-1]] == AC_DIGIT ||
						 sc[-1] == '+' || sc[-1] == '-'))
			sc--;
		if (sc == p)
			continue;
		if (!tok_ci_eq(sc, (size_t)(p - sc), "http") && !tok_ci_eq(sc, (size_t)(p - sc), "https"))
			tok_feat_add3(t, "url-scheme:", "", sc, (size_t)(p - sc));
		p = s + tok_url_at(t, s, n, (size_t)(p + 3 - s)) - 3;
	}
	for (int pass = 0; pass < 2; pass++) {
		const char *www = pass ? "WWW." : "www.";

		for (p = s; (p = mem_find(p, (size_t)(end - p), www, 4)) != NULL; p += 4) {
			/* www. inside a longer host or after :// was done above */
			if (p > s && (tok_is_host_byte((unsigned char)p[-1]) || p[-1] == '/' || p[-1] == '@'))
				continue;
			tok_url_at(t, s, n, (size_t)(p - s));
		}
	}
	size_t lo = 0;

	for (p = s; (p = memchr(p, '@', (size_t)(end - p))) != NULL; p++) {
		size_t b, e;

		if (tok_find_address(s, n, lo, (size_t)(p - s), &b, &e)) {
			tok_address_features(t, NULL, s + b, e - b);
			p = s + e - 1;
			lo = e;
		}
	}
}
