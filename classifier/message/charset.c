/*
 * charset.c - charset conversion to UTF-8 for message text and headers.
 *
 * Most mail text is ASCII or UTF-8, so the first thing done is a fast
 * UTF-8 validation (16 ASCII bytes per step); only text that fails it costs
 * an ICU call. ICU converters are opened once per thread and charset name
 * and kept in a small LRU cache, because ucnv_open() costs far more than
 * converting a typical part. ICU's detector, for text that is neither
 * UTF-8 nor in its declared charset, costs about 2,000 instructions a byte
 * of its sample; spam repeats itself (the same raw Subject, the same body
 * in message after message), so the answers for the last samples are kept
 * too. See charset.h for the contract.
 */
#include "message/charset.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ucnv.h>
#include <unicode/ucsdet.h>
#include <xxhash.h>

#define CNV_CACHE_SIZE	8
#define CNV_NAME_MAX	48
/*
 * Bytes given to the detector. ICU runs every recognizer over every byte,
 * so the cost is in the sample's length; a kilobyte from just before the
 * first 8-bit byte tells the charset as well as 64 KB did (the evaluation
 * numbers did not move) at a fraction of the time.
 */
#define DETECT_SAMPLE	1024
#define DETECT_MIN_CONFIDENCE	10	/* ucsdet confidence 0..100 */
#define FALLBACK_CHARSET	"windows-1252"
/*
 * Detector answers remembered per thread. In 10,000 trec06p messages 62% of
 * the sampled bytes were a sample seen before, and 128 entries kept 93% of
 * those hits (all of them: 97%).
 */
#define DETECT_CACHE_SIZE	128

struct cnv_slot {
	char name[CNV_NAME_MAX];	/* normalised name; "" = free slot */
	UConverter *cnv;		/* NULL: ICU does not know the name */
	unsigned long used;		/* LRU stamp */
};

static __thread struct cnv_slot cnv_cache[CNV_CACHE_SIZE];
static __thread unsigned long cnv_clock;
static __thread UCharsetDetector *detector;

/*
 * struct detect_slot - one remembered detection: the exact sample (the
 * hash only finds it; the bytes are compared) and what ICU answered.
 */
struct detect_slot {
	char *sample;			/* malloc'ed copy; NULL = free slot */
	size_t len;
	uint64_t hash;
	char name[CNV_NAME_MAX];	/* normalised answer; "" = no answer */
	unsigned long used;		/* LRU stamp */
};

static __thread struct detect_slot detect_cache[DETECT_CACHE_SIZE];
static __thread unsigned long detect_clock;

/*
 * The converters are cached per thread. A thread that ends without calling
 * charset_thread_done() (a libmicrohttpd or libmilter worker) would leak
 * them, so the first converter a thread opens also arms a thread-specific
 * key whose destructor releases them when the thread exits.
 */
static pthread_key_t cleanup_key;
static pthread_once_t cleanup_once = PTHREAD_ONCE_INIT;
static __thread bool cleanup_armed;

/* cleanup_at_exit - the key's destructor: runs in the exiting thread. */
static void cleanup_at_exit(void *unused)
{
	(void)unused;
	charset_thread_done();
}

static void cleanup_make_key(void)
{
	pthread_key_create(&cleanup_key, cleanup_at_exit);
}

/* arm_cleanup - make sure this thread's converters are freed at its exit. */
static void arm_cleanup(void)
{
	if (cleanup_armed)
		return;
	pthread_once(&cleanup_once, cleanup_make_key);
	pthread_setspecific(cleanup_key, (void *)1);
	cleanup_armed = true;
}

