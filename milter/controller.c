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
 * Files. This one holds the route table, the libmicrohttpd callbacks
 * (routing, the password and size checks, body reading, connection
 * accounting and the slow-client eviction) and the life cycle;
 * controller_socket.c makes the listening sockets, controller_endpoints.c
 * answers the endpoints, controller_history.c the scan history and the
 * web page. What they share is in controller_internal.h.
 *
 * Engine handles (controller_endpoints.c). Checks, stats and health
 * borrow a read-only handle from a pool (one pool of plain handles, one
 * of handles that keep feature text for explanations), opened on demand
 * and kept up to CONTROLLER_POOL_HANDLES idle; a handle that reported a
 * database error is closed, not returned, so the next request opens a
 * fresh one. Learns and forgets are jobs for the writer (writer.h) and
 * are answered after the commit.
 *
 * Settings that a reload may change are copied into struct ctl_settings
 * under the controller's mutex; a request copies what it needs at its start.
 */
#include "controller.h"
#include "controller_internal.h"
#include "controller_history.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bayes.h"
#include "message/charset.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "writer.h"

/*
 * The routes: path, method, endpoint, and whether TCP callers need the
 * password (struct ctl_route, controller_internal.h).
 */
static const struct ctl_route ctl_routes[] = {
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

/* ctl_elapsed_ms - milliseconds since *t0. */
double ctl_elapsed_ms(const struct timespec *t0)
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
void controller_cache_set(struct controller *c, struct count_cache *cache)
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
