/*
 * test_milter.c - the milter callbacks driven without an MTA (milter_io):
 * per-user scoring of a single recipient and autolearn through a real
 * writer thread, on a database in the test directory.
 *
 * milter.c, autolearn.c, writer.c, metrics.c and verdict.c are compiled into this file (the unit
 * test binary links only libbayes and tests/unit; config.c and log.c come
 * from test_config.c).
 */
#include "../../milter/autolearn.c"
#include "../../milter/milter.c"
#include "../../milter/milter_wire.c"
#include "../../milter/writer.c"
#include "../../milter/metrics.c"
#include "../../milter/verdict.c"

#include "harness.h"

static void *tm_priv;
static const char *tm_auth;	/* {auth_authen}, or NULL */

static void *tm_getpriv(SMFICTX *ctx) { return tm_priv; }
static int tm_setpriv(SMFICTX *ctx, void *p) { tm_priv = p; return MI_SUCCESS; }
static char *tm_getsymval(SMFICTX *ctx, char *name)
{
	if (strcmp(name, "{auth_authen}") == 0)
		return (char *)tm_auth;
	if (strcmp(name, "i") == 0)
		return (char *)"TESTQID";
	return NULL;
}
static int tm_addheader(SMFICTX *ctx, char *n, char *v) { return MI_SUCCESS; }
static int tm_chgheader(SMFICTX *ctx, char *n, int i, char *v) { return MI_SUCCESS; }
static int tm_setreply(SMFICTX *ctx, char *r, char *x, char *m) { return MI_SUCCESS; }
static int tm_quarantine(SMFICTX *ctx, char *r) { return MI_SUCCESS; }

static const struct milter_io tm_io = {
	tm_getpriv, tm_setpriv, tm_getsymval, tm_addheader, tm_chgheader, tm_setreply, tm_quarantine,
};

/* tm_message - one SMTP transaction through the callbacks: rcpts NULL-terminated */
static void tm_message(const char *const *rcpts, const char *subject, const char *body)
{
	const struct smfiDesc *d = milter_callbacks();
	SMFICTX *ctx = (SMFICTX *)&tm_priv;	/* never dereferenced by our io */
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char *from[] = { (char *)"<sender@example.net>", NULL };

	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	d->xxfi_connect(ctx, (char *)"client.example.net", (struct sockaddr *)&sin);
	d->xxfi_envfrom(ctx, from);
	for (; *rcpts; rcpts++) {
		char *rcpt[] = { (char *)*rcpts, NULL };
		d->xxfi_envrcpt(ctx, rcpt);
	}
	d->xxfi_header(ctx, (char *)"From", (char *)"sender@example.net");
	d->xxfi_header(ctx, (char *)"Subject", (char *)subject);
	d->xxfi_eoh(ctx);
	d->xxfi_body(ctx, (unsigned char *)body, strlen(body));
	d->xxfi_eom(ctx);
	d->xxfi_close(ctx);
}

/* tm_learned - messages user has learned as spam + ham (-1 on error) */
static long tm_learned(const char *db, const char *user)
{
	char err[600];
	struct bayes_stats st;
	struct bayes *b = bayes_open(db, BAYES_OPEN_RDONLY, NULL, err, sizeof(err), NULL);
	long n = -1;

	if (b && bayes_stats(b, user, &st) == 0)
		n = (long)(st.learned_spam + st.learned_ham);
	bayes_close(&b);
	return n;
}

