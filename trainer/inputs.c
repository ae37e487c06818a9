/*
 * inputs.c - walk bayesc's inputs: files, maildirs, folders of messages,
 * mbox files, or standard input. See inputs_each() in bayesc.h.
 *
 * Two passes. The first turns the command line into a list of message
 * files with their sizes - a maildir is recognised by its cur/ and new/
 * folders, any other folder is read as a folder of message files (dot
 * files skipped), and the folders below either are walked too (Maildir++
 * subfolders, nested folders; walk_tree), entries sorted by name so runs
 * are repeatable - and
 * prints what cannot be read. The second reads them in that order, so
 * the progress line knows the total from the start.
 *
 * A message file is read whole into one buffer reused from message to
 * message. An mbox file (INPUTS_MBOX) is read in chunks through the mbox
 * splitter (mbox.h): memory stays at one message however big the file.
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
#include "mbox.h"
#include "progress.h"
#include "util.h"

#define INPUTS_CHUNK	65536	/* bytes per read */
#define INPUTS_MAX_DEPTH 32	/* folder levels below a command-line directory */
/*
 * Message files opened this many places ahead of the one being read, with
 * the kernel asked to read them in (POSIX_FADV_WILLNEED): on a cold page
 * cache a folder check otherwise waits for the disk at every file, one
 * after the other. 10,000 trec06p messages, cache dropped: 2,410 msgs/s
 * read in turn, 3,233 with them read ahead (the same warm: 3,886).
 */
#define INPUTS_AHEAD	16

/* One input: a file, or standard input ("-", size unknown: 0). */
struct input {
	char *path;
	uint64_t size;
	bool regular;		/* a regular file (may be opened ahead) */
	int fd;			/* opened ahead (walk_ahead), or -1 */
};

struct walk {
	inputs_fn fn;
	void *ctx;
	unsigned flags;
	struct input *list;
	size_t nlist, cap;
	struct buf data;
	struct progress *progress;
	uint64_t bytes_done;	/* of the inputs finished */
	size_t count;
	unsigned errors;
	bool stop;
	uint64_t max;		/* bytes of a message file read at most; 0: all */
	bool cut;		/* past max: hand over the start (else refuse it) */
};

/* walk_add - one more input on the list (regular: a regular file) */
static void walk_add(struct walk *w, const char *path, uint64_t size, bool regular)
{
	if (w->nlist == w->cap)
		w->list = xrealloc(w->list, (w->cap = w->cap ? w->cap * 2 : 64) * sizeof(*w->list));
	w->list[w->nlist].path = xstrdup(path);
	w->list[w->nlist].size = size;
	w->list[w->nlist].regular = regular;
	w->list[w->nlist].fd = -1;
	w->nlist++;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* walk_names - the names in dir but "." and "..", sorted; NULL (said why) when unreadable */
static char **walk_names(struct walk *w, const char *dir, size_t *n_r)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	*n_r = 0;
	if (d == NULL) {
		fprintf(stderr, "bayesc: cannot read directory %s: %s\n", dir, strerror(errno));
		w->errors++;
		return NULL;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == cap)
			names = xrealloc(names, (cap = cap ? cap * 2 : 256) * sizeof(*names));
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 1)	/* qsort(NULL, 0, ...) is undefined */
		qsort(names, n, sizeof(*names), by_name);
	*n_r = n;
	return names;
}

/* walk_folder - list every regular, non-dot file in dir, sorted; returns how many. */
static size_t walk_folder(struct walk *w, const char *dir)
{
	size_t n, found = 0;
	char **names = walk_names(w, dir, &n);

	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		struct buf path = { 0 };
		buf_printf(&path, "%s/%s", dir, names[i]);
		if (names[i][0] != '.' && stat(path.data, &sb) == 0 && S_ISREG(sb.st_mode)) {
			walk_add(w, path.data, (uint64_t)sb.st_size, true);
			found++;
		}
		buf_free(&path);
		free(names[i]);
	}
	free(names);
	return found;
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

/*
 * walk_tree - the mail of dir and of the folders under it; returns how
 * many message files. A maildir (it has cur/ or new/) gives the files of
 * cur/ and new/, and its other subdirectories are its folders: Maildir++'s
 * .Junk, .Archive.2023 (dot names) and a layout=fs Junk/ alike. Any other
 * directory is a folder of message files (dot files skipped) whose non-dot
 * subdirectories are walked in turn, so ~/Mail with maildirs or folders
 * below is walked whole (like rspamc and bogofilter). Symbolic links to
 * directories inside the tree are not followed (no loops); depth is capped.
 */