/* charset_utf8_valid - see charset.h. */
size_t charset_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		while (end - p >= 16) {
			uint64_t a, b;

			memcpy(&a, p, 8);
			memcpy(&b, p + 8, 8);
			if ((a | b) & 0x8080808080808080ULL)
				break;
			p += 16;
		}
		if (p == end)
			break;
		unsigned c = *p;
		size_t left = (size_t)(end - p);

		if (c < 0x80) {
			p++;
		} else if (c < 0xC2) {
			break;
		} else if (c < 0xE0) {
			if (left < 2 || (p[1] & 0xC0) != 0x80)
				break;
			p += 2;
		} else if (c < 0xF0) {
			if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
				break;
			if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
				break;
			p += 3;
		} else if (c < 0xF5) {
			if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80
			    || (p[3] & 0xC0) != 0x80)
				break;
			if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
				break;
			p += 4;
		} else {
			break;
		}
	}
	return (size_t)(p - (const unsigned char *)s);
}

/* utf8_seq_len - the length a lead byte announces, 0 if it is no lead. */
static size_t utf8_seq_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0)
		return 2;
	if (c < 0xF0)
		return 3;
	if (c < 0xF5)
		return 4;
	return 0;
}

/* incomplete_tail - true if s[0..n) (n < 4) is the start of a character
 * cut short. */
static bool incomplete_tail(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t want;

	if (n == 0 || n > 3)
		return false;
	want = utf8_seq_len(p[0]);
	if (want <= n)
		return false;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return false;
	return true;
}

/* charset_utf8_sanitize - see charset.h. */
size_t charset_utf8_sanitize(const char *s, size_t n, struct buf *out)
{
	size_t bad = 0;

	while (n > 0) {
		size_t v = charset_utf8_valid(s, n);

		buf_append(out, s, v);
		s += v;
		n -= v;
		if (n == 0)
			break;
		/* Skip the lead byte and the continuation bytes it claims. */
		size_t want = utf8_seq_len((unsigned char)s[0]), skip = 1;
		while (skip < want && skip < n && ((unsigned char)s[skip] & 0xC0) == 0x80)
			skip++;
		buf_append(out, "\xEF\xBF\xBD", 3);
		bad++;
		s += skip;
		n -= skip;
	}
	return bad;
}

/* charset_utf8_cut - see charset.h. */
size_t charset_utf8_cut(const char *s, size_t n)
{
	size_t k = n;

	/* s[n] exists: back up while it continues a character. */
	while (k > 0 && n - k < 3 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return k;
}

/* charset_utf8_trim_tail - see charset.h. */
size_t charset_utf8_trim_tail(const char *s, size_t n)
{
	size_t v = charset_utf8_valid(s, n);

	if (v < n && incomplete_tail(s + v, n - v))
		return v;
	return n;
}

/* normalise_name - lower-case, trim blanks and quotes, and map names mail
 * gets wrong to the superset that MUAs actually use. Returns false if the
 * name is empty or too long. */
static bool normalise_name(const char *in, char *out, size_t size)
{
	static const struct {
		const char *from, *to;
	} alias[] = {
		{ "iso-8859-1", "windows-1252" }, { "latin1", "windows-1252" },
		{ "iso8859-1", "windows-1252" }, { "iso_8859-1", "windows-1252" },
		{ "gb2312", "gb18030" }, { "gbk", "gb18030" }, { "x-gbk", "gb18030" },
		{ "cp936", "gb18030" }, { "euc-cn", "gb18030" }, { "x-euc-cn", "gb18030" },
		{ "ks_c_5601-1987", "windows-949" }, { "euc-kr", "windows-949" },
		{ "iso-8859-9", "windows-1254" }, { "tis-620", "windows-874" },
		{ "iso-8859-8-i", "iso-8859-8" }, { "utf8", "utf-8" },
		{ "unicode-1-1-utf-7", "utf-7" }, { "x-sjis", "shift_jis" },
		{ "ascii", "us-ascii" }, { "ansi_x3.4-1968", "us-ascii" },
	};
	size_t len = 0;

	while (*in == ' ' || *in == '\t' || *in == '"' || *in == '\'')
		in++;
	for (; *in && *in != '"' && *in != '\'' && *in != ' ' && *in != '\t' && *in != ';'; in++) {
		if (len + 1 >= size)
			return false;
		out[len++] = ascii_lower(*in);
	}
	out[len] = '\0';
	if (len == 0)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(alias); i++)
		if (strcmp(out, alias[i].from) == 0) {
			strcpy(out, alias[i].to);
			break;
		}
	return true;
}

