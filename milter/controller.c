/*
 * controller.c - the HTTP/1.1 controller on libmicrohttpd. See controller.h
 * for the endpoints and the life cycle.
 *
 * Shape of a request. libmicrohttpd calls ctl_access() first when the
 * headers are in: the route (method and path, from ctl_routes[]), the
 * password for privileged routes on TCP and the declared Content-Length
 * are judged there, so a refused request is answered before a byte of its
 * body is read. Then it calls again for each piece of body; the pieces are
 * appended to a buffer that never grows past max_request_bytes (a chunked
 * body that passes the cap is answered 413 there and then, or the
 * connection is dropped). The last call, with no data, runs the endpoint.
 *
 * Engine handles. Checks, stats and health borrow a read-only handle from
 * a pool (one pool of plain handles, one of handles that keep feature text
 * for explanations), opened on demand and kept up to CONTROLLER_POOL_HANDLES
 * idle; a handle that reported a database error is closed, not returned,
 * so the next request opens a fresh one. Learns and forgets are jobs for
 * the writer (writer.h) and are answered after the commit.
 *
 * Settings that a reload may change are copied into struct ctl_settings
 * under the controller's mutex; a request copies what it needs at its start.
 */
#include "controller.h"
#include "verdict.h"
#include "controller_history.h"
#include "http_reply.h"

#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "autolearn.h"
#include "bayes.h"
#include "message/charset.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "writer.h"

/* What a request asks for. */
enum ctl_endpoint {
	CTL_CHECK,
	CTL_LEARN_SPAM,
	CTL_LEARN_HAM,
	CTL_FORGET,
	CTL_STAT,
	CTL_HEALTH,
	CTL_METRICS,
	CTL_LIMITS,
	CTL_PING,
	CTL_HISTORY,		/* controller_history.c: ctl_route.sub says which */
};

/*
 * The routes: path, method, and whether TCP callers need the password:
 * always (privileged), or for a read of the statistics unless
 * controller_open_reads (read).
 */
static const struct ctl_route {
	const char *path;
	const char *method;
	enum ctl_endpoint ep;
	bool privileged;
	bool read;
	enum chist_endpoint sub;	/* CTL_HISTORY */
} ctl_routes[] = {
	{ "/check", "POST", CTL_CHECK, false, false, 0 },
	{ "/symbols", "POST", CTL_CHECK, false, false, 0 },	/* rspamc's alias */
	{ "/checkv2", "POST", CTL_CHECK, false, false, 0 },	/* rspamd's protocol v2: points too */
	{ "/learnspam", "POST", CTL_LEARN_SPAM, true, false, 0 },	/* rspamd's names */
	{ "/learnham", "POST", CTL_LEARN_HAM, true, false, 0 },
	{ "/ping", "GET", CTL_PING, false, false, 0 },
	{ "/learn_spam", "POST", CTL_LEARN_SPAM, true, false, 0 },
	{ "/learn_ham", "POST", CTL_LEARN_HAM, true, false, 0 },
	{ "/forget", "POST", CTL_FORGET, true, false, 0 },
	{ "/stat", "GET", CTL_STAT, false, true, 0 },
	{ "/health", "GET", CTL_HEALTH, false, false, 0 },
	{ "/metrics", "GET", CTL_METRICS, false, true, 0 },
	{ "/limits", "GET", CTL_LIMITS, false, false, 0 },
	{ "/history", "GET", CTL_HISTORY, true, false, CHIST_LIST },
	{ "/history/", "GET", CTL_HISTORY, true, false, CHIST_ROW },	/* a prefix: /history/ID */
	{ "/graph", "GET", CTL_HISTORY, true, false, CHIST_GRAPH },
	{ "/csrf", "GET", CTL_HISTORY, true, false, CHIST_CSRF },
	{ "/", "GET", CTL_HISTORY, false, false, CHIST_WWW },		/* the page: the login form is open */
	{ "/www/app.js", "GET", CTL_HISTORY, false, false, CHIST_WWW },
	{ "/www/style.css", "GET", CTL_HISTORY, false, false, CHIST_WWW },
};

/* What a reload may change; strings owned. */
struct ctl_settings {
	char *password;			/* NULL: TCP learns refused */
	size_t max_request;
	unsigned timeout_s;
	double spam_threshold;
	double reject_threshold;
	size_t scan_limit;		/* 0: no cut */
	unsigned min_learns;		/* of each class before a verdict */
	bool open_reads;		/* controller_open_reads: /stat, /metrics on TCP without password */
};

/* An idle read-only handle pool. */
struct ctl_pool {
	struct bayes *h[CONTROLLER_POOL_HANDLES];
	size_t n;
};

/* One listening socket and the libmicrohttpd daemon serving it. */
struct ctl_listener {
	struct controller *c;
	int fd;
	bool tcp;
	char *name;			/* path or host:port, for logs */
	struct MHD_Daemon *mhd;
};

/* Open connections of one peer uid on the UNIX socket. */
struct ctl_uid_count {
	uid_t uid;
	unsigned n;
};

/*
 * Per connection (libmicrohttpd's socket context). UNIX socket: the peer's
 * uid. TCP: what the slow-client eviction needs (ctl_tcp_evict).
 */
struct ctl_conn {
	bool known;			/* uid from SO_PEERCRED */
	uid_t uid;
	/* TCP */
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct timespec since;		/* opened, or its last request answered */
	bool busy;			/* a whole request is in and being served */
	bool head_in;			/* its request's head is parsed, the body is awaited */
	bool evicted;			/* shut down by ctl_tcp_evict */
};

struct controller {
	struct ctl_listener lst[2];
	size_t nlst;
	char *unix_path;		/* to remove at stop; NULL if none */
	struct writer *writer;

	pthread_mutex_t lock;		/* settings and pools */
	struct ctl_settings set;
	struct ctl_pool pool[2];	/* [0] plain, [1] keep_text (explain) */
	char *database;
	struct bayes_options opt;

	atomic_int inflight;		/* requests between first call and completion */

	/* connections per peer uid (under lock); at most one slot per connection */
	struct ctl_uid_count uids[CONTROLLER_MAX_UIDS];
	size_t nuids;

	/* open TCP connections (under lock), for ctl_tcp_evict */
	struct ctl_conn **tcp;
	size_t ntcp, tcp_cap;
	unsigned max_conns, max_per_ip;	/* libmicrohttpd's limits, from the config */
	unsigned long evictions;	/* slow clients dropped, for the log */
	time_t evict_logged;
};

/* Per-request state, libmicrohttpd's *con_cls. */
struct ctl_req {
	const struct ctl_route *route;
	unsigned char *body;
	size_t len, cap;
	size_t max;			/* max_request_bytes at the start */
	bool answered;			/* a response was queued early */
	struct timespec start;
};

/* ctl_elapsed_ms - milliseconds since *t0. */
static double ctl_elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ctl_settings_set - copy the reloadable settings out of cfg. */
static void ctl_settings_set(struct ctl_settings *s, const struct bayesd_config *cfg)
{
	free(s->password);
	s->password = (cfg->controller_password && *cfg->controller_password) ?
		xstrdup(cfg->controller_password) : NULL;
	s->max_request = cfg->max_request_bytes;
	s->timeout_s = cfg->controller_timeout_s;
	s->spam_threshold = cfg->spam_threshold;
	s->reject_threshold = cfg->reject_threshold;
	s->scan_limit = cfg->scan_limit;
	s->min_learns = cfg->min_learns;
	s->open_reads = cfg->controller_open_reads;
}

