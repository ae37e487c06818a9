/*
 * milter_wire.c - the milter protocol on bayesd's own sockets.
 *
 * Packets. Each is a 4-byte big-endian length, a command byte and length-1
 * bytes of data, both ways. A connection reads whatever the MTA has sent
 * into one buffer (one recv() for a whole burst of headers), handles every
 * complete packet in it, and queues the replies; the queue goes out in one
 * send() before the next recv(). Steps the MTA agreed need no reply
 * (SMFIP_NR_*) never get one, whatever a callback returned, so the stream
 * cannot get out of step.
 *
 * Macros. A 'D' packet carries the macros of one step (connect, helo, mail,
 * rcpt, data, eoh, eom). Each step keeps the last set sent; a new MAIL
 * step, an abort and a new connection forget the message's steps.
 * getsymval looks from the latest step back, and "{x}" and "x" name the
 * same macro.
 *
 * End of message. The changes a callback asks for (add or change a
 * header, quarantine) are queued as packets while xxfi_eom runs and sent
 * ahead of the final answer. setreply's text goes with a reject or a
 * tempfail of the matching class, as an 'y' packet.
 *
 * Threads. Workers block in accept() on the shared listening socket; the
 * one that takes the last idle slot starts another worker, and a worker
 * that finds more than WIRE_SPARE_MAX idle ones exits. So a busy MTA gets
 * as many threads as it has sessions, with no thread started per
 * connection once they exist. wire_stop() shuts the listening socket down,
 * which wakes every accept().
 */
#include "milter_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#include "log.h"
#include "milter.h"
#include "util.h"

#define WIRE_VERSION		6		/* the protocol version we speak */
#define WIRE_PACKET_MAX		(4u << 20)	/* a longer packet ends the connection */
#define WIRE_READ_CHUNK		65536		/* recv() at least this much room */
#define WIRE_SPARE_MAX		32		/* idle workers kept */
#define WIRE_IDLE_TIMEOUT_S	7210		/* silence from the MTA, as libmilter's default */
#define WIRE_SEND_TIMEOUT_S	60
#define WIRE_ARGV_MAX		64		/* ESMTP arguments of MAIL/RCPT kept */

/* The steps that carry macros, in protocol order. */
enum wire_step { WS_CONNECT, WS_HELO, WS_MAIL, WS_RCPT, WS_DATA, WS_EOH, WS_EOM, WS_NSTEPS };

struct wire_conn {
	int fd;
	const struct smfiDesc *desc;
	void *priv;			/* the filter's state (setpriv) */
	unsigned long actions;		/* SMFIF_* agreed */
	unsigned long steps;		/* SMFIP_* agreed */
	bool in_eom;			/* header changes are allowed now */
	char *reply;			/* setreply's "550 5.7.1 text", or NULL */
	struct buf in;			/* received, [in_off, in.len) not handled yet */
	size_t in_off;
	struct buf out;			/* replies not sent yet */
	struct buf macros[WS_NSTEPS];	/* name\0value\0... of each step */
};

static int wire_fd = -1;
static char *wire_path;			/* a UNIX socket to remove at stop */
static const struct smfiDesc *wire_desc;
static atomic_bool wire_stopping;
static atomic_int wire_idle;		/* workers waiting in accept() */
static pthread_mutex_t wire_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wire_cond = PTHREAD_COND_INITIALIZER;

/* wire_set32 - store a big-endian 32-bit number */
static void wire_set32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* wire_put32 - append a big-endian 32-bit number */
static void wire_put32(struct buf *b, uint32_t v)
{
	unsigned char c[4];

	wire_set32(c, v);
	buf_append(b, c, 4);
}

