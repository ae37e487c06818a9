/*
 * milter.c - bayesd's libmilter callbacks: read a message, score it, act.
 *
 * State. Each milter connection (one SMTP session) has a struct
 * milter_conn, made at negotiate or connect and freed at close; it pins
 * the config that was current when the session started (a SIGHUP reload
 * never changes a session under its feet), the client address and HELO,
 * and whether the client is in trusted_networks. Inside it, struct
 * milter_msg holds one message: the queue id, SASL login, the header and
 * body bytes up to scan_limit, and the X-Spam-* headers that came from
 * outside. One function, milter_msg_reset(), clears it; envfrom, abort,
 * eom and close call it. Every callback fetches its connection and copes
 * with NULL (libmilter calls close even when connect never ran).
 *
 * Reading. Headers are rebuilt as "Name: value" lines with CRLF, then the
 * blank line, then body chunks, as the engine reads a raw message. Once
 * scan_limit bytes are in, body callbacks answer SMFIS_SKIP when the MTA
 * negotiated SMFIP_SKIP, so the rest of a large message is not even sent.
 * Trusted and authenticated senders are not scored: their body is skipped
 * from the first chunk.
 *
 * Acting, at end of message. Incoming X-Spam-* headers are removed
 * (highest index first, so indexes stay valid) so no sender can forge a
 * verdict, and with upstream_headers = rename (the default) re-added as
 * X-Upstream-Spam-* with their values, for whoever wants an upstream
 * filter's opinion; upstream_headers = keep leaves them (an incoming
 * X-Spam-Status then stands beside ours); then, for a scored message whose statistics are below min_learns
 * of either class: "X-Spam-Status: Unknown, not enough training", the
 * counts in X-Spam-Bayesd, no reject, flag, quarantine or autolearn;
 * otherwise:
 *	prob >= reject_threshold	550 5.7.1 reject_message, nothing else
 *	otherwise			X-Spam-Status: Yes|No, score=S required=5.0
 *					  tests=BAYES_NN autolearn=A version=bayesd-V
 *					X-Spam-Flag: YES (only when prob >= spam_threshold)
 *					X-Spam-Score: points, X-Spam-Level: stars (verdict.h)
 *					X-Spam-Bayesd: p=P tokens=N used=M version=V
 *					Subject prefixed with subject_tag (spam, if set)
 *					quarantine (prob >= quarantine_threshold)
 * Not-scored messages (mail from the box itself: a loopback or non-IP
 * client, unless score_local; trusted network; SASL login) get no X-Spam-*
 * header at all: absence means "not scored", and the log line says why.
 * On an engine error (database missing, locked, corrupt): on_error=accept
 * adds "X-Spam-Status: Unknown, score=unknown (reason)" and accepts;
 * on_error=tempfail answers 451 4.7.1. The log line says why, always.
 *
 * Engine handles: a pool of read-only ones (milter_pool.h); a callback
 * borrows one for bayes_check() and gives it back. The milter never
 * writes the database.
 *
 * Side effects on the MTA go through milter_io (smfi_* by default), so a
 * test can drive these callbacks without libmilter's socket.
 */
#include "milter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addresses.h"
#include "autolearn.h"
#include "history.h"
#include "bayes.h"
#include "log.h"
#include "metrics.h"
#include "milter_conn.h"
#include "milter_internal.h"
#include "milter_pool.h"
#include "util.h"
#include "verdict.h"
#include "writer.h"

#define MILTER_NAME		"bayesd"
#define MILTER_IDLE_TIMEOUT_S	7210	/* silence from the MTA (libmilter's default) */
#define MILTER_SEND_TIMEOUT_S	60	/* a write the MTA does not take */
#define MILTER_NOREPLY		(SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | \
				 SMFIP_NR_HDR | SMFIP_NR_EOH)

/* The libmilter functions, or a test's. */
static const struct milter_io milter_smfi = {
	.getpriv = smfi_getpriv,
	.setpriv = smfi_setpriv,
	.getsymval = smfi_getsymval,
	.addheader = smfi_addheader,
	.chgheader = smfi_chgheader,
	.setreply = smfi_setreply,
	.quarantine = smfi_quarantine,
	.setsymlist = smfi_setsymlist,
};
const struct milter_io *milter_mio = &milter_smfi;

static char *milter_spec;		/* the listening socket, for milter_poke() */
static bool milter_closing;		/* milter_stop(): no new connections */
static struct writer *_Atomic milter_writer;	/* autolearns go there, or NULL */

/* Messages in flight, for a graceful stop. */
static pthread_mutex_t milter_flight_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t milter_flight_cond = PTHREAD_COND_INITIALIZER;
static unsigned milter_inflight;

/* milter_io_set - replace the libmilter calls (NULL: the real ones) */
void milter_io_set(const struct milter_io *io)
{
	milter_mio = io ? io : &milter_smfi;
}

/* milter_now_ms - a monotonic clock in milliseconds */
static double milter_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* milter_flight - count a message in (+1) or out (-1) */
static void milter_flight(int delta)
{
	pthread_mutex_lock(&milter_flight_lock);
	if (delta > 0)
		milter_inflight++;
	else if (milter_inflight > 0)
		milter_inflight--;
	if (milter_inflight == 0)
		pthread_cond_broadcast(&milter_flight_cond);
	pthread_mutex_unlock(&milter_flight_lock);
}