static size_t walk_tree(struct walk *w, const char *dir, unsigned depth)
{
	bool maildir = is_dir(dir, "cur") || is_dir(dir, "new");
	size_t got = 0, n;
	char **names;

	if (maildir) {
		static const char *const subs[] = { "cur", "new" };
		for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
			struct buf p = { 0 };
			if (is_dir(dir, subs[i])) {
				buf_printf(&p, "%s/%s", dir, subs[i]);
				got += walk_folder(w, p.data);
			}
			buf_free(&p);
		}
	} else {
		got = walk_folder(w, dir);
	}
	if (!(w->flags & INPUTS_RECURSE))
		return got;
	if (depth >= INPUTS_MAX_DEPTH) {
		fprintf(stderr, "bayesc: %s: folders nested deeper than %d levels not read\n", dir,
			INPUTS_MAX_DEPTH);
		return got;
	}
	names = walk_names(w, dir, &n);
	for (size_t i = 0; i < n; i++) {
		const char *e = names[i];
		bool skip = maildir ? strcmp(e, "cur") == 0 || strcmp(e, "new") == 0 || strcmp(e, "tmp") == 0
				    : e[0] == '.';
		struct buf path = { 0 };
		struct stat sb;

		buf_printf(&path, "%s/%s", dir, e);
		if (!skip && lstat(path.data, &sb) == 0 && S_ISDIR(sb.st_mode))
			got += walk_tree(w, path.data, depth + 1);
		buf_free(&path);
		free(names[i]);
	}
	free(names);
	return got;
}

/* walk_arg - one command-line argument onto the list */
static void walk_arg(struct walk *w, const char *arg)
{
	struct stat sb;

	if (strcmp(arg, "-") == 0) {
		walk_add(w, "-", 0, false);
		return;
	}
	if (stat(arg, &sb) != 0) {
		fprintf(stderr, "bayesc: cannot open %s: %s\n", arg, strerror(errno));
		w->errors++;
		return;
	}
	if (!S_ISDIR(sb.st_mode)) {
		walk_add(w, arg, (uint64_t)sb.st_size, S_ISREG(sb.st_mode));
		return;
	}
	if (walk_tree(w, arg, 0) == 0) {
		fprintf(stderr, "bayesc: %s: no mail found in directory%s\n", arg,
			w->flags & INPUTS_RECURSE ? " or the folders under it" : " (--no-recurse)");
		w->errors++;
	}
}

/* walk_open - fd of an input (the one opened ahead, if it was), or -1 (said why) */
static int walk_open(struct walk *w, struct input *in)
{
	int fd = in->fd;

	in->fd = -1;
	if (fd >= 0)
		return fd;
	if (strcmp(in->path, "-") == 0)
		return STDIN_FILENO;
	if ((fd = open(in->path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "bayesc: cannot open %s: %s\n", in->path, strerror(errno));
		w->errors++;
	}
	return fd;
}

/*
 * walk_ahead - open a message file due later and have the kernel start
 * reading it in. Quietly nothing when that fails: walk_open tries again
 * when its turn comes, and says why then.
 */
static void walk_ahead(struct input *in)
{
	if (in->fd >= 0 || !in->regular)
		return;		/* a FIFO or a device is read when its turn comes, only */
	in->fd = open(in->path, O_RDONLY | O_CLOEXEC);
	if (in->fd >= 0)
		posix_fadvise(in->fd, 0, 0, POSIX_FADV_WILLNEED);
}

/* walk_read - up to INPUTS_CHUNK more bytes of fd onto w->data: >0, 0 at the end, -1 (said why) */
static ssize_t walk_read(struct walk *w, int fd, const char *path)
{
	for (;;) {
		size_t want = INPUTS_CHUNK;

		if (w->max > 0 && !(w->flags & INPUTS_MBOX) && w->data.len + want > w->max + 1)
			want = (size_t)(w->max + 1 - w->data.len);	/* one past the limit shows it is passed */
		buf_reserve(&w->data, want);
		ssize_t r = read(fd, w->data.data + w->data.len, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "bayesc: read %s: %s\n", strcmp(path, "-") ? path : "standard input",
				strerror(errno));
			w->errors++;
			return -1;
		}
		w->data.len += (size_t)r;
		w->data.data[w->data.len] = '\0';
		return r;
	}
}

/* walk_hand - give one message to the callback */
static void walk_hand(struct walk *w, const char *name, const unsigned char *data, size_t size,
		      uint64_t bytes_done)
{
	w->count++;
	progress_hide(w->progress);
	if (!w->fn(w->ctx, name, data, size))
		w->stop = true;
	progress_update(w->progress, w->count, bytes_done);
}

/* walk_drain - read fd to its end, keeping nothing; false on a read error */
static bool walk_drain(int fd)
{
	char sink[INPUTS_CHUNK];
	ssize_t r;

	while ((r = read(fd, sink, sizeof(sink))) != 0)
		if (r < 0 && errno != EINTR)
			return false;
	return true;
}

/*
 * walk_message_file - one file (or stdin) that is one message. With a
 * limit (w->max) no more than max bytes of it are ever held: a longer
 * message is cut there (w->cut: a check, of which bayesd scans that much)
 * or refused unread (a learn bayesd would refuse with 413).
 */
