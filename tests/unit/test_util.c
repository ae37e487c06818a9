/*
 * test_util.c - the shared helpers of util.c: mem_find against memmem.
 */
#include "harness.h"

#include <string.h>

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
