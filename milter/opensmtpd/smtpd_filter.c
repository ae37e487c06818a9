/*
 * smtpd_filter.c - bayesd-smtpd-filter: bayesd's verdicts for OpenSMTPD.
 *
 * SYNOPSIS
 *	filter "bayesd" proc-exec "/usr/libexec/bayesd/bayesd-smtpd-filter [-c FILE] [-s SOCKET]"
 *	listen on ... filter "bayesd"
 *
 * DESCRIPTION
 * A filter process in the sense of smtpd-filters(7): smtpd starts it, talks
 * to it over its stdin/stdout, one event per line, and takes it down with it
 * when it exits. So this program never exits on bad input; it logs the line
 * (to stderr, which smtpd copies into its log) and goes on. It ends on EOF.
 *
 * Handshake. smtpd sends "config|KEY|VALUE" lines and "config|ready"; we
 * then register the report events we track and the two filter phases we
 * answer (data-line, commit), and "register|ready".
 *
 * Sessions. Reports build a struct sf_session per SMTP session: the client
 * address (link-connect, checked against trusted_networks), the HELO name
 * (link-identify), the SASL login (link-auth ... pass), the message id
 * (tx-begin, for the log), the envelope sender (tx-mail) and the accepted
 * recipients (tx-rcpt): an exempt sender or recipient (exempt_senders,
 * exempt_recipients: postmaster@ and abuse@ by default) means the message
 * is not scored, as in the milter.
 * link-disconnect frees it; tx-begin/reset/rollback forget the message.
 *
 * Per-user statistics and autolearn, as in the milter. With per_user, a
 * message to exactly one recipient is scored with that recipient's
 * statistics - the address mapped to a user by config_rcpt_user(), the
 * milter's own mapping - and any other with the global ones; the user goes
 * to the controller as "User:". Every check asks for the autolearn rule
 * ("Autolearn: yes"), which bayesd applies with its own settings and the
 * milter's code (autolearn.h); the filter tells it what only the filter
 * knows: the SASL login ("Auth:"), a trusted client ("Trusted:"), a
 * message cut at scan_limit ("Truncated:"), and the message id for the log.
 *
 * Messages. data-line events carry the message one line at a time, still
 * dot-stuffed, ending with ".". Incoming X-Spam-* header lines follow
 * upstream_headers, as in the milter, so no sender can forge a verdict:
 * renamed to X-Upstream-Spam-* (the default), dropped with their
 * continuations (remove), or left (keep). A
 * message that is scored is held back: its lines are kept (up to scan_limit
 * bytes) until the end, or until the limit is reached; then bayesd's
 * controller is asked (POST /check over its UNIX socket, with a bounded
 * wait), our headers are written, then the held lines, and the rest of the
 * message streams through. Headers are the milter's:
 *	X-Spam-Status: Yes|No, score=S required=5.0 tests=BAYES_NN autolearn=A version=bayesd-V
 *	X-Spam-Flag: YES			(only on Yes)
 *	X-Spam-Score: S, X-Spam-Level: stars
 *	X-Spam-Bayesd: p=P tokens=N used=M version=V
 * and the Subject gets subject_tag on spam when one is configured.
 * Trusted clients, (unless score_authenticated) SASL senders and
 * exempt senders and recipients are not scored and get no X-Spam-*
 * header: absence means "not scored".
 *
 * Verdicts are given at the commit phase (smtpd does not accept a
 * filter-result during data-line): prob >= reject_threshold answers
 * "reject|550 " reject_message; a controller failure follows on_error:
 * accept with "X-Spam-Status: Unknown, score=unknown (reason)", or
 * "reject|451 4.7.1 ...". Every other phase is answered "proceed".
 *
 * Protocol versions: OpenSMTPD 6.6 sends 0.4 (answers carry TOKEN|SESSION),
 * 6.7 0.5 and 6.8 0.6 and 7.x 0.7 (SESSION|TOKEN); link-auth carries
 * "user|result" up to 0.6 and "result|user" in 0.7; both are understood.
 *
 * The process is single-threaded: while it waits for the controller, other
 * sessions' lines wait in the pipe, which is why the wait is bounded (-t).
 * After a timeout the controller is not asked again for a few seconds.
 *
 * Rooms: may use classifier/ (util.h), config/, milter/verdict.h; no
 * libmilter.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addresses.h"
#include "config.h"
#include "ctl_client.h"
#include "log.h"
#include "util.h"
#include "verdict.h"

#define SF_NAME			"bayesd-smtpd-filter"
#define SF_LINE_MAX		(1024 * 1024)	/* bytes of one input line */
#define SF_SID_MAX		32		/* chars of a session id or token */
#define SF_HASH_SIZE		1024		/* session table buckets */
#define SF_SESSIONS_MAX		65536		/* sessions tracked at once */
#define SF_DEFAULT_TIMEOUT	5.0		/* seconds to wait for a verdict */
#define SF_BACKOFF		10.0		/* seconds not asking after a timeout */
#define SF_RESPONSE_MAX		(64 * 1024)	/* bytes of a controller answer */
#define SF_HELD_KEEP		(256 * 1024)	/* held buffer kept between messages */
#define SF_TEMPFAIL_REPLY	"451 4.7.1 Spam filter temporarily unavailable, try again later"

enum sf_verdict {
	SF_VERDICT_NONE,		/* not decided (yet), or not scored */
	SF_VERDICT_ACCEPT,
	SF_VERDICT_REJECT,
	SF_VERDICT_TEMPFAIL,
};