/* wire_get32 - a big-endian 32-bit number */
static uint32_t wire_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* wire_packet - queue one packet: cmd, then the n1 and n2 bytes of data */
static void wire_packet(struct wire_conn *c, char cmd, const void *d1, size_t n1, const void *d2,
			size_t n2)
{
	wire_put32(&c->out, (uint32_t)(1 + n1 + n2));
	buf_putc(&c->out, cmd);
	if (n1)
		buf_append(&c->out, d1, n1);
	if (n2)
		buf_append(&c->out, d2, n2);
}

/* wire_flush - send the queued replies; false when the MTA is gone */
static bool wire_flush(struct wire_conn *c)
{
	size_t off = 0;

	while (off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + off, c->out.len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_debug("milter: send failed: %m");
			return false;
		}
		off += (size_t)n;
	}
	c->out.len = 0;
	return true;
}

/* wire_step_of - the macro step a 'D' packet names, or -1 */
static int wire_step_of(char cmd)
{
	switch (cmd) {
	case SMFIC_CONNECT:	return WS_CONNECT;
	case SMFIC_HELO:	return WS_HELO;
	case SMFIC_MAIL:	return WS_MAIL;
	case SMFIC_RCPT:	return WS_RCPT;
	case SMFIC_DATA:	return WS_DATA;
	case SMFIC_EOH:		return WS_EOH;
	case SMFIC_BODYEOB:	return WS_EOM;
	default:		return -1;
	}
}

/* wire_forget - drop the macros of steps from..WS_EOM */
static void wire_forget(struct wire_conn *c, int from)
{
	for (int s = from; s < WS_NSTEPS; s++)
		c->macros[s].len = 0;
}

/* wire_name_eq - "{x}" and "x" are the same macro name */
static bool wire_name_eq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	if (alen >= 2 && a[0] == '{' && a[alen - 1] == '}') {
		a++;
		alen -= 2;
	}
	if (blen >= 2 && b[0] == '{' && b[blen - 1] == '}') {
		b++;
		blen -= 2;
	}
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* The milter_io side effects, on a wire_conn. */

static void *wire_getpriv(SMFICTX *ctx)
{
	return ((struct wire_conn *)(void *)ctx)->priv;
}

static int wire_setpriv(SMFICTX *ctx, void *priv)
{
	((struct wire_conn *)(void *)ctx)->priv = priv;
	return MI_SUCCESS;
}

static char *wire_getsymval(SMFICTX *ctx, char *name)
{
	struct wire_conn *c = (struct wire_conn *)(void *)ctx;

	for (int s = WS_NSTEPS - 1; s >= 0; s--) {
		const char *p = c->macros[s].data, *end = p + c->macros[s].len;

		while (p < end) {
			size_t nlen = strlen(p);
			const char *v = p + nlen + 1;

			if (v >= end)
				break;
			if (wire_name_eq(p, nlen, name))
				return (char *)v;
			p = v + strlen(v) + 1;
		}
	}
	return NULL;
}

/* wire_header_packet - queue an 'h', 'i' or 'm' packet (index < 0: none) */
static int wire_header_packet(struct wire_conn *c, char cmd, unsigned long need, int index,
			      const char *name, const char *value)
{
	struct buf d;

	if (!c->in_eom || !(c->actions & need) || !name || !*name)
		return MI_FAILURE;
	buf_init(&d);
	if (index >= 0)
		wire_put32(&d, (uint32_t)index);
	buf_append(&d, name, strlen(name) + 1);
	value = value ? value : "";
	buf_append(&d, value, strlen(value) + 1);
	wire_packet(c, cmd, d.data, d.len, NULL, 0);
	buf_free(&d);
	return MI_SUCCESS;
}

static int wire_addheader(SMFICTX *ctx, char *name, char *value)
{
	if (!value)
		return MI_FAILURE;
	return wire_header_packet((struct wire_conn *)(void *)ctx, SMFIR_ADDHEADER, SMFIF_ADDHDRS,
				  -1, name, value);
}

