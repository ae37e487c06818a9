/*
 * redis_link.c - connections to Redis with bounded waits. See redis_link.h.
 *
 * Every wait is bounded: connecting by connect_timeout_ms (hiredis'
 * redisConnectWithTimeout), every reply by command_timeout_ms (a receive
 * timeout on the socket, redisSetTimeout). A connection that failed in
 * any way is closed at once: after a timeout the reply may still come and
 * would be taken for the answer to the next command.
 *
 * A Redis that restarted leaves us a connection the server closed; we
 * only learn so when we use it. Such a failure, on a connection that was
 * already open before this call, is retried once on a new connection:
 * the command cannot have reached the new server, and what reached the
 * old one is safe to repeat (reads, and the commit script, which
 * re-checks what it depends on; see store_redis.c).
 */
#include "store/redis/redis_link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

struct redis_server {
	char host[256];		/* host name or address; a path for a UNIX socket */
	int port;		/* 0 for a UNIX socket */
	char label[300];	/* "host:port" for messages */
};

struct redis_link {
	struct bayes_redis_options o;
	bool readonly;
	struct redis_server server[REDIS_LINK_MAX_SERVERS];
	int nservers;
	redisContext *c;
	int cur;			/* index of the connected server */
	unsigned generation;
	time_t next_primary_try;	/* read-only link on a replica: when to try the primary */
	char err[600];
};

/* tv_of - milliseconds as a struct timeval (0 means the default). */
static struct timeval tv_of(unsigned ms)
{
	struct timeval tv;

	if (ms == 0)
		ms = BAYES_REDIS_DEFAULT_TIMEOUT_MS;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

/* parse_server - one "host:port", "[v6]:port", "host" (port 6379) or "/path" into *sv. */
static bool parse_server(const char *s, size_t len, struct redis_server *sv)
{
	const char *colon = NULL;
	size_t hlen = len;

	memset(sv, 0, sizeof(*sv));
	if (len == 0 || len >= sizeof(sv->host))
		return false;
	snprintf(sv->label, sizeof(sv->label), "%.*s", (int)len, s);
	if (s[0] == '/') {
		memcpy(sv->host, s, len);
		return true;
	}
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (close == NULL)
			return false;
		memcpy(sv->host, s + 1, (size_t)(close - s - 1));
		colon = close + 1 < s + len && close[1] == ':' ? close + 1 : NULL;
		if (!colon && close + 1 != s + len)
			return false;
	} else {
		for (size_t i = 0; i < len; i++)
			if (s[i] == ':')
				colon = s + i;
		if (colon)
			hlen = (size_t)(colon - s);
		memcpy(sv->host, s, hlen);
	}
	sv->port = 6379;
	if (colon) {
		char *end;
		char num[8];
		size_t nlen = (size_t)(s + len - colon - 1);
		if (nlen == 0 || nlen >= sizeof(num))
			return false;
		memcpy(num, colon + 1, nlen);
		num[nlen] = '\0';
		long p = strtol(num, &end, 10);
		if (*end != '\0' || p < 1 || p > 65535)
			return false;
		sv->port = (int)p;
	}
	return sv->host[0] != '\0';
}

struct redis_link *redis_link_new(const struct bayes_redis_options *o, bool readonly,
				  char *err, size_t errlen)
{
	struct redis_link *l = xcalloc(1, sizeof(*l));
	const char *p = o->servers;

	l->o = *o;
	l->readonly = readonly;
	l->cur = -1;
	while (*p) {
		size_t n = strcspn(p, ", \t");
		if (n > 0) {
			if (l->nservers == REDIS_LINK_MAX_SERVERS) {
				snprintf(err, errlen, "redis_servers: more than %d servers", REDIS_LINK_MAX_SERVERS);
				free(l);
				return NULL;
			}
			if (!parse_server(p, n, &l->server[l->nservers])) {
				snprintf(err, errlen, "redis_servers: bad server '%.*s' (expected HOST:PORT)",
					 (int)(n < 100 ? n : 100), p);
				free(l);
				return NULL;
			}
			l->nservers++;
		}
		p += n;
		p += strspn(p, ", \t");
	}
	if (l->nservers == 0) {
		snprintf(err, errlen, "redis_servers is empty");
		free(l);
		return NULL;
	}
	return l;
}

void redis_link_drop(struct redis_link *l)
{
	if (l->c)
		redisFree(l->c);
	l->c = NULL;
	l->cur = -1;
}

void redis_link_free(struct redis_link **lp)
{
	if (*lp == NULL)
		return;
	redis_link_drop(*lp);
	free(*lp);
	*lp = NULL;
}

/* setup_command - AUTH or SELECT on a new connection; false with l->err set. */
static bool setup_command(struct redis_link *l, redisContext *c, const struct redis_server *sv,
			  int argc, const char **argv)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	bool ok = r && r->type != REDIS_REPLY_ERROR;

	if (!ok)
		snprintf(l->err, sizeof(l->err), "redis %s: %s: %s", sv->label, argv[0],
			 r ? r->str : c->errstr);
	if (r)
		freeReplyObject(r);
	return ok;
}

