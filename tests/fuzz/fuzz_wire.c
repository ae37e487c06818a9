/*
 * fuzz_wire.c - libFuzzer target: bayesd's milter protocol layer
 * (milter/milter_wire.c), the code that reads what the MTA sends.
 *
 * Input: byte 0 picks how the stream is cut into writes (1 to 64 bytes
 * each, or all at once), the rest is the MTA's side of a connection. A
 * writer thread pushes it into a socketpair and hangs up, a reader thread
 * takes every reply, and wire_serve_conn() serves it in this thread with
 * callbacks that use every side effect (macros, header changes,
 * quarantine, reply text made of the input) and return every answer.
 *
 * Contract: the session ends (EOF or a bad packet) without a sanitizer
 * report, and what it sends back is whole packets with reply commands
 * only.
 */
#include <pthread.h>
#include <stdlib.h>
#include <syslog.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#include "fuzz.h"
#include "log.h"
#include "milter.h"
#include "milter_wire.h"

struct fw_feed {
	int fd;
	const uint8_t *data;
	size_t size;
	unsigned piece;		/* bytes per write, 0 = all at once */
};

struct fw_drain {
	int fd;
	unsigned char *out;
	size_t len, cap;
};

/* the answers, turning on the input so all of them come up */
static sfsistat fw_answer(const char *s)
{
	static const sfsistat r[] = { SMFIS_CONTINUE, SMFIS_REJECT, SMFIS_DISCARD, SMFIS_ACCEPT,
				      SMFIS_TEMPFAIL, SMFIS_NOREPLY, SMFIS_SKIP, SMFIS_CONTINUE };

	return r[(s && *s ? (unsigned char)*s : 0) % 8];
}

static sfsistat fw_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	*pf0 = f0;
	*pf1 = f1;	/* whatever the MTA offers, the no-reply steps included */
	return SMFIS_CONTINUE;
}

static sfsistat fw_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	wire_io()->setpriv(ctx, host);
	return fw_answer(host);
}

static sfsistat fw_helo(SMFICTX *ctx, char *helo)
{
	return fw_answer(wire_io()->getsymval(ctx, (char *)"j"));
}

static sfsistat fw_envfrom(SMFICTX *ctx, char **argv)
{
	const char *i = wire_io()->getsymval(ctx, (char *)"i");
	const char *a = wire_io()->getsymval(ctx, (char *)"{auth_authen}");

	(void)i;
	(void)a;
	return fw_answer(argv[0]);
}

static sfsistat fw_header(SMFICTX *ctx, char *name, char *value)
{
	return fw_answer(value);
}

static sfsistat fw_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	return fw_answer(len ? (const char *)chunk : "");
}

static sfsistat fw_eom(SMFICTX *ctx)
{
	const struct milter_io *io = wire_io();
	char *i = io->getsymval(ctx, (char *)"i");

	io->addheader(ctx, (char *)"X-Fuzz", i ? i : (char *)"none");
	io->chgheader(ctx, (char *)"Subject", 1, i);
	io->quarantine(ctx, i);
	io->setreply(ctx, (char *)"550", (char *)"5.7.1", i);
	io->setreply(ctx, (char *)"451", NULL, i);
	return fw_answer(i);
}

static sfsistat fw_close(SMFICTX *ctx)
{
	return SMFIS_CONTINUE;
}

static const struct smfiDesc fw_desc = {
	.xxfi_name = (char *)"fuzz",
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
	.xxfi_negotiate = fw_negotiate,
	.xxfi_connect = fw_connect,
	.xxfi_helo = fw_helo,
	.xxfi_envfrom = fw_envfrom,
	.xxfi_envrcpt = fw_envfrom,
	.xxfi_header = fw_header,
	.xxfi_eoh = fw_close,
	.xxfi_body = fw_body,
	.xxfi_eom = fw_eom,
	.xxfi_abort = fw_close,
	.xxfi_close = fw_close,
};

static void *fw_write(void *arg)
{
	struct fw_feed *f = arg;
	size_t off = 0;

	while (off < f->size) {
		size_t n = f->piece ? f->piece : f->size - off;
		ssize_t w;

		if (n > f->size - off)
			n = f->size - off;
		w = send(f->fd, f->data + off, n, MSG_NOSIGNAL);
		if (w <= 0)
			break;	/* the session hung up: a bad packet */
		off += (size_t)w;
	}
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

static void *fw_read(void *arg)
{
	struct fw_drain *d = arg;

	for (;;) {
		ssize_t n;

		if (d->cap - d->len < 4096) {
			d->cap = d->cap ? d->cap * 2 : 65536;
			d->out = realloc(d->out, d->cap);
			if (!d->out)
				abort();
		}
		n = recv(d->fd, d->out + d->len, d->cap - d->len, 0);
		if (n <= 0)
			break;
		d->len += (size_t)n;
	}
	return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_open("fuzz_wire", true, LOG_MAIL);
	log_set_level(getenv("FUZZ_VERBOSE") ? LOG_DEBUG : LOG_CRIT);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char replies[] = "Oabcdhimqrsty";
	struct fw_feed feed;
	struct fw_drain drain = { 0 };
	pthread_t wt, rt;
	int sv[2], mta;

	if (size < 1)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return 0;
	mta = sv[0];
	feed = (struct fw_feed){ .fd = mta, .data = data + 1, .size = size - 1,
				 .piece = data[0] < 192 ? data[0] % 64 + 1 : 0 };
	drain.fd = dup(mta);
	if (drain.fd < 0 || pthread_create(&wt, NULL, fw_write, &feed) != 0)
		abort();
	if (pthread_create(&rt, NULL, fw_read, &drain) != 0)
		abort();
	wire_serve_conn(sv[1], &fw_desc);	/* closes sv[1]: the reader sees EOF */
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	close(mta);
	close(drain.fd);

	/* whole reply packets, reply commands only */
	for (size_t off = 0; off < drain.len;) {
		uint32_t len;

		if (drain.len - off < 5)
			fuzz_fail("a reply packet cut short", "wire");
		len = (uint32_t)drain.out[off] << 24 | (uint32_t)drain.out[off + 1] << 16 |
		      (uint32_t)drain.out[off + 2] << 8 | drain.out[off + 3];
		if (len < 1 || len > drain.len - off - 4)
			fuzz_fail("a reply packet's length is wrong", "wire");
		if (!strchr(replies, drain.out[off + 4]) || drain.out[off + 4] == '\0')
			fuzz_fail("not a reply command", "wire");
		off += 4 + len;
	}
	free(drain.out);
	return 0;
}
