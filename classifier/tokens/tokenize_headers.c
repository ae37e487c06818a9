/*
 * tokenize_headers.c - the MIME walk's header events (hdr:, the per-field
 * rules for addresses, Received, Date, Message-ID, DKIM, results) and the
 * meta features of tokenizer_add_meta() (see the rules atop tokenize.c).
 * Uses tokenize_internal.h and util.h.
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
/* headers                                                             */

/* prefix_set - make "pfx" the prefix of the words that follow. */
static void prefix_set(struct tokenizer *t, const char *pfx, size_t len, int chain,
		       unsigned budget)
{
	t->prefix = pfx;
	t->prefix_len = len;
	t->chain = chain;
	t->word_budget = budget;
}

/* is_own_header - a header bayesd writes; it never trains or scores. */
static bool is_own_header(const char *name, size_t len)
{
	static const char *const own[] = {
		"x-spam-status", "x-spam-flag", "x-spam-level", "x-spam-score",
	};

	for (size_t i = 0; i < ARRAY_SIZE(own); i++)
		if (tok_ci_eq(name, len, own[i]))
			return true;
	/* X-Upstream-Spam-*: incoming X-Spam-* renamed by bayesd, never scored at SMTP */
	if (len >= 16 && ascii_casecmp_n(name, "x-upstream-spam-", 16) == 0)
		return true;
	return len >= 8 && ascii_casecmp_n(name, "x-bayesd", 8) == 0;
}

/*
 * hdr_addresses - address headers: each address, its domains, and the
 * words of what is not an address (the display names).
 */
static void hdr_addresses(struct tokenizer *t, const char *pfx, size_t pfxlen,
			  const char *v, size_t n)
{
	struct buf *rest = &t->otext;	/* free while headers are handled */
	unsigned naddr = 0;
	size_t i = 0, copied = 0;

	buf_reset(rest);
	while (i < n) {
		const char *at = memchr(v + i, '@', n - i);
		size_t b, e;

		if (at == NULL)
			break;
		i = (size_t)(at - v);
		if (!tok_find_address(v, n, copied, i, &b, &e)) {
			i++;
			continue;
		}
		buf_append(rest, v + copied, b - copied);
		buf_putc(rest, ' ');
		copied = i = e;
		/* tok_address_features uses t->tmp and t->ftext, not rest */
		if (naddr++ < TOK_MAX_ADDRS)
			tok_address_features(t, pfx, v + b, e - b);
	}
	buf_append(rest, v + copied, n - copied);
	if (naddr == 0)
		tok_feat_add2(t, pfx, pfxlen, "noaddr", 6);
	prefix_set(t, pfx, pfxlen, CHAIN_NONE, TOK_MAX_HEADER_WORDS);
	tok_words(t, rest->data, rest->len);
}

/*
 * hdr_received - the hosts and IPs of a Received field, and its protocol
 * (the word after "with"). Hosts are fields with a dot whose last label
 * is alphabetic; IPs are dotted quads, also given as their /24.
 */
static void hdr_received(struct tokenizer *t, const char *pfx, size_t pfxlen,
			 const char *v, size_t n)
{
	const unsigned char *s = (const unsigned char *)v;
	unsigned ntok = 0;
	bool after_with = false;
	size_t i = 0;

	while (i < n && ntok < TOK_MAX_RECEIVED_TOKS) {
		size_t b, e, lastdot = 0;
		bool letter = false;

		while (i < n && !(tok_is_host_byte(s[i]) && s[i] < 0x80))
			i++;
		b = i;
		while (i < n && tok_is_host_byte(s[i]) && s[i] < 0x80) {
			if (s[i] == '.')
				lastdot = i;
			i++;
		}
		e = i;
		while (e > b && (s[e - 1] == '.' || s[e - 1] == '-'))
			e--;
		if (e == b)
			continue;
		if (after_with) {
			after_with = false;
			buf_reset(&t->word);
			for (size_t j = b; j < e && j - b < 20; j++)
				buf_putc(&t->word, (char)tok_ascii_lower_tab[s[j]]);
			tok_feat_add3(t, pfx, "with:", t->word.data, t->word.len);
			ntok++;
			continue;
		}
		if (e - b == 4 && ascii_casecmp_n(v + b, "with", 4) == 0) {
			after_with = true;
			continue;
		}
		if (tok_is_ipv4(v + b, e - b)) {
			const char *d3 = memrchr(v + b, '.', e - b);

			tok_feat_add3(t, pfx, "ip:", v + b, e - b);
			buf_reset(&t->word);
			buf_append(&t->word, v + b, (size_t)(d3 - (v + b)));
			buf_append(&t->word, ".0/24", 5);
			tok_feat_add3(t, pfx, "ip:", t->word.data, t->word.len);
			ntok++;
			continue;
		}
		if (lastdot <= b || lastdot >= e)
			continue;
		for (size_t j = lastdot + 1; j < e; j++)
			letter |= tok_ascii_class[s[j]] == AC_LETTER;
		if (!letter || e - lastdot < 3)
			continue;
		if (!tok_host_clean(v + b, e - b, &t->tmp))
			continue;
		size_t off = tok_reg_domain(t->tmp.data, t->tmp.len);

		buf_reset(&t->word);
		buf_append(&t->word, t->tmp.data, t->tmp.len);
		tok_feat_add3(t, pfx, "host:", t->word.data, t->word.len);
		tok_feat_add3(t, pfx, "domain:", t->word.data + off, t->word.len - off);
		ntok++;
	}
}

