/*
 * config.c - bayesd's configuration: reading the file into one typed
 * table of keys.
 *
 * Every key bayesd knows is one row of config_table (config_keys.c, with
 * the parsing and checking of values and config_print): its name, its
 * type, the field of struct bayesd_config it sets, its range and its
 * embedded default. config_load() applies every default, then reads the
 * file: "key = value" lines, '#' comment lines and blank lines. A '#'
 * after a blank ends the value ("key = value  # comment"); a '#' with no
 * blank before it is part of the value ("pass#word"). A value may be
 * written in double quotes to keep leading or trailing blanks, or a " #"
 * ("\"" and "\\" inside), and a comment may follow the closing quote.
 * "include FILE" reads FILE there (relative to the including file's
 * directory, at most BAYESD_INCLUDE_DEPTH deep); after the main file,
 * every *.conf file of PATH.d (bayesd.conf.d) is read in name order. An
 * unknown key or a bad value is an error that names the file and line; a
 * key given twice takes the last value.
 *
 * A loaded config is never changed; it is shared by reference count. The
 * daemon's current config is published with config_current_set() and
 * fetched (with a reference) by config_current(), under one mutex.
 *
 * Rooms: may use classifier/ (bayes.h, util.h); never milter/, trainer/,
 * corpus/.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "util.h"

/* config_unquote - a "quoted value" in place; false if unterminated */
static bool config_unquote(char *v)
{
	char *r = v + 1, *w = v;

	for (; *r && *r != '"'; r++) {
		if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
			r++;
		*w++ = *r;
	}
	if (*r != '"')
		return false;
	for (r++; *r == ' ' || *r == '\t'; r++)
		;
	if (*r != '\0' && *r != '#')
		return false;
	*w = '\0';
	return true;
}

/*
 * config_parse_line - one line of the file. Returns false with a reason in
 * why (without the file:line prefix). An "include FILE" line sets
 * *include_r to FILE (inside line) and changes nothing.
 */