/* milter_drain - wait for messages in flight */
bool milter_drain(unsigned timeout_s)
{
	struct timespec deadline;
	bool done;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_s;
	pthread_mutex_lock(&milter_flight_lock);
	while (milter_inflight > 0) {
		if (pthread_cond_timedwait(&milter_flight_cond, &milter_flight_lock, &deadline) ==
		    ETIMEDOUT)
			break;
	}
	done = milter_inflight == 0;
	if (!done)
		log_warning("stop: %u message(s) still in flight after %u s", milter_inflight,
			    timeout_s);
	pthread_mutex_unlock(&milter_flight_lock);
	return done;
}

/* milter_writer_set - where autolearns go */
void milter_writer_set(struct writer *w)
{
	milter_writer = w;
}

/*
 * milter_autolearn - after a score: the autolearn rule (autolearn.h); what
 * it did, for X-Spam-Status: "spam", "ham", "no", or "disabled"
 */
static const char *milter_autolearn(struct milter_conn *conn, const char *qid, const char *user,
				    double prob)
{
	struct milter_msg *m = &conn->msg;
	struct autolearn_msg al = {
		.tag = qid, .user = user, .prob = prob,
		.data = (const unsigned char *)m->data.data, .size = m->data.len,
		.trusted = conn->trusted, .authenticated = m->auth != NULL, .truncated = m->truncated,
	};

	const char *cls;

	if (!conn->cfg->autolearn)
		return "disabled";
	cls = autolearn_offer(conn->cfg, milter_writer, &al);
	return cls ? cls : "no";
}

/*
 * milter_spec_path - the path of a UNIX socket spec (unix:PATH,
 * local:PATH, PATH); NULL for inet:PORT@HOST and inet6:PORT@HOST.
 */
static const char *milter_spec_path(const char *spec)
{
	const char *colon = strchr(spec, ':');

	if (strncmp(spec, "inet:", 5) == 0 || strncmp(spec, "inet6:", 6) == 0)
		return NULL;
	return spec[0] == '/' || !colon ? spec : colon + 1;
}

/*
 * milter_spec_addr - resolve an inet or inet6 spec's PORT@HOST into *ai
 * (numeric port). 0 on success; 1 when the spec does not have that shape
 * (libmilter judges it); else getaddrinfo's code.
 */
static int milter_spec_addr(const char *spec, struct addrinfo **ai)
{
	char port[16];
	const char *p = strchr(spec, ':') + 1, *at = strchr(p, '@');
	struct addrinfo hints = { 0 };

	if (!at || (size_t)(at - p) >= sizeof(port))
		return 1;
	memcpy(port, p, (size_t)(at - p));
	port[at - p] = '\0';
	hints.ai_family = strncmp(spec, "inet6:", 6) == 0 ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	return getaddrinfo(at + 1, port, &hints, ai);
}

/* milter_shutdown - close every idle handle, remove a UNIX listening socket */
void milter_shutdown(void)
{
	const char *path = milter_spec ? milter_spec_path(milter_spec) : NULL;

	if (path) {
		if (unlink(path) != 0 && errno != ENOENT)
			log_debug("unlink(%s) failed: %m", path);
	}
	milter_pool_close();
}

/* milter_msg_reset - forget the message; keep the buffer's memory */
static void milter_msg_reset(struct milter_msg *m)
{
	if (m->active)
		milter_flight(-1);
	m->active = false;
	m->score = true;
	m->skip_reason = NULL;
	m->no_reject = false;
	m->qid[0] = '\0';
	free(m->auth);
	m->auth = NULL;
	m->nrcpt = 0;
	m->user[0] = '\0';
	/* a huge message's buffer is not kept for the rest of the session */
	if (m->data.cap > 256 * 1024)
		buf_free(&m->data);
	buf_reset(&m->data);
	m->truncated = false;
	free(m->subject);
	m->subject = NULL;
	free(m->sender);
	free(m->msgid);
	free(m->hfrom);
	m->sender = m->msgid = m->hfrom = NULL;
	for (size_t i = 0; i < HISTORY_RCPTS; i++) {
		free(m->rcpt[i]);
		m->rcpt[i] = NULL;
	}
	for (size_t i = 0; i < m->nxspam; i++)
		free(m->xspam[i].name);
	m->nxspam = 0;
	m->xspam_overflow = false;
	for (size_t i = 0; i < m->nupstream; i++) {
		free(m->upstream[i].name);
		free(m->upstream[i].value);
	}
	m->nupstream = 0;
	m->upstream_overflow = false;
}