/* hdr_date - only the time zone of a Date field says anything. */
static void hdr_date(struct tokenizer *t, const char *pfx, const char *v, size_t n)
{
	const char *zone = NULL;
	size_t zlen = 0;

	for (size_t i = 0; i < n; i++) {
		if ((v[i] == '+' || v[i] == '-') && i + 5 <= n &&
		    tok_ascii_class[(unsigned char)v[i + 1]] == AC_DIGIT &&
		    tok_ascii_class[(unsigned char)v[i + 2]] == AC_DIGIT &&
		    tok_ascii_class[(unsigned char)v[i + 3]] == AC_DIGIT &&
		    tok_ascii_class[(unsigned char)v[i + 4]] == AC_DIGIT &&
		    (i + 5 == n || tok_ascii_class[(unsigned char)v[i + 5]] != AC_DIGIT)) {
			zone = v + i;
			zlen = 5;
			break;
		}
	}
	if (zone == NULL) {
		/* a zone name: the last alphabetic field of at most 5 letters */
		size_t e = n;

		while (e > 0 && (v[e - 1] == ')' || v[e - 1] == ' '))
			e--;
		size_t b = e;

		while (b > 0 && tok_ascii_class[(unsigned char)v[b - 1]] == AC_LETTER)
			b--;
		if (e > b && e - b <= 5) {
			zone = v + b;
			zlen = e - b;
		}
	}
	buf_reset(&t->word);
	if (zone)
		for (size_t i = 0; i < zlen; i++)
			buf_putc(&t->word, (char)tok_ascii_lower_tab[(unsigned char)zone[i]]);
	else
		buf_append(&t->word, "none", 4);
	tok_feat_add3(t, pfx, "tz:", t->word.data, t->word.len);
}

/* hdr_msgid - the domain of a Message-ID, nothing that is unique. */
static void hdr_msgid(struct tokenizer *t, const char *pfx, const char *v, size_t n)
{
	const char *at = memrchr(v, '@', n), *e;

	if (at == NULL) {
		tok_feat_adds(t, pfx, "nodomain");
		return;
	}
	at++;
	e = at;
	while (e < v + n && tok_is_host_byte((unsigned char)*e))
		e++;
	if (!tok_host_clean(at, (size_t)(e - at), &t->tmp)) {
		tok_feat_adds(t, pfx, "nodomain");
		return;
	}
	size_t off = tok_reg_domain(t->tmp.data, t->tmp.len);

	tok_feat_add3(t, pfx, "dom:", t->tmp.data + off, t->tmp.len - off);
}

/* hdr_params - the names of the parameters of a Content-Type-like value. */
static void hdr_params(struct tokenizer *t, const char *pfx, const char *v, size_t n)
{
	const char *p = v, *end = v + n;
	unsigned count = 0;

	while ((p = memchr(p, ';', (size_t)(end - p))) != NULL && count++ < 16) {
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		const char *b = p;

		while (p < end && (tok_ascii_class[(unsigned char)*p] == AC_LETTER ||
				   tok_ascii_class[(unsigned char)*p] == AC_DIGIT || *p == '-' || *p == '*'))
			p++;
		if (p > b && p < end && *p == '=' && p - b <= 32) {
			buf_reset(&t->word);
			for (const char *q = b; q < p; q++)
				buf_putc(&t->word, (char)tok_ascii_lower_tab[(unsigned char)*q]);
			tok_feat_add3(t, pfx, "param:", t->word.data, t->word.len);
		}
	}
}

