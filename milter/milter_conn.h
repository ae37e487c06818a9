/*
 * milter_conn.h - what the milter keeps of one SMTP session and of the
 * message in it (see milter.c), and the header changes made at end of
 * message (milter_headers.c). For milter.c and milter_headers.c only.
 */
#ifndef BAYESD_MILTER_CONN_H
#define BAYESD_MILTER_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "history.h"
#include "milter.h"
#include "util.h"

#define MILTER_XSPAM_NAMES	16	/* distinct incoming X-Spam-* names tracked */
#define MILTER_UPSTREAM_MAX	32	/* incoming X-Spam-* headers renamed (upstream_headers) */

/* Incoming X-Spam-* headers of one name, to remove at end of message. */
struct milter_xspam {
	char *name;
	unsigned count;
};

/* One incoming X-Spam-* header, to re-add as X-Upstream-Spam-* (rename). */
struct milter_upstream {
	char *name;
	char *value;
};

struct milter_msg {
	bool active;			/* between MAIL FROM and eom/abort */
	bool score;			/* false: trusted or authenticated sender */
	bool no_reject;			/* a recipient opted out of reject and quarantine */
	const char *skip_reason;	/* why not, for the log */
	char qid[32];
	char *auth;			/* {auth_authen} or NULL */
	unsigned nrcpt;
	char user[BAYESD_USER_MAX];	/* per_user: the first recipient's user, "" = none */
	struct buf data;		/* headers + body, at most scan_limit bytes */
	bool truncated;			/* more than scan_limit arrived */
	char *subject;			/* first Subject value, or NULL */
	/* for the scan history (history.h) */
	char *sender, *msgid, *hfrom;
	char *rcpt[HISTORY_RCPTS];
	struct milter_xspam xspam[MILTER_XSPAM_NAMES];
	size_t nxspam;
	bool xspam_overflow;
	struct milter_upstream upstream[MILTER_UPSTREAM_MAX];
	size_t nupstream;
	bool upstream_overflow;
};

struct milter_conn {
	struct bayesd_config *cfg;	/* pinned for the session */
	char client[INET6_ADDRSTRLEN];	/* "" = not an IP client */
	char *helo;
	bool trusted;			/* client in trusted_networks */
	bool local;			/* the box itself: loopback or no IP (sendmail pickup) */
	bool can_skip;			/* MTA understands SMFIS_SKIP */
	unsigned long noreply;		/* SMFIP_NR_* agreed: those steps answer nothing */
	struct milter_msg msg;
};

/* milter_mio - the libmilter calls in use (milter_io_set) */
extern const struct milter_io *milter_mio;

/* milter_client - the client address for logs */
const char *milter_client(const struct milter_conn *conn);

/*
 * milter_note_xspam - remember an incoming X-Spam-* header for removal
 * (upstream_headers = remove or rename) and, for rename, its value.
 */
void milter_note_xspam(struct milter_conn *conn, const char *name, const char *value);

/* milter_addheader - add a header, logging a failure */
void milter_addheader(SMFICTX *ctx, struct milter_conn *conn, const char *qid, const char *name,
		      const char *value);

/*
 * milter_strip_xspam - the incoming X-Spam-* headers, by upstream_headers:
 * removed (remove, rename), then re-added as X-Upstream-Spam-* (rename).
 */
void milter_strip_xspam(SMFICTX *ctx, struct milter_conn *conn, const char *qid);

/* milter_subject - prefix the Subject with subject_tag (unless already there) */
void milter_subject(SMFICTX *ctx, struct milter_conn *conn, const char *qid);

#endif