TEST(milter_per_user_autolearn)
{
	static const char *const one[] = { "<Joe+lists@Example.ORG>", NULL };
	static const char *const two[] = { "<joe@example.org>", "<ann@example.org>", NULL };
	char db[400], path[400], err[600];
	struct bayesd_config *cfg;
	FILE *f;
	struct writer *w;
	struct bayes_options o;

	snprintf(db, sizeof(db), "%s/milter.db", test_tmpdir());
	/* autolearn everything the milter scores: spam at >= 0.5, ham at <= 0.5 */
	snprintf(path, sizeof(path), "%s/milter.conf", test_tmpdir());
	f = fopen(path, "w");
	REQUIRE(f != NULL);
	fprintf(f, "database = %s\nper_user = yes\nautolearn = yes\n"
		"autolearn_spam_threshold = 0.5\nautolearn_ham_threshold = 0.5\n"
		"score_authenticated = yes\ncache_max_tokens = 0\n", db);
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	if (!cfg)
		fprintf(stderr, "  %s\n", err);
	REQUIRE(cfg != NULL);
	milter_engine_options(cfg, &o);
	o.train_mode = BAYES_TRAIN_ALL;
	w = writer_start(db, &o, 0, err, sizeof(err));
	REQUIRE(w != NULL);
	config_current_set(cfg);
	milter_reload();
	milter_io_set(&tm_io);
	milter_writer_set(w);

	/* one recipient: scored and autolearned as its user */
	tm_message(one, "cheap pills", "Buy cheap pills now.\r\n");
	/* two recipients: global */
	tm_message(two, "meeting", "The meeting moves to Tuesday.\r\n");
	/* an authenticated sender is scored (score_authenticated) but never autolearned */
	tm_auth = "alice";
	tm_message(one, "from alice", "Lunch tomorrow? Alice.\r\n");
	tm_auth = NULL;

	milter_writer_set(NULL);
	writer_stop(&w);	/* runs every posted job first */
	CHECK(tm_learned(db, "joe@example.org") == 1);
	CHECK(tm_learned(db, "ann@example.org") == 0);
	/* global: joe's learn (per_user_global) and the two-recipient message */
	CHECK(tm_learned(db, NULL) == 2);
	/* the metrics say so: two autolearned as spam (p = 0.5), one skipped for the login */
	struct buf m = { 0 };
	metrics_render(&m);
	CHECK(strstr(m.data, "\nbayesd_autolearn_total{class=\"spam\"} 2\n") != NULL);
	CHECK(strstr(m.data, "\nbayesd_autolearn_total{class=\"ham\"} 0\n") != NULL);
	CHECK(strstr(m.data, "\nbayesd_autolearn_skipped_total{reason=\"authenticated\"} 1\n") != NULL);
	CHECK(strstr(m.data, "\nbayesd_autolearn_skipped_total{reason=\"trusted\"} 0\n") != NULL);
	CHECK(strstr(m.data, "# TYPE bayesd_autolearn_total counter\n") != NULL);
	buf_free(&m);

	milter_io_set(NULL);
	milter_shutdown();
	config_current_set(NULL);
	config_unref(&cfg);
}

/*
 * The protocol layer (milter_wire.c) over a socketpair, with recording
 * callbacks of its own: negotiation, macros by step, no replies for the
 * steps agreed to need none, a burst of packets and a packet split across
 * two writes, header changes and the reply text at end of message, abort,
 * quit.
 */
static struct {
	char host[64], addr[64], from[64], qid[16], auth[16], qid_after_abort[16];
	int argc, headers, closes;
	size_t body;
} tw;

static sfsistat tw_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	*pf0 = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE;
	*pf1 = SMFIP_NR_HDR | SMFIP_SKIP;
	return SMFIS_CONTINUE;
}

static sfsistat tw_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	snprintf(tw.host, sizeof(tw.host), "%s", host);
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, tw.addr, sizeof(tw.addr));
	return SMFIS_CONTINUE;
}

static sfsistat tw_envfrom(SMFICTX *ctx, char **argv)
{
	const char *i = wire_getsymval(ctx, (char *)"{i}"), *a = wire_getsymval(ctx, (char *)"auth_authen");

	for (tw.argc = 0; argv[tw.argc]; tw.argc++)
		;
	snprintf(tw.from, sizeof(tw.from), "%s", argv[0]);
	if (tw.qid[0])	/* the second message: after an abort */
		snprintf(tw.qid_after_abort, sizeof(tw.qid_after_abort), "%s", i ? i : "(none)");
	else
		snprintf(tw.qid, sizeof(tw.qid), "%s", i ? i : "(none)");
	snprintf(tw.auth, sizeof(tw.auth), "%s", a ? a : "(none)");
	return SMFIS_CONTINUE;
}

static sfsistat tw_header(SMFICTX *ctx, char *name, char *value)
{
	tw.headers++;
	return SMFIS_CONTINUE;
}

