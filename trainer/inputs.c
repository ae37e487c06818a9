/*
 * inputs.c - walk bayesc's inputs: files, maildirs, folders of messages,
 * or standard input. See inputs_each() in bayesc.h.
 *
 * Each message is read whole into one buffer that is reused from message to
 * message. A maildir is recognised by its cur/ and new/ folders; any other
 * folder is read as a folder of message files (dot files skipped). Entries
 * are sorted by name so runs are repeatable.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bayesc.h"
#include "util.h"

struct walk {
	inputs_fn fn;
	void *ctx;
	struct buf data;
	size_t count;
	unsigned errors;
	bool stop;
};

/* read_fd - read all of fd into w->data. */
static bool read_fd(struct walk *w, int fd, const char *name)
{
	buf_reset(&w->data);
	for (;;) {
		buf_reserve(&w->data, 65536);
		ssize_t r = read(fd, w->data.data + w->data.len, w->data.cap - w->data.len - 1);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "bayesc: read %s: %s\n", name, strerror(errno));
			w->errors++;
			return false;
		}
		w->data.len += (size_t)r;
	}
	w->data.data[w->data.len] = '\0';
	return true;
}

/* one_file - hand one message file to the callback. */
static void one_file(struct walk *w, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "bayesc: cannot open %s: %s\n", path, strerror(errno));
		w->errors++;
		return;
	}
	bool ok = read_fd(w, fd, path);
	close(fd);
	if (!ok)
		return;
	w->count++;
	if (!w->fn(w->ctx, path, (const unsigned char *)w->data.data, w->data.len))
		w->stop = true;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* folder - every regular, non-dot file in dir, sorted; returns how many. */
static size_t folder(struct walk *w, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0, done = 0;

	if (d == NULL) {
		fprintf(stderr, "bayesc: cannot read directory %s: %s\n", dir, strerror(errno));
		w->errors++;
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap)
			names = xrealloc(names, (cap = cap ? cap * 2 : 256) * sizeof(*names));
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 1)	/* qsort(NULL, 0, ...) is undefined */
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		struct buf path = { 0 };
		buf_printf(&path, "%s/%s", dir, names[i]);
		if (!w->stop && stat(path.data, &sb) == 0 && S_ISREG(sb.st_mode)) {
			one_file(w, path.data);
			done++;
		}
		buf_free(&path);
		free(names[i]);
	}
	free(names);
	return done;
}

/* is_dir - path/sub is a directory */
static bool is_dir(const char *path, const char *sub)
{
	struct buf p = { 0 };
	struct stat sb;
	bool r;

	buf_printf(&p, "%s/%s", path, sub);
	r = stat(p.data, &sb) == 0 && S_ISDIR(sb.st_mode);
	buf_free(&p);
	return r;
}

size_t inputs_each(char **paths, int n, inputs_fn fn, void *ctx, unsigned *errors_r)
{
	struct walk w = { .fn = fn, .ctx = ctx };

	if (n == 0) {
		if (read_fd(&w, STDIN_FILENO, "standard input")) {
			w.count++;
			fn(ctx, "-", (const unsigned char *)w.data.data, w.data.len);
		}
	}
	for (int i = 0; i < n && !w.stop; i++) {
		struct stat sb;

		if (strcmp(paths[i], "-") == 0) {
			if (read_fd(&w, STDIN_FILENO, "standard input")) {
				w.count++;
				if (!fn(ctx, "-", (const unsigned char *)w.data.data, w.data.len))
					w.stop = true;
			}
			continue;
		}
		if (stat(paths[i], &sb) != 0) {
			fprintf(stderr, "bayesc: cannot open %s: %s\n", paths[i], strerror(errno));
			w.errors++;
			continue;
		}
		if (!S_ISDIR(sb.st_mode)) {
			one_file(&w, paths[i]);
			continue;
		}
		size_t got;
		if (is_dir(paths[i], "cur") || is_dir(paths[i], "new")) {
			struct buf p = { 0 };
			got = 0;
			if (is_dir(paths[i], "cur")) {
				buf_printf(&p, "%s/cur", paths[i]);
				got += folder(&w, p.data);
			}
			if (is_dir(paths[i], "new")) {
				buf_reset(&p);
				buf_printf(&p, "%s/new", paths[i]);
				got += folder(&w, p.data);
			}
			buf_free(&p);
		} else {
			got = folder(&w, paths[i]);
		}
		if (got == 0) {
			fprintf(stderr, "bayesc: %s: no mail found in directory\n", paths[i]);
			w.errors++;
		}
	}
	buf_free(&w.data);
	if (errors_r)
		*errors_r = w.errors;
	return w.count;
}