/* hdr_dkim - the d= domain of a DKIM or ARC signature. */
static void hdr_dkim(struct tokenizer *t, const char *pfx, const char *v, size_t n)
{
	for (size_t i = 0; i + 2 < n; i++) {
		if ((i == 0 || v[i - 1] == ';' || v[i - 1] == ' ' || v[i - 1] == '\t') &&
		    v[i] == 'd' && v[i + 1] == '=') {
			size_t b = i + 2, e = b;

			while (e < n && tok_is_host_byte((unsigned char)v[e]))
				e++;
			if (tok_host_clean(v + b, e - b, &t->tmp))
				tok_feat_add3(t, pfx, "d:", t->tmp.data, t->tmp.len);
			return;
		}
	}
}

/* hdr_results - "method=result" pairs of Authentication-Results and kin. */
static void hdr_results(struct tokenizer *t, const char *pfx, const char *v, size_t n)
{
	unsigned count = 0;

	for (size_t i = 0; i < n && count < 16; i++) {
		if (v[i] != '=' || i == 0)
			continue;
		size_t b = i, e = i + 1;

		while (b > 0 && (tok_ascii_class[(unsigned char)v[b - 1]] == AC_LETTER ||
				 v[b - 1] == '-') && i - b < 20)
			b--;
		while (e < n && tok_ascii_class[(unsigned char)v[e]] == AC_LETTER && e - i < 20)
			e++;
		if (b == i || e == i + 1 || (b > 0 && v[b - 1] == '.'))
			continue;
		buf_reset(&t->word);
		for (size_t j = b; j < e; j++)
			buf_putc(&t->word, (char)tok_ascii_lower_tab[(unsigned char)v[j]]);
		tok_feat_add3(t, pfx, "", t->word.data, t->word.len);
		count++;
	}
}

/* name_is_one_of - name (lower-case) is in the NULL-terminated list. */
static bool name_is_one_of(const char *name, const char *const *list)
{
	for (; *list; list++)
		if ((*list)[0] == name[0] && strcmp(name, *list) == 0)
			return true;
	return false;
}

static const char *const address_headers[] = {
	"from", "to", "cc", "bcc", "reply-to", "sender", "return-path", "delivered-to",
	"errors-to", "resent-from", "resent-to", "resent-sender", "disposition-notification-to",
	NULL
};
static const char *const presence_headers[] = {
	"content-transfer-encoding", "content-id", "references", "in-reply-to",
	"thread-index", "content-length", "lines", "status", "x-status", "x-uid",
	"x-keywords", NULL
};
static const char *const dkim_headers[] = {
	"dkim-signature", "arc-message-signature", "arc-seal", "x-google-dkim-signature",
	"domainkey-signature", NULL
};
static const char *const results_headers[] = {
	"authentication-results", "received-spf", "arc-authentication-results", NULL
};

/* header_value - the rules by header name; hname holds "name:" already. */
static void header_value(struct tokenizer *t, const char *name, unsigned depth,
			 const char *v, size_t n)
{
	const char *pfx = t->hname.data;
	size_t pfxlen = t->hname.len;

	if (depth == 0) {
		if (strcmp(name, "date") == 0)
			t->seen |= SEEN_DATE;
		else if (strcmp(name, "message-id") == 0)
			t->seen |= SEEN_MSGID;
		else if (strcmp(name, "from") == 0)
			t->seen |= SEEN_FROM;
		else if (strcmp(name, "to") == 0)
			t->seen |= SEEN_TO;
		else if (strcmp(name, "subject") == 0)
			t->seen |= SEEN_SUBJECT;
	}
	if (strcmp(name, "subject") == 0) {
		tok_osb_reset(t, CHAIN_SUBJECT);
		prefix_set(t, pfx, pfxlen, CHAIN_SUBJECT, TOK_MAX_HEADER_WORDS);
		tok_words(t, v, n);
		tok_scan_links(t, v, n);
	} else if (name_is_one_of(name, address_headers)) {
		hdr_addresses(t, pfx, pfxlen, v, n);
	} else if (strcmp(name, "received") == 0) {
		if (t->received_seen++ < TOK_MAX_RECEIVED)
			hdr_received(t, pfx, pfxlen, v, n);
	} else if (strcmp(name, "message-id") == 0 || strcmp(name, "resent-message-id") == 0) {
		hdr_msgid(t, pfx, v, n);
	} else if (strcmp(name, "date") == 0 || strcmp(name, "resent-date") == 0) {
		hdr_date(t, pfx, v, n);
	} else if (strcmp(name, "content-type") == 0 || strcmp(name, "content-disposition") == 0) {
		hdr_params(t, pfx, v, n);
		if (name[8] == 'd') {
			/* inline or attachment: the first word */
			prefix_set(t, pfx, pfxlen, CHAIN_NONE, 1);
			tok_words(t, v, n);
		}
	} else if (name_is_one_of(name, presence_headers) || strncmp(name, "x-ms-exchange-", 14) == 0) {
		/* the hdr: feature says all that repeats */
	} else if (name_is_one_of(name, dkim_headers)) {
		hdr_dkim(t, pfx, v, n);
	} else {
		if (name_is_one_of(name, results_headers))
			hdr_results(t, pfx, v, n);
		prefix_set(t, pfx, pfxlen, CHAIN_NONE, TOK_MAX_HEADER_WORDS);
		tok_words(t, v, n);
		tok_scan_links(t, v, n);
	}
}