/* ctl_options - engine options for the handles, from cfg. */
static void ctl_options(struct bayes_options *opt, const struct bayesd_config *cfg)
{
	bayes_options_default(opt);
	opt->spam_threshold = cfg->spam_threshold;
	opt->train_mode = cfg->train_mode;
	opt->sync_full = cfg->sync_full;
	opt->learn_global_too = cfg->per_user_global;
	config_store_options(cfg, opt);
}

/*
 * Sockets.
 */

/* ctl_unix_listen - the UNIX socket: tight umask, then mode and group. */
static int ctl_unix_listen(const struct bayesd_config *cfg, char *err, size_t errlen)
{
	const char *path = cfg->controller_socket;
	struct sockaddr_un sun;
	mode_t old;
	char *dir, *slash;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "controller_socket %s: path too long", path);
		return -1;
	}
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir(%s): %s", dir, strerror(errno));
			free(dir);
			return -1;
		}
	}
	free(dir);
	if (!unix_socket_reclaim(path, err, errlen))
		return -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0177);	/* no window in which others may connect */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, errlen, "bind(%s): %s", path, strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);

	if (cfg->controller_socket_group && *cfg->controller_socket_group) {
		struct group *gr = getgrnam(cfg->controller_socket_group);

		if (gr == NULL) {
			snprintf(err, errlen, "controller_socket_group %s: no such group",
				 cfg->controller_socket_group);
			goto fail;
		}
		if (chown(path, (uid_t)-1, gr->gr_gid) < 0) {
			snprintf(err, errlen, "chown(%s, group %s): %s", path,
				 cfg->controller_socket_group, strerror(errno));
			goto fail;
		}
	}
	if (chmod(path, cfg->controller_socket_mode & 0777) < 0) {
		snprintf(err, errlen, "chmod(%s, %04o): %s", path, cfg->controller_socket_mode & 0777,
			 strerror(errno));
		goto fail;
	}
	if (listen(fd, 64) < 0) {
		snprintf(err, errlen, "listen(%s): %s", path, strerror(errno));
		goto fail;
	}
	return fd;

fail:
	close(fd);
	unlink(path);
	return -1;
}

/* ctl_is_loopback - 127.0.0.0/8 or ::1. */
static bool ctl_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}

/* ctl_tcp_listen - bind host:port ("[v6]:port" too). */
static int ctl_tcp_listen(const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	char *host = xstrdup(spec), *port, *h;
	int fd = -1, on = 1, rc;

	h = host;
	if (*h == '[') {
		char *end = strchr(h, ']');

		if (end == NULL || end[1] != ':') {
			snprintf(err, errlen, "controller_bind %s: expected [ADDRESS]:PORT", spec);
			free(host);
			return -1;
		}
		*end = '\0';
		h++;
		port = end + 2;
	} else {
		if ((port = strrchr(h, ':')) == NULL) {
			snprintf(err, errlen, "controller_bind %s: expected HOST:PORT", spec);
			free(host);
			return -1;
		}
		*port++ = '\0';
	}
	if (*h == '\0' || *port == '\0') {
		snprintf(err, errlen, "controller_bind %s: expected HOST:PORT", spec);
		free(host);
		return -1;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(h, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "controller_bind %s: %s", spec, gai_strerror(rc));
		free(host);
		return -1;
	}
	snprintf(err, errlen, "controller_bind %s: no usable address", spec);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0) {
			if (!ctl_is_loopback(ai->ai_addr))
				log_warning("controller: %s is not a loopback address; checks and stats "
					    "are open to whoever reaches it", spec);
			break;
		}
		snprintf(err, errlen, "bind(%s): %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	free(host);
	return fd;
}

/*
 * Engine handles.
 */

/* ctl_pool_get - a read-only handle (explain: one that keeps text); NULL + err. */
static struct bayes *ctl_pool_get(struct controller *c, bool explain, char *err, size_t errlen,
				  enum bayes_errkind *kind_r)
{
	struct ctl_pool *p = &c->pool[explain];
	struct bayes_options opt;
	struct bayes *h = NULL;

	pthread_mutex_lock(&c->lock);
	if (p->n > 0)
		h = p->h[--p->n];
	opt = c->opt;
	pthread_mutex_unlock(&c->lock);
	if (h != NULL)
		return h;
	opt.keep_text = explain;
	return bayes_open(c->database, BAYES_OPEN_RDONLY, &opt, err, errlen, kind_r);
}

/* ctl_pool_put - give a handle back; broken ones (database error) are closed. */
static void ctl_pool_put(struct controller *c, bool explain, struct bayes *h, bool broken)
{
	struct ctl_pool *p = &c->pool[explain];

	if (!broken) {
		pthread_mutex_lock(&c->lock);
		if (p->n < CONTROLLER_POOL_HANDLES) {
			p->h[p->n++] = h;
			h = NULL;
		}
		pthread_mutex_unlock(&c->lock);
	}
	bayes_close(&h);
}

/* ctl_pool_flush - close every idle handle. */
static void ctl_pool_flush(struct controller *c)
{
	for (size_t k = 0; k < ARRAY_SIZE(c->pool); k++)
		while (c->pool[k].n > 0)
			bayes_close(&c->pool[k].h[--c->pool[k].n]);
}

/*
 * Responses.
 */

/* ctl_reply - queue a response with body text[0..len) (copied). */
static enum MHD_Result ctl_reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
				 const char *text, size_t len)
{
	return http_reply(conn, status, ctype, text, len, false);
}

/* ctl_reply_json - queue obj (reference stolen) as the JSON body. */
static enum MHD_Result ctl_reply_json(struct MHD_Connection *conn, unsigned status, json_t *obj)
{
	enum MHD_Result ret;
	struct buf b;
	char *s;

	s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(obj);
	if (s == NULL)
		return MHD_NO;
	buf_init(&b);
	buf_printf(&b, "%s\n", s);
	free(s);
	ret = ctl_reply(conn, status, "application/json", b.data, b.len);
	buf_free(&b);
	return ret;
}

/* ctl_reply_error - {"error": msg} with status. */
static enum MHD_Result ctl_reply_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	return ctl_reply_json(conn, status, json_pack("{s:s}", "error", msg));
}

/* ctl_errkind_status - the HTTP status for an engine error. */
static unsigned ctl_errkind_status(enum bayes_errkind kind)
{
	switch (kind) {
	case BAYES_ERR_INPUT:
		return MHD_HTTP_BAD_REQUEST;
	case BAYES_ERR_BUSY:
	case BAYES_ERR_DB:
	case BAYES_ERR_INCOMPATIBLE:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	case BAYES_ERR_NONE:
		break;
	}
	return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* ctl_errkind_name - metrics label of an engine error. */
static const char *ctl_errkind_name(enum bayes_errkind kind)
{
	switch (kind) {
	case BAYES_ERR_BUSY: return "busy";
	case BAYES_ERR_DB: return "db";
	case BAYES_ERR_INCOMPATIBLE: return "incompatible";
	case BAYES_ERR_INPUT: return "input";
	case BAYES_ERR_NONE: break;
	}
	return "internal";
}

/*
 * Request details.
 */

/*
 * ctl_user - the user of the request: "User:" header, else ?user=. False
 * with the reason in why (for the 400) when the name is not one
 * bayesd takes (user_name_problem: not UTF-8, a NUL - "?user=a%00b" is seen
 * whole, not cut at the NUL -, a control character, a space, too long).
 */
static bool ctl_user(struct MHD_Connection *conn, const char **user_r, char *why, size_t whylen)
{
	const char *u = NULL, *problem;
	size_t n = 0;

	*user_r = NULL;
	/* bayesc's User:, rspamd's Deliver-To: (rspamc -d), or ?user= */
	if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, "User", 4, &u, &n) != MHD_YES || n == 0)
		if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, "Deliver-To", 10, &u, &n) != MHD_YES ||
		    n == 0)
			if (MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, "user", 4, &u, &n) != MHD_YES)
				u = NULL;
	if (u == NULL || n == 0)
		return true;
	if ((problem = user_name_problem(u, n)) != NULL) {
		snprintf(why, whylen, "malformed user: the name %s", problem);
		return false;
	}
	*user_r = u;
	return true;
}