struct sf_session {
	struct sf_session *next;	/* hash chain */
	char sid[SF_SID_MAX + 1];
	char client[INET6_ADDRSTRLEN];	/* "" = not an IP client */
	bool trusted;
	bool local;			/* loopback or non-IP client: the box itself */
	char *helo;
	char *auth;			/* SASL login that passed, or NULL */
	char msgid[SF_SID_MAX + 1];	/* smtpd's message id, for the log */

	/* the transaction's envelope (tx-rcpt reports) */
	unsigned nrcpt;			/* recipients accepted */
	char user[BAYESD_USER_MAX];	/* per_user: the first one's user, "" = none */
	const char *exempt;		/* "exempt sender|recipient": not scored, else NULL */
	bool no_reject;			/* a recipient opted out of refusals (no_reject_recipients) */

	/* the message in DATA */
	bool in_data;			/* data-line seen, "." not yet */
	bool in_header;			/* before the blank line */
	bool dropping;			/* inside an incoming X-Spam-* header */
	bool score;			/* false: trusted or authenticated */
	bool holding;			/* lines kept until the verdict */
	bool truncated;			/* scan_limit reached */
	struct buf held;		/* kept lines, each ending in '\n', as received */
	size_t scan_bytes;
	enum sf_verdict verdict;	/* for the commit phase */
};

/* the verdict of the controller for one message */
struct sf_result {
	double prob;
	long long tokens;
	long long used;
	char autolearn[8];		/* "spam" or "ham" when the controller posted one, else "" */
	bool mature;			/* the controller's min_learns is met ("mature") */
	long long learned_spam, learned_ham;
	long long min_learns;
};

static struct bayesd_config *sf_cfg;
static const char *sf_socket;
static double sf_timeout = SF_DEFAULT_TIMEOUT;
static double sf_down_until;		/* monotonic seconds: backing off until */
static struct ctl_client *sf_ctl;	/* made at the first message */
static struct buf sf_out;		/* answers not yet written */
static struct buf sf_body;		/* message as scored */
static struct sf_session *sf_table[SF_HASH_SIZE];
static size_t sf_nsessions;
static bool sf_registered;
static bool sf_warned_version;

/* sf_now - a monotonic clock in seconds */
static double sf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* sf_flush - write what is queued on stdout; smtpd gone = nothing left to do */
static void sf_flush(void)
{
	size_t off = 0;

	while (off < sf_out.len) {
		ssize_t n = write(STDOUT_FILENO, sf_out.data + off, sf_out.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("write(stdout) failed: %m; smtpd is gone");
			exit(1);
		}
		off += (size_t)n;
	}
	buf_reset(&sf_out);
}

/* sf_printable - a copy of s safe for a log line: at most n bytes, no controls */
static const char *sf_printable(const char *s, size_t n)
{
	static char out[256];
	size_t i;

	if (n > sizeof(out) - 4)
		n = sizeof(out) - 4;
	for (i = 0; i < n && s[i]; i++)
		out[i] = (unsigned char)s[i] < ' ' || s[i] == 0x7f ? '?' : s[i];
	if (s[i] && i == n)
		out[i++] = '.', out[i++] = '.', out[i++] = '.';
	out[i] = '\0';
	return out;
}

/*
 * sf_answer - queue "KIND|SESSION|TOKEN|REST", or TOKEN|SESSION for
 * protocol versions up to 0.4.
 */
static void sf_answer(const char *version, const char *kind, const char *sid, const char *token,
		      const char *rest)
{
	unsigned major = 0, minor = 0;
	bool old = sscanf(version, "%u.%u", &major, &minor) == 2 && major == 0 && minor <= 4;

	buf_printf(&sf_out, "%s|%s|%s|%s\n", kind, old ? token : sid, old ? sid : token, rest);
}

/* sf_dataline - queue one line of the message back to smtpd */
static void sf_dataline(const char *version, const char *sid, const char *token,
			const char *line, size_t len)
{
	unsigned major = 0, minor = 0;
	bool old = sscanf(version, "%u.%u", &major, &minor) == 2 && major == 0 && minor <= 4;

	buf_printf(&sf_out, "filter-dataline|%s|%s|", old ? token : sid, old ? sid : token);
	buf_append(&sf_out, line, len);
	buf_putc(&sf_out, '\n');
}

/* sf_hash - bucket of a session id */
static unsigned sf_hash(const char *sid)
{
	uint32_t h = 2166136261u;

	for (; *sid; sid++)
		h = (h ^ (unsigned char)*sid) * 16777619u;
	return h % SF_HASH_SIZE;
}

/* sf_session_find - the session with this id, or NULL */
static struct sf_session *sf_session_find(const char *sid)
{
	struct sf_session *s;

	for (s = sf_table[sf_hash(sid)]; s; s = s->next)
		if (strcmp(s->sid, sid) == 0)
			return s;
	return NULL;
}

/* sf_session_get - the session with this id, made when new; NULL when full */
static struct sf_session *sf_session_get(const char *sid)
{
	struct sf_session *s = sf_session_find(sid);
	unsigned h;