static sfsistat tw_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	tw.body += len;
	return SMFIS_SKIP;
}

static sfsistat tw_eom(SMFICTX *ctx)
{
	wire_addheader(ctx, (char *)"X-Test", (char *)"1");
	wire_chgheader(ctx, (char *)"Subject", 1, NULL);
	wire_quarantine(ctx, (char *)"held");
	wire_setreply(ctx, (char *)"550", (char *)"5.7.1", (char *)"no thanks");
	return SMFIS_REJECT;
}

static sfsistat tw_close(SMFICTX *ctx)
{
	tw.closes++;
	return SMFIS_CONTINUE;
}

static const struct smfiDesc tw_desc = {
	.xxfi_name = (char *)"wire-test",
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
	.xxfi_negotiate = tw_negotiate,
	.xxfi_connect = tw_connect,
	.xxfi_envfrom = tw_envfrom,
	.xxfi_header = tw_header,
	.xxfi_body = tw_body,
	.xxfi_eom = tw_eom,
	.xxfi_close = tw_close,
};

/* tw_pkt - append one packet to b */
static void tw_pkt(struct buf *b, char cmd, const char *data, size_t n)
{
	wire_put32(b, (uint32_t)(n + 1));
	buf_putc(b, cmd);
	buf_append(b, data, n);
}

/* tw_send - write all of b to fd and empty it */
static bool tw_send(int fd, struct buf *b)
{
	bool ok = write(fd, b->data, b->len) == (ssize_t)b->len;

	b->len = 0;
	return ok;
}

/* tw_reply - read one packet (2 s at most): its command, data into d; 0 on EOF or timeout */
static char tw_reply(int fd, char *d, size_t dmax, size_t *n)
{
	struct timeval tv = { .tv_sec = 2 };
	unsigned char h[5];
	uint32_t len;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (recv(fd, h, 5, MSG_WAITALL) != 5)
		return 0;
	len = wire_get32(h);
	*n = len - 1;
	if (*n > dmax || (*n && recv(fd, d, *n, MSG_WAITALL) != (ssize_t)*n))
		return 0;
	return (char)h[4];
}

static void *tw_serve(void *arg)
{
	wire_serve_conn(*(int *)arg, &tw_desc);
	return NULL;
}