/* milter_continue - SMFIS_CONTINUE, or SMFIS_NOREPLY where no answer was agreed */
static sfsistat milter_continue(const struct milter_conn *conn, unsigned long step)
{
	return conn && (conn->noreply & step) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* milter_conn_get - this connection's state, or NULL */
static struct milter_conn *milter_conn_get(SMFICTX *ctx)
{
	return milter_mio->getpriv(ctx);
}

/* milter_conn_new - make and attach a connection with the current config */
static struct milter_conn *milter_conn_new(SMFICTX *ctx)
{
	struct milter_conn *conn = xcalloc(1, sizeof(*conn));

	conn->cfg = config_current();
	buf_init(&conn->msg.data);
	milter_msg_reset(&conn->msg);
	if (!conn->cfg || milter_mio->setpriv(ctx, conn) != MI_SUCCESS) {
		log_error("milter: cannot attach connection state%s", conn->cfg ? "" : " (no config)");
		config_unref(&conn->cfg);
		buf_free(&conn->msg.data);
		free(conn);
		return NULL;
	}
	return conn;
}

/* milter_client - the client address for logs */
const char *milter_client(const struct milter_conn *conn)
{
	return conn->client[0] ? conn->client : "unknown";
}

/* milter_qid - the queue id for logs, from {i} when it is known */
static const char *milter_qid(SMFICTX *ctx, struct milter_msg *m)
{
	char *i = milter_mio->getsymval(ctx, (char *)"i");

	if (i && *i)
		snprintf(m->qid, sizeof(m->qid), "%s", i);
	return m->qid[0] ? m->qid : "NOQUEUE";
}

/* milter_append - add bytes to the message up to scan_limit */
static void milter_append(struct milter_conn *conn, const void *p, size_t n)
{
	struct milter_msg *m = &conn->msg;
	size_t room = conn->cfg->scan_limit > m->data.len ? conn->cfg->scan_limit - m->data.len : 0;

	if (n > room) {
		n = room;
		m->truncated = true;
	}
	if (n > 0)
		buf_append(&m->data, p, n);
}

/*
 * milter_symlists - ask the MTA for the macros we read and no others:
 * {i} (the queue id, for logs) at MAIL FROM and end of message, and
 * {auth_authen} at MAIL FROM. The other steps get an empty list, so the
 * MTA sends them no macro packet at all.
 */
static void milter_symlists(SMFICTX *ctx)
{
	static const struct {
		int where;
		const char *macros;
	} want[] = {
		{ SMFIM_CONNECT, "" }, { SMFIM_HELO, "" }, { SMFIM_ENVFROM, "i {auth_authen}" },
		{ SMFIM_ENVRCPT, "" }, { SMFIM_DATA, "" }, { SMFIM_EOH, "" }, { SMFIM_EOM, "i" },
	};

	if (!milter_mio->setsymlist)
		return;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (milter_mio->setsymlist(ctx, want[i].where, (char *)want[i].macros) != MI_SUCCESS)
			log_debug("milter: smfi_setsymlist(%d, \"%s\") failed", want[i].where,
				  want[i].macros);
	}
}

/* milter_negotiate - ask for the actions we take and for SMFIP_SKIP */
static sfsistat milter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
				 unsigned long f2, unsigned long f3, unsigned long *pf0,
				 unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct milter_conn *conn = milter_conn_get(ctx);
	unsigned long want = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE;

	/* stopping: a new connection is turned away (the MTA's default action) */
	if (__atomic_load_n(&milter_closing, __ATOMIC_ACQUIRE))
		return SMFIS_REJECT;
	if ((f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS)) != (SMFIF_ADDHDRS | SMFIF_CHGHDRS))
		log_warning("milter: the MTA does not offer to add and change headers; "
			    "verdicts cannot be written into messages");
	*pf0 = f0 & want;
	/*
	 * Skip the rest of a body; no unknown-command callbacks. DATA is kept
	 * on purpose: without the DATA command Postfix's smtpd sends the DATA
	 * macros alone, cleanup's first header then waits behind them for our
	 * delayed ACK (Nagle), 40 ms per message; our reply to DATA acks them.
	 */
	*pf1 = f1 & (SMFIP_SKIP | SMFIP_NOUNKNOWN);
	*pf2 = 0;
	*pf3 = 0;
	if (!conn)
		conn = milter_conn_new(ctx);
	if (conn) {
		conn->can_skip = (f1 & SMFIP_SKIP) != 0;
		/*
		 * Steps whose answer is always "continue" need no answer: one
		 * round trip per header less. Body and end of message still
		 * answer (SMFIS_SKIP, the verdict).
		 */
		conn->noreply = f1 & MILTER_NOREPLY;
		*pf1 |= conn->noreply;
	}
	milter_symlists(ctx);
	return SMFIS_CONTINUE;
}

