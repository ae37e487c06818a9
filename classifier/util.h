/*
 * util.h - memory helpers and a growable byte buffer used across libbayes.
 *
 * Out of memory is not an error the callers handle: x*alloc() log and exit,
 * and the MTA's milter default action covers the gap (as in Postfix).
 */
#ifndef BAYES_UTIL_H
#define BAYES_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
/*
 * mem_huge_calloc - xcalloc for a table of megabytes that is read at
 * random (bayesc's bulk token table, bayesd's token cache): asks the
 * kernel for transparent huge pages over it (MADV_HUGEPAGE, a hint; THP
 * "madvise" is Debian's default), so filling it takes a few hundred page
 * faults instead of tens of thousands and each lookup's miss is not also
 * a TLB miss. Freed with free().
 */
void *mem_huge_calloc(size_t n, size_t size);
char *xstrndup(const char *s, size_t n);

/*
 * struct buf - a growable byte string. data is always NUL-terminated after
 * len bytes (so it may be used as a C string when it holds no NUL), and is
 * owned by the buffer. A zeroed struct is an empty buffer.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_append(struct buf *b, const void *data, size_t size);
void buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* buf_grow - buf_reserve's slow path: make room when there is not. */
void buf_grow(struct buf *b, size_t extra);

/*
 * buf_reserve - room for extra more bytes and the NUL. buf_reserve and
 * buf_putc are inline: the tokenizer and the decoders call them per word
 * and per byte, millions of times a second, and almost always there is
 * room already.
 */
static inline void buf_reserve(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 > b->cap)
		buf_grow(b, extra);
}

static inline void buf_putc(struct buf *b, char c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

/*
 * stats_clock - the Unix time the statistics are dated by: when a token
 * was last seen, when a message was learned, the "now" of an expiry run
 * (bayesc expire, bayesd's writer; when runs are due stays real time).
 * It is time(NULL), except that a positive number of seconds in the
 * environment variable BAYESD_NOW replaces it. That is a test and
 * benchmark aid (tests/bench/size-curve.sh replays a year of mail in
 * minutes); it is read on every call, so each process can set its own.
 */
#define STATS_CLOCK_ENV "BAYESD_NOW"
int64_t stats_clock(void);

/*
 * hash_home_slot - the slot where an open-addressing table of cap slots
 * starts looking for a uniform 64-bit hash: the hash scaled to the table
 * (key * cap / 2^64). It keeps key order, so a load in key order (the
 * store lists tokens so) fills the table front to back instead of at
 * random, and the table needs no power-of-two size. bayesc's bulk table
 * (store_sqlite.c) and bayesd's token cache (count_cache.c) both use it.
 */
static inline size_t hash_home_slot(uint64_t key, size_t cap)
{
	return (size_t)(((__uint128_t)key * cap) >> 64);
}

/* path_on_readonly_fs - true when path's file system is mounted read-only. */
bool path_on_readonly_fs(const char *path);

/*
 * unix_socket_reclaim - make path free for a UNIX socket's bind(): nothing
 * there, or a socket nobody answers on (a dead daemon's; removed). False
 * with a one-line reason in err when it is something else (never removed)
 * or a socket someone answers on ("is in use").
 */
bool unix_socket_reclaim(const char *path, char *err, size_t errlen);

/*
 * mem_find - the first needle[0..m) in h[0..n), or NULL: memmem() for the
 * short needles of the parsers ("://", "\n--"). memchr() finds the first
 * byte a vector at a time, which is several times faster than glibc's
 * memmem() (a shift table reset per call, two bytes a step) when that byte
 * is not frequent. m must be at least 1.
 */
const char *mem_find(const char *h, size_t n, const char *needle, size_t m);

/*
 * User names. bayesd keys per-user statistics by the name a client gives
 * (the controller's "User:" header or ?user=, bayesc -u), and the name goes
 * into JSON answers and log lines: one that JSON cannot hold or that a log
 * line would show falsely is refused. USER_NAME_MAX bytes at most, valid
 * UTF-8 (no overlong forms, no surrogates), no NUL, no C0 or C1 control
 * character, no DEL, no space.
 */
#define USER_NAME_MAX	256

/*
 * user_name_problem - NULL when name[0..len) is a user name bayesd
 * accepts, else why not, as a short phrase for an error message
 * ("is not valid UTF-8"). len, not a NUL, ends the name, so an embedded NUL
 * is seen.
 */
const char *user_name_problem(const char *name, size_t len);

/*
 * utf8_char_len - the length of the valid UTF-8 sequence at s[0..n), n > 0,
 * storing its code point in *cp; 0 when the bytes there are not one.
 */
size_t utf8_char_len(const unsigned char *s, size_t n, uint32_t *cp);

/*
 * escape_for_log - in, with every byte that could forge or garble a log
 * line (control characters, DEL, C1 controls, bytes that are not valid
 * UTF-8) and the backslash written as \xNN (a backslash as \\), into
 * out[0..outlen) NUL-terminated, cut at a whole escape. Returns out.
 */
char *escape_for_log(char *out, size_t outlen, const char *in);

/* ascii_strncasecmp-like helper that does not depend on the locale. */
int ascii_casecmp_n(const char *a, const char *b, size_t n);
static inline char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

#endif