/* ctl_flag - a yes/no header or query argument ("1", "yes", "true"). */
static bool ctl_flag(struct MHD_Connection *conn, const char *header, const char *arg)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, header);

	if (v == NULL)
		v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, arg);
	if (v == NULL)
		return false;
	return strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0;
}

/* ctl_peer - who is asking, for logs: "uid=1000 pid=42" or "tcp". */
static void ctl_peer(struct ctl_listener *l, struct MHD_Connection *conn, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *ci;
	struct ucred cr;
	socklen_t len = sizeof(cr);

	snprintf(out, outlen, "%s", l->tcp ? "tcp" : "uid=?");
	if (l->tcp)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
		snprintf(out, outlen, "uid=%ld pid=%ld", (long)cr.uid, (long)cr.pid);
}

/* ctl_password_ok - constant-time comparison with the configured password. */
static bool ctl_password_ok(struct controller *c, const char *given)
{
	const char *want;
	unsigned char diff = 0;
	size_t gl, wl, i;
	bool ok;

	pthread_mutex_lock(&c->lock);
	want = c->set.password;
	if (want == NULL || given == NULL) {
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	gl = strlen(given);
	wl = strlen(want);
	for (i = 0; i < gl; i++)
		diff |= (unsigned char)given[i] ^ (unsigned char)want[i < wl ? i : 0];
	ok = diff == 0 && gl == wl;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/* ctl_action - the milter's action for prob, as rspamd names them. */
static const char *ctl_action(const struct ctl_settings *s, double prob)
{
	if (s->reject_threshold <= 1.0 && prob >= s->reject_threshold)
		return "reject";
	if (prob >= s->spam_threshold)
		return "add header";
	return "no action";
}

/*
 * Endpoints. Each queues the response and returns what MHD_queue_response
 * returned.
 */

/*
 * ctl_autolearn - a check that asks for the autolearn rule with
 * "Autolearn: yes" (bayesd-smtpd-filter does). The asker knows what the
 * rule must know about the sender and says it: "Auth: LOGIN" for a SASL
 * login, "Trusted: yes" for a client in trusted_networks, "Truncated: yes"
 * for a message cut at scan_limit; "Queue-Id:" names the message in the
 * log. Over TCP it takes the password, as a learn does. The daemon's
 * current config decides, as for the milter. Adds "autolearn":
 * "spam"|"ham" to o when a learn was posted.
 */
static void ctl_autolearn(struct ctl_listener *l, struct MHD_Connection *conn, const struct ctl_req *req,
			  const char *user, double prob, size_t size, json_t *o)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Auth");
	struct bayesd_config *cfg;
	const char *cls;
	struct autolearn_msg al = {
		.tag = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Queue-Id"),
		.user = user, .data = req->body, .size = size, .prob = prob,
		.trusted = ctl_flag(conn, "Trusted", "trusted"),
		.authenticated = auth != NULL && *auth != '\0',
		.truncated = size < req->len || ctl_flag(conn, "Truncated", "truncated"),
	};

	if (l->tcp && !ctl_password_ok(l->c, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Password"))) {
		log_warning("controller: autolearn over TCP without the password; not learned");
		return;
	}
	cfg = config_current();
	cls = autolearn_offer(cfg, l->c->writer, &al);
	config_unref(&cfg);
	if (cls != NULL)
		json_object_set_new(o, "autolearn", json_string(cls));
}

/* ctl_do_check - POST /check: score with a read-only handle. */
static enum MHD_Result ctl_do_check(struct ctl_listener *l, struct MHD_Connection *conn,
				    struct ctl_req *req, const struct ctl_settings *s)
{
	struct controller *c = l->c;
	struct bayes_msg_meta meta;
	struct bayes_result r;
	enum bayes_errkind kind = BAYES_ERR_NONE;
	const char *user;
	char err[256], why[96];
	struct bayes *h;
	bool explain, mature;
	size_t size;
	json_t *o, *feats;

	if (!ctl_user(conn, &user, why, sizeof(why)))
		return ctl_reply_error(conn, MHD_HTTP_BAD_REQUEST, why);
	if (req->len == 0)
		return ctl_reply_error(conn, MHD_HTTP_BAD_REQUEST, "empty message");
	explain = ctl_flag(conn, "Explain", "explain");
	meta.client_ip = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "IP");
	meta.helo = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Helo");
	size = req->len;
	if (s->scan_limit > 0 && size > s->scan_limit)
		size = s->scan_limit;	/* what the milter would have read */

	err[0] = '\0';
	/* as the milter: after a database error a fresh handle gets one try */
	for (int attempt = 0;; attempt++) {
		if ((h = ctl_pool_get(c, explain, err, sizeof(err), &kind)) == NULL) {
			metrics_error(ctl_errkind_name(kind ? kind : BAYES_ERR_DB));
			log_warning("controller: check: %s", err);
			return ctl_reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, err);
		}
		if (bayes_check(h, user, req->body, size, &meta, &r) == 0)
			break;
		kind = bayes_errkind(h);
		snprintf(err, sizeof(err), "%s", bayes_errmsg(h));
		ctl_pool_put(c, explain, h, kind == BAYES_ERR_DB || kind == BAYES_ERR_INCOMPATIBLE);
		if (attempt == 0 && kind == BAYES_ERR_DB)
			continue;
		metrics_error(ctl_errkind_name(kind));
		log_warning("controller: check%s%s: %s", user ? " user=" : "", user ? user : "", err);
		return ctl_reply_error(conn, ctl_errkind_status(kind), err);
	}

	/*
	 * "score" is what the milter's X-Spam-Status says: the probability.
	 * Below min_learns the probability is still the engine's, but there is
	 * no verdict: "verdict": "unknown", "action": "no action", and
	 * "mature": false with the counts say why, as the milter does.
	 */
	mature = r.learned_spam >= s->min_learns && r.learned_ham >= s->min_learns;
	o = json_pack("{s:f,s:s,s:s,s:b,s:f,s:f,s:I,s:I}",
		      "probability", r.prob,
		      "verdict", !mature ? "unknown" : r.prob >= s->spam_threshold ? "spam" : "ham",
		      "action", mature ? ctl_action(s, r.prob) : "no action",
		      "spam", (int)(mature && r.prob >= s->spam_threshold),
		      "score", r.prob,
		      "required", s->spam_threshold,
		      "tokens", (json_int_t)r.nfeatures,
		      "used", (json_int_t)r.nused);
	if (strcmp(req->route->path, "/checkv2") == 0) {
		/*
		 * rspamd's shape (rspamc, Rspamd's milter clients): "score" and
		 * "required_score" in points (verdict_points: 5.0 at
		 * spam_threshold), "is_skipped", "symbols"; the probability stays
		 * under "probability".
		 */
		struct bayesd_config pc;
		double pts;

		memset(&pc, 0, sizeof(pc));
		pc.spam_threshold = s->spam_threshold;
		pts = verdict_points(&pc, r.prob);
		json_object_set_new(o, "score", json_real(pts));
		json_object_set_new(o, "required_score", json_real(VERDICT_POINTS_REQUIRED));
		json_object_set_new(o, "is_skipped", json_false());
		json_object_set_new(o, "symbols", json_pack("{s:{s:s,s:f,s:[s]}}",
			r.prob >= 0.5 ? "BAYES_SPAM" : "BAYES_HAM", "name",
			r.prob >= 0.5 ? "BAYES_SPAM" : "BAYES_HAM", "score", pts,
			"options", mature ? "mature" : "not enough training"));
	}
	json_object_set_new(o, "mature", json_boolean(mature));
	json_object_set_new(o, "learned_spam", json_integer((json_int_t)r.learned_spam));
	json_object_set_new(o, "learned_ham", json_integer((json_int_t)r.learned_ham));
	json_object_set_new(o, "min_learns", json_integer((json_int_t)s->min_learns));
	if (!mature)
		json_object_set_new(o, "reason", json_string("not enough training"));
	if (user)
		json_object_set_new(o, "user", json_string(user));
	if (explain) {
		feats = json_array();
		for (size_t i = 0; i < r.ntop; i++) {
			const struct bayes_feature *f = &r.top[i];
			char hex[20];
			json_t *txt;

			if (f->text != NULL && (txt = json_string(f->text)) != NULL) {
				/* valid UTF-8 */
			} else {
				snprintf(hex, sizeof(hex), "#%016llx", (unsigned long long)f->hash);
				txt = json_string(hex);
			}
			json_array_append_new(feats, json_pack("{s:o,s:f,s:I,s:I}", "text", txt,
							       "prob", f->prob,
							       "spam", (json_int_t)f->spam,
							       "ham", (json_int_t)f->ham));
		}
		json_object_set_new(o, "features", feats);
	}
	ctl_pool_put(c, explain, h, false);	/* feature texts are copied into o by now */
	if (mature && ctl_flag(conn, "Autolearn", "autolearn"))
		ctl_autolearn(l, conn, req, user, r.prob, size, o);
	log_debug("controller: check%s%s: probability=%.5f (%.1f ms)", user ? " user=" : "",
		  user ? user : "", r.prob, ctl_elapsed_ms(&req->start));
	return ctl_reply_json(conn, MHD_HTTP_OK, o);
}

