/*
 * controller_history.c - the history endpoints, learn by digest and the
 * static web page (controller_history.h).
 *
 * The page is three fixed files (no path from the request reaches the
 * file system) served with a Content-Security-Policy that allows scripts
 * from the controller only, so nothing from a message can run even if it
 * were put into the page unescaped; the page's script also only ever sets
 * textContent. Learns from the page carry a per-process random token in
 * "X-CSRF-Token:", which another site's form cannot send.
 */
#include "controller_history.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "history.h"
#include "http_reply.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define CHIST_WWW_MAX	(1024 * 1024)	/* a page file larger than this is refused */

static pthread_once_t chist_once = PTHREAD_ONCE_INIT;
static char chist_token[33];

/* chist_token_make - the CSRF token, once per process. */
static void chist_token_make(void)
{
	unsigned char r[16];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r))
			log_error("controller: no randomness for the CSRF token");
		if (fd >= 0)
			close(fd);
	}
	for (int i = 0; i < 16; i++)
		snprintf(chist_token + 2 * i, 3, "%02x", r[i]);
}

/* chist_reply - queue text with ctype and the page's safety headers. */
static enum MHD_Result chist_reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
				   const char *text, size_t len)
{
	return http_reply(conn, status, ctype, text, len, true);
}

/* chist_json - obj (stolen) as the JSON body. */
static enum MHD_Result chist_json(struct MHD_Connection *conn, unsigned status, json_t *obj)
{
	/* 15 digits: a Unix time with milliseconds (6 would round it to 1000 s) */
	char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(15));
	enum MHD_Result ret;

	json_decref(obj);
	if (s == NULL)
		return MHD_NO;
	ret = chist_reply(conn, status, "application/json", s, strlen(s));
	free(s);
	return ret;
}

static enum MHD_Result chist_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	return chist_json(conn, status, json_pack("{s:s}", "error", msg));
}

/* chist_arg - a query argument, NULL when missing or empty. */
static const char *chist_arg(struct MHD_Connection *conn, const char *name)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	return v && *v ? v : NULL;
}

/* chist_www - one of the page's fixed files. */
static enum MHD_Result chist_www(struct MHD_Connection *conn, const char *url)
{
	static const struct { const char *url, *file, *ctype; } files[] = {
		{ "/", "index.html", "text/html; charset=utf-8" },
		{ "/www/app.js", "app.js", "text/javascript; charset=utf-8" },
		{ "/www/style.css", "style.css", "text/css; charset=utf-8" },
	};
	char path[1200], dir[1024];
	struct stat sb;
	enum MHD_Result ret;
	char *data;
	int fd;

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (strcmp(url, files[i].url) != 0)
			continue;
		history_www_dir(dir, sizeof(dir));
		if (dir[0] == '\0')
			return chist_error(conn, MHD_HTTP_NOT_FOUND, "no web page (www_dir is empty)");
		snprintf(path, sizeof(path), "%s/%s", dir, files[i].file);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > CHIST_WWW_MAX) {
			log_warning("controller: open(%s) failed: %s", path, fd < 0 ? strerror(errno) : "not a small file");
			if (fd >= 0)
				close(fd);
			return chist_error(conn, MHD_HTTP_NOT_FOUND, "web page file missing");
		}
		data = xmalloc((size_t)sb.st_size + 1);
		ssize_t n = read(fd, data, (size_t)sb.st_size);
		close(fd);
		ret = chist_reply(conn, MHD_HTTP_OK, files[i].ctype, data, n > 0 ? (size_t)n : 0);
		free(data);
		return ret;
	}
	return chist_error(conn, MHD_HTTP_NOT_FOUND, "no such endpoint");
}

/* chist_double - a probability argument, or def; false when malformed. */
static bool chist_double(struct MHD_Connection *conn, const char *name, double def, double *v_r)
{
	const char *s = chist_arg(conn, name);
	char *end;

	*v_r = def;
	if (s == NULL)
		return true;
	errno = 0;
	*v_r = strtod(s, &end);
	return errno == 0 && *end == '\0' && *v_r >= 0 && *v_r <= 1;
}

enum MHD_Result chist_handle(struct MHD_Connection *conn, enum chist_endpoint ep, const char *url)
{
	char err[256] = "";
	json_t *o;