static int wire_chgheader(SMFICTX *ctx, char *name, int index, char *value)
{
	if (index < 1)
		return MI_FAILURE;
	return wire_header_packet((struct wire_conn *)(void *)ctx, SMFIR_CHGHEADER, SMFIF_CHGHDRS,
				  index, name, value);
}

static int wire_setreply(SMFICTX *ctx, char *rcode, char *xcode, char *message)
{
	struct wire_conn *c = (struct wire_conn *)(void *)ctx;
	size_t len;

	if (!rcode || strlen(rcode) != 3 || (rcode[0] != '4' && rcode[0] != '5') ||
	    rcode[1] < '0' || rcode[1] > '9' || rcode[2] < '0' || rcode[2] > '9')
		return MI_FAILURE;
	if (xcode && (xcode[0] != rcode[0] || xcode[1] != '.'))
		return MI_FAILURE;
	if (message && strpbrk(message, "\r\n"))
		return MI_FAILURE;
	free(c->reply);
	len = 3 + 1 + (xcode ? strlen(xcode) : 5) + 1 + (message ? strlen(message) : 0) + 1;
	c->reply = xmalloc(len);
	snprintf(c->reply, len, "%s %s %s", rcode, xcode ? xcode : rcode[0] == '4' ? "4.0.0" : "5.0.0",
		 message ? message : "");
	return MI_SUCCESS;
}

static int wire_quarantine(SMFICTX *ctx, char *reason)
{
	struct wire_conn *c = (struct wire_conn *)(void *)ctx;

	if (!c->in_eom || !(c->actions & SMFIF_QUARANTINE) || !reason || !*reason)
		return MI_FAILURE;
	wire_packet(c, SMFIR_QUARANTINE, reason, strlen(reason) + 1, NULL, 0);
	return MI_SUCCESS;
}

static const struct milter_io wire_io_fns = {
	.getpriv = wire_getpriv,
	.setpriv = wire_setpriv,
	.getsymval = wire_getsymval,
	.addheader = wire_addheader,
	.chgheader = wire_chgheader,
	.setreply = wire_setreply,
	.quarantine = wire_quarantine,
};

/* wire_io - the side effects, for milter.c */
const struct milter_io *wire_io(void)
{
	return &wire_io_fns;
}

/* wire_answer - queue the reply to a step, unless the MTA agreed to none */
static void wire_answer(struct wire_conn *c, sfsistat r, unsigned long noreply)
{
	char cmd;

	if (noreply && (c->steps & noreply))
		r = SMFIS_NOREPLY;
	switch (r) {
	case SMFIS_NOREPLY:
		free(c->reply);
		c->reply = NULL;
		return;
	case SMFIS_ACCEPT:	cmd = SMFIR_ACCEPT; break;
	case SMFIS_DISCARD:	cmd = SMFIR_DISCARD; break;
	case SMFIS_SKIP:	cmd = (c->steps & SMFIP_SKIP) ? SMFIR_SKIP : SMFIR_CONTINUE; break;
	case SMFIS_REJECT:	cmd = SMFIR_REJECT; break;
	case SMFIS_TEMPFAIL:	cmd = SMFIR_TEMPFAIL; break;
	default:		cmd = SMFIR_CONTINUE; break;
	}
	if (c->reply && ((cmd == SMFIR_REJECT && c->reply[0] == '5') ||
			 (cmd == SMFIR_TEMPFAIL && c->reply[0] == '4')))
		wire_packet(c, SMFIR_REPLYCODE, c->reply, strlen(c->reply) + 1, NULL, 0);
	else
		wire_packet(c, cmd, NULL, 0, NULL, 0);
	free(c->reply);
	c->reply = NULL;
}

/* wire_split - the NUL-terminated strings of d[0..n) into argv (NULL-terminated) */
static size_t wire_split(char *d, size_t n, char **argv, size_t max)
{
	size_t argc = 0;
	char *p = d, *end = d + n;

	while (p < end && argc < max - 1) {
		argv[argc++] = p;
		p += strlen(p) + 1;
	}
	argv[argc] = NULL;
	return argc;
}