/* tok_sink_header - one header field. */
void tok_sink_header(void *ctx, unsigned depth, const char *name, size_t name_len,
			const char *value, size_t value_len)
{
	struct tokenizer *t = ctx;
	char lname[TOK_MAX_NAME + 1];
	size_t nlen = name_len > TOK_MAX_NAME ? TOK_MAX_NAME : name_len;

	if (t->full || is_own_header(name, name_len))
		return;
	for (size_t i = 0; i < nlen; i++)
		lname[i] = (char)tok_ascii_lower_tab[(unsigned char)name[i]];
	lname[nlen] = '\0';
	if (value_len > TOK_MAX_HEADER_BYTES)
		value_len = TOK_MAX_HEADER_BYTES;	/* may cut a character: ICU copes */
	/* "hdr:name", then "name:" as the prefix of what the value gives */
	buf_reset(&t->hname);
	if (depth > 0)
		buf_append(&t->hname, "inner-", 6);
	buf_append(&t->hname, "hdr:", 4);
	buf_append(&t->hname, lname, nlen);
	tok_feat_add(t, t->hname.data, t->hname.len);
	buf_reset(&t->hname);
	if (depth > 0)
		buf_append(&t->hname, "inner-", 6);
	buf_append(&t->hname, lname, nlen);
	buf_putc(&t->hname, ':');
	header_value(t, lname, depth, value, value_len);
}

/* ------------------------------------------------------------------ */
/* meta                                                                */

/* tokenizer_add_meta - see tokenize.h. */
void tokenizer_add_meta(struct tokenizer *t, const char *name, const char *value)
{
	size_t vlen = strlen(value);
	unsigned char addr[16];
	char text[INET6_ADDRSTRLEN + 8];
	struct buf *pfx = &t->hname;

	if (t->full)
		return;
	if (vlen > TOK_MAX_HEADER_BYTES)
		vlen = TOK_MAX_HEADER_BYTES;
	buf_reset(pfx);
	buf_printf(pfx, "meta:%s:", name);
	for (size_t i = 0; i < pfx->len; i++)
		pfx->data[i] = (char)tok_ascii_lower_tab[(unsigned char)pfx->data[i]];

	/* the whole value, lower-cased */
	buf_reset(&t->word);
	for (size_t i = 0; i < vlen && i < 256; i++)
		buf_putc(&t->word, (char)tok_ascii_lower_tab[(unsigned char)value[i]]);
	tok_feat_add2(t, pfx->data, pfx->len, t->word.data, t->word.len);

	if (inet_pton(AF_INET, t->word.data, addr) == 1) {
		snprintf(text, sizeof(text), "%u.%u.%u.0/24", addr[0], addr[1], addr[2]);
		tok_feat_add2(t, pfx->data, pfx->len, text, strlen(text));
	} else if (inet_pton(AF_INET6, t->word.data, addr) == 1) {
		memset(addr + 6, 0, 10);
		if (inet_ntop(AF_INET6, addr, text, INET6_ADDRSTRLEN) != NULL) {
			strcat(text, "/48");
			tok_feat_add2(t, pfx->data, pfx->len, text, strlen(text));
		}
	} else if (memchr(value, '@', vlen) != NULL) {
		hdr_addresses(t, pfx->data, pfx->len, value, vlen);
	} else if (memchr(value, '.', vlen) != NULL && vlen <= TOK_MAX_URL_HOST) {
		if (tok_host_clean(value, vlen, &t->tmp)) {
			size_t off = tok_reg_domain(t->tmp.data, t->tmp.len);

			buf_reset(&t->word);
			buf_append(&t->word, t->tmp.data + off, t->tmp.len - off);
			tok_feat_add3(t, pfx->data, "domain:", t->word.data, t->word.len);
		}
	}
}
