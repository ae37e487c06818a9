/*
 * ctl_client.h - one HTTP client of bayesd's controller, shared by bayesc
 * (trainer/client.c) and the OpenSMTPD filter (milter/opensmtpd/).
 *
 * A client talks to one controller: over its UNIX socket, or over TCP to
 * HOST:PORT. It keeps one libcurl handle, so successive requests go over
 * one kept-alive connection. Headers given with ctl_client_header() go
 * with every request (User:, Password:, ...); a request may add its own.
 * A request is a GET, or a POST of a body; the answer's status and body
 * (at most max_response bytes: a longer answer is an error) are kept
 * until the next request. Every request is bounded by the timeouts; after
 * a timeout the connection is dropped, so a half-read answer is never
 * taken for the next one. What a failure means (stop, retry, back off) is
 * the caller's.
 *
 * Rooms: may use classifier/util.h; never milter/, trainer/, corpus/.
 * libcurl stays inside ctl_client.c.
 */
#ifndef BAYESD_CTL_CLIENT_H
#define BAYESD_CTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* where the controller is and how long to wait for it */
struct ctl_params {
	const char *host;		/* HOST:PORT ("http://" may lead); NULL or "": the socket */
	const char *socket;		/* the UNIX socket's path, when no host */
	const char *user_agent;		/* User-Agent:, or NULL for none */
	long timeout_ms;		/* a whole request, connecting included */
	long connect_timeout_ms;	/* connecting */
	size_t max_response;		/* bytes of an answer kept */
};

/* how a request went */
enum ctl_result {
	CTL_OK,			/* answered: status and body in the reply */
	CTL_CONNECT,		/* could not connect (or resolve the host) */
	CTL_TIMEOUT,		/* no whole answer within the timeout */
	CTL_DROPPED,		/* the connection broke or closed with no answer */
	CTL_ERROR,		/* anything else (an answer over max_response, ...) */
};

/* the answer of a request that returned CTL_OK */
struct ctl_reply {
	long status;		/* HTTP status */
	const char *body;	/* the body, NUL-terminated, "" when empty; until the next request */
	size_t len;
};

struct ctl_client;

/* ctl_global_init - libcurl's global set-up, once per process before any client; false on failure */
bool ctl_global_init(void);

/* ctl_global_cleanup - undo ctl_global_init, after the last client is freed */
void ctl_global_cleanup(void);

/* ctl_client_new - a client of the controller p names (copied); NULL when libcurl cannot start */
struct ctl_client *ctl_client_new(const struct ctl_params *p);

/* ctl_client_free - close the connection and free the client (NULL is fine) */
void ctl_client_free(struct ctl_client *c);

/*
 * ctl_client_header - send "name: value" with every request from now on.
 * False, and nothing added, when value holds a line break.
 */
bool ctl_client_header(struct ctl_client *c, const char *name, const char *value);

/*
 * ctl_client_request - one request to path ("/check?explain=1"): GET when
 * body is NULL, else POST of body[0..len). extra, when not NULL, is a
 * NULL-terminated list of "Name: value" lines for this request only (an
 * empty "Name:" suppresses a header libcurl would add, such as Expect:).
 * CTL_OK fills r; any other result leaves the reason for ctl_client_error.
 */
enum ctl_result ctl_client_request(struct ctl_client *c, const char *path, const char *const *extra,
				   const void *body, size_t len, struct ctl_reply *r);

/* ctl_client_error - the last failure in words (libcurl's) */
const char *ctl_client_error(const struct ctl_client *c);

/* ctl_client_os_errno - the errno of the last failure to connect, 0 when none is known */
int ctl_client_os_errno(const struct ctl_client *c);

/* ctl_client_target - the socket path or HOST:PORT, for messages */
const char *ctl_client_target(const struct ctl_client *c);

#endif