/* wire_negotiate - the MTA's offer 'O': version, actions, steps */
static bool wire_negotiate(struct wire_conn *c, const unsigned char *d, size_t n)
{
	const struct smfiDesc *f = c->desc;
	unsigned long version, actions, steps, a, s, f2 = 0, f3 = 0;
	unsigned char r[MILTER_OPTLEN];

	if (n < MILTER_OPTLEN) {
		log_warning("milter: short option negotiation from the MTA (%zu bytes)", n);
		return false;
	}
	version = wire_get32(d);
	actions = wire_get32(d + 4);
	steps = wire_get32(d + 8);
	if (version < 2) {
		log_warning("milter: the MTA speaks milter protocol version %lu; 2 or later is needed",
			    version);
		return false;
	}
	a = actions & f->xxfi_flags;
	s = 0;
	if (f->xxfi_negotiate &&
	    f->xxfi_negotiate((SMFICTX *)(void *)c, actions, steps, 0, 0, &a, &s, &f2, &f3) ==
		    SMFIS_REJECT)
		return false;
	c->actions = a & actions;
	c->steps = s & steps;
	wire_set32(r, version < WIRE_VERSION ? (uint32_t)version : WIRE_VERSION);
	wire_set32(r + 4, (uint32_t)c->actions);
	wire_set32(r + 8, (uint32_t)c->steps);
	wire_packet(c, SMFIC_OPTNEG, r, sizeof(r), NULL, 0);
	return true;
}

/* wire_connect_info - 'C': hostname, family, port, address */
static sfsistat wire_connect_info(struct wire_conn *c, char *d, size_t n)
{
	struct sockaddr_storage ss;
	struct sockaddr *sa = NULL;
	size_t hlen = strnlen(d, n);
	char *host = d;

	memset(&ss, 0, sizeof(ss));
	if (hlen + 4 <= n) {
		char family = d[hlen + 1];
		uint16_t port = (uint16_t)((unsigned char)d[hlen + 2] << 8 | (unsigned char)d[hlen + 3]);
		char *addr = d + hlen + 4;

		if (family == SMFIA_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
				sin->sin_family = AF_INET;
				sin->sin_port = htons(port);
				sa = (struct sockaddr *)sin;
			}
		} else if (family == SMFIA_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			if (strncasecmp(addr, "IPv6:", 5) == 0)
				addr += 5;
			if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
				sin6->sin6_family = AF_INET6;
				sin6->sin6_port = htons(port);
				sa = (struct sockaddr *)sin6;
			}
		}
	}
	return c->desc->xxfi_connect ? c->desc->xxfi_connect((SMFICTX *)(void *)c, host, sa)
				     : SMFIS_CONTINUE;
}

/* wire_close_session - the SMTP session is over: the filter frees its state */
static void wire_close_session(struct wire_conn *c)
{
	if (c->desc->xxfi_close)
		c->desc->xxfi_close((SMFICTX *)(void *)c);
	c->priv = NULL;
	wire_forget(c, WS_CONNECT);
}

/*
 * wire_command - handle one packet; false ends the connection. d is
 * NUL-terminated one byte past n (the buffer guarantees it).
 */