/* is_utf8_name - does the (normalised) name mean UTF-8 or ASCII? */
static bool is_utf8_name(const char *name)
{
	return strcmp(name, "utf-8") == 0 || strcmp(name, "us-ascii") == 0;
}

/* ascii_incompatible - charsets in which ASCII bytes do not mean ASCII. */
static bool ascii_incompatible(const char *name)
{
	return strncmp(name, "utf-16", 6) == 0 || strncmp(name, "utf-32", 6) == 0
	    || strncmp(name, "ucs-", 4) == 0 || strcmp(name, "utf-7") == 0
	    || strncmp(name, "iso-2022", 8) == 0 || strcmp(name, "hz-gb-2312") == 0
	    || strcmp(name, "hz") == 0 || strcmp(name, "csiso2022jp") == 0;
}

/* cnv_get - this thread's converter for a normalised name, or NULL if ICU
 * does not know it (negative results are cached too). */
static UConverter *cnv_get(const char *name)
{
	struct cnv_slot *victim = &cnv_cache[0];

	for (int i = 0; i < CNV_CACHE_SIZE; i++) {
		struct cnv_slot *s = &cnv_cache[i];

		if (s->name[0] && strcmp(s->name, name) == 0) {
			s->used = ++cnv_clock;
			if (s->cnv)
				ucnv_reset(s->cnv);
			return s->cnv;
		}
		if (s->used < victim->used)
			victim = s;
	}
	if (victim->cnv)
		ucnv_close(victim->cnv);
	UErrorCode err = U_ZERO_ERROR;
	arm_cleanup();
	victim->cnv = ucnv_open(name, &err);
	if (U_FAILURE(err)) {
		if (victim->cnv)
			ucnv_close(victim->cnv);
		victim->cnv = NULL;
	}
	snprintf(victim->name, sizeof(victim->name), "%s", name);
	victim->used = ++cnv_clock;
	return victim->cnv;
}

/*
 * icu_convert - convert in[0..n) with cnv to UTF-8 appended to out. strict:
 * stop at the first byte sequence that is illegal or unmapped and return
 * false (out unchanged) - except an incomplete character at the very end,
 * which is dropped. Otherwise such sequences become U+FFFD (or ICU's
 * substitution character) and *replaced_r is set.
 */
