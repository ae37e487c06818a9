/*
 * test_util.c - the shared helpers of util.c: mem_find against memmem;
 * unix_socket_reclaim on each kind of thing a socket path can hold.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

/* same_as_memmem - mem_find and memmem agree on h[0..n) and needle. */
static bool same_as_memmem(const char *h, size_t n, const char *needle)
{
	size_t m = strlen(needle);

	return mem_find(h, n, needle, m) == (const char *)memmem(h, n, needle, m);
}

TEST(util_mem_find)
{
	static const char *const needles[] = { "://", "\n--", "www.", "-", "=?", "ab" };
	const char text[] = "see http://a.example/ and www.b.example\n--frontier\n-- not\n--";
	char h[64];
	unsigned seed = 7;

	for (size_t k = 0; k < ARRAY_SIZE(needles); k++) {
		for (size_t n = 0; n <= sizeof(text) - 1; n++)
			CHECK(same_as_memmem(text, n, needles[k]));
		CHECK(same_as_memmem(text + 5, sizeof(text) - 6, needles[k]));
	}
	/* whole, one byte short, at the end */
	CHECK(mem_find("abc", 3, "abc", 3) != NULL);
	CHECK(mem_find("abc", 2, "abc", 3) == NULL);
	CHECK(mem_find("xxab", 4, "ab", 2) != NULL);
	CHECK(mem_find("xxa", 3, "ab", 2) == NULL);
	CHECK(mem_find("", 0, "a", 1) == NULL);
	/* random haystacks over a small alphabet: many partial matches */
	for (int r = 0; r < 2000; r++) {
		size_t n = (size_t)(r % 64);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			h[i] = "ab:/-\nw."[(seed >> 16) % 8];
		}
		for (size_t k = 0; k < ARRAY_SIZE(needles); k++)
			CHECK(same_as_memmem(h, n, needles[k]));
	}
}

/* tu_bound - a UNIX socket bound at path, listening or not; -1 on failure */
static int tu_bound(const char *path, bool listening)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    (listening && listen(fd, 1) != 0)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

TEST(util_unix_socket_reclaim)
{
	char path[300], err[400];
	struct stat st;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/reclaim.sock", test_tmpdir());
	/* nothing there */
	unlink(path);
	CHECK(unix_socket_reclaim(path, err, sizeof(err)));
	/* a dead daemon's socket: removed */
	fd = tu_bound(path, false);
	REQUIRE(fd >= 0);
	close(fd);
	CHECK(unix_socket_reclaim(path, err, sizeof(err)));
	CHECK(lstat(path, &st) != 0);
	/* a live one: in use, left alone */
	fd = tu_bound(path, true);
	REQUIRE(fd >= 0);
	CHECK(!unix_socket_reclaim(path, err, sizeof(err)));
	CHECK(strstr(err, "is in use") != NULL);
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	close(fd);
	unlink(path);
	/* a regular file (a config mistake): never removed */
	f = fopen(path, "w");
	REQUIRE(f != NULL);
	fputs("keep me\n", f);
	fclose(f);
	CHECK(!unix_socket_reclaim(path, err, sizeof(err)));
	CHECK(strstr(err, "not a socket") != NULL);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	unlink(path);
}

/* user_name_problem: what the controller and bayesc -u refuse, and why */
TEST(util_user_name_problem)
{
	char longname[USER_NAME_MAX + 2];

	CHECK(user_name_problem("alice@example.org", 17) == NULL);
	CHECK(user_name_problem("j\xc3\xbcrgen", 7) == NULL);		/* ü */
	CHECK(user_name_problem("\xe6\x97\xa5\xe6\x9c\xac", 6) == NULL);	/* 日本 */
	CHECK(user_name_problem("\xf0\x9f\x98\x80", 4) == NULL);		/* U+1F600 */
	CHECK(strcmp(user_name_problem("\xff\xfe", 2), "is not valid UTF-8") == 0);
	CHECK(strcmp(user_name_problem("a\0b", 3), "holds a NUL byte") == 0);
	CHECK(strcmp(user_name_problem("a\nb", 3), "holds a control character") == 0);
	CHECK(strcmp(user_name_problem("a\x7f", 2), "holds a control character") == 0);
	CHECK(strcmp(user_name_problem("a\xc2\x85", 3), "holds a control character") == 0);	/* NEL */
	CHECK(strcmp(user_name_problem("a b", 3), "holds a space") == 0);
	CHECK(strcmp(user_name_problem("\xc0\xaf", 2), "is not valid UTF-8") == 0);	/* overlong '/' */
	CHECK(strcmp(user_name_problem("\xed\xa0\x80", 3), "is not valid UTF-8") == 0);	/* surrogate */
	CHECK(strcmp(user_name_problem("\xf4\x90\x80\x80", 4), "is not valid UTF-8") == 0);	/* > U+10FFFF */
	CHECK(strcmp(user_name_problem("\xe6\x97", 2), "is not valid UTF-8") == 0);	/* cut short */
	CHECK(strcmp(user_name_problem("", 0), "is empty") == 0);
	memset(longname, 'a', sizeof(longname));
	CHECK(user_name_problem(longname, USER_NAME_MAX) == NULL);
	CHECK(strcmp(user_name_problem(longname, USER_NAME_MAX + 1), "is longer than 256 bytes") == 0);
}

/* escape_for_log: nothing a client sends can forge a line or put raw bytes in the log */
TEST(util_escape_for_log)
{
	char out[64];

	CHECK(strcmp(escape_for_log(out, sizeof(out), "plain j\xc3\xbcrgen"), "plain j\xc3\xbcrgen") == 0);
	CHECK(strcmp(escape_for_log(out, sizeof(out), "\xff\xfe"), "\\xff\\xfe") == 0);
	CHECK(strcmp(escape_for_log(out, sizeof(out), "a\nwarning: forged"), "a\\x0awarning: forged") == 0);
	CHECK(strcmp(escape_for_log(out, sizeof(out), "back\\slash"), "back\\\\slash") == 0);
	CHECK(strcmp(escape_for_log(out, sizeof(out), "\x1b[31m"), "\\x1b[31m") == 0);
	/* cut at a whole escape, always terminated */
	CHECK(strcmp(escape_for_log(out, 6, "\x01\x02"), "\\x01") == 0);
	CHECK(strcmp(escape_for_log(out, 4, "abcdef"), "abc") == 0);
}