static bool wire_command(struct wire_conn *c, char cmd, char *d, size_t n)
{
	const struct smfiDesc *f = c->desc;
	SMFICTX *ctx = (SMFICTX *)(void *)c;
	char *argv[WIRE_ARGV_MAX];
	sfsistat r;
	int step;

	switch (cmd) {
	case SMFIC_OPTNEG:
		return wire_negotiate(c, (const unsigned char *)d, n);
	case SMFIC_MACRO:
		if (n < 1 || (step = wire_step_of(d[0])) < 0)
			return true;
		if (step == WS_MAIL)
			wire_forget(c, WS_MAIL);
		c->macros[step].len = 0;
		/* struct buf ends in a NUL: a last value cut short still ends */
		buf_append(&c->macros[step], d + 1, n - 1);
		return true;
	case SMFIC_CONNECT:
		wire_answer(c, wire_connect_info(c, d, n), SMFIP_NR_CONN);
		return true;
	case SMFIC_HELO:
		r = f->xxfi_helo ? f->xxfi_helo(ctx, d) : SMFIS_CONTINUE;
		wire_answer(c, r, SMFIP_NR_HELO);
		return true;
	case SMFIC_MAIL:
		wire_split(d, n, argv, WIRE_ARGV_MAX);
		r = f->xxfi_envfrom && argv[0] ? f->xxfi_envfrom(ctx, argv) : SMFIS_CONTINUE;
		wire_answer(c, r, SMFIP_NR_MAIL);
		return true;
	case SMFIC_RCPT:
		wire_split(d, n, argv, WIRE_ARGV_MAX);
		r = f->xxfi_envrcpt && argv[0] ? f->xxfi_envrcpt(ctx, argv) : SMFIS_CONTINUE;
		wire_answer(c, r, SMFIP_NR_RCPT);
		return true;
	case SMFIC_DATA:
		r = f->xxfi_data ? f->xxfi_data(ctx) : SMFIS_CONTINUE;
		wire_answer(c, r, SMFIP_NR_DATA);
		return true;
	case SMFIC_HEADER: {
		size_t nlen = strnlen(d, n);
		char *value = nlen < n ? d + nlen + 1 : d + n;

		r = f->xxfi_header ? f->xxfi_header(ctx, d, value) : SMFIS_CONTINUE;
		wire_answer(c, r, SMFIP_NR_HDR);
		return true;
	}
	case SMFIC_EOH:
		r = f->xxfi_eoh ? f->xxfi_eoh(ctx) : SMFIS_CONTINUE;
		wire_answer(c, r, SMFIP_NR_EOH);
		return true;
	case SMFIC_BODY:
		r = f->xxfi_body ? f->xxfi_body(ctx, (unsigned char *)d, n) : SMFIS_CONTINUE;
		wire_answer(c, r, SMFIP_NR_BODY);
		return true;
	case SMFIC_BODYEOB:
		/* a last body chunk may come with the end of the message */
		if (n > 0 && f->xxfi_body)
			f->xxfi_body(ctx, (unsigned char *)d, n);
		c->in_eom = true;
		r = f->xxfi_eom ? f->xxfi_eom(ctx) : SMFIS_CONTINUE;
		c->in_eom = false;
		wire_answer(c, r == SMFIS_NOREPLY ? SMFIS_CONTINUE : r, 0);
		wire_forget(c, WS_MAIL);
		return true;
	case SMFIC_ABORT:
		if (f->xxfi_abort)
			f->xxfi_abort(ctx);
		wire_forget(c, WS_MAIL);
		return true;
	case SMFIC_UNKNOWN:
		r = f->xxfi_unknown ? f->xxfi_unknown(ctx, d) : SMFIS_CONTINUE;
		wire_answer(c, r, SMFIP_NR_UNKN);
		return true;
	case SMFIC_QUIT_NC:
		wire_close_session(c);	/* another session follows on this connection */
		return true;
	case SMFIC_QUIT:
		return false;
	default:
		log_warning("milter: unknown command 0x%02x from the MTA; closing the connection",
			    (unsigned char)cmd);
		return false;
	}
}