static bool icu_convert(UConverter *cnv, const char *in, size_t n, struct buf *out,
			bool strict, bool *replaced_r)
{
	UErrorCode err = U_ZERO_ERROR;
	size_t start = out->len;
	int32_t got;

	if (n > INT32_MAX / 4)
		n = INT32_MAX / 4;
	ucnv_reset(cnv);
	if (strict)
		ucnv_setToUCallBack(cnv, UCNV_TO_U_CALLBACK_STOP, NULL, NULL, NULL, &err);
	else
		ucnv_setToUCallBack(cnv, UCNV_TO_U_CALLBACK_SUBSTITUTE, NULL, NULL, NULL, &err);
	if (U_FAILURE(err))
		return false;
	/* Each input byte yields at most one UTF-16 unit (3 UTF-8 bytes) in
	 * every charset ICU ships; a retry covers any exception. */
	size_t cap = n * 3 + 16;
	for (int attempt = 0; attempt < 2; attempt++) {
		buf_reserve(out, cap);
		err = U_ZERO_ERROR;
		ucnv_reset(cnv);
		got = ucnv_toAlgorithmic(UCNV_UTF8, cnv, out->data + start, (int32_t)cap,
					 in, (int32_t)n, &err);
		if (err == U_BUFFER_OVERFLOW_ERROR && attempt == 0) {
			cap = (size_t)got + 16;
			continue;
		}
		break;
	}
	if (err == U_TRUNCATED_CHAR_FOUND && strict) {
		/* Cut at a byte limit: convert again, substituting, then drop
		 * the tail's replacement character. */
		bool dummy;
		out->len = start;
		if (!icu_convert(cnv, in, n, out, false, &dummy))
			return false;
		if (out->len - start >= 3 && memcmp(out->data + out->len - 3, "\xEF\xBF\xBD", 3) == 0)
			out->len -= 3;
		else if (out->len > start && out->data[out->len - 1] == 0x1A)
			out->len--;
		out->data[out->len] = '\0';
		return true;
	}
	if (U_FAILURE(err) || got < 0) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return false;
	}
	out->len = start + (size_t)got;
	out->data[out->len] = '\0';
	if (!strict && replaced_r)
		*replaced_r = memmem(out->data + start, (size_t)got, "\xEF\xBF\xBD", 3) != NULL
			      || memchr(out->data + start, 0x1A, (size_t)got) != NULL;
	/* ICU emits valid UTF-8; be sure, since nothing else may leave here. */
	if (charset_utf8_valid(out->data + start, (size_t)got) != (size_t)got) {
		struct buf tmp = { 0 };
		charset_utf8_sanitize(out->data + start, (size_t)got, &tmp);
		out->len = start;
		buf_append(out, tmp.data, tmp.len);
		buf_free(&tmp);
	}
	return true;
}

/*
 * detect_icu - ICU's detector on s[0..len): its best guess (normalised) if
 * it is confident enough, else false.
 */
static bool detect_icu(const char *s, size_t len, char *name, size_t size)
{
	UErrorCode err = U_ZERO_ERROR;

	if (detector == NULL) {
		arm_cleanup();
		detector = ucsdet_open(&err);
		if (U_FAILURE(err)) {
			detector = NULL;
			return false;
		}
	}
	ucsdet_setText(detector, s, (int32_t)len, &err);
	const UCharsetMatch *m = ucsdet_detect(detector, &err);
	if (U_FAILURE(err) || m == NULL)
		return false;
	if (ucsdet_getConfidence(m, &err) < DETECT_MIN_CONFIDENCE || U_FAILURE(err))
		return false;
	const char *det = ucsdet_getName(m, &err);
	if (U_FAILURE(err) || det == NULL || !normalise_name(det, name, size))
		return false;
	return true;
}

/*
 * detect_sample - detect_icu() through this thread's cache of answers. The
 * detector keeps no state from one text to the next, so the same sample
 * gets the same answer. A detector that cannot be opened is not cached.
 */
static bool detect_sample(const char *s, size_t len, char *name, size_t size)
{
	uint64_t h = XXH3_64bits(s, len);
	struct detect_slot *victim = &detect_cache[0];

	for (int i = 0; i < DETECT_CACHE_SIZE; i++) {
		struct detect_slot *d = &detect_cache[i];

		if (d->sample && d->hash == h && d->len == len && memcmp(d->sample, s, len) == 0) {
			d->used = ++detect_clock;
			if (d->name[0] == '\0')
				return false;
			snprintf(name, size, "%s", d->name);
			return true;
		}
		if (d->used < victim->used)
			victim = d;
	}
	bool ok = detect_icu(s, len, name, size);
	if (detector == NULL)
		return ok;
	free(victim->sample);
	victim->sample = xmalloc(len ? len : 1);
	memcpy(victim->sample, s, len);
	victim->len = len;
	victim->hash = h;
	snprintf(victim->name, sizeof(victim->name), "%s", ok ? name : "");
	victim->used = ++detect_clock;
	return ok;
}

/* detect - what in[0..n) is, by ICU's detector; fills name (normalised).
 * The sample starts just before the first 8-bit byte so that an ASCII
 * preamble (markup, a quoted header) does not crowd out what matters. */