	pthread_once(&chist_once, chist_token_make);
	switch (ep) {
	case CHIST_WWW:
		return chist_www(conn, url);
	case CHIST_CSRF:
		return chist_json(conn, MHD_HTTP_OK, json_pack("{s:s}", "token", chist_token));
	case CHIST_GRAPH:
		if ((o = history_graph(err, sizeof(err))) == NULL)
			return chist_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, err);
		return chist_json(conn, MHD_HTTP_OK, o);
	case CHIST_ROW: {
		char *end;
		long long id = strtoll(url + strlen("/history/"), &end, 10);

		if (*end != '\0' || id <= 0)
			return chist_error(conn, MHD_HTTP_BAD_REQUEST, "bad history id");
		if ((o = history_get(id, err, sizeof(err))) == NULL)
			return chist_error(conn, err[0] ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_NOT_FOUND,
					   err[0] ? err : "no such history row");
		return chist_json(conn, MHD_HTTP_OK, o);
	}
	case CHIST_LIST: {
		struct history_filter f = { 0 };
		const char *s;

		f.action = chist_arg(conn, "action");
		f.sender = chist_arg(conn, "sender");
		f.rcpt = chist_arg(conn, "rcpt");
		f.text = chist_arg(conn, "text");
		if (!chist_double(conn, "min", 0, &f.min_prob) || !chist_double(conn, "max", 1, &f.max_prob))
			return chist_error(conn, MHD_HTTP_BAD_REQUEST, "min, max: a probability in [0,1]");
		if ((s = chist_arg(conn, "before")))
			f.before_id = strtoll(s, NULL, 10);
		if ((s = chist_arg(conn, "limit")))
			f.limit = (unsigned)strtoul(s, NULL, 10);
		if ((o = history_list(&f, err, sizeof(err))) == NULL)
			return chist_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, err);
		return chist_json(conn, MHD_HTTP_OK, o);
	}
	}
	return chist_error(conn, MHD_HTTP_NOT_FOUND, "no such endpoint");
}

/* chist_call - the writer thread: the learn itself. */
static int chist_call(struct bayes *db, struct writer_job *job)
{
	const uint64_t *hash = job->arg;
	uint8_t digest[16];

	memcpy(digest, job->data, 16);
	return bayes_learn_features(db, job->user, job->prob > 0.5 ? BAYES_SPAM : BAYES_HAM,
				    job->prob < 0, digest, hash, job->size, &job->outcome);
}

enum MHD_Result chist_learn(struct MHD_Connection *conn, struct writer *w, enum writer_op op,
			    const char *hex, const char *peer)
{
	const char *tok = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token");
	const char *name = op == WRITER_LEARN_SPAM ? "learn_spam" : op == WRITER_LEARN_HAM ? "learn_ham" : "forget";
	struct writer_job job;
	char err[256] = "", user[512];
	uint8_t digest[16];
	uint64_t *hash = NULL;
	size_t n = 0;
	int rc;

	pthread_once(&chist_once, chist_token_make);
	if (tok == NULL || strlen(tok) != 32 || strcmp(tok, chist_token) != 0) {
		log_warning("controller: %s by digest %s: refused, %s", name, peer,
			    tok ? "wrong CSRF token" : "no CSRF token");
		metrics_error("controller_csrf");
		return chist_error(conn, MHD_HTTP_FORBIDDEN, "X-CSRF-Token required (GET /csrf)");
	}
	if (w == NULL)
		return chist_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no writer");
	rc = history_features(hex, digest, user, sizeof(user), &hash, &n, err, sizeof(err));
	if (rc <= 0)
		return chist_error(conn, rc == 0 ? MHD_HTTP_NOT_FOUND : MHD_HTTP_SERVICE_UNAVAILABLE, err);

	memset(&job, 0, sizeof(job));
	job.op = WRITER_CALL;
	job.call = chist_call;
	job.needs_db = true;
	job.arg = hash;
	job.data = digest;
	job.size = n;
	job.user = user[0] ? user : NULL;
	job.prob = op == WRITER_LEARN_SPAM ? 1 : op == WRITER_LEARN_HAM ? 0 : -1;
	if (writer_submit(w, &job) < 0 || job.rc != 0) {
		free(hash);
		metrics_learned(METRICS_LEARN_ERROR);
		log_warning("controller: %s digest=%s %s: %s", name, hex, peer, job.err);
		return chist_error(conn, job.kind == BAYES_ERR_INPUT ? MHD_HTTP_BAD_REQUEST :
				   MHD_HTTP_SERVICE_UNAVAILABLE, job.err[0] ? job.err : "failed");
	}
	free(hash);
	metrics_learned((int)job.outcome);
	log_info("controller: %s digest=%s%s%s %s: %s (%zu features from the history)", name, hex,
		 job.user ? " user=" : "", job.user ? job.user : "", peer, bayes_outcome_name(job.outcome), n);
	json_t *o = json_pack("{s:s,s:s,s:I}", "result", bayes_outcome_name(job.outcome), "digest", hex,
			      "features", (json_int_t)n);
	if (op == WRITER_FORGET)
		json_object_set_new(o, "forgotten", json_boolean(job.outcome == BAYES_FORGOTTEN));
	else
		json_object_set_new(o, "learned", json_boolean(job.outcome == BAYES_LEARNED ||
							      job.outcome == BAYES_RELEARNED));
	if (job.user)
		json_object_set_new(o, "user", json_string(job.user));
	return chist_json(conn, MHD_HTTP_OK, o);
}