/* wire_handle_buffered - every complete packet in c->in; false ends the connection */
static bool wire_handle_buffered(struct wire_conn *c, bool *ok)
{
	for (;;) {
		size_t avail = c->in.len - c->in_off;
		unsigned char *p = (unsigned char *)c->in.data + c->in_off;
		uint32_t len;
		char saved;
		bool go;

		if (avail < 4)
			break;
		len = wire_get32(p);
		if (len == 0 || len > WIRE_PACKET_MAX) {
			log_warning("milter: packet of %u bytes from the MTA; closing the connection",
				    len);
			*ok = false;
			return false;
		}
		if (avail - 4 < len) {
			/* make room for the whole packet */
			buf_reserve(&c->in, (size_t)len + 4 - avail);
			break;
		}
		/*
		 * NUL-terminate the data in place for the string commands; the
		 * byte after it is inside the buffer (struct buf keeps one spare).
		 */
		saved = (char)p[4 + len];
		p[4 + len] = '\0';
		go = wire_command(c, (char)p[4], (char *)p + 5, len - 1);
		p[4 + len] = (unsigned char)saved;
		c->in_off += 4 + (size_t)len;
		if (!go)
			return false;
	}
	/* keep the unread rest at the front */
	if (c->in_off > 0) {
		memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
		c->in.len -= c->in_off;
		c->in_off = 0;
	}
	return true;
}

/* wire_serve_conn - serve one MTA connection until it quits or goes away; closes fd */
void wire_serve_conn(int fd, const struct smfiDesc *desc)
{
	struct wire_conn c;
	bool ok = true;

	memset(&c, 0, sizeof(c));
	c.fd = fd;
	c.desc = desc;
	buf_init(&c.in);
	buf_init(&c.out);
	for (int s = 0; s < WS_NSTEPS; s++)
		buf_init(&c.macros[s]);
	for (;;) {
		ssize_t n;

		if (!wire_handle_buffered(&c, &ok))
			break;
		if (c.out.len && !wire_flush(&c))
			break;
		buf_reserve(&c.in, WIRE_READ_CHUNK);
		n = recv(fd, c.in.data + c.in.len, c.in.cap - c.in.len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				log_info("milter: no word from the MTA for %d s; closing the connection",
					 WIRE_IDLE_TIMEOUT_S);
			else
				log_debug("milter: recv failed: %m");
			break;
		}
		c.in.len += (size_t)n;
	}
	if (ok && c.out.len)
		wire_flush(&c);
	wire_close_session(&c);
	close(fd);
	free(c.reply);
	buf_free(&c.in);
	buf_free(&c.out);
	for (int s = 0; s < WS_NSTEPS; s++)
		buf_free(&c.macros[s]);
}

static void *wire_worker(void *arg);

/* wire_spawn - one more worker waiting in accept() */
static bool wire_spawn(void)
{
	pthread_attr_t a;
	pthread_t tid;
	int err;

	atomic_fetch_add(&wire_idle, 1);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&tid, &a, wire_worker, NULL);
	pthread_attr_destroy(&a);
	if (err != 0) {
		atomic_fetch_sub(&wire_idle, 1);
		errno = err;
		log_error("milter: cannot start a worker thread: %m; connections wait for a free one");
		return false;
	}
	return true;
}

/* wire_worker - accept a connection, serve it, again */
static void *wire_worker(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept4(wire_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (atomic_load(&wire_stopping))
				break;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_error("milter: accept failed: %m");
				usleep(100 * 1000);
			} else if (errno != EINTR && errno != ECONNABORTED) {
				log_debug("milter: accept failed: %m");
			}
			continue;
		}
		if (atomic_fetch_sub(&wire_idle, 1) == 1 && !atomic_load(&wire_stopping))
			wire_spawn();
		wire_serve_conn(fd, wire_desc);
		if (atomic_fetch_add(&wire_idle, 1) >= WIRE_SPARE_MAX || atomic_load(&wire_stopping))
			break;
	}
	atomic_fetch_sub(&wire_idle, 1);
	return NULL;
}

