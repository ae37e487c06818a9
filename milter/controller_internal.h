/*
 * controller_internal.h - what the controller's files share: the route,
 * the per-listener, per-connection and per-request state, and the helpers
 * one file defines and another calls. controller.c routes and runs the
 * life cycle, controller_socket.c makes the listening sockets,
 * controller_endpoints.c answers check, learn, stat, health and metrics.
 * For milter/controller*.c only (and its unit tests): the rest of bayesd
 * uses controller.h.
 */
#ifndef BAYESD_CONTROLLER_INTERNAL_H
#define BAYESD_CONTROLLER_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "bayes.h"
#include "config.h"
#include "controller.h"
#include "controller_history.h"

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
struct ctl_route {
	const char *path;
	const char *method;
	enum ctl_endpoint ep;
	bool privileged;
	bool read;
	enum chist_endpoint sub;	/* CTL_HISTORY */
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


/* ctl_elapsed_ms - milliseconds since *t0 (controller.c). */
double ctl_elapsed_ms(const struct timespec *t0);

/* Sockets (controller_socket.c), made as root by controller_bind. */

/* ctl_unix_listen - the UNIX socket: tight umask, then mode and group; the fd or -1 + err. */
int ctl_unix_listen(const struct bayesd_config *cfg, char *err, size_t errlen);

/* ctl_tcp_listen - bind host:port ("[v6]:port" too); the fd or -1 + err. */
int ctl_tcp_listen(const char *spec, char *err, size_t errlen);

/*
 * Endpoints and what they share (controller_endpoints.c). Each endpoint
 * queues the response and returns what MHD_queue_response returned.
 */

/* ctl_pool_flush - close every idle read-only handle (at stop, no request running). */
void ctl_pool_flush(struct controller *c);

/* ctl_reply - queue a response with body text[0..len) (copied). */
enum MHD_Result ctl_reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
			  const char *text, size_t len);

/* ctl_reply_json - queue obj (reference stolen) as the JSON body. */
enum MHD_Result ctl_reply_json(struct MHD_Connection *conn, unsigned status, json_t *obj);

/* ctl_reply_error - {"error": msg} with status. */
enum MHD_Result ctl_reply_error(struct MHD_Connection *conn, unsigned status, const char *msg);

/* ctl_password_ok - constant-time comparison with the configured password. */
bool ctl_password_ok(struct controller *c, const char *given);

/* ctl_do_check - POST /check: score with a read-only handle. */
enum MHD_Result ctl_do_check(struct ctl_listener *l, struct MHD_Connection *conn,
			     struct ctl_req *req, const struct ctl_settings *s);

/* ctl_do_learn - POST /learn_spam, /learn_ham, /forget: through the writer. */
enum MHD_Result ctl_do_learn(struct ctl_listener *l, struct MHD_Connection *conn,
			     struct ctl_req *req);

/* ctl_do_stat - GET /stat, and GET /health (health: a usable database). */
enum MHD_Result ctl_do_stat(struct ctl_listener *l, struct MHD_Connection *conn, bool health,
			    const struct ctl_settings *s);

/* ctl_do_metrics - GET /metrics. */
enum MHD_Result ctl_do_metrics(struct controller *c, struct MHD_Connection *conn);

#endif