/* milter_connect - client address, trusted or not */
static sfsistat milter_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct milter_conn *conn = milter_conn_get(ctx);

	if (!conn && !(conn = milter_conn_new(ctx)))
		return SMFIS_ACCEPT;	/* fail open */
	conn->client[0] = '\0';
	conn->trusted = false;
	/*
	 * The box itself is mail that did not come over SMTP: Postfix's
	 * pickup (sendmail(1), cron), which a milter sees with no address or
	 * as loopback with no port. A loopback SMTP client (fetchmail, a
	 * content filter's reinjection, webmail) carries mail from outside,
	 * and is scored.
	 */
	conn->local = true;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, conn->client, sizeof(conn->client));
		conn->trusted = config_trusted(conn->cfg, AF_INET, &sin->sin_addr);
		conn->local = sin->sin_port == 0 && config_local(AF_INET, &sin->sin_addr);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, (const unsigned char *)&sin6->sin6_addr + 12,
				  conn->client, sizeof(conn->client));
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, conn->client, sizeof(conn->client));
		conn->trusted = config_trusted(conn->cfg, AF_INET6, &sin6->sin6_addr);
		conn->local = sin6->sin6_port == 0 && config_local(AF_INET6, &sin6->sin6_addr);
	}
	log_debug("%s: connect from %s", conn->client[0] ? conn->client : "unknown",
		  hostname ? hostname : "unknown");
	return milter_continue(conn, SMFIP_NR_CONN);
}

/* milter_helo - remember the HELO name (a feature of the message) */
static sfsistat milter_helo(SMFICTX *ctx, char *helo)
{
	struct milter_conn *conn = milter_conn_get(ctx);

	if (!conn)
		return SMFIS_CONTINUE;
	free(conn->helo);
	conn->helo = helo ? xstrdup(helo) : NULL;
	return milter_continue(conn, SMFIP_NR_HELO);
}

/* milter_envfrom - a message starts: SASL login, whether to score it */
static sfsistat milter_envfrom(SMFICTX *ctx, char **argv)
{
	struct milter_conn *conn = milter_conn_get(ctx);
	struct milter_msg *m;
	char *auth;

	if (!conn)
		return SMFIS_CONTINUE;
	m = &conn->msg;
	milter_msg_reset(m);
	m->active = true;
	milter_flight(+1);
	(void)milter_qid(ctx, m);
	auth = milter_mio->getsymval(ctx, (char *)"{auth_authen}");
	if (auth && *auth)
		m->auth = xstrdup(auth);
	if (argv && argv[0])
		m->sender = xstrdup(argv[0]);
	if (conn->local && !conn->cfg->score_local) {
		m->score = false;
		m->skip_reason = "local submission";
	} else if (conn->trusted) {
		m->score = false;
		m->skip_reason = "trusted network";
	} else if (m->auth && !conn->cfg->score_authenticated) {
		m->score = false;
		m->skip_reason = "authenticated";
	} else if (argv && argv[0] && config_exempt(conn->cfg, conn->cfg->exempt_senders, argv[0])) {
		m->score = false;
		m->skip_reason = "exempt sender";
	}
	return milter_continue(conn, SMFIP_NR_MAIL);
}

/*
 * milter_envrcpt - count recipients; with per_user, map the first one to
 * its user (used only if it stays the only one)
 */
static sfsistat milter_envrcpt(SMFICTX *ctx, char **argv)
{
	struct milter_conn *conn = milter_conn_get(ctx);
	struct milter_msg *m;

	if (!conn)
		return milter_continue(conn, SMFIP_NR_RCPT);
	m = &conn->msg;
	if (m->nrcpt < HISTORY_RCPTS && argv && argv[0])
		m->rcpt[m->nrcpt] = xstrdup(argv[0]);
	if (m->score && argv && argv[0] &&
	    config_exempt(conn->cfg, conn->cfg->exempt_recipients, argv[0])) {
		/* postmaster@, abuse@ (RFC 2142) receive spam reports: never reject them */
		m->score = false;
		m->skip_reason = "exempt recipient";
	}
	/* a recipient who opted out of refusals gets the message tagged, never refused or held */
	if (argv && argv[0] && config_exempt(conn->cfg, conn->cfg->no_reject_recipients, argv[0]))
		m->no_reject = true;
	if (m->nrcpt++ == 0 && conn->cfg->per_user && argv && argv[0] &&
	    !config_rcpt_user(conn->cfg, argv[0], m->user, sizeof(m->user)))
		m->user[0] = '\0';
	return milter_continue(conn, SMFIP_NR_RCPT);
}

/* milter_header - one header: keep it for scoring, note forged verdicts */
static sfsistat milter_header(SMFICTX *ctx, char *name, char *value)
{
	struct milter_conn *conn = milter_conn_get(ctx);
	struct milter_msg *m;

	if (!conn || !name)
		return milter_continue(conn, SMFIP_NR_HDR);
	m = &conn->msg;
	if (!value)
		value = (char *)"";
	if (strncasecmp(name, "X-Spam-", 7) == 0) {
		/* never scored: ours, or a forgery of ours */
		milter_note_xspam(conn, name, value);
		return milter_continue(conn, SMFIP_NR_HDR);
	}
	if (!m->subject && strcasecmp(name, "Subject") == 0)
		m->subject = xstrdup(value);
	else if (!m->msgid && strcasecmp(name, "Message-ID") == 0)
		m->msgid = xstrdup(value);
	else if (!m->hfrom && strcasecmp(name, "From") == 0)
		m->hfrom = xstrdup(value);
	if (m->score) {
		milter_append(conn, name, strlen(name));
		milter_append(conn, ": ", 2);
		milter_append(conn, value, strlen(value));
		milter_append(conn, "\r\n", 2);
	}
	return milter_continue(conn, SMFIP_NR_HDR);
}