/* ctl_do_learn - POST /learn_spam, /learn_ham, /forget: through the writer. */
static enum MHD_Result ctl_do_learn(struct ctl_listener *l, struct MHD_Connection *conn,
				    struct ctl_req *req)
{
	struct writer_job job;
	const char *user;
	char peer[64], why[96];
	json_t *o;

	const char *digest = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "digest");
	if (digest) {	/* a message known only from the scan history */
		ctl_peer(l, conn, peer, sizeof(peer));
		return chist_learn(conn, l->c->writer, req->route->ep == CTL_LEARN_SPAM ? WRITER_LEARN_SPAM :
				   req->route->ep == CTL_LEARN_HAM ? WRITER_LEARN_HAM : WRITER_FORGET,
				   digest, peer);
	}
	if (!ctl_user(conn, &user, why, sizeof(why)))
		return ctl_reply_error(conn, MHD_HTTP_BAD_REQUEST, why);
	if (req->len == 0)
		return ctl_reply_error(conn, MHD_HTTP_BAD_REQUEST, "empty message");

	memset(&job, 0, sizeof(job));
	job.op = req->route->ep == CTL_LEARN_SPAM ? WRITER_LEARN_SPAM :
		req->route->ep == CTL_LEARN_HAM ? WRITER_LEARN_HAM : WRITER_FORGET;
	job.user = user;
	job.data = req->body;
	job.size = req->len;
	ctl_peer(l, conn, peer, sizeof(peer));

	if (writer_submit(l->c->writer, &job) < 0 || job.rc != 0) {
		metrics_learned(METRICS_LEARN_ERROR);
		metrics_error(ctl_errkind_name(job.kind));
		log_warning("controller: %s%s%s %s: %s", req->route->path + 1, user ? " user=" : "",
			    user ? user : "", peer, job.err);
		return ctl_reply_error(conn, ctl_errkind_status(job.kind), job.err);
	}
	metrics_learned((int)job.outcome);
	log_info("controller: %s%s%s %s: %s (%.1f ms)", req->route->path + 1,
		 user ? " user=" : "", user ? user : "", peer, bayes_outcome_name(job.outcome),
		 ctl_elapsed_ms(&req->start));

	if (job.op == WRITER_FORGET)
		o = json_pack("{s:s,s:b}", "result", bayes_outcome_name(job.outcome),
			      "forgotten", (int)(job.outcome == BAYES_FORGOTTEN));
	else
		o = json_pack("{s:s,s:b}", "result", bayes_outcome_name(job.outcome),
			      "learned", (int)(job.outcome == BAYES_LEARNED ||
					       job.outcome == BAYES_RELEARNED));
	if (user)
		json_object_set_new(o, "user", json_string(user));
	return ctl_reply_json(conn, MHD_HTTP_OK, o);
}

/* ctl_per_user - every user's own figures as a JSON array, or NULL with the reason in err. */
static json_t *ctl_per_user(struct bayes *h, char *err, size_t errlen, enum bayes_errkind *kind_r)
{
	struct bayes_user_stats *u;
	size_t n;
	json_t *arr;

	if (bayes_users(h, &u, &n) < 0) {
		*kind_r = bayes_errkind(h);
		snprintf(err, errlen, "%s", bayes_errmsg(h));
		return NULL;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		/* a name from before names were checked (or from a recipient) that
		 * JSON cannot hold is listed escaped, not dropped from the list */
		json_t *name = u[i].name ? json_string(u[i].name) : json_null();
		char esc[4 * USER_NAME_MAX + 1];

		if (name == NULL)
			name = json_string(escape_for_log(esc, sizeof(esc), u[i].name));
		json_array_append_new(arr, json_pack("{s:o,s:I,s:I,s:I,s:I}", "user", name,
						     "learned_spam", (json_int_t)u[i].learned_spam,
						     "learned_ham", (json_int_t)u[i].learned_ham,
						     "tokens", (json_int_t)u[i].tokens,
						     "remembered", (json_int_t)u[i].remembered));
	}
	bayes_users_free(&u, n);
	return arr;
}

/*
 * ctl_do_stat - GET /stat, and GET /health (health: a usable database).
 * Both say whether the statistics are mature (min_learns of each class).
 * Over TCP without the password, /stat leaves out the per-user list (the
 * users' addresses) and says so with "per_user_hidden": true.
 */
