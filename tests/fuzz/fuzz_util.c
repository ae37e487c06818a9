/*
 * fuzz_util.c - helpers shared by the fuzz targets (see fuzz.h).
 *
 * Also provides a weak LLVMFuzzerInitialize() for targets that need no
 * set-up, so replay.c can always call it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "message/charset.h"
#include "fuzz.h"

/* fuzz_fail - report a broken contract and abort. */
void fuzz_fail(const char *what, const char *where)
{
	fprintf(stderr, "fuzz: %s: %s\n", where, what);
	abort();
}

/* fuzz_check_utf8 - abort unless s[0..n) is valid, NUL-terminated UTF-8. */
void fuzz_check_utf8(const char *s, size_t n, const char *where)
{
	if (s == NULL)
		fuzz_fail("NULL string", where);
	if (s[n] != '\0')
		fuzz_fail("string not NUL-terminated at its length", where);
	if (charset_utf8_valid(s, n) != n)
		fuzz_fail("string is not valid UTF-8", where);
}

/* LLVMFuzzerInitialize - default: nothing to set up. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}