/* milter_eoh - the blank line between header and body */
static sfsistat milter_eoh(SMFICTX *ctx)
{
	struct milter_conn *conn = milter_conn_get(ctx);

	if (conn && conn->msg.score)
		milter_append(conn, "\r\n", 2);
	return milter_continue(conn, SMFIP_NR_EOH);
}

/* milter_body - body bytes up to scan_limit, then skip the rest */
static sfsistat milter_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct milter_conn *conn = milter_conn_get(ctx);
	struct milter_msg *m;

	if (!conn)
		return SMFIS_CONTINUE;
	m = &conn->msg;
	if (!m->score)
		return conn->can_skip ? SMFIS_SKIP : SMFIS_CONTINUE;
	milter_append(conn, chunk, len);
	if (m->data.len >= conn->cfg->scan_limit) {
		m->truncated = true;
		if (conn->can_skip)
			return SMFIS_SKIP;
	}
	return SMFIS_CONTINUE;
}

/* milter_smtp_text - reply text for setreply: '%' doubled, no enhanced code */
static void milter_smtp_text(const char *msg, char *xcode, size_t xlen, char *out, size_t outlen)
{
	size_t o = 0;
	int a, b, c, n = 0;

	/* "5.7.1 text": the enhanced status code goes in its own argument */
	if (sscanf(msg, "%1d.%3d.%3d %n", &a, &b, &c, &n) == 3 && n > 0 && a == 5) {
		snprintf(xcode, xlen, "%d.%d.%d", a, b, c);
		msg += n;
	} else {
		snprintf(xcode, xlen, "5.7.1");
	}
	for (; *msg && o + 2 < outlen; msg++) {
		if (*msg == '%')
			out[o++] = '%';
		out[o++] = (*msg == '\r' || *msg == '\n') ? ' ' : *msg;
	}
	out[o] = '\0';
}

/* milter_reason - a short reason for an engine error, for a header */
static const char *milter_reason(enum bayes_errkind kind)
{
	switch (kind) {
	case BAYES_ERR_BUSY:
		return "database busy";
	case BAYES_ERR_INCOMPATIBLE:
		return "database incompatible";
	case BAYES_ERR_INPUT:
		return "message not scorable";
	default:
		return "database error";
	}
}

/*
 * milter_history - hand the scan's row to the history ring (the writer
 * thread stores it); takes the snapshot, NULL when history is off
 */
static void milter_history(struct milter_conn *conn, struct history_snap **snap, const char *qid,
			   const char *user, const char *action, double prob, double ms)
{
	struct milter_msg *m = &conn->msg;

	if (!*snap)
		return;
	struct history_msg hm = {
		.qid = qid, .msgid = m->msgid, .sender = m->sender, .hfrom = m->hfrom,
		.subject = m->subject, .ip = conn->client[0] ? conn->client : NULL,
		.helo = conn->helo, .user = user, .action = action,
		.rcpts = (const char *const *)m->rcpt,
		.nrcpts_kept = m->nrcpt < HISTORY_RCPTS ? m->nrcpt : HISTORY_RCPTS,
		.nrcpt = m->nrcpt, .size = m->data.len, .prob = prob, .ms = ms,
	};
	history_capture(milter_writer, snap, (const unsigned char *)m->data.data, m->data.len, &hm);
}