/* wire_listen_inet - inet:PORT@HOST or inet6:PORT@HOST */
static int wire_listen_inet(const char *spec, char *err, size_t errlen)
{
	const char *p = strchr(spec, ':') + 1, *at = strchr(p, '@');
	struct addrinfo hints = { 0 }, *ai = NULL;
	char port[16], host[256];
	int fd, rc, one = 1;

	if ((size_t)((at ? at : p + strlen(p)) - p) >= sizeof(port)) {
		snprintf(err, errlen, "milter_socket %s: bad port", spec);
		return -1;
	}
	snprintf(port, sizeof(port), "%.*s", (int)((at ? at : p + strlen(p)) - p), p);
	snprintf(host, sizeof(host), "%s", at ? at + 1 : "");
	hints.ai_family = strncmp(spec, "inet6:", 6) == 0 ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(*host ? host : NULL, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "milter_socket %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "milter_socket %s: socket failed: %s", spec, strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/*
	 * No Nagle: the changes at end of message go out as several small
	 * packets, and with Nagle on the MTA's delayed ACK holds them 40 ms.
	 * Accepted sockets inherit the option.
	 */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		snprintf(err, errlen, "milter_socket %s: bind failed: %s", spec, strerror(errno));
		close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/*
 * wire_listen_unix - unix:PATH, local:PATH or PATH: mode 0666, the MTA
 * connects as itself. A dead daemon's socket is replaced; anything else
 * at PATH, or a live socket, is an error (unix_socket_reclaim).
 */
static int wire_listen_unix(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = spec[0] == '/' ? spec : strchr(spec, ':') + 1;
	char why[300];
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "milter_socket %s: path too long", spec);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (!unix_socket_reclaim(path, why, sizeof(why))) {
		snprintf(err, errlen, "milter_socket %s: %s", spec, why);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		snprintf(err, errlen, "milter_socket %s: cannot listen: %s (does its directory exist "
			 "and is it writable?)", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* scoring is all the socket offers; training is the controller's */
	if (chmod(path, 0666) != 0)
		log_warning("chmod(%s) failed: %m", path);
	wire_path = xstrdup(path);
	return fd;
}

/* wire_listen - open the listening socket */
bool wire_listen(const char *spec, char *err, size_t errlen)
{
	struct timeval rt = { .tv_sec = WIRE_IDLE_TIMEOUT_S }, st = { .tv_sec = WIRE_SEND_TIMEOUT_S };
	int fd;

	if (strncmp(spec, "inet:", 5) == 0 || strncmp(spec, "inet6:", 6) == 0)
		fd = wire_listen_inet(spec, err, errlen);
	else
		fd = wire_listen_unix(spec, err, errlen);
	if (fd < 0)
		return false;
	/* the connections' time limits; accepted sockets inherit them (Linux) */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &st, sizeof(st));
	if (listen(fd, SOMAXCONN) != 0) {
		snprintf(err, errlen, "milter_socket %s: listen failed: %s", spec, strerror(errno));
		close(fd);
		return false;
	}
	wire_fd = fd;
	return true;
}

/* wire_serve - start the workers, wait for wire_stop() */
bool wire_serve(const struct smfiDesc *desc)
{
	sigset_t block, old;
	bool ok;

	if (wire_fd < 0)
		return false;
	wire_desc = desc;
	/* the workers leave signals to the main thread */
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	ok = wire_spawn();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ok)
		return false;
	pthread_mutex_lock(&wire_lock);
	while (!atomic_load(&wire_stopping))
		pthread_cond_wait(&wire_cond, &wire_lock);
	pthread_mutex_unlock(&wire_lock);
	return true;
}

/* wire_stop - wake every accept() and wire_serve() */
void wire_stop(void)
{
	pthread_mutex_lock(&wire_lock);
	if (!atomic_exchange(&wire_stopping, true) && wire_fd >= 0) {
		shutdown(wire_fd, SHUT_RDWR);
		if (wire_path && unlink(wire_path) != 0 && errno != ENOENT)
			log_debug("unlink(%s) failed: %m", wire_path);
	}
	pthread_cond_broadcast(&wire_cond);
	pthread_mutex_unlock(&wire_lock);
}
