/*
 * null-milter.c - the cheapest libmilter milter there is, for measuring
 * what the milter protocol itself costs Postfix (tests/bench/milter-floor.sh).
 *
 * It negotiates what bayesd negotiates (no replies to connect, HELO, MAIL,
 * RCPT, headers and end of headers; DATA answered; SKIP for bodies) and adds the
 * headers a scored ham gets, but reads nothing and scores nothing.
 * Postfix with it against Postfix without any milter is the best ratio a
 * milter can reach on the machine; bayesd against it is bayesd's own cost.
 *
 * usage: null-milter inet:PORT@127.0.0.1
 */
#include <stdio.h>
#include <string.h>

#include <libmilter/mfapi.h>

#define NULL_NOREPLY	(SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | \
			 SMFIP_NR_HDR | SMFIP_NR_EOH)

static sfsistat null_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			       unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			       unsigned long *pf2, unsigned long *pf3)
{
	(void)ctx, (void)f2, (void)f3;
	*pf0 = f0 & SMFIF_ADDHDRS;
	*pf1 = f1 & (SMFIP_SKIP | SMFIP_NOUNKNOWN | NULL_NOREPLY);
	*pf2 = *pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat null_noreply(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_NOREPLY;
}

static sfsistat null_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	(void)host, (void)sa;
	return null_noreply(ctx);
}

static sfsistat null_arg(SMFICTX *ctx, char *s)
{
	(void)s;
	return null_noreply(ctx);
}

static sfsistat null_argv(SMFICTX *ctx, char **argv)
{
	(void)argv;
	return null_noreply(ctx);
}

/*
 * DATA is answered, as bayesd answers it: without a DATA callback libmilter
 * asks Postfix not to send DATA, and then the first header waits behind the
 * unanswered DATA macros for a delayed ACK (Nagle), about 40 ms a message.
 */
static sfsistat null_data(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat null_header(SMFICTX *ctx, char *name, char *value)
{
	(void)name, (void)value;
	return null_noreply(ctx);
}

static sfsistat null_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx, (void)chunk, (void)len;
	return SMFIS_SKIP;
}

static sfsistat null_eom(SMFICTX *ctx)
{
	/* the headers bayesd adds to a ham, in their form (milter/verdict.c) */
	smfi_addheader(ctx, (char *)"X-Spam-Status",
		       (char *)"No, score=0.0 required=5.0 tests=BAYES_00 autolearn=no version=bayesd-0");
	smfi_addheader(ctx, (char *)"X-Spam-Score", (char *)"0.0");
	smfi_addheader(ctx, (char *)"X-Spam-Bayesd", (char *)"p=0.00000 tokens=0 used=0 version=0");
	return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
	struct smfiDesc desc = {
		.xxfi_name = (char *)"null-milter",
		.xxfi_version = SMFI_VERSION,
		.xxfi_flags = SMFIF_ADDHDRS,
		.xxfi_connect = null_connect,
		.xxfi_helo = null_arg,
		.xxfi_envfrom = null_argv,
		.xxfi_envrcpt = null_argv,
		.xxfi_data = null_data,
		.xxfi_header = null_header,
		.xxfi_eoh = null_noreply,
		.xxfi_body = null_body,
		.xxfi_eom = null_eom,
		.xxfi_negotiate = null_negotiate,
	};

	if (argc != 2) {
		fprintf(stderr, "usage: null-milter inet:PORT@127.0.0.1\n");
		return 64;
	}
	if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS) {
		fprintf(stderr, "null-milter: cannot listen on %s\n", argv[1]);
		return 69;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