static bool config_parse_line(struct bayesd_config *c, char *line, char **include_r, char *why,
			      size_t whylen)
{
	char *p = line, *key, *value, *e;
	const struct config_row *row;
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
			 line[n - 1] == '\t'))
		line[--n] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return true;
	key = p;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '_' || *p == '-')
		p++;
	e = p;
	while (*p == ' ' || *p == '\t')
		p++;
	if (e - key == 7 && strncmp(key, "include", 7) == 0 && p > e && *p != '=') {
		char *f = p;

		if (*f == '"') {
			if (!config_unquote(f)) {
				snprintf(why, whylen, "unterminated quoted file name for include");
				return false;
			}
		} else {
			for (e = f; *e && *e != '#'; e++)
				;
			while (e > f && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*e = '\0';
		}
		if (*f == '\0') {
			snprintf(why, whylen, "include needs a file name");
			return false;
		}
		*include_r = f;
		return true;
	}
	if (e == key || *p != '=') {
		snprintf(why, whylen, "expected 'key = value', got '%.60s'", key);
		return false;
	}
	*e = '\0';
	for (p++; *p == ' ' || *p == '\t'; p++)
		;
	value = p;
	if (*value == '"') {
		if (!config_unquote(value)) {
			snprintf(why, whylen, "unterminated quoted value for %s", key);
			return false;
		}
	} else {
		/* a trailing comment: '#' after a blank (or as the whole value) */
		for (e = value; *e; e++)
			if (*e == '#' && (e == value || e[-1] == ' ' || e[-1] == '\t'))
				break;
		while (e > value && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*e = '\0';
	}
	row = config_find(key);
	if (!row) {
		snprintf(why, whylen, "unknown key '%s'", key);
		return false;
	}
	return config_set(c, row, value, why, whylen);
}

/* config_alias_cmp - qsort/bsearch order of aliases: by address */
static int config_alias_cmp(const void *x, const void *y)
{
	const struct config_alias *a = x, *b = y;
	int d = strcmp(a->address, b->address);

	if (d != 0)
		return d;
	return a->line < b->line ? -1 : a->line > b->line;
}

/* config_lower - ASCII lower-case s in place */
void config_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/*
 * config_load_aliases - read c->user_aliases: "address user" lines, '#'
 * comments and blank lines; a later line for the same address wins.
 * Returns false with "FILE:LINE: reason" in err.
 */
static bool config_load_aliases(struct bayesd_config *c, char *err, size_t errlen)
{
	const char *path = c->user_aliases;
	char line[CONFIG_LINE_MAX + 2];
	unsigned lineno = 0;
	size_t cap = 0, w;
	FILE *f;

	if (*path == '\0')
		return true;
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "user_aliases: open(%s) failed: %s", path, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		char *addr, *user, *extra, *save = NULL;

		lineno++;
		if (strlen(line) > CONFIG_LINE_MAX && !strchr(line, '\n')) {
			snprintf(err, errlen, "%s:%u: line longer than %d bytes", path, lineno,
				 CONFIG_LINE_MAX);
			goto fail;
		}
		addr = strtok_r(line, " \t\r\n", &save);
		if (addr == NULL || *addr == '#')
			continue;
		user = strtok_r(NULL, " \t\r\n", &save);
		extra = user ? strtok_r(NULL, " \t\r\n", &save) : NULL;
		if (user == NULL || (extra && *extra != '#')) {
			snprintf(err, errlen, "%s:%u: expected 'address user'", path, lineno);
			goto fail;
		}
		if (strlen(user) >= BAYESD_USER_MAX) {
			snprintf(err, errlen, "%s:%u: user name longer than %d bytes", path, lineno,
				 BAYESD_USER_MAX - 1);
			goto fail;
		}
		if (c->naliases == BAYESD_ALIASES_MAX) {
			snprintf(err, errlen, "%s:%u: more than %d aliases", path, lineno,
				 BAYESD_ALIASES_MAX);
			goto fail;
		}
		if (c->naliases == cap) {
			cap = cap ? 2 * cap : 64;
			c->aliases = xrealloc(c->aliases, cap * sizeof(*c->aliases));
		}
		if (addr[0] == '<' && addr[strlen(addr) - 1] == '>' && strlen(addr) >= 2) {
			addr[strlen(addr) - 1] = '\0';
			addr++;
		}
		c->aliases[c->naliases].address = xstrdup(addr);
		config_lower(c->aliases[c->naliases].address);
		c->aliases[c->naliases].user = xstrdup(user);
		c->aliases[c->naliases].line = lineno;
		c->naliases++;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "read(%s) failed: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	/* sorted by address, then line: of several lines for one, the last wins */
	if (c->naliases > 1)
		qsort(c->aliases, c->naliases, sizeof(*c->aliases), config_alias_cmp);
	for (size_t i = w = 0; i < c->naliases; i++) {
		if (w > 0 && strcmp(c->aliases[w - 1].address, c->aliases[i].address) == 0) {
			free(c->aliases[w - 1].address);
			free(c->aliases[w - 1].user);
			w--;
		}
		c->aliases[w++] = c->aliases[i];
	}
	c->naliases = w;
	return true;

fail:
	fclose(f);
	return false;
}

/*
 * config_check_redis - the Redis settings fit the engine's fixed fields
 * (struct bayes_redis_options), so nothing is cut off unnoticed.
 */
static bool config_check_redis(const struct bayesd_config *c, char *err, size_t errlen)
{
	struct bayes_redis_options r;
	const struct { const char *key, *value; size_t max; } v[] = {
		{ "redis_servers", c->redis_servers, sizeof(r.servers) },
		{ "redis_password", c->redis_password, sizeof(r.password) },
		{ "redis_prefix", c->redis_prefix, sizeof(r.prefix) },
	};

	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		if (strlen(v[i].value) >= v[i].max) {
			snprintf(err, errlen, "%s: %s is longer than %zu bytes", c->path, v[i].key, v[i].max - 1);
			return false;
		}
	return true;
}

/* config_store_options - backend and Redis settings into engine options */
void config_store_options(const struct bayesd_config *c, struct bayes_options *o)
{
	o->backend = (enum bayes_backend)c->backend;
	snprintf(o->redis.servers, sizeof(o->redis.servers), "%s", c->redis_servers);
	snprintf(o->redis.password, sizeof(o->redis.password), "%s", c->redis_password);
	snprintf(o->redis.prefix, sizeof(o->redis.prefix), "%s", c->redis_prefix);
	o->redis.db = c->redis_db;
	o->redis.connect_timeout_ms = c->redis_connect_timeout_ms;
	o->redis.command_timeout_ms = c->redis_timeout_ms;
}

/* config_load - defaults, then the file */
/*
 * config_read_file - read path's lines into c; include lines recurse
 * (depth counts them). false with "FILE:LINE: reason" in err.
 */
static bool config_read_file(struct bayesd_config *c, const char *path, unsigned depth, char *err,
			     size_t errlen)
{
	char line[CONFIG_LINE_MAX + 2];
	char why[512];
	unsigned lineno = 0;
	bool ok = true;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "open(%s) failed: %s", path, strerror(errno));
		return false;
	}
	while (ok && fgets(line, sizeof(line), f)) {
		char *inc = NULL;

		lineno++;
		if (strlen(line) > CONFIG_LINE_MAX && !strchr(line, '\n')) {
			snprintf(err, errlen, "%s:%u: line longer than %d bytes", path, lineno,
				 CONFIG_LINE_MAX);
			ok = false;
		} else if (!config_parse_line(c, line, &inc, why, sizeof(why))) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			ok = false;
		} else if (inc) {
			char full[PATH_MAX], sub[1024];
			const char *slash = strrchr(path, '/');

			if (depth >= BAYESD_INCLUDE_DEPTH) {
				snprintf(err, errlen, "%s:%u: includes nested deeper than %d", path,
					 lineno, BAYESD_INCLUDE_DEPTH);
				ok = false;
			} else if (inc[0] != '/' && slash &&
				   snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - path), path,
					    inc) >= (int)sizeof(full)) {
				snprintf(err, errlen, "%s:%u: include path too long", path, lineno);
				ok = false;
			} else {
				if (inc[0] == '/' || !slash)
					snprintf(full, sizeof(full), "%s", inc);
				if (!config_read_file(c, full, depth + 1, sub, sizeof(sub))) {
					snprintf(err, errlen, "%s:%u: include: %s", path, lineno, sub);
					ok = false;
				}
			}
		}
	}
	if (ok && ferror(f)) {
		snprintf(err, errlen, "read(%s) failed: %s", path, strerror(errno));
		ok = false;
	}
	fclose(f);
	return ok;
}

