/*
 * dump.c - the portable text form of the statistics. See dump.h for the
 * format.
 *
 * Writing walks every table in key order inside one read transaction, so
 * a dump taken while bayesd learns is a consistent snapshot. Reading
 * checks each line strictly (field count, number ranges, hex lengths,
 * known user ids) and inserts rows as they come through the store's
 * prepared statements; the caller's single transaction makes a failed
 * restore leave nothing behind.
 */
#include "store/dump.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define DUMP_MAX_FIELDS	8

/* dump_put_text - write s percent-encoded (see dump.h). */
static void dump_put_text(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '%')
			fprintf(out, "%%%02X", *p);
		else
			putc(*p, out);
	}
}

/* dump_put_hex - write n bytes as lowercase hex. */
static void dump_put_hex(FILE *out, const uint8_t *b, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		putc(hex[b[i] >> 4], out);
		putc(hex[b[i] & 15], out);
	}
}

/* dump_table - every row of table t; *n_r gets the count. */
static int dump_table(struct store *s, enum store_table t, FILE *out, uint64_t *n_r)
{
	struct store_row r;
	int rc;

	*n_r = 0;
	store_rows_begin(s, t);
	while ((rc = store_rows_next(s, &r)) == 1) {
		switch (t) {
		case STORE_META:
			/* the tokenizer is the header; creation is the new file's own */
			if (strcmp(r.name, "tokenizer") == 0 || strcmp(r.name, "created") == 0)
				continue;
			fputs("m ", out);
			dump_put_text(out, r.name);
			putc(' ', out);
			dump_put_text(out, r.value);
			break;
		case STORE_USERS:
			fprintf(out, "u %" PRId64 " ", r.user);
			dump_put_text(out, r.name);
			break;
		case STORE_TOTALS:
			fprintf(out, "n %" PRId64 " %" PRIu64 " %" PRIu64, r.user, r.spam, r.ham);
			break;
		case STORE_TOKENS:
			fprintf(out, "t %" PRId64 " %016" PRIx64 " %" PRIu64 " %" PRIu64 " %" PRId64,
				r.user, r.hash, r.spam, r.ham, r.seen);
			break;
		case STORE_LEARNED:
			fprintf(out, "l %" PRId64 " ", r.user);
			dump_put_hex(out, r.digest, 16);
			fprintf(out, " %d %" PRId64, r.cls, r.at);
			break;
		}
		putc('\n', out);
		(*n_r)++;
	}
	store_rows_end(s);
	return rc;
}