/* tw_nothing_pending - no reply waiting on fd (the steps that need none) */
static bool tw_nothing_pending(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

TEST(milter_wire_session)
{
	static const unsigned char opt[12] = { 0, 0, 0, 6, 0, 0, 0x01, 0xff, 0, 0x1f, 0xff, 0xff };
	int sv[2];
	pthread_t tid;
	struct buf b = { 0 };
	char d[256], cmd;
	size_t n;

	memset(&tw, 0, sizeof(tw));
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(pthread_create(&tid, NULL, tw_serve, &sv[1]) == 0);

	/* negotiation: version 6, what the filter asked for out of what was offered */
	tw_pkt(&b, SMFIC_OPTNEG, (const char *)opt, sizeof(opt));
	REQUIRE(tw_send(sv[0], &b));
	cmd = tw_reply(sv[0], d, sizeof(d), &n);
	CHECK(cmd == SMFIC_OPTNEG && n == 12);
	CHECK(n == 12 && wire_get32((unsigned char *)d) == 6);
	CHECK(n == 12 && wire_get32((unsigned char *)d + 4) ==
			   (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE));
	CHECK(n == 12 && wire_get32((unsigned char *)d + 8) == (SMFIP_NR_HDR | SMFIP_SKIP));

	/* connect and MAIL, each with its macros, in one write */
	tw_pkt(&b, SMFIC_MACRO, "Cj\0mx.example\0", 14);
	tw_pkt(&b, SMFIC_CONNECT, "client.example\0" "4\0\x19" "192.0.2.7\0", 28);
	tw_pkt(&b, SMFIC_MACRO, "Mi\0ABC123\0{auth_authen}\0alice\0", 30);
	tw_pkt(&b, SMFIC_MAIL, "<a@example.org>\0SIZE=10\0", 24);
	REQUIRE(tw_send(sv[0], &b));
	CHECK(tw_reply(sv[0], d, sizeof(d), &n) == SMFIR_CONTINUE);
	CHECK(tw_reply(sv[0], d, sizeof(d), &n) == SMFIR_CONTINUE);
	CHECK_STR(tw.host, "client.example");
	CHECK_STR(tw.addr, "192.0.2.7");
	CHECK_STR(tw.from, "<a@example.org>");
	CHECK(tw.argc == 2);
	CHECK_STR(tw.qid, "ABC123");	/* "{i}" finds "i" */
	CHECK_STR(tw.auth, "alice");	/* "auth_authen" finds "{auth_authen}" */

	/* headers need no reply; the end of headers does */
	tw_pkt(&b, SMFIC_HEADER, "Subject\0hello\0", 14);
	tw_pkt(&b, SMFIC_HEADER, "From\0a@example.org\0", 19);
	REQUIRE(tw_send(sv[0], &b));
	usleep(50 * 1000);
	CHECK(tw_nothing_pending(sv[0]));
	tw_pkt(&b, SMFIC_EOH, "", 0);
	/* a body packet cut in two writes */
	tw_pkt(&b, SMFIC_BODY, "abc", 3);
	REQUIRE(write(sv[0], b.data, 7) == 7);
	usleep(20 * 1000);
	memmove(b.data, b.data + 7, b.len - 7);
	b.len -= 7;
	REQUIRE(tw_send(sv[0], &b));
	CHECK(tw_reply(sv[0], d, sizeof(d), &n) == SMFIR_CONTINUE);	/* eoh */
	CHECK(tw_reply(sv[0], d, sizeof(d), &n) == SMFIR_SKIP);		/* body, SMFIP_SKIP agreed */
	CHECK(tw.headers == 2);

	/* end of message with a last chunk: the changes, then the reply text */
	tw_pkt(&b, SMFIC_BODYEOB, "tail", 4);
	REQUIRE(tw_send(sv[0], &b));
	cmd = tw_reply(sv[0], d, sizeof(d), &n);
	CHECK(cmd == SMFIR_ADDHEADER);
	CHECK_MEM(d, n, "X-Test\0" "1", 9);
	cmd = tw_reply(sv[0], d, sizeof(d), &n);
	CHECK(cmd == SMFIR_CHGHEADER);
	CHECK_MEM(d, n, "\0\0\0\1" "Subject\0", 13);
	CHECK(tw_reply(sv[0], d, sizeof(d), &n) == SMFIR_QUARANTINE);
	cmd = tw_reply(sv[0], d, sizeof(d), &n);
	CHECK(cmd == SMFIR_REPLYCODE);
	CHECK_STR(cmd == SMFIR_REPLYCODE ? d : NULL, "550 5.7.1 no thanks");
	CHECK(tw.body == 7);

	/* abort forgets the message's macros; the next MAIL has none */
	tw_pkt(&b, SMFIC_ABORT, "", 0);
	tw_pkt(&b, SMFIC_MAIL, "<b@example.org>\0", 16);
	REQUIRE(tw_send(sv[0], &b));
	CHECK(tw_reply(sv[0], d, sizeof(d), &n) == SMFIR_CONTINUE);
	CHECK_STR(tw.qid_after_abort, "(none)");

	/* quit: the filter's close runs, the connection ends */
	tw_pkt(&b, SMFIC_QUIT, "", 0);
	REQUIRE(tw_send(sv[0], &b));
	CHECK(tw_reply(sv[0], d, sizeof(d), &n) == 0);
	pthread_join(tid, NULL);
	CHECK(tw.closes == 1);
	close(sv[0]);

	/* a packet longer than the limit ends the connection, close still runs */
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(pthread_create(&tid, NULL, tw_serve, &sv[1]) == 0);
	wire_put32(&b, WIRE_PACKET_MAX + 1);
	buf_putc(&b, SMFIC_BODY);
	REQUIRE(tw_send(sv[0], &b));
	CHECK(tw_reply(sv[0], d, sizeof(d), &n) == 0);
	pthread_join(tid, NULL);
	CHECK(tw.closes == 2);
	close(sv[0]);
	buf_free(&b);
}