	if (s)
		return s;
	if (sf_nsessions >= SF_SESSIONS_MAX) {
		log_warning("session %s: more than %d sessions tracked; not scored", sid,
			    SF_SESSIONS_MAX);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	snprintf(s->sid, sizeof(s->sid), "%s", sid);
	buf_init(&s->held);
	h = sf_hash(sid);
	s->next = sf_table[h];
	sf_table[h] = s;
	sf_nsessions++;
	return s;
}

/* sf_msg_reset - forget the message of a session; keep a small held buffer */
static void sf_msg_reset(struct sf_session *s)
{
	s->in_data = false;
	s->in_header = false;
	s->dropping = false;
	s->holding = false;
	s->truncated = false;
	s->scan_bytes = 0;
	s->verdict = SF_VERDICT_NONE;
	if (s->held.cap > SF_HELD_KEEP)
		buf_free(&s->held);
	buf_reset(&s->held);
}

/* sf_tx_reset - a transaction begins or ends: forget its recipients and message */
static void sf_tx_reset(struct sf_session *s)
{
	s->nrcpt = 0;
	s->user[0] = '\0';
	s->exempt = NULL;
	s->no_reject = false;
	sf_msg_reset(s);
}

/* sf_is_tx_result - whether a tx-mail/tx-rcpt field is the result */
static bool sf_is_tx_result(const char *f)
{
	return strcmp(f, "ok") == 0 || strcmp(f, "permfail") == 0 || strcmp(f, "tempfail") == 0;
}

/*
 * sf_tx_address - the address of a tx-mail or tx-rcpt report
 * "msgid|result|address" that smtpd accepted, else NULL; the older
 * "msgid|address|result" order is understood too
 */
static const char *sf_tx_address(char **f, size_t nf)
{
	if (nf < 3)
		return NULL;
	if (sf_is_tx_result(f[1]))
		return strcmp(f[1], "ok") == 0 ? f[2] : NULL;
	if (sf_is_tx_result(f[2]))
		return strcmp(f[2], "ok") == 0 ? f[1] : NULL;
	return NULL;
}

/* sf_mail - tx-mail: an exempt envelope sender means the message is not scored */
static void sf_mail(struct sf_session *s, char **f, size_t nf)
{
	const char *from = sf_tx_address(f, nf);

	if (from && config_exempt(sf_cfg, sf_cfg->exempt_senders, from))
		s->exempt = "exempt sender";
}

/*
 * sf_rcpt - tx-rcpt: count the accepted ones; one exempt recipient
 * (postmaster@, abuse@ by default) exempts the message, as in the milter;
 * with per_user, map the first to its user as the milter does (used only
 * if it stays the only one)
 */
static void sf_rcpt(struct sf_session *s, char **f, size_t nf)
{
	const char *rcpt = sf_tx_address(f, nf);

	if (!rcpt)
		return;
	if (!s->exempt && config_exempt(sf_cfg, sf_cfg->exempt_recipients, rcpt))
		s->exempt = "exempt recipient";
	if (config_exempt(sf_cfg, sf_cfg->no_reject_recipients, rcpt))
		s->no_reject = true;	/* tagged, never refused, as in the milter */
	if (s->nrcpt++ == 0 && sf_cfg->per_user &&
	    !config_rcpt_user(sf_cfg, rcpt, s->user, sizeof(s->user)))
		s->user[0] = '\0';
}

/* sf_user - the per-user statistics to score with: one recipient's, else NULL (global) */
static const char *sf_user(const struct sf_session *s)
{
	return sf_cfg->per_user && s->nrcpt == 1 && s->user[0] ? s->user : NULL;
}

/* sf_session_free - unlink and free the session with this id, if any */
static void sf_session_free(const char *sid)
{
	struct sf_session **pp, *s;

	for (pp = &sf_table[sf_hash(sid)]; (s = *pp) != NULL; pp = &s->next) {
		if (strcmp(s->sid, sid) != 0)
			continue;
		*pp = s->next;
		buf_free(&s->held);
		free(s->helo);
		free(s->auth);
		free(s);
		sf_nsessions--;
		return;
	}
}

/* sf_msgid - the message id for the log */
static const char *sf_msgid(const struct sf_session *s)
{
	return s->msgid[0] ? s->msgid : "NOQUEUE";
}

/* sf_client - the client address for the log */
static const char *sf_client(const struct sf_session *s)
{
	return s->client[0] ? s->client : "unknown";
}

/* sf_split - cut line at the first n-1 '|' into f[0..n-1]; the number of fields */
static size_t sf_split(char *line, char **f, size_t n)
{
	size_t i = 0;

	while (i < n) {
		f[i++] = line;
		if (i == n || !(line = strchr(line, '|')))
			break;
		*line++ = '\0';
	}
	return i;
}

/* sf_addr_text - an IP address in text into client; the family, or 0 */
static int sf_addr_text(const char *text, unsigned char *a, char *client, size_t len)
{
	char tmp[128], *p = tmp, *e;

	snprintf(tmp, sizeof(tmp), "%s", text);
	if (*p == '[') {
		p++;
		if ((e = strchr(p, ']')) != NULL)
			*e = '\0';
	}
	if (strncasecmp(p, "IPv6:", 5) == 0)
		p += 5;
	if (inet_pton(AF_INET, p, a) == 1) {
		inet_ntop(AF_INET, a, client, (socklen_t)len);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, p, a) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)(void *)a))
			inet_ntop(AF_INET, a + 12, client, (socklen_t)len);
		else
			inet_ntop(AF_INET6, a, client, (socklen_t)len);
		return AF_INET6;
	}
	return 0;
}

/*
 * sf_parse_addr - the IP address of link-connect's source ("192.0.2.1:25",
 * "IPv6:2001:db8::1:25", "[IPv6:2001:db8::1]:25", "unix:/path") into
 * s->client and s->trusted; a non-IP source leaves client empty. smtpd
 * always appends ":port" to an IP source, so that goes first.
 */
