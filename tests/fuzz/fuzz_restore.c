/*
 * fuzz_restore.c - libFuzzer target: the dump reader (dump.c) through
 * bayes_restore().
 *
 * Each input is restored into a fresh SQLite database held in memory
 * (":memory:": bayes_open creates the schema there as in a file, and a
 * new one costs no file system work, so runs cannot see each other).
 * A restore that fails must say why and leave the database as empty as
 * it was (its dump is the one of a new database). A restore that
 * succeeds must round-trip: its dump, restored into another new
 * database, dumps to the same text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bayes.h"
#include "fuzz.h"

static char *fr_empty;		/* the dump of a new database */
static size_t fr_empty_len;

/* fr_open - a new, empty in-memory database. */
static struct bayes *fr_open(void)
{
	char err[512];
	struct bayes *b = bayes_open(":memory:", BAYES_OPEN_CREATE, NULL, err, sizeof(err), NULL);

	if (b == NULL) {
		fprintf(stderr, "fuzz_restore: %s\n", err);
		fuzz_fail("cannot create an in-memory database", "bayes_open");
	}
	return b;
}

/* fr_dump - b's dump as a malloc'd string; its length in *len_r. */
static char *fr_dump(struct bayes *b, size_t *len_r)
{
	char *text = NULL;
	FILE *out = open_memstream(&text, len_r);

	if (out == NULL)
		fuzz_fail("open_memstream failed", "fuzz_restore");
	if (bayes_dump(b, out) < 0) {
		fprintf(stderr, "fuzz_restore: %s\n", bayes_errmsg(b));
		fuzz_fail("dump failed", "bayes_dump");
	}
	fclose(out);
	return text;
}

/* fr_restore - restore data[0..size) into b: bayes_restore()'s result. */
static int fr_restore(struct bayes *b, const void *data, size_t size)
{
	/* An exact-size copy: fmemopen wants a non-const buffer, and ASan sees overreads. */
	char *copy = malloc(size ? size : 1);
	if (copy == NULL)
		fuzz_fail("out of memory", "fuzz_restore");
	memcpy(copy, data, size);
	FILE *in = fmemopen(copy, size, "r");
	if (in == NULL)
		fuzz_fail("fmemopen failed", "fuzz_restore");
	int rc = bayes_restore(b, in);
	fclose(in);
	free(copy);
	return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct bayes *b = fr_open();
	fr_empty = fr_dump(b, &fr_empty_len);
	bayes_close(&b);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bayes *b = fr_open();
	struct bayes_stats st;
	size_t len, len2;

	if (fr_restore(b, data, size) < 0) {
		const char *why = bayes_errmsg(b);
		if (why == NULL || why[0] == '\0')
			fuzz_fail("restore failed without a reason", "bayes_restore");
		if (bayes_stats(b, NULL, &st) < 0)
			fuzz_fail("stats failed after a failed restore", "bayes_stats");
		if (st.learned_spam != 0 || st.learned_ham != 0 || st.tokens != 0)
			fuzz_fail("failed restore left statistics behind", "bayes_restore");
		char *after = fr_dump(b, &len);
		if (len != fr_empty_len || memcmp(after, fr_empty, len) != 0)
			fuzz_fail("failed restore left rows behind", "bayes_restore");
		free(after);
		bayes_close(&b);
		return 0;
	}

	/* What was restored dumps; that dump restores and dumps to itself. */
	char *first = fr_dump(b, &len);
	bayes_close(&b);
	b = fr_open();
	if (fr_restore(b, first, len) < 0) {
		fprintf(stderr, "fuzz_restore: %s\n", bayes_errmsg(b));
		fuzz_fail("the dump of a restored database does not restore", "bayes_restore");
	}
	char *second = fr_dump(b, &len2);
	if (len != len2 || memcmp(first, second, len) != 0) {
		fprintf(stderr, "--- first dump\n%s--- second dump\n%s", first, second);
		fuzz_fail("dump, restore, dump gives other text", "bayes_dump");
	}
	free(first);
	free(second);
	bayes_close(&b);
	return 0;
}