static bool detect(const char *in, size_t n, char *name, size_t size)
{
	const char *s = in;
	size_t len = n;

	if (len > DETECT_SAMPLE) {
		size_t first8 = 0;
		while (first8 < n && (unsigned char)in[first8] < 0x80)
			first8++;
		size_t off = first8 > 32 ? first8 - 32 : 0;
		if (off > n - DETECT_SAMPLE)
			off = n - DETECT_SAMPLE;
		s = in + off;
		len = DETECT_SAMPLE;
	}
	if (!detect_sample(s, len, name, size))
		return false;
	/* UTF-16/32 guesses on text without a byte order mark are noise. */
	if (strncmp(name, "utf-16", 6) == 0 || strncmp(name, "utf-32", 6) == 0) {
		const unsigned char *u = (const unsigned char *)in;
		bool bom = n >= 2 && ((u[0] == 0xFE && u[1] == 0xFF) || (u[0] == 0xFF && u[1] == 0xFE));
		if (!bom)
			return false;
	}
	return true;
}

/* charset_to_utf8 - see charset.h. */
bool charset_to_utf8(const char *declared, const char *in, size_t n,
		     struct buf *out, unsigned *flags)
{
	char name[CNV_NAME_MAX], det[CNV_NAME_MAX];
	bool named = declared && normalise_name(declared, name, sizeof(name));
	unsigned f = 0;
	bool replaced = false, ok = true;
	UConverter *cnv;

	if (n == 0)
		return true;

	/* Fast path: UTF-8 (ASCII included) in an ASCII-compatible charset. */
	if (!named || !ascii_incompatible(name)) {
		size_t v = charset_utf8_valid(in, n);

		if (v == n) {
			buf_append(out, in, v);
			if (named && !is_utf8_name(name)) {
				/* Declared X but UTF-8 with 8-bit bytes: the label lies. */
				for (size_t i = 0; i < v; i++)
					if ((unsigned char)in[i] >= 0x80) {
						f |= CHARSET_F_MISMATCH;
						ok = false;
						break;
					}
			}
			goto done;
		}
	}
	if (named) {
		cnv = cnv_get(name);
		if (cnv == NULL)
			f |= CHARSET_F_UNKNOWN;
		else if (icu_convert(cnv, in, n, out, true, NULL))
			goto done;
		else
			f |= CHARSET_F_INVALID;
	}
	ok = false;
	if (detect(in, n, det, sizeof(det)) && (cnv = cnv_get(det)) != NULL
	    && icu_convert(cnv, in, n, out, false, &replaced)) {
		f |= CHARSET_F_DETECTED;
		goto done;
	}
	f |= CHARSET_F_FALLBACK;
	if ((cnv = cnv_get(FALLBACK_CHARSET)) != NULL
	    && icu_convert(cnv, in, n, out, false, &replaced))
		goto done;
	/* No ICU at all (cannot happen with a sane install): keep what is
	 * valid. */
	replaced = charset_utf8_sanitize(in, n, out) > 0;
done:
	if (replaced)
		f |= CHARSET_F_REPLACED;
	if (flags)
		*flags |= f;
	return ok;
}

/* charset_thread_done - see charset.h. */
void charset_thread_done(void)
{
	for (int i = 0; i < CNV_CACHE_SIZE; i++) {
		if (cnv_cache[i].cnv)
			ucnv_close(cnv_cache[i].cnv);
		cnv_cache[i].cnv = NULL;
		cnv_cache[i].name[0] = '\0';
		cnv_cache[i].used = 0;
	}
	if (detector)
		ucsdet_close(detector);
	detector = NULL;
	for (int i = 0; i < DETECT_CACHE_SIZE; i++) {
		free(detect_cache[i].sample);
		memset(&detect_cache[i], 0, sizeof(detect_cache[i]));
	}
	detect_clock = 0;
	if (cleanup_armed) {
		pthread_setspecific(cleanup_key, NULL);
		cleanup_armed = false;
	}
}