static void walk_message_file(struct walk *w, struct input *in)
{
	int fd;
	ssize_t r;

	if (w->max > 0 && !w->cut && in->size > w->max) {
		fprintf(stderr, "bayesc: %s: %llu bytes, more than bayesd takes (%llu): not sent\n", in->path,
			(unsigned long long)in->size, (unsigned long long)w->max);
		w->errors++;
		return;
	}
	if ((fd = walk_open(w, in)) < 0)
		return;
	buf_reset(&w->data);
	while ((r = walk_read(w, fd, in->path)) > 0)
		if (w->max > 0 && w->data.len > w->max)
			break;
	if (r > 0 && w->cut) {
		w->data.len = (size_t)w->max;	/* the start is what bayesd scans */
		w->data.data[w->data.len] = '\0';
		r = fd != STDIN_FILENO || walk_drain(fd) ? 0 : -1;
	} else if (r > 0) {
		fprintf(stderr, "bayesc: %s: more than bayesd takes (%llu bytes): not sent\n",
			strcmp(in->path, "-") ? in->path : "standard input", (unsigned long long)w->max);
		w->errors++;
		r = -1;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (r == 0)
		walk_hand(w, in->path, (const unsigned char *)w->data.data, w->data.len,
			  w->bytes_done + in->size);
}

/* walk_mbox - every message of an mbox file (or stdin) */
static void walk_mbox(struct walk *w, struct input *in)
{
	struct mbox_parser *p;
	struct buf name = { 0 };
	const unsigned char *msg;
	size_t size, nmsg = 0;
	ssize_t r;
	int fd = walk_open(w, in);

	if (fd < 0)
		return;
	p = mbox_parser_init(0);
	do {
		buf_reset(&w->data);
		if ((r = walk_read(w, fd, in->path)) > 0)
			mbox_push(p, (const unsigned char *)w->data.data, w->data.len);
		else
			mbox_finish(p);
		while (!w->stop && mbox_next(p, &msg, &size) == 1) {
			buf_reset(&name);
			buf_printf(&name, "%s#%zu", in->path, ++nmsg);
			if (mbox_truncated(p))
				fprintf(stderr, "bayesc: %s: longer than %d MB, only its start is used\n",
					name.data, MBOX_DEFAULT_MAX_MESSAGE / (1024 * 1024));
			walk_hand(w, name.data, msg, size, w->bytes_done + mbox_consumed(p));
		}
	} while (r > 0 && !w->stop);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r >= 0 && nmsg == 0) {
		fprintf(stderr, "bayesc: %s: not an mbox file (no 'From ' line at its start)\n", in->path);
		w->errors++;
	} else if (r >= 0 && mbox_skipped(p) > 0) {
		fprintf(stderr, "bayesc: %s: %llu bytes before the first 'From ' line ignored\n", in->path,
			(unsigned long long)mbox_skipped(p));
	}
	mbox_parser_deinit(&p);
	buf_free(&name);
}

/* inputs_flags - mbox from the options; progress for learns and forgets */
unsigned inputs_flags(const struct bayesc_opts *o)
{
	unsigned flags = (o->mbox ? INPUTS_MBOX : 0) | (o->no_recurse ? 0 : INPUTS_RECURSE);

	if (o->verb == VERB_LEARN_SPAM || o->verb == VERB_LEARN_HAM || o->verb == VERB_FORGET)
		flags |= INPUTS_PROGRESS;
	return flags;
}

/* inputs_each - list the inputs, then hand their messages over in order */
size_t inputs_each(char **paths, int n, unsigned flags, inputs_fn fn, void *ctx, unsigned *errors_r)
{
	return inputs_each_max(paths, n, flags, 0, fn, ctx, errors_r);
}

/* inputs_each_max - inputs_each, holding at most max bytes of a message file */
size_t inputs_each_max(char **paths, int n, unsigned flags, uint64_t max, inputs_fn fn, void *ctx,
		       unsigned *errors_r)
{
	struct walk w = { .fn = fn, .ctx = ctx, .flags = flags, .max = max, .cut = (flags & INPUTS_CUT) != 0 };
	uint64_t total = 0;

	if (n == 0)
		walk_add(&w, "-", 0, false);
	for (int i = 0; i < n; i++)
		walk_arg(&w, paths[i]);
	for (size_t i = 0; i < w.nlist; i++)
		total += w.list[i].size;
	if (flags & INPUTS_PROGRESS)
		w.progress = progress_start(total);
	for (size_t i = 0; i < w.nlist && i < INPUTS_AHEAD && !(flags & INPUTS_MBOX); i++)
		walk_ahead(&w.list[i]);
	for (size_t i = 0; i < w.nlist; i++) {
		if (!w.stop) {
			if (flags & INPUTS_MBOX) {
				walk_mbox(&w, &w.list[i]);
			} else {
				if (i + INPUTS_AHEAD < w.nlist)
					walk_ahead(&w.list[i + INPUTS_AHEAD]);
				walk_message_file(&w, &w.list[i]);
			}
			w.bytes_done += w.list[i].size;
		}
		if (w.list[i].fd >= 0)	/* opened ahead, then the callback said stop */
			close(w.list[i].fd);
		free(w.list[i].path);
	}
	progress_end(&w.progress);
	free(w.list);
	buf_free(&w.data);
	if (errors_r)
		*errors_r = w.errors;
	return w.count;
}