static void sf_parse_addr(struct sf_session *s, const char *src)
{
	char tmp[128], *e;
	unsigned char a[16];
	int family = 0;
	bool port = false;	/* an IP source with a port: an SMTP client */

	s->client[0] = '\0';
	s->trusted = false;
	s->local = true;	/* not an IP client: a local enqueue (sendmail(1)) */
	snprintf(tmp, sizeof(tmp), "%s", src);
	if ((e = strrchr(tmp, ':')) != NULL && e[1] != '\0' &&
	    strspn(e + 1, "0123456789") == strlen(e + 1)) {
		port = strtoul(e + 1, NULL, 10) != 0;
		*e = '\0';
		family = sf_addr_text(tmp, a, s->client, sizeof(s->client));
	}
	if (!family)
		family = sf_addr_text(src, a, s->client, sizeof(s->client));
	if (family) {
		s->trusted = config_trusted(sf_cfg, family, a);
		/* loopback SMTP (fetchmail, a reinjection) carries mail from outside */
		s->local = !port && config_local(family, a);
	} else
		s->client[0] = '\0';
}

/* sf_is_result - whether a link-auth field is the result */
static bool sf_is_result(const char *f, size_t len)
{
	return (len == 4 && strncmp(f, "pass", 4) == 0) || (len == 4 && strncmp(f, "fail", 4) == 0) ||
	       (len == 5 && strncmp(f, "error", 5) == 0);
}

/* sf_auth - link-auth: "user|result" up to 0.6, "result|user" in 0.7 */
static void sf_auth(struct sf_session *s, const char *params)
{
	const char *bar = params ? strchr(params, '|') : NULL, *last;
	const char *user = NULL;
	size_t ulen = 0;
	bool pass = false;

	free(s->auth);
	s->auth = NULL;
	if (!bar) {
		log_warning("session %s: malformed link-auth report", s->sid);
		return;
	}
	last = strrchr(params, '|');
	if (sf_is_result(params, (size_t)(bar - params))) {
		pass = strncmp(params, "pass|", 5) == 0;
		user = bar + 1;
		ulen = strlen(user);
	} else if (sf_is_result(last + 1, strlen(last + 1))) {
		pass = strcmp(last + 1, "pass") == 0;
		user = params;
		ulen = (size_t)(last - params);
	} else {
		log_warning("session %s: link-auth report without a result", s->sid);
		return;
	}
	if (pass && ulen > 0)
		s->auth = xstrndup(user, ulen);
}

/* sf_report - one report event: keep what the verdict and the log need */
static void sf_report(const char *event, const char *sid, char *params)
{
	struct sf_session *s;
	char *f[4];
	size_t nf;

	if (strcmp(event, "link-disconnect") == 0) {
		sf_session_free(sid);
		return;
	}
	if (!(s = sf_session_get(sid)))
		return;
	if (!params)
		params = (char *)"";
	if (strcmp(event, "link-auth") == 0) {
		sf_auth(s, params);
		return;
	}
	nf = sf_split(params, f, 4);
	if (strcmp(event, "link-connect") == 0) {
		/* rdns|fcrdns|src|dest */
		if (nf >= 3)
			sf_parse_addr(s, f[2]);
		else
			log_warning("session %s: malformed link-connect report", sid);
		log_debug("session %s: connect from %s%s", sid, sf_client(s),
			  s->trusted ? " (trusted network)" : "");
	} else if (strcmp(event, "link-identify") == 0) {
		/* method|identity (0.5+), identity (0.4) */
		const char *helo = nf >= 2 ? f[1] : f[0];

		free(s->helo);
		s->helo = *helo ? xstrdup(helo) : NULL;
	} else if (strcmp(event, "tx-begin") == 0) {
		snprintf(s->msgid, sizeof(s->msgid), "%s", f[0]);
		sf_tx_reset(s);
	} else if (strcmp(event, "tx-mail") == 0) {
		sf_mail(s, f, nf);
	} else if (strcmp(event, "tx-rcpt") == 0) {
		sf_rcpt(s, f, nf);
	} else if (strcmp(event, "tx-reset") == 0 || strcmp(event, "tx-rollback") == 0) {
		sf_tx_reset(s);
	}
}

/* sf_header_ok - whether a value may go into an HTTP request header */
static bool sf_header_ok(const char *v)
{
	if (!v || !*v || strlen(v) > 255)
		return false;
	for (; *v; v++)
		if ((unsigned char)*v < ' ' || *v == 0x7f)
			return false;
	return true;
}

/*
 * sf_ask - POST the scored message to the controller's /check. Returns
 * true with the verdict in r, or false with a short reason in why.
 */
