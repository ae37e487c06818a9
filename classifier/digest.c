/*
 * digest.c - the key under which a learned message is remembered:
 * bayes_digest(), declared in bayes.h (the daemon names a history row by
 * it, so a row can be learned or forgotten later).
 *
 * The same message reaches bayesd by several roads: through the milter
 * (LF line ends, no Return-Path yet), through Dovecot's Sieve pipe after
 * LMTP delivery (CRLF, with Return-Path, Delivered-To and a new Received
 * line), through bayesc from a maildir. The digest must be the same on all
 * of them, so it is computed over the message with the trace fields and
 * bayesd's own X-Spam-* fields left out, line ends normalised to LF, a
 * leading mbox "From " line and trailing blank lines ignored.
 */
#include <string.h>
#include <xxhash.h>

#include "bayes.h"
#include "util.h"

/* Header fields that change in transit or are ours: left out. */
static const char *const skip_fields[] = {
	"received", "return-path", "delivered-to", "x-original-to", "x-delivered-to",
	"x-envelope-from", "x-envelope-to", "x-rcpt-to", "x-sieve", "x-sieve-redirected-from",
};

/* skip_field - is the header field name[0..len) left out of the digest? */
static bool skip_field(const char *name, size_t len)
{
	if (len >= 7 && ascii_casecmp_n(name, "x-spam-", 7) == 0)
		return true;
	/* an incoming X-Spam-* as bayesd renamed it (upstream_headers = rename) */
	if (len >= 16 && ascii_casecmp_n(name, "x-upstream-spam-", 16) == 0)
		return true;
	if (len >= 8 && ascii_casecmp_n(name, "x-bayesd", 8) == 0)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(skip_fields); i++)
		if (strlen(skip_fields[i]) == len && ascii_casecmp_n(name, skip_fields[i], len) == 0)
			return true;
	return false;
}

/* feed_lf - hash data with every CR that precedes LF removed. */
static void feed_lf(XXH3_state_t *st, const char *p, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
			XXH3_128bits_update(st, p + start, i - start);
			start = i + 1;
		}
	}
	XXH3_128bits_update(st, p + start, n - start);
}

void bayes_digest(const unsigned char *data, size_t size, uint8_t out[16])
{
	const char *p = (const char *)data, *end = p + size;
	XXH3_state_t *st = XXH3_createState();
	bool skipping = false;

	XXH3_128bits_reset(st);
	if (end - p >= 5 && memcmp(p, "From ", 5) == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	/* header: field by field; continuation lines belong to the field before */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl + 1 : end;
		size_t len = (size_t)(eol - p);

		if (len == 1 || (len == 2 && p[0] == '\r')) {
			p = eol;	/* the blank line: body follows */
			XXH3_128bits_update(st, "\n", 1);
			break;
		}
		if (p[0] == ' ' || p[0] == '\t') {
			if (!skipping)
				feed_lf(st, p, len);
		} else {
			const char *colon = memchr(p, ':', len);
			skipping = colon && skip_field(p, (size_t)(colon - p));
			if (!skipping)
				feed_lf(st, p, len);
		}
		p = eol;
	}
	/* body: trailing line ends do not count (LMTP and pipes differ there) */
	while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	feed_lf(st, p, (size_t)(end - p));

	XXH128_hash_t h = XXH3_128bits_digest(st);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, h);
	memcpy(out, c.digest, 16);
	XXH3_freeState(st);
}