/* milter_eom - score and act */
static sfsistat milter_eom(SMFICTX *ctx)
{
	struct milter_conn *conn = milter_conn_get(ctx);
	struct milter_msg *m;
	struct bayesd_config *cfg;
	struct milter_handle h;
	struct bayes_result r;
	struct bayes_msg_meta meta;
	enum bayes_errkind kind = BAYES_ERR_NONE;
	char err[512] = "";
	char hdr[256];
	const char *qid, *action, *user, *learned;
	struct history_snap *snap = NULL;
	double start, ms;
	sfsistat ret = SMFIS_CONTINUE;
	int rc = -1;

	if (!conn)
		return SMFIS_CONTINUE;
	start = milter_now_ms();
	m = &conn->msg;
	cfg = conn->cfg;
	qid = milter_qid(ctx, m);

	milter_strip_xspam(ctx, conn, qid);

	if (!m->score) {
		log_info("%s: client=%s, score=none, action=accept (not scored: %s%s%s), ms=%.2f",
			 qid, milter_client(conn), m->skip_reason, m->auth ? " as " : "",
			 m->auth ? m->auth : "", milter_now_ms() - start);
		milter_msg_reset(m);
		return SMFIS_CONTINUE;
	}

	/* per_user: one recipient is scored as that user; several, as global */
	user = cfg->per_user && m->nrcpt == 1 && m->user[0] ? m->user : NULL;
	memset(&r, 0, sizeof(r));
	meta.client_ip = conn->client[0] ? conn->client : NULL;
	meta.helo = conn->helo;
	/*
	 * A pooled handle may hold a file that was since replaced (a restore)
	 * or be broken: after a database error one fresh handle gets a try,
	 * so only a database that is really unusable costs the message.
	 */
	for (int attempt = 0; attempt < 2 && milter_pool_get(cfg, &h, err, sizeof(err), &kind); attempt++) {
		rc = bayes_check(h.b, user, (const unsigned char *)m->data.data, m->data.len, &meta, &r);
		if (rc != 0) {
			kind = bayes_errkind(h.b);
			snprintf(err, sizeof(err), "%s", bayes_errmsg(h.b));
		} else if (milter_writer) {
			snap = history_snap(h.b, &r, &meta);	/* before another thread gets the handle */
		}
		/* a database error may be cured by reopening; busy and bad input are not the handle's fault */
		milter_pool_put(&h, rc != 0 && kind != BAYES_ERR_BUSY && kind != BAYES_ERR_INPUT);
		if (rc == 0 || kind != BAYES_ERR_DB)
			break;
	}

	if (rc != 0) {
		const char *reason = milter_reason(kind);

		metrics_error(kind == BAYES_ERR_BUSY ? "busy" : "db");
		if (cfg->on_error == ON_ERROR_TEMPFAIL) {
			milter_mio->setreply(ctx, (char *)"451", (char *)"4.7.1",
				      (char *)"Spam filter temporarily unavailable, try again later");
			ret = SMFIS_TEMPFAIL;
			action = "tempfail";
		} else {
			verdict_unknown(reason, hdr, sizeof(hdr));
			milter_addheader(ctx, conn, qid, "X-Spam-Status", hdr);
			action = "accept";
		}
		ms = milter_now_ms() - start;
		metrics_scored(METRICS_UNKNOWN, ms);
		log_warning("%s: client=%s, score=unknown, action=%s (%s: %s), ms=%.2f", qid,
			    milter_client(conn), action, reason, err[0] ? err : "no detail", ms);
		milter_msg_reset(m);
		return ret;
	}

	if (!verdict_mature(cfg, r.learned_spam, r.learned_ham)) {
		struct verdict_headers vh;

		/* too little training for any verdict: say so, act on nothing, learn nothing */
		verdict_untrained(cfg, r.prob, r.learned_spam, r.learned_ham, &vh);
		milter_addheader(ctx, conn, qid, "X-Spam-Status", vh.status);
		milter_addheader(ctx, conn, qid, "X-Spam-Bayesd", vh.detail);
		ms = milter_now_ms() - start;
		metrics_scored(METRICS_UNKNOWN, ms);
		log_info("%s: client=%s, score=%.5f, action=none (not enough training: spam=%llu ham=%llu, "
			 "min_learns=%u), tokens=%zu, ms=%.2f%s%s", qid, milter_client(conn), r.prob,
			 (unsigned long long)r.learned_spam, (unsigned long long)r.learned_ham,
			 cfg->min_learns, r.nfeatures, ms, user ? ", user=" : "", user ? user : "");
		milter_history(conn, &snap, qid, user, "none", r.prob, ms);
		milter_msg_reset(m);
		return SMFIS_CONTINUE;
	}

	/* before the headers, so X-Spam-Status can say what autolearn did */
	learned = milter_autolearn(conn, qid, user, r.prob);
	if (r.prob >= cfg->reject_threshold && !m->no_reject) {
		char xcode[16], text[512];

		milter_smtp_text(cfg->reject_message, xcode, sizeof(xcode), text, sizeof(text));
		if (milter_mio->setreply(ctx, (char *)"550", xcode, text) != MI_SUCCESS)
			log_warning("%s: client=%s, cannot set the reject reply", qid,
				    milter_client(conn));
		ret = SMFIS_REJECT;
		action = "reject";
		ms = milter_now_ms() - start;
		metrics_scored(METRICS_REJECT, ms);
	} else {
		struct verdict_headers vh;

		verdict_format(cfg, r.prob, r.nfeatures, r.nused, m->truncated, learned, &vh);
		bool spam = vh.spam;
		milter_addheader(ctx, conn, qid, "X-Spam-Status", vh.status);
		if (spam)
			milter_addheader(ctx, conn, qid, "X-Spam-Flag", "YES");
		milter_addheader(ctx, conn, qid, "X-Spam-Score", vh.score);
		if (vh.level[0])
			milter_addheader(ctx, conn, qid, "X-Spam-Level", vh.level);
		milter_addheader(ctx, conn, qid, "X-Spam-Bayesd", vh.detail);
		action = spam ? "flag" : "accept";
		if (spam)
			milter_subject(ctx, conn, qid);
		if (r.prob >= cfg->quarantine_threshold && !m->no_reject) {
			snprintf(hdr, sizeof(hdr), "bayesd: spam probability %.5f", r.prob);
			if (milter_mio->quarantine(ctx, hdr) == MI_SUCCESS)
				action = "quarantine";
			else
				log_warning("%s: client=%s, cannot quarantine", qid, milter_client(conn));
		}
		ms = milter_now_ms() - start;
		metrics_scored(spam ? METRICS_SPAM : METRICS_HAM, ms);
	}
	log_info("%s: client=%s, score=%.5f, action=%s, tokens=%zu, ms=%.2f%s%s%s", qid,
		 milter_client(conn), r.prob, action, r.nfeatures, ms, user ? ", user=" : "",
		 user ? user : "",
		 m->no_reject && (r.prob >= cfg->reject_threshold || r.prob >= cfg->quarantine_threshold)
			 ? ", no_reject recipient" : "");
	milter_history(conn, &snap, qid, user, action, r.prob, ms);
	milter_msg_reset(m);
	return ret;
}