static bool sf_ask(const struct sf_session *s, struct sf_result *r, char *why, size_t whylen)
{
	const struct ctl_params p = {
		.socket = sf_socket,
		.timeout_ms = (long)(sf_timeout * 1000),
		.connect_timeout_ms = (long)(sf_timeout * 1000),
		.max_response = SF_RESPONSE_MAX,
	};
	char ip[300], helo[300], user[300], auth[300], qid[300];
	const char *hdrs[16];
	size_t nh = 0;
	struct ctl_reply rep;
	json_t *o = NULL, *v;
	json_error_t jerr;
	long status;
	enum ctl_result rc;
	bool ok = false;

	if (sf_now() < sf_down_until) {
		snprintf(why, whylen, "controller timed out recently");
		return false;
	}
	if (!sf_ctl && !(sf_ctl = ctl_client_new(&p))) {
		snprintf(why, whylen, "curl_easy_init failed");
		return false;
	}
	hdrs[nh++] = "Expect:";
	hdrs[nh++] = "Content-Type: message/rfc822";
	if (s->client[0]) {
		snprintf(ip, sizeof(ip), "IP: %s", s->client);
		hdrs[nh++] = ip;
	}
	if (sf_header_ok(s->helo)) {
		snprintf(helo, sizeof(helo), "Helo: %s", s->helo);
		hdrs[nh++] = helo;
	}
	if (sf_header_ok(sf_user(s))) {
		snprintf(user, sizeof(user), "User: %s", sf_user(s));
		hdrs[nh++] = user;
	}
	/*
	 * The autolearn rule runs in bayesd (autolearn.h), with the daemon's
	 * settings, as for the milter; it is told what only we know.
	 */
	hdrs[nh++] = "Autolearn: yes";
	if (s->auth) {
		snprintf(auth, sizeof(auth), "Auth: %s", sf_header_ok(s->auth) ? s->auth : "yes");
		hdrs[nh++] = auth;
	}
	if (s->trusted)
		hdrs[nh++] = "Trusted: yes";
	if (s->truncated)
		hdrs[nh++] = "Truncated: yes";
	if (sf_header_ok(s->msgid)) {
		snprintf(qid, sizeof(qid), "Queue-Id: %s", s->msgid);
		hdrs[nh++] = qid;
	}
	hdrs[nh] = NULL;

	rc = ctl_client_request(sf_ctl, "/check", hdrs, sf_body.data ? sf_body.data : "", sf_body.len,
				&rep);
	if (rc != CTL_OK) {
		snprintf(why, whylen, "controller %s: %s", sf_socket, ctl_client_error(sf_ctl));
		if (rc == CTL_TIMEOUT)
			sf_down_until = sf_now() + SF_BACKOFF;
		return false;
	}
	status = rep.status;
	o = json_loadb(rep.body, rep.len, 0, &jerr);
	if (status != 200) {
		const char *e = o ? json_string_value(json_object_get(o, "error")) : NULL;

		snprintf(why, whylen, "controller answered %ld%s%s", status, e ? ": " : "",
			 e ? e : "");
	} else if (!o || !json_is_number(v = json_object_get(o, "probability")) ||
		   !isfinite(json_number_value(v)) || json_number_value(v) < 0 ||
		   json_number_value(v) > 1) {
		snprintf(why, whylen, "controller answer without a probability");
	} else {
		r->prob = json_number_value(v);
		r->tokens = json_integer_value(json_object_get(o, "tokens"));
		r->used = json_integer_value(json_object_get(o, "used"));
		/* a controller from before min_learns has no "mature": it always gave a verdict */
		r->mature = !json_is_false(json_object_get(o, "mature"));
		r->learned_spam = json_integer_value(json_object_get(o, "learned_spam"));
		r->learned_ham = json_integer_value(json_object_get(o, "learned_ham"));
		r->min_learns = json_integer_value(json_object_get(o, "min_learns"));
		v = json_object_get(o, "autolearn");
		snprintf(r->autolearn, sizeof(r->autolearn), "%s",
			 json_is_string(v) && strlen(json_string_value(v)) < sizeof(r->autolearn) ?
			 json_string_value(v) : "");
		ok = true;
	}
	json_decref(o);
	return ok;
}

/*
 * sf_autolearn - what autolearn did, for X-Spam-Status: the class bayesd
 * says it posted, else "disabled" when our config (normally bayesd's own
 * file) has autolearn off, else "no"
 */
static const char *sf_autolearn(const struct bayesd_config *cfg, const struct sf_result *r)
{
	if (r->autolearn[0])
		return r->autolearn;
	return cfg->autolearn ? "no" : "disabled";
}

/* sf_header - queue one added header line */
static void sf_header(const char *version, const char *sid, const char *token,
		      const char *name, const char *value)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "%s: %s", name, value);

	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	sf_dataline(version, sid, token, line, (size_t)n);
}

/*
 * sf_release - write the held lines after our headers; with tag, the
 * first Subject header gets it in front (unless it has it already).
 */
static void sf_release(struct sf_session *s, const char *version, const char *token,
		       const char *tag)
{
	const char *p = s->held.data, *end = p + s->held.len;
	bool header = true;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (header && len == 0)
			header = false;
		if (header && tag && len >= 8 && strncasecmp(p, "Subject:", 8) == 0) {
			const char *v = p + 8;
			struct buf line;

			while (v < p + len && (*v == ' ' || *v == '\t'))
				v++;
			buf_init(&line);
			if ((size_t)(p + len - v) >= strlen(tag) && strncmp(v, tag, strlen(tag)) == 0)
				buf_append(&line, p, len);
			else
				buf_printf(&line, "Subject: %s%.*s", tag, (int)(p + len - v), v);
			sf_dataline(version, s->sid, token, line.data, line.len);
			buf_free(&line);
			tag = NULL;
		} else {
			sf_dataline(version, s->sid, token, p, len);
		}
		p += len + 1;
	}
	buf_reset(&s->held);
	s->holding = false;
}

/*
 * sf_decide - the message is held whole (or up to scan_limit): ask the
 * controller, queue our headers and the held lines, note the verdict for
 * the commit phase, log one line.
 */