/* connect_one - a ready connection to server i (AUTH, SELECT done), or NULL with l->err set. */
static redisContext *connect_one(struct redis_link *l, int i)
{
	const struct redis_server *sv = &l->server[i];
	struct timeval ctv = tv_of(l->o.connect_timeout_ms);
	redisContext *c;

	c = sv->port ? redisConnectWithTimeout(sv->host, sv->port, ctv)
		     : redisConnectUnixWithTimeout(sv->host, ctv);
	if (c == NULL) {
		snprintf(l->err, sizeof(l->err), "redis %s: cannot allocate a connection", sv->label);
		return NULL;
	}
	if (c->err) {
		snprintf(l->err, sizeof(l->err), "redis %s: %s", sv->label, c->errstr);
		redisFree(c);
		return NULL;
	}
	/* AUTH and SELECT are bounded by the connect timeout, then commands by theirs */
	redisSetTimeout(c, ctv);
	if (l->o.password[0]) {
		const char *argv[] = { "AUTH", l->o.password };
		if (!setup_command(l, c, sv, 2, argv))
			goto failed;
	}
	if (l->o.db) {
		char db[16];
		const char *argv[] = { "SELECT", db };
		snprintf(db, sizeof(db), "%u", l->o.db);
		if (!setup_command(l, c, sv, 2, argv))
			goto failed;
	}
	redisSetTimeout(c, tv_of(l->o.command_timeout_ms));
	return c;

failed:
	redisFree(c);
	return NULL;
}

int redis_link_ready(struct redis_link *l)
{
	time_t now = time(NULL);

	if (l->c) {
		/* a read-only link on a replica goes back to the primary when it can */
		if (l->cur > 0 && now >= l->next_primary_try) {
			redisContext *c = connect_one(l, 0);
			l->next_primary_try = now + REDIS_LINK_PRIMARY_RETRY_S;
			if (c) {
				redisFree(l->c);
				l->c = c;
				l->cur = 0;
				l->generation++;
				return 1;
			}
		}
		return 0;
	}
	char first[600] = "";
	int n = l->readonly ? l->nservers : 1;
	for (int i = 0; i < n; i++) {
		if ((l->c = connect_one(l, i)) != NULL) {
			l->cur = i;
			l->generation++;
			l->next_primary_try = now + REDIS_LINK_PRIMARY_RETRY_S;
			return 1;
		}
		if (i == 0)
			snprintf(first, sizeof(first), "%s", l->err);
	}
	/* say why the primary failed: the replicas' reasons are usually the same */
	if (n > 1)
		snprintf(l->err, sizeof(l->err), "%s (and no replica could be reached)", first);
	return -1;
}

unsigned redis_link_generation(const struct redis_link *l)
{
	return l->generation;
}

/* closed_by_server - did the last failure show a connection the server had closed? */
static bool closed_by_server(const redisContext *c, int saved_errno)
{
	if (c->err == REDIS_ERR_EOF)
		return true;
	return c->err == REDIS_ERR_IO && (saved_errno == ECONNRESET || saved_errno == EPIPE);
}

/* io_failed - record the failure of c and drop it. */
static void io_failed(struct redis_link *l, int saved_errno)
{
	const char *label = l->cur >= 0 ? l->server[l->cur].label : l->server[0].label;

	if (l->c->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
		snprintf(l->err, sizeof(l->err), "redis %s: no reply within %u ms", label,
			 l->o.command_timeout_ms ? l->o.command_timeout_ms : BAYES_REDIS_DEFAULT_TIMEOUT_MS);
	else
		snprintf(l->err, sizeof(l->err), "redis %s: %s", label, l->c->errstr);
	redis_link_drop(l);
}

bool redis_link_pipeline(struct redis_link *l, int n, const int *argc, const char *const *const *argv,
			 const size_t *const *argvlen, redisReply **replies)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int rc = redis_link_ready(l), got = 0, saved_errno = 0;
		bool fresh = rc == 1;

		if (rc < 0)
			return false;
		for (int i = 0; i < n; i++)
			if (redisAppendCommandArgv(l->c, argc[i], (const char **)argv[i], argvlen ? argvlen[i] : NULL) != REDIS_OK)
				break;
		errno = 0;
		while (got < n && !l->c->err) {
			void *r = NULL;
			if (redisGetReply(l->c, &r) != REDIS_OK || r == NULL) {
				saved_errno = errno;
				break;
			}
			replies[got++] = r;
		}
		if (got == n)
			return true;
		while (got > 0)
			freeReplyObject(replies[--got]);
		bool again = !fresh && closed_by_server(l->c, saved_errno);
		io_failed(l, saved_errno);
		if (!again)
			return false;
	}
	return false;
}

redisReply *redis_link_argv(struct redis_link *l, int argc, const char **argv, const size_t *argvlen)
{
	const char *const *av[1] = { argv };
	const size_t *const al[1] = { argvlen };
	redisReply *r;

	if (!redis_link_pipeline(l, 1, &argc, av, argvlen ? al : NULL, &r))
		return NULL;
	return r;
}

bool redis_link_append(struct redis_link *l, int argc, const char **argv, const size_t *argvlen)
{
	if (l->c == NULL) {
		snprintf(l->err, sizeof(l->err), "redis %s: not connected", l->server[0].label);
		return false;
	}
	return redisAppendCommandArgv(l->c, argc, argv, argvlen) == REDIS_OK;
}

bool redis_link_collect(struct redis_link *l, int n)
{
	bool ok = true;

	for (int i = 0; i < n; i++) {
		void *r = NULL;
		if (l->c == NULL || redisGetReply(l->c, &r) != REDIS_OK || r == NULL) {
			if (l->c)
				io_failed(l, errno);
			return false;
		}
		if (((redisReply *)r)->type == REDIS_REPLY_ERROR && ok) {
			snprintf(l->err, sizeof(l->err), "redis %s: %s", redis_link_server(l), ((redisReply *)r)->str);
			ok = false;
		}
		freeReplyObject(r);
	}
	return ok;
}

const char *redis_link_error(const struct redis_link *l)
{
	return l->err;
}

const char *redis_link_server(const struct redis_link *l)
{
	return l->server[l->cur >= 0 ? l->cur : 0].label;
}