static enum MHD_Result ctl_do_stat(struct ctl_listener *l, struct MHD_Connection *conn, bool health,
				   const struct ctl_settings *s)
{
	struct controller *c = l->c;
	enum bayes_errkind kind = BAYES_ERR_NONE;
	struct bayes_stats st;
	const char *user = NULL;
	char err[256], why[96];
	struct bayes *h;
	bool mature;
	json_t *o;

	if (!health && !ctl_user(conn, &user, why, sizeof(why)))
		return ctl_reply_error(conn, MHD_HTTP_BAD_REQUEST, why);
	err[0] = '\0';
	if ((h = ctl_pool_get(c, false, err, sizeof(err), &kind)) == NULL)
		goto fail;
	if (bayes_stats(h, user, &st) < 0) {
		kind = bayes_errkind(h);
		snprintf(err, sizeof(err), "%s", bayes_errmsg(h));
		ctl_pool_put(c, false, h, kind != BAYES_ERR_BUSY);
		goto fail;
	}
	mature = st.learned_spam >= s->min_learns && st.learned_ham >= s->min_learns;
	if (health) {
		ctl_pool_put(c, false, h, false);
		o = json_pack("{s:s,s:b,s:I}", "status", "ok", "mature", (int)mature,
			      "min_learns", (json_int_t)s->min_learns);
		if (!mature)
			json_object_set_new(o, "reason", json_string("not enough training"));
		return ctl_reply_json(conn, MHD_HTTP_OK, o);
	}
	o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:s?}",
		      "learned_spam", (json_int_t)st.learned_spam,
		      "learned_ham", (json_int_t)st.learned_ham,
		      "tokens", (json_int_t)st.tokens,
		      "remembered", (json_int_t)st.remembered,
		      "users", (json_int_t)st.users,
		      "db_bytes", (json_int_t)st.db_bytes,
		      "schema_version", st.schema_version,
		      "tok_params", st.tok_params);
	json_object_set_new(o, "last_expire", json_integer((json_int_t)st.last_expire));
	/* the message counts again under plain names, for scripts that grep for them */
	json_object_set_new(o, "spam_messages", json_integer((json_int_t)st.learned_spam));
	json_object_set_new(o, "ham_messages", json_integer((json_int_t)st.learned_ham));
	json_object_set_new(o, "min_learns", json_integer((json_int_t)s->min_learns));
	json_object_set_new(o, "mature", json_boolean(mature));
	if (!mature)
		json_object_set_new(o, "reason", json_string("not enough training"));
	if (user) {
		json_object_set_new(o, "user", json_string(user));
	} else if (l->tcp && !ctl_password_ok(c, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
									       "Password"))) {
		/* the users' addresses are not for anyone who can reach the port */
		json_object_set_new(o, "per_user_hidden", json_true());
	} else {
		/* last, after every global figure: readers that take the first spam count get the global one */
		json_t *arr = ctl_per_user(h, err, sizeof(err), &kind);
		if (arr == NULL) {
			json_decref(o);
			ctl_pool_put(c, false, h, kind != BAYES_ERR_BUSY);
			goto fail;
		}
		json_object_set_new(o, "per_user", arr);
	}
	ctl_pool_put(c, false, h, false);
	return ctl_reply_json(conn, MHD_HTTP_OK, o);

fail:
	metrics_error(ctl_errkind_name(kind ? kind : BAYES_ERR_DB));
	log_warning("controller: %s: %s", health ? "health" : "stat", err);
	if (health)
		return ctl_reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				      json_pack("{s:s,s:s}", "status", "error", "error", err));
	return ctl_reply_error(conn, ctl_errkind_status(kind ? kind : BAYES_ERR_DB), err);
}

/* ctl_do_metrics - GET /metrics. */
static enum MHD_Result ctl_do_metrics(struct controller *c, struct MHD_Connection *conn)
{
	enum MHD_Result ret;
	enum bayes_errkind kind = BAYES_ERR_NONE;
	struct bayes_stats st;
	struct bayes *h;
	char err[256];
	struct buf b;

	buf_init(&b);
	metrics_render(&b);
	/*
	 * Gauges of the statistics, read now (one bayes_stats on a pooled
	 * handle); left out, not zero, when the database cannot be read, so a
	 * dashboard shows a gap rather than an emptied database.
	 */
	if ((h = ctl_pool_get(c, false, err, sizeof(err), &kind)) != NULL) {
		if (bayes_stats(h, NULL, &st) == 0) {
			buf_printf(&b, "# HELP bayesd_learned_messages Messages learned, by class (global statistics).\n"
				   "# TYPE bayesd_learned_messages gauge\n"
				   "bayesd_learned_messages{class=\"spam\"} %llu\n"
				   "bayesd_learned_messages{class=\"ham\"} %llu\n",
				   (unsigned long long)st.learned_spam, (unsigned long long)st.learned_ham);
			buf_printf(&b, "# HELP bayesd_tokens Token rows in the statistics.\n"
				   "# TYPE bayesd_tokens gauge\nbayesd_tokens %llu\n",
				   (unsigned long long)st.tokens);
			buf_printf(&b, "# HELP bayesd_database_bytes Size of the statistics database.\n"
				   "# TYPE bayesd_database_bytes gauge\nbayesd_database_bytes %lld\n",
				   (long long)st.db_bytes);
			buf_printf(&b, "# HELP bayesd_last_expire_timestamp_seconds Unix time of the last expiry (0 = never).\n"
				   "# TYPE bayesd_last_expire_timestamp_seconds gauge\n"
				   "bayesd_last_expire_timestamp_seconds %lld\n", (long long)st.last_expire);
			ctl_pool_put(c, false, h, false);
		} else {
			ctl_pool_put(c, false, h, bayes_errkind(h) != BAYES_ERR_BUSY);
		}
	}
	buf_printf(&b, "# HELP bayesd_build_info bayesd's version.\n# TYPE bayesd_build_info gauge\n"
		   "bayesd_build_info{version=\"%s\"} 1\n", BAYESD_VERSION);
	ret = ctl_reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", b.data, b.len);
	buf_free(&b);
	return ret;
}

/*
 * libmicrohttpd callbacks.
 */

/* ctl_route - the route for method and url; *status_r says why not (404/405). */
static const struct ctl_route *ctl_route(const char *method, const char *url, unsigned *status_r,
					 const char **allow_r)
{
	*status_r = MHD_HTTP_NOT_FOUND;
	for (size_t i = 0; i < ARRAY_SIZE(ctl_routes); i++) {
		const char *p = ctl_routes[i].path;
		size_t pl = strlen(p);

		if (p[pl - 1] == '/' && pl > 1 ? strncmp(url, p, pl) != 0 || url[pl] == '\0' :
		    strcmp(url, p) != 0)
			continue;
		if (strcmp(method, ctl_routes[i].method) == 0 ||
		    (strcmp(method, "HEAD") == 0 && strcmp(ctl_routes[i].method, "GET") == 0))
			return &ctl_routes[i];
		*status_r = MHD_HTTP_METHOD_NOT_ALLOWED;
		*allow_r = ctl_routes[i].method;
	}
	return NULL;
}

/* ctl_refuse - answer at header time, before the body is read. */
static enum MHD_Result ctl_refuse(struct MHD_Connection *conn, struct ctl_req *req, unsigned status,
				  const char *msg, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	struct buf b;
	json_t *o = json_pack("{s:s}", "error", msg);
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	if (s == NULL)
		return MHD_NO;
	buf_init(&b);
	buf_printf(&b, "%s\n", s);
	free(s);
	req->answered = true;
	resp = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_COPY);
	buf_free(&b);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	/* the body, if any, will not be read: the connection cannot be reused */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ctl_body_append - add a piece of body; false when it would pass the cap. */