static void sf_decide(struct sf_session *s, const char *version, const char *token)
{
	const struct bayesd_config *cfg = sf_cfg;
	struct sf_result r = { 0 };
	char why[512] = "", hdr[256];
	const char *action, *tag = NULL;
	double start = sf_now();

	/* the message as the engine reads it: dot-stuffing undone, CRLF */
	buf_reset(&sf_body);
	for (const char *p = s->held.data, *end = p + s->held.len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *l = p;

		if (len > 0 && l[0] == '.')
			l++, len--;
		if (len > 0 && l[len - 1] == '\r')
			len--;
		buf_append(&sf_body, l, len);
		buf_append(&sf_body, "\r\n", 2);
		p = (nl ? nl : end - 1) + 1;
	}
	if (sf_body.len == 0)
		buf_append(&sf_body, "\r\n", 2);
	sf_flush();	/* other sessions' lines do not wait behind the controller */

	if (!sf_ask(s, &r, why, sizeof(why))) {
		if (cfg->on_error == ON_ERROR_TEMPFAIL) {
			s->verdict = SF_VERDICT_TEMPFAIL;
			action = "tempfail";
		} else {
			verdict_unknown("controller unavailable", hdr, sizeof(hdr));
			sf_header(version, s->sid, token, "X-Spam-Status", hdr);
			s->verdict = SF_VERDICT_ACCEPT;
			action = "accept";
		}
		log_warning("%s: client=%s, score=unknown, action=%s (%s), ms=%.2f", sf_msgid(s),
			    sf_client(s), action, why, (sf_now() - start) * 1000);
		sf_release(s, version, token, NULL);
		return;
	}
	if (!r.mature) {
		struct verdict_headers vh;
		struct bayesd_config tmp = *cfg;

		/* the controller's min_learns decides, as it does for the milter */
		tmp.min_learns = (unsigned)r.min_learns;
		verdict_untrained(&tmp, r.prob, (uint64_t)r.learned_spam, (uint64_t)r.learned_ham, &vh);
		sf_header(version, s->sid, token, "X-Spam-Status", vh.status);
		sf_header(version, s->sid, token, "X-Spam-Bayesd", vh.detail);
		s->verdict = SF_VERDICT_ACCEPT;
		action = "none (not enough training)";
	} else if (cfg->reject_threshold <= 1.0 && r.prob >= cfg->reject_threshold && !s->no_reject) {
		s->verdict = SF_VERDICT_REJECT;
		action = "reject";
	} else {
		struct verdict_headers vh;

		verdict_format(cfg, r.prob, r.tokens > 0 ? (size_t)r.tokens : 0,
			       r.used > 0 ? (size_t)r.used : 0, s->truncated, sf_autolearn(cfg, &r), &vh);
		bool spam = vh.spam;
		sf_header(version, s->sid, token, "X-Spam-Status", vh.status);
		if (spam)
			sf_header(version, s->sid, token, "X-Spam-Flag", "YES");
		sf_header(version, s->sid, token, "X-Spam-Score", vh.score);
		if (vh.level[0])
			sf_header(version, s->sid, token, "X-Spam-Level", vh.level);
		sf_header(version, s->sid, token, "X-Spam-Bayesd", vh.detail);
		if (spam && cfg->subject_tag[0])
			tag = cfg->subject_tag;
		s->verdict = SF_VERDICT_ACCEPT;
		action = spam ? "flag" : "accept";
	}
	log_info("%s: client=%s, score=%.5f, action=%s, tokens=%lld, ms=%.2f%s%s%s%s", sf_msgid(s),
		 sf_client(s), r.prob, action, r.tokens, (sf_now() - start) * 1000,
		 sf_user(s) ? ", user=" : "", sf_user(s) ? sf_user(s) : "",
		 r.autolearn[0] ? ", autolearn=" : "", r.autolearn);
	sf_release(s, version, token, tag);
}

/* sf_skip_reason - why the message is not scored (the milter's order), or NULL */
static const char *sf_skip_reason(const struct sf_session *s)
{
	if (s->local && !sf_cfg->score_local)
		return "local submission";
	if (s->trusted)
		return "trusted network";
	if (s->auth && !sf_cfg->score_authenticated)
		return "authenticated";
	return s->exempt;
}

/* sf_data_begin - the first data line of a message: decide whether to score it */
static void sf_data_begin(struct sf_session *s)
{
	sf_msg_reset(s);
	s->in_data = true;
	s->in_header = true;
	s->score = sf_skip_reason(s) == NULL;
	s->holding = s->score;
}

/*
 * sf_upstream - a header line that starts a field: an incoming X-Spam-*
 * one follows upstream_headers (rename: *line becomes "X-Upstream-Spam-...",
 * in a buffer of ours, its continuations pass as they are; remove: it and
 * its continuations are dropped; keep: untouched). False when dropped.
 */
static bool sf_upstream(struct sf_session *s, char **line, size_t *len)
{
	static struct buf renamed;

	/* a dot-stuffed header name cannot be X-Spam-*: no unstuffing here */
	s->dropping = false;
	if (strncasecmp(*line, "X-Spam-", 7) != 0 || sf_cfg->upstream_headers == UPSTREAM_KEEP)
		return true;
	if (sf_cfg->upstream_headers == UPSTREAM_REMOVE) {
		s->dropping = true;
		log_debug("%s: client=%s, dropped incoming %s", sf_msgid(s), sf_client(s),
			  sf_printable(*line, 60));
		return false;
	}
	buf_reset(&renamed);
	buf_printf(&renamed, "X-Upstream-%s", *line + 2);
	*line = renamed.data;
	*len = renamed.len;
	return true;
}

