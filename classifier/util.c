/*
 * util.c - memory helpers and struct buf. See util.h.
 */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* oom - report and exit: there is no sensible way to go on. */
static void oom(size_t size)
{
	syslog(LOG_CRIT, "out of memory allocating %zu bytes", size);
	fprintf(stderr, "out of memory allocating %zu bytes\n", size);
	exit(75);		/* EX_TEMPFAIL */
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		oom(size);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom(n * size);
	return p;
}

void *mem_huge_calloc(size_t n, size_t size)
{
	void *p = xcalloc(n, size);
#ifdef MADV_HUGEPAGE
	size_t bytes = n * size, page = 4096;
	uintptr_t lo = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
	uintptr_t hi = ((uintptr_t)p + bytes) & ~(uintptr_t)(page - 1);

	/* a block this large comes from mmap, untouched: the hint is in time */
	if (bytes >= 4u << 20 && hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#endif
	return p;
}

void *xrealloc(void *old, size_t size)
{
	void *p = realloc(old, size ? size : 1);

	if (p == NULL)
		oom(size);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* buf_grow - see util.h: room for extra more bytes plus the terminating NUL. */
void buf_grow(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	b->data[b->len] = '\0';	/* the contract holds from the first allocation on */
}

void buf_append(struct buf *b, const void *data, size_t size)
{
	buf_reserve(b, size);
	if (size)
		memcpy(b->data + b->len, data, size);
	b->len += size;
	b->data[b->len] = '\0';
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* mem_find - see util.h. */
const char *mem_find(const char *h, size_t n, const char *needle, size_t m)
{
	const char *p = h, *last;

	if (n < m)
		return NULL;
	last = h + (n - m);	/* the last place the needle can start */
	while (p <= last) {
		p = memchr(p, needle[0], (size_t)(last - p) + 1);
		if (p == NULL)
			return NULL;
		if (memcmp(p + 1, needle + 1, m - 1) == 0)
			return p;
		p++;
	}
	return NULL;
}

int ascii_casecmp_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ca = ascii_lower(a[i]), cb = ascii_lower(b[i]);
		if (ca != cb)
			return (unsigned char)ca - (unsigned char)cb;
		if (ca == '\0')
			return 0;
	}
	return 0;
}

/* stats_clock - time(NULL), or $BAYESD_NOW when it holds a positive number */
int64_t stats_clock(void)
{
	const char *v = getenv(STATS_CLOCK_ENV);

	if (v != NULL && *v != '\0') {
		char *end;
		long long t = strtoll(v, &end, 10);

		if (*end == '\0' && t > 0)
			return (int64_t)t;
	}
	return (int64_t)time(NULL);
}

bool path_on_readonly_fs(const char *path)
{
	struct statvfs vfs;

	return statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
}

/* unix_socket_reclaim - see util.h. */
bool unix_socket_reclaim(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return true;
		snprintf(err, errlen, "lstat(%s): %s", path, strerror(errno));
		return false;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not removing it", path);
		return false;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return false;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "%s is in use (is another bayesd running?)", path);
		return false;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "unlink(%s) (stale socket): %s", path, strerror(errno));
		return false;
	}
	return true;
}

/* utf8_char_len - see util.h */
size_t utf8_char_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		len = 2, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* user_name_problem - see util.h */
const char *user_name_problem(const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;
	uint32_t cp;
	size_t i = 0, k;

	if (len == 0)
		return "is empty";
	if (len > USER_NAME_MAX)
		return "is longer than 256 bytes";
	while (i < len) {
		if ((k = utf8_char_len(s + i, len - i, &cp)) == 0)
			return "is not valid UTF-8";
		if (cp == 0)
			return "holds a NUL byte";
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
			return "holds a control character";
		if (cp == ' ')
			return "holds a space";
		i += k;
	}
	return NULL;
}

/* escape_for_log - see util.h */
char *escape_for_log(char *out, size_t outlen, const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), i = 0, o = 0, k;
	uint32_t cp;

	if (outlen == 0)
		return out;
	while (i < n) {
		k = utf8_char_len(s + i, n - i, &cp);
		if (k == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
			if (o + 4 >= outlen)
				break;
			snprintf(out + o, 5, "\\x%02x", s[i]);
			o += 4;
			i++;
		} else if (cp == '\\') {
			if (o + 2 >= outlen)
				break;
			out[o++] = '\\';
			out[o++] = '\\';
			i++;
		} else {
			if (o + k >= outlen)
				break;
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	return out;
}
