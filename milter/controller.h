/*
 * controller.h - bayesd's HTTP/1.1 controller: check, learn, forget,
 * statistics, health and metrics over a UNIX socket and, optionally, a
 * loopback TCP port (libmicrohttpd).
 *
 * Endpoints (the request body is the raw RFC 822 message; the user comes
 * from the header "User:" or the query "?user="; answers are JSON):
 *	POST /check		score: probability, action, spam, score (the
 *				probability, as in X-Spam-Status), required, tokens
 *				(+ features with "Explain: 1" or ?explain=1;
 *				with "Autolearn: yes" the autolearn rule runs as in
 *				the milter, told "Auth:", "Trusted:", "Truncated:"
 *				by the asker, and "autolearn":"spam|ham" is added
 *				when a learn was posted)
 *	POST /learn_spam	{"result":"learned|already learned|relearned",
 *	POST /learn_ham		 "learned":true|false}, answered after commit
 *	POST /forget		{"result":"forgotten|not learned"}
 *	GET  /stat		the database's statistics (per user when given)
 *	GET  /health		{"status":"ok"}, 503 when the database is unusable
 *	GET  /metrics		Prometheus text (metrics.h)
 *	GET  /history, /history/ID, /graph, /csrf, / (the web page) and
 *	POST /learn_*?digest=	the scan history: controller_history.h
 *	GET  /limits		{"scan_limit":N,"max_request_bytes":M}: what a
 *				check scans and the largest request taken (bayesc
 *				reads no more of a message than that)
 * Errors are {"error":"..."} with 400 (bad input), 403 (TCP learn without
 * the right "Password:"), 404, 405, 413 (body over max_request_bytes, refused
 * at header time or as soon as the count passes the cap - never buffered
 * beyond it), 503 (database busy or broken, writer queue full).
 *
 * Who may do what: on the UNIX socket, its mode and group decide (peers
 * are logged with their uid, and a uid other than root may hold at most
 * CONTROLLER_MAX_PER_UID connections, the rest get 503); on TCP, learn and forget need the password
 * (constant-time compare) and the rest is open to whoever can reach the
 * port, which should be loopback.
 *
 * Threads: libmicrohttpd runs a thread per connection (bounded); checks
 * and stats use read-only engine handles from a small pool and never wait
 * on the writer; learns and forgets go through the single writer thread
 * (writer.h).
 *
 * Life cycle, as bayesd's main() calls it:
 *	controller_bind()	as root, before the privilege drop
 *	controller_start()	after the drop
 *	controller_reload()	on SIGHUP, any number of times
 *	controller_stop()	on SIGTERM
 */
#ifndef BAYESD_CONTROLLER_H
#define BAYESD_CONTROLLER_H

#include <stddef.h>

#include "config.h"

/* connections per listener and per TCP address: controller_max_connections,
 * controller_max_per_ip (config.h has the defaults) */
#define CONTROLLER_MAX_UIDS		1024	/* peer uids counted at once (the most connections) */
#define CONTROLLER_MAX_PER_UID		16	/* UNIX socket connections per peer uid (not root) */
#define CONTROLLER_POOL_HANDLES		8	/* idle read-only handles kept per kind */
#define CONTROLLER_STOP_GRACE_S		5	/* controller_stop() waits this long for requests */

struct controller;

/*
 * controller_bind - create the listening sockets, as root, before the
 * privilege drop. The UNIX socket cfg->controller_socket ("" = none) is
 * created under umask 0177 and then given controller_socket_mode and, if
 * set, controller_socket_group; a stale socket file left by a dead daemon
 * is removed first (one that still answers is an error: another bayesd),
 * anything that is not a socket is left alone and is an error. Its
 * directory is created (0755) when missing. If cfg->controller_bind is set
 * ("127.0.0.1:11334", "[::1]:11334", "localhost:11334") a TCP listener is
 * bound there too. Nothing is served until controller_start().
 *
 * Returns the controller (owned by the caller, released with
 * controller_stop()), or NULL with a one-line reason in err. With neither
 * socket configured it returns a controller that serves nothing.
 */
struct controller *controller_bind(const struct bayesd_config *cfg, char *err, size_t errlen);

/*
 * controller_cache_set - before controller_start: the shared token cache
 * (count_cache.h) that the writer keeps current and checks read; NULL = none.
 * It must outlive the controller.
 */
struct count_cache;
void controller_cache_set(struct controller *c, struct count_cache *cache);

/*
 * controller_start - after the privilege drop: open the database through
 * the writer thread (creating it if missing, so the daemon's user must be
 * able to write it) and start serving. Returns 0, or -1 with a one-line
 * reason in err (the controller is then still to be released with
 * controller_stop()).
 */
int controller_start(struct controller *c, const struct bayesd_config *cfg, char *err, size_t errlen);

/*
 * controller_writer - the writer thread controller_start() started, or
 * NULL (no controller socket, or it failed). Owned by the controller:
 * valid until controller_stop().
 */
struct writer;
struct writer *controller_writer(const struct controller *c);

/*
 * controller_reload - take the settings of a reloaded config: password,
 * request size limit, timeout, thresholds, scan limit. Requests already
 * running finish with the old ones. Sockets and the database path are not
 * changed by a reload (a change is logged and needs a restart). The
 * controller keeps no reference to cfg.
 */
void controller_reload(struct controller *c, const struct bayesd_config *cfg);

/*
 * controller_stop - stop accepting, give running requests up to
 * CONTROLLER_STOP_GRACE_S to finish, let the writer run every learn already
 * queued (each acknowledged only after its commit), close the database and
 * the sockets, remove the UNIX socket file (when permissions still allow),
 * free c and set *c to NULL. NULL is fine.
 */
void controller_stop(struct controller **c);

#endif