/* sf_log_skipped - the log line of a message not scored */
static void sf_log_skipped(const struct sf_session *s)
{
	const char *why = sf_skip_reason(s);
	bool as = why && strcmp(why, "authenticated") == 0;

	log_info("%s: client=%s, score=none, action=accept (not scored: %s%s%s)", sf_msgid(s),
		 sf_client(s), why ? why : "unknown", as ? " as " : "", as ? s->auth : "");
}

/* sf_data_line - one line of the message (dot-stuffed, "." at the end) */
static void sf_data_line(const char *version, const char *sid, const char *token, char *line)
{
	struct sf_session *s = sf_session_get(sid);
	size_t len = strlen(line);

	if (!s) {	/* cannot track it: pass it through untouched */
		sf_dataline(version, sid, token, line, len);
		return;
	}
	if (!s->in_data)
		sf_data_begin(s);
	if (strcmp(line, ".") == 0) {
		if (s->holding)
			sf_decide(s, version, token);
		else if (!s->score)
			sf_log_skipped(s);
		sf_dataline(version, sid, token, line, len);
		s->in_data = false;
		return;
	}
	if (s->in_header) {
		if (len == 0 || (len == 1 && line[0] == '\r')) {
			s->in_header = false;
			s->dropping = false;
		} else if (line[0] == ' ' || line[0] == '\t') {
			if (s->dropping)
				return;
		} else if (!sf_upstream(s, &line, &len)) {
			return;
		}
	}
	if (!s->holding) {
		sf_dataline(version, sid, token, line, len);
		return;
	}
	buf_append(&s->held, line, len);
	buf_putc(&s->held, '\n');
	s->scan_bytes += len + 2;
	if (s->scan_bytes >= sf_cfg->scan_limit) {
		/* enough to score: decide now, stream the rest */
		s->truncated = true;
		sf_decide(s, version, token);
	}
}

/* sf_commit - the commit phase: the verdict, at last, as an SMTP reply */
static void sf_commit(const char *version, const char *sid, const char *token)
{
	struct sf_session *s = sf_session_find(sid);
	const char *msg = sf_cfg->reject_message;
	int a, b, c, n = 0;
	struct buf reply;

	if (!s || s->verdict == SF_VERDICT_NONE || s->verdict == SF_VERDICT_ACCEPT) {
		sf_answer(version, "filter-result", sid, token, "proceed");
	} else if (s->verdict == SF_VERDICT_TEMPFAIL) {
		sf_answer(version, "filter-result", sid, token, "reject|" SF_TEMPFAIL_REPLY);
	} else {
		buf_init(&reply);
		if (sscanf(msg, "%1d.%3d.%3d %n", &a, &b, &c, &n) == 3 && n > 0 && a == 5)
			buf_printf(&reply, "reject|550 %s", msg);
		else
			buf_printf(&reply, "reject|550 5.7.1 %s", msg);
		for (size_t i = 0; i < reply.len; i++)
			if (reply.data[i] == '\r' || reply.data[i] == '\n')
				reply.data[i] = ' ';
		sf_answer(version, "filter-result", sid, token, reply.data);
		buf_free(&reply);
	}
	if (s)
		sf_msg_reset(s);
}

/* sf_check_version - warn once about a protocol we were not written for */
static void sf_check_version(const char *version)
{
	unsigned major = 0, minor = 0;

	if (sf_warned_version)
		return;
	if (sscanf(version, "%u.%u", &major, &minor) != 2 || major != 0 || minor < 4 || minor > 7) {
		log_warning("smtpd speaks filter protocol %s; written for 0.4 to 0.7, going on",
			    sf_printable(version, 16));
		sf_warned_version = true;
	}
}

/* sf_register - the handshake is over: say what we want */
static void sf_register(void)
{
	static const char *const reports[] = {
		"link-connect", "link-disconnect", "link-identify", "link-auth",
		"tx-begin", "tx-mail", "tx-rcpt", "tx-reset", "tx-rollback",
	};

	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++)
		buf_printf(&sf_out, "register|report|smtp-in|%s\n", reports[i]);
	buf_printf(&sf_out, "register|filter|smtp-in|data-line\n");
	buf_printf(&sf_out, "register|filter|smtp-in|commit\n");
	buf_printf(&sf_out, "register|ready\n");
	sf_registered = true;
}

/* sf_line - one line from smtpd */
static void sf_line(char *line)
{
	char *f[8];
	size_t nf;

	if (strncmp(line, "config|", 7) == 0) {
		if (strcmp(line, "config|ready") == 0 && !sf_registered)
			sf_register();
		else if (strncmp(line, "config|smtpd-version|", 21) == 0)
			log_debug("smtpd version %s", sf_printable(line + 21, 40));
		return;
	}
	if (strncmp(line, "report|", 7) == 0) {
		/* report|VERSION|TIME|SUBSYSTEM|EVENT|SESSION|PARAMS */
		nf = sf_split(line, f, 7);
		if (nf < 6 || !*f[5] || strlen(f[5]) > SF_SID_MAX) {
			log_warning("malformed report line (%zu fields); ignored", nf);
			return;
		}
		sf_check_version(f[1]);
		if (strcmp(f[3], "smtp-in") == 0)
			sf_report(f[4], f[5], nf > 6 ? f[6] : NULL);
		return;
	}
	if (strncmp(line, "filter|", 7) == 0) {
		/* filter|VERSION|TIME|SUBSYSTEM|PHASE|SESSION|TOKEN|PARAMS */
		nf = sf_split(line, f, 8);
		if (nf < 7 || !*f[5] || !*f[6] || strlen(f[5]) > SF_SID_MAX ||
		    strlen(f[6]) > SF_SID_MAX) {
			log_warning("malformed filter line (%zu fields); ignored", nf);
			return;
		}
		sf_check_version(f[1]);
		if (strcmp(f[4], "data-line") == 0)
			sf_data_line(f[1], f[5], f[6], nf > 7 ? f[7] : (char *)"");
		else if (strcmp(f[4], "commit") == 0)
			sf_commit(f[1], f[5], f[6]);
		else	/* a phase we did not ask for: never stall the session */
			sf_answer(f[1], "filter-result", f[5], f[6], "proceed");
		return;
	}
	log_warning("unexpected line from smtpd: %s", sf_printable(line, 80));
}