/* dump_write - the whole store as text. */
int dump_write(struct store *s, const char *tok_params, FILE *out, char *err, size_t errlen)
{
	uint64_t nmeta, nusers, ntotals, ntokens, nlearned;

	fprintf(out, "%s %d %s\n", DUMP_MAGIC, DUMP_VERSION, tok_params);
	if (dump_table(s, STORE_META, out, &nmeta) < 0 ||
	    dump_table(s, STORE_USERS, out, &nusers) < 0 ||
	    dump_table(s, STORE_TOTALS, out, &ntotals) < 0 ||
	    dump_table(s, STORE_TOKENS, out, &ntokens) < 0 ||
	    dump_table(s, STORE_LEARNED, out, &nlearned) < 0) {
		snprintf(err, errlen, "%s", store_errmsg(s));
		return -1;
	}
	fprintf(out, "end %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
		nusers, ntotals, ntokens, nlearned);
	if (fflush(out) != 0 || ferror(out)) {
		snprintf(err, errlen, "writing the dump: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* struct dump_reader - the state of one restore. */
struct dump_reader {
	struct store *s;
	unsigned long line;
	int64_t *users;		/* ids announced by u lines, ascending */
	size_t nusers, capusers;
	uint64_t count[STORE_LEARNED + 1];
	char *err;
	size_t errlen;
	enum bayes_errkind kind;
};

/* dump_bad - a malformed line; returns -1. */
static int dump_bad(struct dump_reader *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int dump_bad(struct dump_reader *d, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(d->err, d->errlen, "dump line %lu: %s", d->line, why);
	d->kind = BAYES_ERR_INPUT;
	return -1;
}

/* dump_u64 - a decimal number that fits in max: true on success. */
static bool dump_u64(const char *s, uint64_t max, uint64_t *v_r)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*v_r = v;
	return true;
}

/* dump_hex - exactly 2*n hex digits into n bytes. */
static bool dump_hex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < 2 * n; i++) {
		int c = s[i], v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return false;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return true;
}

/* dump_unescape - decode %XX in place: false on a bad escape. */
static bool dump_unescape(char *s)
{
	char *w = s;
	uint8_t b;

	for (char *p = s; *p; p++) {
		if (*p == '%') {
			if (p[1] == '\0' || p[2] == '\0')
				return false;
			char two[3] = { p[1], p[2], '\0' };
			if (!dump_hex(two, &b, 1) || b == 0)
				return false;
			*w++ = (char)b;
			p += 2;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return true;
}

/* dump_user - a user id field that is 0 or announced: true on success. */
static bool dump_user(struct dump_reader *d, const char *s, int64_t *id_r)
{
	uint64_t v;
	size_t lo = 0, hi = d->nusers;

	if (!dump_u64(s, INT64_MAX, &v))
		return false;
	*id_r = (int64_t)v;
	if (v == 0)
		return true;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (d->users[mid] == (int64_t)v)
			return true;
		if (d->users[mid] < (int64_t)v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* dump_record - one line split into f[0..nf): check it and insert it. */
static int dump_record(struct dump_reader *d, char **f, int nf)
{
	struct store_row r = { 0 };
	enum store_table t;
	uint64_t v;

	switch (f[0][0] != '\0' && f[0][1] == '\0' ? f[0][0] : '?') {
	case 'm':
		if (nf != 3 || !dump_unescape(f[1]) || !dump_unescape(f[2]))
			return dump_bad(d, "expected 'm KEY VALUE'");
		if (strcmp(f[1], "tokenizer") == 0 || strcmp(f[1], "created") == 0)
			return 0;
		t = STORE_META;
		r.name = f[1];
		r.value = f[2];
		break;
	case 'u':
		if (nf != 3 || !dump_u64(f[1], INT64_MAX, &v) || v == 0 || !dump_unescape(f[2]) ||
		    f[2][0] == '\0')
			return dump_bad(d, "expected 'u ID NAME' with ID > 0 and a name");
		if (d->nusers && d->users[d->nusers - 1] >= (int64_t)v)
			return dump_bad(d, "user ids must ascend");
		if (d->nusers == d->capusers) {
			d->capusers = d->capusers ? 2 * d->capusers : 64;
			d->users = xrealloc(d->users, d->capusers * sizeof(*d->users));
		}
		d->users[d->nusers++] = (int64_t)v;
		t = STORE_USERS;
		r.user = (int64_t)v;
		r.name = f[2];
		break;
	case 'n':
		if (nf != 4 || !dump_user(d, f[1], &r.user) || !dump_u64(f[2], INT64_MAX, &r.spam) ||
		    !dump_u64(f[3], INT64_MAX, &r.ham))
			return dump_bad(d, "expected 'n ID SPAM HAM' with a known user");
		t = STORE_TOTALS;
		break;
	case 't':
		if (nf != 6 || !dump_user(d, f[1], &r.user) || strlen(f[2]) != 16 ||
		    !dump_u64(f[3], UINT32_MAX, &r.spam) || !dump_u64(f[4], UINT32_MAX, &r.ham) ||
		    !dump_u64(f[5], INT64_MAX, &v))
			return dump_bad(d, "expected 't ID HASH SPAM HAM SEEN' with a known user");
		uint8_t h[8];
		if (!dump_hex(f[2], h, 8))
			return dump_bad(d, "bad token hash '%s'", f[2]);
		for (int i = 0; i < 8; i++)
			r.hash = r.hash << 8 | h[i];
		r.seen = (int64_t)v;
		t = STORE_TOKENS;
		break;
	case 'l': {
		uint64_t at;
		if (nf != 5 || !dump_user(d, f[1], &r.user) || !dump_hex(f[2], r.digest, 16) ||
		    !dump_u64(f[3], 7, &v) || !dump_u64(f[4], INT64_MAX, &at))
			return dump_bad(d, "expected 'l ID DIGEST CLASS AT' with a known user");
		r.cls = (int)v;
		r.at = (int64_t)at;
		t = STORE_LEARNED;
		break;
	}
	default:
		return dump_bad(d, "unknown record '%.20s'", f[0]);
	}
	if (store_row_put(d->s, t, &r) < 0) {
		snprintf(d->err, d->errlen, "dump line %lu: %s", d->line, store_errmsg(d->s));
		d->kind = store_errkind(d->s);
		return -1;
	}
	d->count[t]++;
	return 0;
}

/* dump_split - split line at single spaces into f (at most max fields). */
static int dump_split(char *line, char **f, int max)
{
	int n = 0;

	for (char *p = line;;) {
		if (n == max)
			return max + 1;
		f[n++] = p;
		p = strchr(p, ' ');
		if (p == NULL)
			return n;
		*p++ = '\0';
	}
}

/* dump_read - a dump into the (empty) store. */
int dump_read(struct store *s, const char *tok_params, FILE *in, char *err, size_t errlen,
	      enum bayes_errkind *kind_r)
{
	struct dump_reader d = { .s = s, .err = err, .errlen = errlen, .kind = BAYES_ERR_NONE };
	char *line = NULL, *f[DUMP_MAX_FIELDS];
	size_t cap = 0;
	ssize_t len;
	bool ended = false;
	int rc = -1;

	while ((len = getline(&line, &cap, in)) > 0) {
		d.line++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (d.line == 1) {
			size_t ml = strlen(DUMP_MAGIC);
			if (strncmp(line, DUMP_MAGIC " ", ml + 1) != 0) {
				dump_bad(&d, "not a bayesd dump (no '%s' header)", DUMP_MAGIC);
				goto done;
			}
			char *ver = line + ml + 1, *params = strchr(ver, ' ');
			if (params)
				*params++ = '\0';
			if (strcmp(ver, "1") != 0) {
				dump_bad(&d, "dump format version %.20s; this bayesc reads version %d",
					 ver, DUMP_VERSION);
				goto done;
			}
			if (params == NULL || strcmp(params, tok_params) != 0) {
				snprintf(err, errlen, "dump was made with tokenizer parameters '%.200s'; "
					 "this build uses '%.200s': retrain from mail instead",
					 params ? params : "", tok_params);
				d.kind = BAYES_ERR_INCOMPATIBLE;
				goto done;
			}
			continue;
		}
		if (ended) {
			dump_bad(&d, "text after the end line");
			goto done;
		}
		if (len == 0 || line[0] == '#')
			continue;
		int nf = dump_split(line, f, DUMP_MAX_FIELDS);
		if (strcmp(f[0], "end") == 0) {
			uint64_t want[4];
			if (nf != 5 || !dump_u64(f[1], UINT64_MAX, &want[0]) ||
			    !dump_u64(f[2], UINT64_MAX, &want[1]) || !dump_u64(f[3], UINT64_MAX, &want[2]) ||
			    !dump_u64(f[4], UINT64_MAX, &want[3])) {
				dump_bad(&d, "expected 'end USERS TOTALS TOKENS LEARNED'");
				goto done;
			}
			if (want[0] != d.count[STORE_USERS] || want[1] != d.count[STORE_TOTALS] ||
			    want[2] != d.count[STORE_TOKENS] || want[3] != d.count[STORE_LEARNED]) {
				dump_bad(&d, "row counts differ from the end line: lines are missing");
				goto done;
			}
			ended = true;
			continue;
		}
		if (dump_record(&d, f, nf) < 0)
			goto done;
	}
	if (ferror(in)) {
		snprintf(err, errlen, "reading the dump: %s", strerror(errno));
		d.kind = BAYES_ERR_INPUT;
	} else if (d.line == 0) {
		snprintf(err, errlen, "the dump is empty");
		d.kind = BAYES_ERR_INPUT;
	} else if (!ended) {
		snprintf(err, errlen, "the dump is truncated (no end line after line %lu)", d.line);
		d.kind = BAYES_ERR_INPUT;
	} else {
		rc = 0;
	}
done:
	free(line);
	free(d.users);
	if (kind_r)
		*kind_r = d.kind;
	return rc;
}