static bool ctl_body_append(struct ctl_req *req, const char *data, size_t size)
{
	size_t need, cap;

	if (size > req->max - req->len)
		return false;
	need = req->len + size;
	if (need > req->cap) {
		cap = req->cap ? req->cap : 64 * 1024;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		if (cap > req->max)
			cap = req->max;
		req->body = xrealloc(req->body, cap);
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, size);
	req->len = need;
	return true;
}

/* ctl_uid_slot - the count of uid (created when create); NULL if none. Under lock. */
static struct ctl_uid_count *ctl_uid_slot(struct controller *c, uid_t uid, bool create)
{
	for (size_t i = 0; i < c->nuids; i++)
		if (c->uids[i].uid == uid)
			return &c->uids[i];
	if (!create || c->nuids == ARRAY_SIZE(c->uids))
		return NULL;
	c->uids[c->nuids].uid = uid;
	c->uids[c->nuids].n = 0;
	return &c->uids[c->nuids++];
}

/* ctl_same_addr - whether two client addresses are one host (port aside). */
static bool ctl_same_addr(const struct ctl_conn *a, const struct ctl_conn *b)
{
	if (a->addr.ss_family != b->addr.ss_family)
		return false;
	if (a->addr.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->addr)->sin_addr.s_addr ==
			((const struct sockaddr_in *)&b->addr)->sin_addr.s_addr;
	if (a->addr.ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)&a->addr)->sin6_addr,
			      &((const struct sockaddr_in6 *)&b->addr)->sin6_addr, sizeof(struct in6_addr)) == 0;
	return false;
}

/*
 * ctl_older - whether a is the better one to drop: one whose head is in
 * and whose body is awaited (what a slowloris holds) before one whose
 * head has not been parsed yet (a client that connected a moment ago and
 * whose request is still in the socket buffer), then the one that has
 * waited longer.
 */
static bool ctl_older(const struct ctl_conn *a, const struct ctl_conn *b)
{
	if (a->head_in != b->head_in)
		return a->head_in;
	return a->since.tv_sec < b->since.tv_sec ||
		(a->since.tv_sec == b->since.tv_sec && a->since.tv_nsec < b->since.tv_nsec);
}

/*
 * ctl_tcp_evict - make room before libmicrohttpd's limits are reached.
 * libmicrohttpd closes a connection over CONNECTION_LIMIT or
 * PER_IP_CONNECTION_LIMIT at accept, so 3,000 clients that send a POST
 * head and a few bytes of body and then wait (slowloris) would hold every
 * slot until controller_timeout, and /health would be refused all that
 * time. So when a new connection leaves fewer than a reserve of free slots
 * (an eighth of the limit, at least one) from its address or in all, the
 * connection that has waited longest without a whole request (sending its
 * head or body slowly, or idle between requests) is shut down - one whose
 * head is in and whose body is awaited first (ctl_older) -; one being
 * served is never touched. A client that sends its request at once is
 * answered in milliseconds and is never the oldest waiter, so it gets
 * through however many slow ones there are; the slow ones lose their slot
 * to the newest. shutdown(2) wakes the connection's thread, which closes it
 * (the fd stays valid until our CLOSED notification, which takes the lock
 * held here). Under c->lock.
 */
static void ctl_tcp_evict(struct controller *c, const struct ctl_conn *fresh)
{
	unsigned reserve_ip = c->max_per_ip / 8 ? c->max_per_ip / 8 : 1;
	unsigned reserve = c->max_conns / 8 ? c->max_conns / 8 : 1;
	size_t same = 0;
	struct ctl_conn *victim = NULL, *victim_ip = NULL;

	for (size_t i = 0; i < c->ntcp; i++) {
		struct ctl_conn *x = c->tcp[i];
		bool mine = ctl_same_addr(x, fresh);

		same += mine && !x->evicted;
		if (x == fresh || x->busy || x->evicted)
			continue;
		if (victim == NULL || ctl_older(x, victim))
			victim = x;
		if (mine && (victim_ip == NULL || ctl_older(x, victim_ip)))
			victim_ip = x;
	}
	if (same + reserve_ip <= c->max_per_ip)
		victim_ip = NULL;
	if (c->ntcp + reserve <= c->max_conns)
		victim = NULL;
	if (victim_ip != NULL)
		victim = victim_ip;
	if (victim == NULL)
		return;
	victim->evicted = true;
	shutdown(victim->fd, SHUT_RDWR);
	c->evictions++;
	metrics_error("controller_slow_client");
	if (time(NULL) - c->evict_logged >= 10) {
		c->evict_logged = time(NULL);
		log_notice("controller: near the connection limit (%zu open, %zu from one address): "
			   "dropped the oldest client still sending its request (%lu so far)",
			   c->ntcp, same, c->evictions);
	}
}

/* ctl_tcp_notify - track TCP connections for ctl_tcp_evict. */
static void ctl_tcp_notify(struct controller *c, struct MHD_Connection *conn, void **socket_context,
			   enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct ctl_conn *cc = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		cc = xcalloc(1, sizeof(*cc));
		*socket_context = cc;
		cc->fd = -1;
		clock_gettime(CLOCK_MONOTONIC, &cc->since);
		if ((ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD)) != NULL)
			cc->fd = ci->connect_fd;
		if ((ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS)) != NULL &&
		    ci->client_addr != NULL) {
			cc->addrlen = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
				sizeof(struct sockaddr_in);
			memcpy(&cc->addr, ci->client_addr, cc->addrlen);
		}
		pthread_mutex_lock(&c->lock);
		if (c->ntcp == c->tcp_cap)
			c->tcp = xrealloc(c->tcp, (c->tcp_cap = c->tcp_cap ? c->tcp_cap * 2 : 64) * sizeof(*c->tcp));
		c->tcp[c->ntcp++] = cc;
		if (cc->fd >= 0)
			ctl_tcp_evict(c, cc);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (cc == NULL)
		return;
	*socket_context = NULL;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->ntcp; i++)
		if (c->tcp[i] == cc) {
			c->tcp[i] = c->tcp[--c->ntcp];
			break;
		}
	pthread_mutex_unlock(&c->lock);
	free(cc);
}

/* ctl_tcp_conn - the tracking record of a TCP connection, or NULL (UNIX socket, untracked). */
static struct ctl_conn *ctl_tcp_conn(struct ctl_listener *l, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;

	if (!l->tcp || (ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT)) == NULL)
		return NULL;
	return ci->socket_context;
}

/* ctl_tcp_head_in - a TCP connection's request head is parsed. */
static void ctl_tcp_head_in(struct ctl_listener *l, struct MHD_Connection *conn)
{
	struct ctl_conn *cc = ctl_tcp_conn(l, conn);

	if (cc == NULL)
		return;
	pthread_mutex_lock(&l->c->lock);
	cc->head_in = true;
	pthread_mutex_unlock(&l->c->lock);
}

/* ctl_tcp_mark - a TCP connection starts (busy) or ends serving a request. */
static void ctl_tcp_mark(struct ctl_listener *l, struct MHD_Connection *conn, bool busy)
{
	struct ctl_conn *cc = ctl_tcp_conn(l, conn);

	if (cc == NULL)
		return;
	pthread_mutex_lock(&l->c->lock);
	cc->busy = busy;
	if (!busy) {
		cc->head_in = false;	/* idle until its next request */
		clock_gettime(CLOCK_MONOTONIC, &cc->since);
	}
	pthread_mutex_unlock(&l->c->lock);
}

