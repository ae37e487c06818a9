/*
 * replay.c - run one fuzz target over files without libFuzzer.
 *
 *	replay-<target> FILE|DIR...
 *
 * Every regular file named (or found directly in a folder named) is read
 * and passed once to the target's LLVMFuzzerTestOneInput(), as libFuzzer
 * would. A crash or sanitizer report ends the process, naming the file on
 * stderr first. Used by make check (tests/integration/fuzz-replay.sh) to
 * replay tests/fuzz/seeds/<target>/ and tests/fuzz/regress/<target>/ in a
 * normal build (SQLite's fuzzcheck, bogofilter's kept inputs).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* replay_file - feed one file to the target; false if unreadable. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
		return 0;
	}
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			data = realloc(data, cap);
			if (data == NULL) {
				fprintf(stderr, "replay: out of memory\n");
				exit(1);
			}
		}
		size_t r = fread(data + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
	}
	fclose(f);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	/* An exact-size copy, so ASan sees any read past the input. */
	unsigned char *copy = malloc(len ? len : 1);
	if (copy == NULL)
		exit(1);
	memcpy(copy, data, len);
	free(data);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
	return 1;
}

/* by_name - qsort order for directory entries. */
static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* replay_dir - every regular, non-dot file directly in dir, by name. */
static int replay_dir(const char *dir, unsigned *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	int ok = 1;

	if (d == NULL) {
		fprintf(stderr, "replay: cannot read %s: %s\n", dir, strerror(errno));
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (names == NULL || (names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2)) == NULL)
			exit(1);
		sprintf(names[n], "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			ok &= replay_file(names[i]);
			(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return ok;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int ok = 1;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			/* A target with no regression inputs yet has no folder. */
			if (errno == ENOENT)
				continue;
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			ok = 0;
		} else if (S_ISDIR(st.st_mode)) {
			ok &= replay_dir(argv[i], &count);
		} else {
			ok &= replay_file(argv[i]);
			count++;
		}
	}
	printf("replayed %u inputs\n", count);
	return ok ? 0 : 1;
}