/* sf_loop - read lines from smtpd until EOF; answers go out per read */
static void sf_loop(void)
{
	struct buf in;
	size_t start = 0;
	bool skipping = false;		/* inside an over-long line */

	buf_init(&in);
	for (;;) {
		ssize_t n;
		char *nl;

		buf_reserve(&in, 65536);
		n = read(STDIN_FILENO, in.data + in.len, in.cap - in.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("read(stdin) failed: %m");
			break;
		}
		if (n == 0)
			break;
		in.len += (size_t)n;
		in.data[in.len] = '\0';
		while ((nl = memchr(in.data + start, '\n', in.len - start)) != NULL) {
			*nl = '\0';
			if (skipping)
				skipping = false;
			else if (memchr(in.data + start, '\0', (size_t)(nl - (in.data + start))))
				log_warning("line from smtpd with a NUL byte; ignored");
			else
				sf_line(in.data + start);
			start = (size_t)(nl - in.data) + 1;
		}
		if (in.len - start > SF_LINE_MAX) {
			if (!skipping)
				log_warning("line from smtpd longer than %d bytes; ignored",
					    SF_LINE_MAX);
			skipping = true;
			start = in.len;
		}
		/* keep the partial line at the front */
		memmove(in.data, in.data + start, in.len - start);
		in.len -= start;
		start = 0;
		sf_flush();
	}
	if (in.len > 0)
		log_warning("smtpd closed the pipe in the middle of a line");
	sf_flush();
	buf_free(&in);
}

/* sf_usage - the command line, then exit */
static void sf_usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: " SF_NAME " [-nvV] [-c config] [-s socket] [-t seconds]\n"
		"  -c FILE     bayesd.conf (thresholds, policy, controller_socket);\n"
		"              default " BAYESD_DEFAULT_CONFIG " when readable\n"
		"  -s SOCKET   bayesd's controller socket (else $BAYESC_SOCKET, else the config's)\n"
		"  -t SECONDS  longest wait for a verdict (default %.0f), then on_error\n"
		"  -n          check the configuration and exit\n"
		"  -v          log debug lines too\n"
		"  -V          print the version and exit\n", SF_DEFAULT_TIMEOUT);
	exit(status);
}

/* main - options, config, then the protocol loop */
int main(int argc, char **argv)
{
	const char *path = NULL, *env;
	bool check = false, verbose = false;
	char err[512];
	int ch;

	log_open(SF_NAME, true, LOG_MAIL);
	while ((ch = getopt(argc, argv, "c:hns:t:vV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 's':
			sf_socket = optarg;
			break;
		case 't': {
			char *e;

			sf_timeout = strtod(optarg, &e);
			if (*e || !(sf_timeout > 0 && sf_timeout <= 600)) {
				fprintf(stderr, SF_NAME ": -t %s: not a number of seconds in (0, 600]\n",
					optarg);
				return 64;
			}
			break;
		}
		case 'v':
			verbose = true;
			break;
		case 'V':
			printf(SF_NAME " %s\n", BAYESD_VERSION);
			return 0;
		case 'h':
			sf_usage(0);
			break;
		default:
			sf_usage(64);
		}
	}
	if (optind != argc)
		sf_usage(64);
	if (!path && access(BAYESD_DEFAULT_CONFIG, R_OK) == 0)
		path = BAYESD_DEFAULT_CONFIG;
	if (!(sf_cfg = config_load(path, err, sizeof(err)))) {
		/* smtpd stops with its filter; better now, at start, than silently wrong */
		log_error("%s", err);
		return 78;
	}
	if (!sf_socket && (env = getenv("BAYESC_SOCKET")) != NULL && *env)
		sf_socket = env;
	if (!sf_socket)
		sf_socket = sf_cfg->controller_socket;
	if (check) {
		if (!*sf_socket) {
			fprintf(stderr, SF_NAME ": no controller socket (-s, or controller_socket)\n");
			return 78;
		}
		printf("configuration OK\n");
		return 0;
	}
	log_set_level(verbose ? LOG_DEBUG : sf_cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	if (!ctl_global_init())
		log_warning("curl_global_init failed; every message gets on_error");
	buf_init(&sf_out);
	buf_init(&sf_body);
	if (!*sf_socket)
		log_warning("no controller socket configured; every message gets on_error");
	log_debug("controller %s, timeout %.1f s, config %s", sf_socket, sf_timeout,
		  path ? path : "(defaults)");
	sf_loop();
	ctl_client_free(sf_ctl);
	config_unref(&sf_cfg);
	return 0;
}
