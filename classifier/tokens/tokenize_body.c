/*
 * tokenize_body.c - the MIME walk's text, URL and part events: body text
 * held back until a word ends, then words and links; ct:, cte:,
 * charset:, filename-ext: (see the rules atop tokenize.c). Uses
 * tokenize_internal.h and util.h.
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

/* ------------------------------------------------------------------ */
/* body text                                                           */

/* body_text - tokenize complete text (ending at a word boundary). */
static void body_text(struct tokenizer *t, const char *s, size_t n)
{
	if (t->full)
		return;
	t->prefix = "";
	t->prefix_len = 0;
	t->chain = CHAIN_BODY;
	t->word_budget = t->body_words;
	tok_words(t, s, n);
	t->body_words = t->word_budget;
	tok_scan_links(t, s, n);
}

/* tok_pending_flush - tokenize the text held back. */
void tok_pending_flush(struct tokenizer *t)
{
	if (t->pending.len > 0) {
		body_text(t, t->pending.data, t->pending.len);
		buf_reset(&t->pending);
	}
}

/* last_space - offset just past the last white space in s[0..n), or 0. */
static size_t last_space(const char *s, size_t n)
{
	while (n > 0 && tok_ascii_class[(unsigned char)s[n - 1]] != AC_SPACE)
		n--;
	return n;
}

/*
 * tok_sink_text - a chunk of body text. A word may straddle chunks, so what
 * follows the last white space is held back until the next chunk, the next
 * part or the end (up to TOK_MAX_PENDING bytes; a longer "word" is cut).
 */
void tok_sink_text(void *ctx, enum mime_text_kind kind, const char *text, size_t len)
{
	struct tokenizer *t = ctx;

	if (t->full)
		return;
	if (t->pending.len > 0 && kind != t->pending_kind)
		tok_pending_flush(t);
	t->pending_kind = kind;
	if (t->pending.len > 0) {
		size_t i = 0;

		while (i < len && tok_ascii_class[(unsigned char)text[i]] != AC_SPACE)
			i++;
		buf_append(&t->pending, text, i);
		if (i == len && t->pending.len < TOK_MAX_PENDING)
			return;
		tok_pending_flush(t);
		text += i;
		len -= i;
	}
	size_t cut = last_space(text, len);

	if (cut == 0 && len < TOK_MAX_PENDING) {
		buf_append(&t->pending, text, len);
		return;
	}
	if (len - cut >= TOK_MAX_PENDING)
		cut = len;
	body_text(t, text, cut);
	buf_append(&t->pending, text + cut, len - cut);
}

/* tok_sink_url - a URL from an HTML attribute. */
void tok_sink_url(void *ctx, const char *url, size_t len)
{
	struct tokenizer *t = ctx;
	const char *colon;

	if (t->full)
		return;
	while (len > 0 && (unsigned char)*url <= ' ')
		url++, len--;
	if (len > 7 && ascii_casecmp_n(url, "mailto:", 7) == 0) {
		size_t b, e;
		const char *at = memchr(url, '@', len);

		if (at && tok_find_address(url, len, 7, (size_t)(at - url), &b, &e))
			tok_address_features(t, NULL, url + b, e - b);
		return;
	}
	colon = memchr(url, ':', len < 16 ? len : 16);
	if (colon && (size_t)(colon - url) + 3 <= len && colon[1] == '/' && colon[2] == '/') {
		size_t sl = (size_t)(colon - url);

		if (!tok_ci_eq(url, sl, "http") && !tok_ci_eq(url, sl, "https"))
			tok_feat_add3(t, "url-scheme:", "", url, sl);
		tok_url_at(t, url, len, sl + 3);
	} else if (len > 2 && url[0] == '/' && url[1] == '/') {
		tok_url_at(t, url, len, 2);
	} else if (len > 4 && ascii_casecmp_n(url, "www.", 4) == 0) {
		tok_url_at(t, url, len, 0);
	} else if (colon) {
		/* javascript:, data:, cid: ... */
		tok_feat_add3(t, "url-scheme:", "", url, (size_t)(colon - url));
	}
}

/* ext_ok - a file name extension worth a feature. */
static bool ext_ok(const char *e, size_t len)
{
	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++)
		if (tok_ascii_class[(unsigned char)e[i]] != AC_LETTER &&
		    tok_ascii_class[(unsigned char)e[i]] != AC_DIGIT)
			return false;
	return true;
}

/* tok_sink_part - a MIME part begins. */
void tok_sink_part(void *ctx, const struct mime_part_info *info)
{
	struct tokenizer *t = ctx;

	tok_pending_flush(t);
	tok_osb_reset(t, CHAIN_BODY);
	if (t->full)
		return;
	if (info->type)
		tok_feat_adds(t, "ct:", info->type);
	if (info->encoding)
		tok_feat_adds(t, "cte:", info->encoding);
	if (info->charset)
		tok_feat_adds(t, "charset:", info->charset);
	if (info->filename) {
		const char *dot = strrchr(info->filename, '.');
		size_t elen = dot ? strlen(dot + 1) : 0;

		buf_reset(&t->word);
		for (size_t i = 0; i < elen; i++)
			buf_putc(&t->word, (char)tok_ascii_lower_tab[(unsigned char)dot[1 + i]]);
		if (ext_ok(t->word.data, t->word.len))
			tok_feat_add2(t, "filename-ext:", 13, t->word.data, t->word.len);
		else
			tok_feat_add(t, "filename-ext:none", 17);
	}
}