/*
 * ctl_notify - a connection opened or closed: count UNIX socket peers per
 * uid (OpenSMTPD's control socket does the same), so that one local user
 * cannot take every connection.
 */
static void ctl_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		       enum MHD_ConnectionNotificationCode toe)
{
	struct ctl_listener *l = cls;
	struct controller *c = l->c;
	const union MHD_ConnectionInfo *ci;
	struct ctl_conn *cc = *socket_context;
	struct ctl_uid_count *slot;
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (l->tcp) {
		ctl_tcp_notify(c, conn, socket_context, toe);
		return;
	}
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		cc = xcalloc(1, sizeof(*cc));
		*socket_context = cc;
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci == NULL || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
			return;
		pthread_mutex_lock(&c->lock);
		if ((slot = ctl_uid_slot(c, cr.uid, true)) != NULL) {
			slot->n++;
			cc->known = true;
			cc->uid = cr.uid;
		}
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (cc == NULL)
		return;
	*socket_context = NULL;
	if (cc->known) {
		pthread_mutex_lock(&c->lock);
		if ((slot = ctl_uid_slot(c, cc->uid, false)) != NULL && --slot->n == 0)
			*slot = c->uids[--c->nuids];
		pthread_mutex_unlock(&c->lock);
	}
	free(cc);
}

/* ctl_uid_over - whether the peer of conn has more connections than it may. */
static bool ctl_uid_over(struct ctl_listener *l, struct MHD_Connection *conn, unsigned *n_r)
{
	const union MHD_ConnectionInfo *ci;
	const struct ctl_conn *cc;
	struct ctl_uid_count *slot;
	bool over = false;

	if (l->tcp)
		return false;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (cc = ci->socket_context) == NULL || !cc->known || cc->uid == 0)
		return false;
	pthread_mutex_lock(&l->c->lock);
	if ((slot = ctl_uid_slot(l->c, cc->uid, false)) != NULL) {
		*n_r = slot->n;
		over = slot->n > CONTROLLER_MAX_PER_UID;
	}
	pthread_mutex_unlock(&l->c->lock);
	return over;
}

/* ctl_access - libmicrohttpd's access handler: route, gate, read, run. */
static enum MHD_Result ctl_access(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct ctl_listener *l = cls;
	struct controller *c = l->c;
	struct ctl_req *req = *con_cls;
	struct ctl_settings s;
	const char *allow = NULL, *cl;
	unsigned status, nconn = 0;

	(void)version;
	if (req == NULL) {
		/* headers are in; no body read yet */
		req = xcalloc(1, sizeof(*req));
		*con_cls = req;
		ctl_tcp_head_in(l, conn);
		atomic_fetch_add(&c->inflight, 1);
		clock_gettime(CLOCK_MONOTONIC, &req->start);
		pthread_mutex_lock(&c->lock);
		req->max = c->set.max_request;
		s.timeout_s = c->set.timeout_s;
		s.open_reads = c->set.open_reads;
		pthread_mutex_unlock(&c->lock);
		if (s.timeout_s > 0)
			MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, s.timeout_s);

		if (ctl_uid_over(l, conn, &nconn)) {
			metrics_error("controller_busy");
			log_warning("controller: %s: %u connections from one uid, limit %d",
				    url, nconn, CONTROLLER_MAX_PER_UID);
			return ctl_refuse(conn, req, MHD_HTTP_SERVICE_UNAVAILABLE,
					  "too many connections from this user", NULL);
		}
		if ((req->route = ctl_route(method, url, &status, &allow)) == NULL)
			return ctl_refuse(conn, req, status,
					  status == MHD_HTTP_NOT_FOUND ? "no such endpoint" :
					  "method not allowed", allow);
		if (l->tcp && (req->route->privileged || (req->route->read && !s.open_reads))) {
			const char *pw = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Password");

			if (!ctl_password_ok(c, pw)) {
				log_warning("controller: %s over TCP refused: %s", url,
					    pw ? "wrong password" : "no password");
				metrics_error("controller_auth");
				return ctl_refuse(conn, req, MHD_HTTP_FORBIDDEN,
						  pw ? "wrong password" : "password required", NULL);
			}
		}
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL) {
			char *end;
			unsigned long long n;

			errno = 0;
			n = strtoull(cl, &end, 10);
			if (errno != 0 || end == cl || *end != '\0' || *cl == '-')
				return ctl_refuse(conn, req, MHD_HTTP_BAD_REQUEST, "bad Content-Length", NULL);
			if (n > req->max) {
				metrics_error("request_too_large");
				log_notice("controller: %s: request of %llu bytes refused (max_request_bytes %zu)",
					   url, n, req->max);
				return ctl_refuse(conn, req, MHD_HTTP_CONTENT_TOO_LARGE,
						  "request too large", NULL);
			}
			if (n > 0) {	/* one allocation of the right size */
				req->body = xmalloc((size_t)n);
				req->cap = (size_t)n;
			}
		}
		return MHD_YES;
	}

	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		/* the whole request within controller_timeout, however it trickles
		 * (libmicrohttpd's timeout restarts at every byte) */
		pthread_mutex_lock(&c->lock);
		s.timeout_s = c->set.timeout_s;
		pthread_mutex_unlock(&c->lock);
		if (s.timeout_s > 0 && ctl_elapsed_ms(&req->start) > s.timeout_s * 1000.0) {
			log_info("controller: %s: request not in after %u s, dropped", url, s.timeout_s);
			metrics_error("controller_slow_client");
			return MHD_NO;
		}
		if (req->answered)	/* refused early: drop whatever still comes */
			return MHD_YES;
		if (!ctl_body_append(req, upload_data, n)) {
			metrics_error("request_too_large");
			log_notice("controller: %s: body passed max_request_bytes %zu, refused", url, req->max);
			free(req->body);
			req->body = NULL;
			req->len = req->cap = 0;
			/*
			 * libmicrohttpd 0.9 cannot answer in the middle of a body;
			 * then the connection is dropped rather than read to its end
			 * (a client could stream forever).
			 */
			if (ctl_refuse(conn, req, MHD_HTTP_CONTENT_TOO_LARGE, "request too large", NULL) != MHD_YES)
				return MHD_NO;
		}
		return MHD_YES;
	}
	if (req->answered)
		return MHD_YES;

	/* the whole request is in */
	pthread_mutex_lock(&c->lock);
	s = c->set;
	s.password = NULL;
	pthread_mutex_unlock(&c->lock);
	req->answered = true;
	ctl_tcp_mark(l, conn, true);
	switch (req->route->ep) {
	case CTL_CHECK:
		return ctl_do_check(l, conn, req, &s);
	case CTL_LEARN_SPAM:
	case CTL_LEARN_HAM:
	case CTL_FORGET:
		return ctl_do_learn(l, conn, req);
	case CTL_STAT:
		return ctl_do_stat(l, conn, false, &s);
	case CTL_HEALTH:
		return ctl_do_stat(l, conn, true, &s);
	case CTL_METRICS:
		return ctl_do_metrics(c, conn);
	case CTL_PING:
		/* rspamd answers its /ping with "pong" and a newline */
		return ctl_reply(conn, MHD_HTTP_OK, "text/plain", "pong\r\n", 6);
	case CTL_HISTORY:
		return chist_handle(conn, req->route->sub, url);
	case CTL_LIMITS:
		/* what a client may send: bayesc reads no more of a message than this */
		return ctl_reply_json(conn, MHD_HTTP_OK, json_pack("{s:I,s:I}",
			"scan_limit", (json_int_t)s.scan_limit, "max_request_bytes", (json_int_t)s.max_request));
	}
	return ctl_reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "no handler");
}

