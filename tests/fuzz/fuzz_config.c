/*
 * fuzz_config.c - libFuzzer target: bayesd's configuration parser.
 *
 * The input is written to an anonymous memory file and loaded with
 * config_load() through /proc/self/fd, as bayesd would read bayesd.conf.
 * A config that loads must print (config_print), answer config_trusted()
 * and load again from its own printed form with the same values; one that
 * fails must say why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addresses.h"
#include "config.h"
#include "fuzz.h"

/* fc_file - a memory file holding data; its /proc path in path. */
static int fc_file(const void *data, size_t size, char *path, size_t pathlen)
{
	int fd = memfd_create("fuzz-config", MFD_CLOEXEC);

	if (fd < 0)
		fuzz_fail("memfd_create failed", "fuzz_config");
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		fuzz_fail("write failed", "fuzz_config");
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char v4[4] = { 192, 0, 2, 1 };
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	char path[64], err[512];
	struct bayesd_config *c;
	int fd;

	fd = fc_file(data, size, path, sizeof(path));
	err[0] = '\0';
	c = config_load(path, err, sizeof(err));
	close(fd);
	if (c == NULL) {
		if (err[0] == '\0')
			fuzz_fail("refused without a reason", "config_load");
		return 0;
	}
	(void)config_trusted(c, AF_INET, v4);
	(void)config_trusted(c, AF_INET6, v6);

	/* What config_print writes must load again: bayesd -n -v output is a config. */
	char *text = NULL;
	size_t tlen = 0;
	FILE *mem = open_memstream(&text, &tlen);
	if (mem == NULL)
		fuzz_fail("open_memstream failed", "fuzz_config");
	config_print(c, mem);
	fclose(mem);
	fd = fc_file(text, tlen, path, sizeof(path));
	struct bayesd_config *again = config_load(path, err, sizeof(err));
	close(fd);
	if (again == NULL) {
		fprintf(stderr, "printed config does not load: %s\n", err);
		fuzz_fail("config_print output does not load", "config_print");
	}
	if (again->scan_limit != c->scan_limit || again->spam_threshold != c->spam_threshold ||
	    again->ntrusted != c->ntrusted || strcmp(again->database, c->database) != 0)
		fuzz_fail("printed config loads with other values", "config_print");
	config_unref(&again);
	free(text);
	config_unref(&c);
	if (c != NULL)
		fuzz_fail("config_unref did not clear the pointer", "config_unref");
	return 0;
}