/* milter_abort - the MTA dropped the message */
static sfsistat milter_abort(SMFICTX *ctx)
{
	struct milter_conn *conn = milter_conn_get(ctx);

	if (conn)
		milter_msg_reset(&conn->msg);
	return SMFIS_CONTINUE;
}

/* milter_close - the session ends: free everything */
static sfsistat milter_close(SMFICTX *ctx)
{
	struct milter_conn *conn = milter_conn_get(ctx);

	if (!conn)
		return SMFIS_CONTINUE;
	milter_msg_reset(&conn->msg);
	buf_free(&conn->msg.data);
	free(conn->helo);
	config_unref(&conn->cfg);
	free(conn);
	milter_mio->setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc milter_desc = {
	.xxfi_name = (char *)MILTER_NAME,
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
	.xxfi_connect = milter_connect,
	.xxfi_helo = milter_helo,
	.xxfi_envfrom = milter_envfrom,
	.xxfi_envrcpt = milter_envrcpt,
	.xxfi_header = milter_header,
	.xxfi_eoh = milter_eoh,
	.xxfi_body = milter_body,
	.xxfi_eom = milter_eom,
	.xxfi_abort = milter_abort,
	.xxfi_close = milter_close,
	.xxfi_unknown = NULL,
	.xxfi_data = NULL,
	.xxfi_negotiate = milter_negotiate,
};

/* milter_callbacks - the filter description */
const struct smfiDesc *milter_callbacks(void)
{
	return &milter_desc;
}

/*
 * milter_listening - libmilter does not hand out its listening socket:
 * find it, the listening stream socket bound to spec's port or path
 * (called once, before any thread starts). -1 if not found.
 */
static int milter_listening(const char *spec, const char *path)
{
	unsigned port = path ? 0 : (unsigned)strtoul(strchr(spec, ':') + 1, NULL, 10);

	for (int fd = 0; fd < 1024; fd++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss), ol;
		int listening = 0, type = 0;

		ol = sizeof(listening);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ol) != 0 || !listening)
			continue;
		ol = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ol) != 0 || type != SOCK_STREAM)
			continue;
		memset(&ss, 0, sizeof(ss));
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
			continue;
		if (path && ss.ss_family == AF_UNIX &&
		    strcmp(((struct sockaddr_un *)&ss)->sun_path, path) == 0)
			return fd;
		if (!path && ss.ss_family == AF_INET && ntohs(((struct sockaddr_in *)&ss)->sin_port) == port)
			return fd;
		if (!path && ss.ss_family == AF_INET6 &&
		    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == port)
			return fd;
	}
	return -1;
}

/*
 * milter_sockopts - options the accepted connections inherit from the
 * listening socket (Linux): no Nagle on TCP (at end of message libmilter
 * writes each header change as a small packet of its own; with Nagle the
 * second waits for the MTA's delayed ACK, 40 ms per message), and a send
 * timeout (libmilter's own timeout, smfi_settimeout, covers the wait for
 * the MTA: MILTER_IDLE_TIMEOUT_S).
 */
static void milter_sockopts(const char *spec, const char *path)
{
	struct timeval st = { .tv_sec = MILTER_SEND_TIMEOUT_S };
	int fd = milter_listening(spec, path), one = 1;

	if (fd < 0) {
		log_warning("milter_socket %s: listening socket not found; Nagle and no send timeout",
			    spec);
		return;
	}
	if (!path && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		log_warning("milter_socket %s: setsockopt(TCP_NODELAY) failed: %m", spec);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &st, sizeof(st)) != 0)
		log_warning("milter_socket %s: setsockopt(SO_SNDTIMEO) failed: %m", spec);
}

/*
 * milter_try_bind - bind an inet socket spec ourselves first, because
 * libmilter only tells syslog why it could not: here the reason reaches
 * the terminal ("Address already in use": a second bayesd is refused).
 */