/* ctl_completed - a request ended (answered, timed out or dropped): free it. */
static void ctl_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			  enum MHD_RequestTerminationCode toe)
{
	struct ctl_listener *l = cls;
	struct ctl_req *req = *con_cls;

	(void)conn;
	if (req == NULL)
		return;
	*con_cls = NULL;
	ctl_tcp_mark(l, conn, false);
	if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
		log_info("controller: %s: client timed out", l->name);
	free(req->body);
	free(req);
	/* libmicrohttpd ends this connection's thread without telling us:
	 * release the ICU converters the request cached in it. */
	charset_thread_done();
	atomic_fetch_sub(&l->c->inflight, 1);
}

/* ctl_mhd_log - libmicrohttpd's error messages, into our log. */
static void ctl_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct ctl_listener *l = cls;
	char line[512];
	size_t n;

	if (!log_enabled(LOG_INFO))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_msg(LOG_INFO, "controller %s: %s", l->name, line);
}

/*
 * Life cycle.
 */

/* controller_bind - create the sockets as root. */
struct controller *controller_bind(const struct bayesd_config *cfg, char *err, size_t errlen)
{
	struct controller *c = xcalloc(1, sizeof(*c));
	int fd;

	metrics_init();
	pthread_mutex_init(&c->lock, NULL);
	atomic_init(&c->inflight, 0);
	ctl_settings_set(&c->set, cfg);
	c->database = xstrdup(cfg->database);
	ctl_options(&c->opt, cfg);
	for (size_t i = 0; i < ARRAY_SIZE(c->lst); i++)
		c->lst[i].fd = -1;

	if (cfg->controller_socket && *cfg->controller_socket) {
		if ((fd = ctl_unix_listen(cfg, err, errlen)) < 0)
			goto fail;
		c->unix_path = xstrdup(cfg->controller_socket);
		c->lst[c->nlst].c = c;
		c->lst[c->nlst].fd = fd;
		c->lst[c->nlst].tcp = false;
		c->lst[c->nlst].name = xstrdup(cfg->controller_socket);
		c->nlst++;
	}
	if (cfg->controller_bind && *cfg->controller_bind) {
		if ((fd = ctl_tcp_listen(cfg->controller_bind, err, errlen)) < 0)
			goto fail;
		c->lst[c->nlst].c = c;
		c->lst[c->nlst].fd = fd;
		c->lst[c->nlst].tcp = true;
		c->lst[c->nlst].name = xstrdup(cfg->controller_bind);
		c->nlst++;
		if (c->set.password == NULL)
			log_warning("controller: %s: no controller_password set, so learning over TCP is refused",
				    cfg->controller_bind);
	}
	return c;

fail:
	controller_stop(&c);
	return NULL;
}

/* controller_cache_set - the shared token cache for the writer and the checks. */
void controller_cache_set(struct controller *c, struct tokcache *cache)
{
	c->opt.cache = cache;
}

/* controller_start - open the database (writer) and serve. */
int controller_start(struct controller *c, const struct bayesd_config *cfg, char *err, size_t errlen)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO_INTERNAL_THREAD |
		MHD_USE_ITC | MHD_USE_ERROR_LOG;

	if (c->nlst == 0)
		return 0;
	c->max_conns = cfg->controller_max_connections;
	c->max_per_ip = cfg->controller_max_per_ip;
	if (c->max_per_ip > c->max_conns)
		c->max_per_ip = c->max_conns;
	if ((c->writer = writer_start(c->database, &c->opt, 0, err, errlen)) == NULL)
		return -1;

	for (size_t i = 0; i < c->nlst; i++) {
		struct ctl_listener *l = &c->lst[i];
		struct MHD_OptionItem ops[] = {
			{ MHD_OPTION_LISTEN_SOCKET, l->fd, NULL },
			{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->controller_timeout_s, NULL },
			{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)c->max_conns, NULL },
			{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)ctl_completed, l },
			{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)ctl_notify, l },
			{ l->tcp ? MHD_OPTION_PER_IP_CONNECTION_LIMIT : MHD_OPTION_END,
			  (intptr_t)c->max_per_ip, NULL },
			{ MHD_OPTION_END, 0, NULL },
		};

		/* the logger goes first, or libmicrohttpd complains on stderr */
		l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, ctl_access, l,
					  MHD_OPTION_EXTERNAL_LOGGER, ctl_mhd_log, l,
					  MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
		if (l->mhd == NULL) {
			snprintf(err, errlen, "controller %s: cannot start the HTTP server", l->name);
			return -1;
		}
		l->fd = -1;	/* libmicrohttpd's now */
		log_info("controller: listening on %s%s", l->tcp ? "tcp " : "", l->name);
	}
	return 0;
}

/* controller_writer - the writer, or NULL. */
struct writer *controller_writer(const struct controller *c)
{
	return c ? c->writer : NULL;
}

/* controller_reload - take the reloadable settings. */
void controller_reload(struct controller *c, const struct bayesd_config *cfg)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	ctl_settings_set(&c->set, cfg);
	pthread_mutex_unlock(&c->lock);
	if (strcmp(c->database, cfg->database) != 0)
		log_warning("controller: database changed to %s; the controller keeps %s until restart",
			    cfg->database, c->database);
	if (strcmp(c->unix_path ? c->unix_path : "", cfg->controller_socket ? cfg->controller_socket : "") != 0)
		log_warning("controller: controller_socket changes need a restart");
}

/* controller_stop - stop serving, drain the writer, close, free. */
void controller_stop(struct controller **cp)
{
	struct controller *c = *cp;
	int waited;

	if (c == NULL)
		return;
	*cp = NULL;

	/* stop accepting, then let running requests finish (bounded) */
	for (size_t i = 0; i < c->nlst; i++)
		if (c->lst[i].mhd != NULL) {
			int fd = MHD_quiesce_daemon(c->lst[i].mhd);

			if (fd >= 0)
				close(fd);
		}
	for (waited = 0; atomic_load(&c->inflight) > 0 && waited < CONTROLLER_STOP_GRACE_S * 20; waited++)
		usleep(50 * 1000);
	if (atomic_load(&c->inflight) > 0)
		log_warning("controller: stopping with %d requests unfinished", atomic_load(&c->inflight));
	/* a handler waiting on the writer returns once its job ran: the writer still runs */
	for (size_t i = 0; i < c->nlst; i++) {
		if (c->lst[i].mhd != NULL)
			MHD_stop_daemon(c->lst[i].mhd);
		if (c->lst[i].fd >= 0)
			close(c->lst[i].fd);
		free(c->lst[i].name);
	}
	writer_stop(&c->writer);
	ctl_pool_flush(c);
	if (c->unix_path != NULL && unlink(c->unix_path) < 0 && errno != ENOENT)
		log_debug("controller: unlink(%s): %m", c->unix_path);

	free(c->tcp);
	free(c->unix_path);
	free(c->set.password);
	free(c->database);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
