/*
 * main.c - runs every registered unit test, or those whose names contain
 * argv[1]. Prints one line per test and "N passed, N failed" last; exits
 * non-zero when any failed.
 */
#include "harness.h"
#include "util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_TESTS 1024

static struct {
	const char *name;
	test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static int failures;		/* in the running test */
static char tmpdir[256];

void test_register(const char *name, test_fn fn)
{
	if (ntests < MAX_TESTS) {
		tests[ntests].name = name;
		tests[ntests].fn = fn;
		ntests++;
	}
}

void test_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "  %s:%d: CHECK failed: %s\n", file, line, expr);
	failures++;
}

void test_failf(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

void check_golden(const char *file, int line, const char *name, const char *text, size_t len)
{
	char path[512];
	const char *dir = getenv("GOLDEN_DIR") ? getenv("GOLDEN_DIR") : "tests/golden";

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (getenv("UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");
		if (f) {
			fwrite(text, 1, len, f);
			fclose(f);
		}
		return;
	}
	size_t n;
	char *want = test_slurp(path, &n);
	if (!want) {
		test_failf(file, line, "golden file %s missing (UPDATE_GOLDEN=1 writes it)", path);
		return;
	}
	if (n != len || memcmp(want, text, len) != 0) {
		size_t i = 0;
		while (i < n && i < len && want[i] == text[i])
			i++;
		test_failf(file, line, "output differs from %s at byte %zu (got %zu bytes, want %zu)",
			   path, i, len, n);
	}
	free(want);
}

static int skipped_now;

void test_skip(const char *name, const char *why)
{
	printf("SKIP: %s: %s\n", name, why);
	skipped_now = 1;
}

const char *test_tmpdir(void)
{
	return tmpdir;
}

char *test_slurp(const char *path, size_t *n_r)
{
	FILE *f = fopen(path, "rb");
	struct buf b = { 0 };
	char chunk[8192];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	buf_putc(&b, '\0');
	*n_r = b.len - 1;
	return b.data;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0;
	const char *filter = argc > 1 ? argv[1] : NULL;

	qsort(tests, (size_t)ntests, sizeof(tests[0]), by_name);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bayes-unit.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	for (int i = 0; i < ntests; i++) {
		if (filter && !strstr(tests[i].name, filter))
			continue;
		failures = 0;
		skipped_now = 0;
		tests[i].fn();
		printf("%s %s\n", failures ? "FAIL" : skipped_now ? "skip" : "ok  ", tests[i].name);
		fflush(stdout);
		if (failures)
			failed++;
		else if (skipped_now)
			skipped++;
		else
			passed++;
	}
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	printf("unit: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