static bool milter_try_bind(const char *spec, char *err, size_t errlen)
{
	struct addrinfo *ai = NULL;
	int fd, rc, one = 1;
	bool ok;

	if ((rc = milter_spec_addr(spec, &ai)) == 1)
		return true;	/* let libmilter judge */
	if (rc != 0) {
		snprintf(err, errlen, "milter_socket %s: %s", spec, gai_strerror(rc));
		return false;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return true;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ok = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0;
	if (!ok)
		snprintf(err, errlen, "milter_socket %s: bind failed: %s", spec, strerror(errno));
	close(fd);
	freeaddrinfo(ai);
	return ok;
}

/*
 * milter_setup - register with libmilter and open the listening socket:
 * milter_socket is libmilter's own syntax (inet:PORT@HOST,
 * inet6:PORT@HOST, unix:PATH, local:PATH, PATH).
 */
bool milter_setup(const struct bayesd_config *cfg, char *err, size_t errlen)
{
	const char *spec = cfg->milter_socket;
	const char *path = milter_spec_path(spec);

	if (!path) {
		if (!milter_try_bind(spec, err, errlen))
			return false;
	} else {
		struct sockaddr_un sun;
		char why[300];

		if (strlen(path) >= sizeof(sun.sun_path)) {
			snprintf(err, errlen, "milter_socket %s: path too long", spec);
			return false;
		}
		/*
		 * libmilter removes whatever is at the path: a live socket
		 * (another bayesd) or a file that is not a socket must stop us
		 * first; a dead daemon's socket is reclaimed.
		 */
		if (!unix_socket_reclaim(path, why, sizeof(why))) {
			snprintf(err, errlen, "milter_socket %s: %s", spec, why);
			return false;
		}
	}
	if (smfi_register(milter_desc) != MI_SUCCESS) {
		snprintf(err, errlen, "smfi_register failed (libmilter version mismatch?)");
		return false;
	}
	/* libmilter keeps the pointer: it must live as long as the process */
	milter_spec = xstrdup(spec);
	if (smfi_setconn(milter_spec) != MI_SUCCESS) {
		snprintf(err, errlen, "milter_socket %s: smfi_setconn failed", spec);
		return false;
	}
	smfi_setbacklog(SOMAXCONN);
	smfi_settimeout(MILTER_IDLE_TIMEOUT_S);
	if (smfi_opensocket(true) != MI_SUCCESS) {
		snprintf(err, errlen, "milter_socket %s: cannot listen (%s)", spec,
			 path ? "does its directory exist and is it writable?" : "see syslog");
		free(milter_spec);
		milter_spec = NULL;
		return false;
	}
	milter_sockopts(spec, path);
	/*
	 * The MTA connects as its own user (postfix): a UNIX socket must let
	 * it in. Scoring is all it offers; training is the controller's.
	 */
	if (path && chmod(path, 0666) != 0)
		log_warning("chmod(%s) failed: %m", path);
	milter_reload();	/* the pool's current config */
	return true;
}

/* milter_run - libmilter's loop: 0 when it stopped, -1 when it failed */
int milter_run(void)
{
	return smfi_main() == MI_SUCCESS ? 0 : -1;
}

static pthread_mutex_t milter_stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t milter_stop_cond = PTHREAD_COND_INITIALIZER;
static bool milter_stopped;

/* milter_stopper - smfi_stop() in a thread of its own (it may block) */
static void *milter_stopper(void *arg)
{
	(void)arg;
	smfi_stop();
	pthread_mutex_lock(&milter_stop_lock);
	milter_stopped = true;
	pthread_cond_broadcast(&milter_stop_cond);
	pthread_mutex_unlock(&milter_stop_lock);
	return NULL;
}

/* milter_poke - connect to our own listening socket and hang up */
static void milter_poke(void)
{
	const char *path;
	int fd = -1;

	if (!milter_spec)
		return;
	path = milter_spec_path(milter_spec);
	if (!path) {
		struct addrinfo *ai = NULL;

		if (milter_spec_addr(milter_spec, &ai) != 0)
			return;
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
			log_debug("stop: connect(%s) failed: %m", milter_spec);
		freeaddrinfo(ai);
	} else {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		if (strlen(path) >= sizeof(sun.sun_path))
			return;
		strcpy(sun.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
			log_debug("stop: connect(%s) failed: %m", path);
	}
	if (fd >= 0)
		close(fd);
}

/*
 * milter_stop - no new connections: they are turned away at negotiation.
 * libmilter's listener stays, because smfi_stop() ends every session with
 * it (Debian builds libmilter with its worker pool, whose controller
 * drops the sessions it polls once the stop flag is set): the messages in
 * flight finish first (milter_drain), then milter_finish().
 */
void milter_stop(void)
{
	__atomic_store_n(&milter_closing, true, __ATOMIC_RELEASE);
}

/*
 * milter_finish - smfi_stop(): milter_run() returns, sessions still open
 * end. smfi_stop() waits for a lock that libmilter's listener holds while
 * it polls (for up to 5 seconds), and the listener looks at the stop flag
 * only when its poll returns. So smfi_stop() runs in a thread of its own,
 * and we wake the listener by connecting to it until smfi_stop() has
 * returned.
 */
void milter_finish(void)
{
	pthread_t tid;
	struct timespec t;

	if (pthread_create(&tid, NULL, milter_stopper, NULL) != 0) {
		smfi_stop();
		return;
	}
	pthread_detach(tid);
	pthread_mutex_lock(&milter_stop_lock);
	for (int i = 0; i < 100 && !milter_stopped; i++) {
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 50 * 1000 * 1000;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&milter_stop_cond, &milter_stop_lock, &t);
		if (!milter_stopped) {
			pthread_mutex_unlock(&milter_stop_lock);
			milter_poke();
			pthread_mutex_lock(&milter_stop_lock);
		}
	}
	if (!milter_stopped)
		log_warning("stop: libmilter did not stop its listener");
	pthread_mutex_unlock(&milter_stop_lock);
}