/* config_conf_filter - scandir filter of PATH.d: NAME.conf, not hidden */
static int config_conf_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

/* config_read_dir - every *.conf of dir in name order (a missing dir is none) */
static bool config_read_dir(struct bayesd_config *c, const char *dir, char *err, size_t errlen)
{
	struct dirent **names;
	char full[PATH_MAX];
	bool ok = true;
	int n;

	n = scandir(dir, &names, config_conf_filter, alphasort);
	if (n < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return true;
		snprintf(err, errlen, "scandir(%s) failed: %s", dir, strerror(errno));
		return false;
	}
	for (int i = 0; i < n; i++) {
		if (ok) {
			if (snprintf(full, sizeof(full), "%s/%s", dir, names[i]->d_name) >= (int)sizeof(full)) {
				snprintf(err, errlen, "%s/%s: path too long", dir, names[i]->d_name);
				ok = false;
			} else {
				ok = config_read_file(c, full, 1, err, errlen);
			}
		}
		free(names[i]);
	}
	free(names);
	return ok;
}

struct bayesd_config *config_load(const char *path, char *err, size_t errlen)
{
	struct bayesd_config *c = xcalloc(1, sizeof(*c));
	char dir[PATH_MAX];

	c->refs = 1;
	config_defaults(c);
	if (!path)
		return c;
	c->path = xstrdup(path);
	if (!config_read_file(c, path, 0, err, errlen))
		goto fail;
	if (snprintf(dir, sizeof(dir), "%s.d", path) >= (int)sizeof(dir)) {
		snprintf(err, errlen, "%s.d: path too long", path);
		goto fail;
	}
	if (!config_read_dir(c, dir, err, errlen))
		goto fail;
	if (!config_check_redis(c, err, errlen))
		goto fail;
	if (!config_load_aliases(c, err, errlen))
		goto fail;
	return c;

fail:
	config_free(c);
	return NULL;
}

/* config_ref - take a reference */
void config_ref(struct bayesd_config *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

/* config_unref - drop a reference, free at zero */
void config_unref(struct bayesd_config **cp)
{
	struct bayesd_config *c = *cp;

	*cp = NULL;
	if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(c);
}

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bayesd_config *config_cur;

/* config_current_set - publish c */
void config_current_set(struct bayesd_config *c)
{
	struct bayesd_config *old;

	if (c)
		config_ref(c);
	pthread_mutex_lock(&config_lock);
	old = config_cur;
	config_cur = c;
	pthread_mutex_unlock(&config_lock);
	config_unref(&old);
}

/* config_current - the published config, referenced */
struct bayesd_config *config_current(void)
{
	struct bayesd_config *c;

	pthread_mutex_lock(&config_lock);
	c = config_cur;
	if (c)
		config_ref(c);
	pthread_mutex_unlock(&config_lock);
	return c;
}
