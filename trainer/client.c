/*
 * client.c - bayesc's client mode: run a verb through bayesd's controller.
 *
 * Each message named on the command line (or read from stdin) is sent as
 * the body of one HTTP/1.1 request - POST /check, /learn_spam, /learn_ham
 * or /forget - over the controller's UNIX socket (-s, else $BAYESC_SOCKET,
 * else the daemon's default) or its TCP port (-H HOST:PORT, with -P
 * PASSWORD for learns). "stat" is one GET /stat. The controller client
 * (config/ctl_client.h) speaks HTTP over one kept-alive connection, so a
 * maildir goes over one connection.
 *
 * Output follows rspamc: "Results for file: PATH" with probability, action
 * and verdict for check, "PATH: learned" for learns; --json prints the
 * controller's object for each message, with "file" put first, one per
 * line (offline mode prints the same keys: report.h).
 *
 * Exit status (bayesc.h): 0; 1 when check found spam; 69 when the daemon
 * is down or refused (wrong password); 75 when it was busy; 65 for input
 * it rejected or could not read. A daemon that cannot be reached stops the
 * run at the first message; other errors are reported per message and the
 * run goes on, exiting with the first error's status.
 */
#include "bayesc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_client.h"
#include "report.h"
#include "util.h"

#ifndef BAYESD_RUNDIR
#define BAYESD_RUNDIR "/run/bayesd"
#endif
#define CLIENT_DEFAULT_SOCKET	BAYESD_RUNDIR "/controller.sock"
#define CLIENT_DEFAULT_TIMEOUT	60		/* seconds per request */
#define CLIENT_MAX_RESPONSE	(8 * 1024 * 1024)	/* bytes of answer kept */
/* when bayesd does not say its limits (before GET /limits): its largest settings */
#define CLIENT_FALLBACK_SCAN	(64ull * 1024 * 1024)	/* scan_limit's upper bound */
#define CLIENT_FALLBACK_REQUEST	(1024ull * 1024 * 1024)	/* max_request_bytes' upper bound */

struct client {
	const struct bayesc_opts *o;
	struct ctl_client *ctl;
	const char *target;		/* socket path or host:port, for messages */
	struct ctl_reply rep;		/* the last answer (body "" after a failure) */
	bool explain;
	bool down;			/* cannot reach the daemon: stop */
	bool any_spam;
	int status;			/* first error's exit status, or 0 */
	unsigned nmsgs;
	struct report_tally tally;	/* learns and forgets, for the summary */
};

/* client_fail - remember the first error's exit status. */
static void client_fail(struct client *cl, int status)
{
	if (cl->status == 0)
		cl->status = status;
}

/* client_display - how a message is named in output ("stdin" for "-"). */
static const char *client_display(const char *name)
{
	return strcmp(name, "-") == 0 ? "stdin" : name;
}

/*
 * client_request - one request: method GET when data is NULL, else POST
 * with data[0..size). Returns the HTTP status with the body in cl->rep,
 * or -1 after printing why the exchange failed (cl->down is set when the
 * daemon cannot be reached).
 */
static long client_request(struct client *cl, const char *path, const unsigned char *data, size_t size)
{
	struct buf url;
	enum ctl_result rc;
	int oserr;

	buf_init(&url);
	buf_printf(&url, "%s", path);
	if (cl->explain && data != NULL)
		buf_printf(&url, "?explain=1");
	rc = ctl_client_request(cl->ctl, url.data, NULL, data, size, &cl->rep);
	buf_free(&url);
	if (rc == CTL_OK)
		return cl->rep.status;
	cl->rep = (struct ctl_reply){ .status = -1, .body = "", .len = 0 };

	switch (rc) {
	case CTL_CONNECT:
		oserr = ctl_client_os_errno(cl->ctl);
		fprintf(stderr, "bayesc: cannot connect to %s: %s (is bayesd running?)\n", cl->target,
			oserr ? strerror(oserr) : ctl_client_error(cl->ctl));
		cl->down = true;
		client_fail(cl, BAYESC_EXIT_UNAVAIL);
		return -1;
	case CTL_TIMEOUT:
		fprintf(stderr, "bayesc: %s: no answer within %d s\n", cl->target,
			cl->o->timeout_s > 0 ? cl->o->timeout_s : CLIENT_DEFAULT_TIMEOUT);
		client_fail(cl, BAYESC_EXIT_TEMPFAIL);
		return -1;
	default:
		fprintf(stderr, "bayesc: %s: %s\n", cl->target, ctl_client_error(cl->ctl));
		if (rc == CTL_DROPPED)
			cl->down = true;	/* connection dropped: do not hammer on */
		client_fail(cl, BAYESC_EXIT_UNAVAIL);
		return -1;
	}
}

/* client_per_message - whether the verb answers per message (check, learns, forget). */
static bool client_per_message(const struct bayesc_opts *o)
{
	return o->verb == VERB_CHECK || o->verb == VERB_LEARN_SPAM || o->verb == VERB_LEARN_HAM ||
		o->verb == VERB_FORGET;
}

/* client_parse - the answer as a JSON object, or NULL (printed) if it is not one. */
static json_t *client_parse(struct client *cl, const char *name)
{
	json_error_t jerr;
	json_t *o = json_loadb(cl->rep.body, cl->rep.len, 0, &jerr);

	if (o == NULL || !json_is_object(o)) {
		fprintf(stderr, "bayesc: %s: unexpected answer from %s: %s\n", client_display(name),
			cl->target, o ? "not an object" : jerr.text);
		if (client_per_message(cl->o))
			report_error_json(cl->o, client_display(name), "unexpected answer from bayesd");
		json_decref(o);
		client_fail(cl, BAYESC_EXIT_SOFTWARE);
		return NULL;
	}
	return o;
}

/* client_refused - print a non-200 answer and set the exit status for it. */
static void client_refused(struct client *cl, const char *name, long code)
{
	json_t *o = json_loadb(cl->rep.body, cl->rep.len, 0, NULL);
	const char *why = o ? json_string_value(json_object_get(o, "error")) : NULL;

	fprintf(stderr, "bayesc: %s: refused by %s (HTTP %ld): %s\n", client_display(name), cl->target,
		code, why ? why : "no reason given");
	if (client_per_message(cl->o))	/* as offline mode reports a message it could not do */
		report_error_json(cl->o, client_display(name), why ? why : "refused");
	json_decref(o);
	switch (code) {
	case 400:
	case 413:
		client_fail(cl, BAYESC_EXIT_DATAERR);
		break;
	case 503:
		client_fail(cl, BAYESC_EXIT_TEMPFAIL);
		break;
	case 401:
	case 403:
	case 404:
		client_fail(cl, BAYESC_EXIT_UNAVAIL);
		break;
	default:
		client_fail(cl, BAYESC_EXIT_SOFTWARE);
		break;
	}
}

/* client_print_json - one object per line, with the file name first (report_with_file). */
static void client_print_json(json_t *o, const char *name)
{
	json_incref(o);		/* the caller still releases its reference */
	report_json(name != NULL ? report_with_file(client_display(name), o) : o);
}

/*
 * client_show_check - a check result in the same text as offline mode
 * (report_check), the controller's JSON turned into an engine result.
 */
static void client_show_check(const struct bayesc_opts *o, json_t *res, const char *name)
{
	json_t *feats = json_object_get(res, "features"), *f;
	struct bayes_feature top[BAYES_MAX_TOP];
	size_t i, ntop = 0;
	struct bayesc_opts show = *o;

	json_array_foreach(feats, i, f) {
		if (ntop == BAYES_MAX_TOP)
			break;
		top[ntop].text = json_string_value(json_object_get(f, "text"));
		top[ntop].hash = 0;
		top[ntop].prob = json_number_value(json_object_get(f, "prob"));
		top[ntop].spam = (uint32_t)json_integer_value(json_object_get(f, "spam"));
		top[ntop].ham = (uint32_t)json_integer_value(json_object_get(f, "ham"));
		ntop++;
	}
	show.explain = ntop > 0;	/* symbols: the controller sent features */
	const char *action = json_string_value(json_object_get(res, "action"));
	report_check(&show, client_display(name), json_number_value(json_object_get(res, "probability")),
		     json_is_true(json_object_get(res, "spam")), action ? action : "?", top, ntop);
	/* below the daemon's min_learns: no verdict, and why */
	if (!o->quiet && !o->json && json_is_false(json_object_get(res, "mature")))
		printf("Reason: not enough training (spam=%lld ham=%lld, min_learns=%lld)\n",
		       (long long)json_integer_value(json_object_get(res, "learned_spam")),
		       (long long)json_integer_value(json_object_get(res, "learned_ham")),
		       (long long)json_integer_value(json_object_get(res, "min_learns")));
}

/* client_message - inputs_each() callback: send one message, print the result. */
static bool client_message(void *ctx, const char *name, const unsigned char *data, size_t size)
{
	struct client *cl = ctx;
	const char *path;
	long code;
	json_t *o;

	cl->nmsgs++;
	switch (cl->o->verb) {
	case VERB_CHECK: path = "/check"; break;
	case VERB_LEARN_SPAM: path = "/learn_spam"; break;
	case VERB_LEARN_HAM: path = "/learn_ham"; break;
	case VERB_FORGET: path = "/forget"; break;
	default: return false;
	}
	if ((code = client_request(cl, path, data, size)) < 0) {
		cl->tally.failed++;
		return !cl->down;
	}
	if (code != 200) {
		client_refused(cl, name, code);
		cl->tally.failed++;
		return true;
	}
	if ((o = client_parse(cl, name)) == NULL) {
		cl->tally.failed++;
		return true;
	}

	if (cl->o->verb == VERB_CHECK && json_is_true(json_object_get(o, "spam")))
		cl->any_spam = true;
	if (cl->o->verb != VERB_CHECK)
		report_tally_add(&cl->tally, json_string_value(json_object_get(o, "result")));
	if (cl->o->quiet || cl->o->summary_only) {
		/* exit status only */
	} else if (cl->o->json) {
		client_print_json(o, name);
	} else if (cl->o->verb == VERB_CHECK) {
		client_show_check(cl->o, o, name);
	} else {
		const char *r = json_string_value(json_object_get(o, "result"));

		printf("%s: %s\n", client_display(name), r ? r : "?");
	}
	fflush(stdout);
	json_decref(o);
	return true;
}

/* client_show_users - the controller's "per_user" array as offline mode's table. */
static void client_show_users(json_t *arr)
{
	size_t n = json_array_size(arr), i;
	struct bayes_user_stats *u = n ? xcalloc(n, sizeof(*u)) : NULL;
	json_t *e;

	json_array_foreach(arr, i, e) {
		const char *name = json_string_value(json_object_get(e, "user"));
		u[i].name = (char *)(name ? name : "?");
		u[i].learned_spam = (uint64_t)json_integer_value(json_object_get(e, "learned_spam"));
		u[i].learned_ham = (uint64_t)json_integer_value(json_object_get(e, "learned_ham"));
		u[i].tokens = (uint64_t)json_integer_value(json_object_get(e, "tokens"));
		u[i].remembered = (uint64_t)json_integer_value(json_object_get(e, "remembered"));
	}
	report_users(u, n);
	free(u);	/* the names belong to arr */
}

/* client_stat - GET /stat and print it (the same layout as offline mode). */
static void client_stat(struct client *cl)
{
	struct bayes_stats st = { 0 };
	long code;
	json_t *o;

	if ((code = client_request(cl, "/stat", NULL, 0)) < 0)
		return;
	if (code != 200) {
		client_refused(cl, "stat", code);
		return;
	}
	if ((o = client_parse(cl, "stat")) == NULL)
		return;
	if (cl->o->json) {
		client_print_json(o, NULL);
	} else if (!cl->o->quiet) {
		st.learned_spam = (uint64_t)json_integer_value(json_object_get(o, "learned_spam"));
		st.learned_ham = (uint64_t)json_integer_value(json_object_get(o, "learned_ham"));
		st.tokens = (uint64_t)json_integer_value(json_object_get(o, "tokens"));
		st.remembered = (uint64_t)json_integer_value(json_object_get(o, "remembered"));
		st.users = (uint64_t)json_integer_value(json_object_get(o, "users"));
		st.db_bytes = (int64_t)json_integer_value(json_object_get(o, "db_bytes"));
		st.schema_version = (int)json_integer_value(json_object_get(o, "schema_version"));
		st.last_expire = (int64_t)json_integer_value(json_object_get(o, "last_expire"));
		st.tok_params = json_string_value(json_object_get(o, "tok_params"));
		report_stats(json_string_value(json_object_get(o, "user")), &st);
		if (json_is_false(json_object_get(o, "mature")))
			printf("Not enough training: bayesd gives no verdict until %lld spam and %lld ham "
			       "are learned (min_learns)\n",
			       (long long)json_integer_value(json_object_get(o, "min_learns")),
			       (long long)json_integer_value(json_object_get(o, "min_learns")));
		if (json_is_true(json_object_get(o, "per_user_hidden")))
			printf("Per-user statistics: not shown over TCP without the password\n");
		if (json_object_get(o, "user") == NULL)
			client_show_users(json_object_get(o, "per_user"));
	}
	json_decref(o);
}

/* client_history - GET /history and print its rows, newest first. */
static void client_history(struct client *cl)
{
	char path[128];
	size_t i;
	long code;
	json_t *o, *r;

	snprintf(path, sizeof(path), "/history?limit=%u%s%s", cl->o->history_n ? cl->o->history_n : 20,
		 cl->o->history_action ? "&action=" : "", cl->o->history_action ? cl->o->history_action : "");
	if ((code = client_request(cl, path, NULL, 0)) < 0)
		return;
	if (code != 200) {
		client_refused(cl, "history", code);
		return;
	}
	if ((o = client_parse(cl, "history")) == NULL)
		return;
	if (cl->o->json) {
		client_print_json(o, NULL);
	} else if (!cl->o->quiet) {
		printf("%-6s %-19s %-12s %-8s %-10s %-30s %s\n", "id", "time (UTC)", "queue id", "score",
		       "action", "sender", "subject");
		json_array_foreach(json_object_get(o, "rows"), i, r) {
			char when[32] = "?", esc[4][256];
			time_t t = (time_t)json_real_value(json_object_get(r, "time"));
			struct tm tm;
			const char *f[4] = { "qid", "action", "sender", "subject" };

			if (gmtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			for (int k = 0; k < 4; k++) {	/* a terminal gets no control bytes from a message */
				const char *v = json_string_value(json_object_get(r, f[k]));
				escape_for_log(esc[k], sizeof(esc[k]), v ? v : "-");
			}
			printf("%-6lld %-19s %-12s %-8.5f %-10s %-30s %s\n",
			       (long long)json_integer_value(json_object_get(r, "id")), when, esc[0],
			       json_real_value(json_object_get(r, "prob")), esc[1], esc[2], esc[3]);
		}
	}
	json_decref(o);
}

/*
 * client_limit - the most of one message worth sending: for a check what
 * bayesd scans (scan_limit), for a learn or forget the largest request it
 * takes (max_request_bytes), from GET /limits; bayesd's largest settings
 * when it does not answer that. False when bayesd cannot be reached
 * (said already).
 */
static bool client_limit(struct client *cl, uint64_t *limit_r)
{
	bool check = cl->o->verb == VERB_CHECK;
	long code = client_request(cl, "/limits", NULL, 0);
	json_t *o, *v;

	*limit_r = check ? CLIENT_FALLBACK_SCAN : CLIENT_FALLBACK_REQUEST;
	if (code < 0)
		return !cl->down;
	if (code == 200 && (o = json_loadb(cl->rep.body, cl->rep.len, 0, NULL)) != NULL) {
		v = json_object_get(o, check ? "scan_limit" : "max_request_bytes");
		if (json_is_integer(v) && json_integer_value(v) > 0)
			*limit_r = (uint64_t)json_integer_value(v);
		json_decref(o);
	}
	return true;
}

/* client_setup - the controller client, the target and the fixed headers; false on error. */
static bool client_setup(struct client *cl)
{
	const struct bayesc_opts *o = cl->o;
	long timeout = o->timeout_s > 0 ? o->timeout_s : CLIENT_DEFAULT_TIMEOUT;
	struct ctl_params p = {
		.user_agent = "bayesc",
		.timeout_ms = timeout * 1000,
		.connect_timeout_ms = (timeout < 10 ? timeout : 10L) * 1000,
		.max_response = CLIENT_MAX_RESPONSE,
	};

	if (o->host != NULL && *o->host != '\0') {
		p.host = o->host;
	} else {
		p.socket = o->socket;
		if (p.socket == NULL || *p.socket == '\0')
			p.socket = getenv("BAYESC_SOCKET");
		if (p.socket == NULL || *p.socket == '\0')
			p.socket = CLIENT_DEFAULT_SOCKET;
	}
	if ((cl->ctl = ctl_client_new(&p)) == NULL) {
		fprintf(stderr, "bayesc: cannot initialise libcurl\n");
		return false;
	}
	cl->target = ctl_client_target(cl->ctl);

	if (o->user != NULL && *o->user != '\0') {
		for (const char *q = o->user; *q; q++)
			if ((unsigned char)*q <= ' ' || *q == 0x7f) {
				fprintf(stderr, "bayesc: -u %s: user names cannot hold spaces or control characters\n",
					o->user);
				return false;
			}
		ctl_client_header(cl->ctl, "User", o->user);
	}
	if (o->password != NULL && *o->password != '\0' &&
	    !ctl_client_header(cl->ctl, "Password", o->password)) {
		fprintf(stderr, "bayesc: -P: the password cannot hold line breaks\n");
		return false;
	}
	/* the connection's meta, as rspamd reads them (checked in bayesc.c) */
	if (o->meta.client_ip != NULL)
		ctl_client_header(cl->ctl, "IP", o->meta.client_ip);
	if (o->meta.helo != NULL)
		ctl_client_header(cl->ctl, "Helo", o->meta.helo);
	ctl_client_header(cl->ctl, "Content-Type", "message/rfc822");
	return true;
}

/* client_main - run o->verb through the controller; the process exit status. */
int client_main(const struct bayesc_opts *o)
{
	struct client cl;
	unsigned errors = 0;
	uint64_t limit;
	size_t n;
	int ret;

	memset(&cl, 0, sizeof(cl));
	cl.o = o;
	cl.explain = report_features_wanted(o);
	cl.rep.body = "";

	if (o->verb == VERB_EVAL) {
		fprintf(stderr, "bayesc: eval works on a database file: use --db PATH\n");
		return BAYESC_EXIT_USAGE;
	}
	if (!ctl_global_init()) {
		fprintf(stderr, "bayesc: cannot initialise libcurl\n");
		return BAYESC_EXIT_SOFTWARE;
	}
	if (!client_setup(&cl)) {
		ret = BAYESC_EXIT_USAGE;
		goto out;
	}

	if (o->verb == VERB_STAT) {
		client_stat(&cl);
	} else if (o->verb == VERB_HISTORY) {
		client_history(&cl);
	} else if (client_limit(&cl, &limit)) {
		/* a check sends what bayesd scans, a learn no more than it takes:
		 * bayesc's memory is bounded by those, not by the file */
		unsigned flags = inputs_flags(o) | (o->verb == VERB_CHECK ? INPUTS_CUT : 0);

		n = inputs_each_max(o->args, o->nargs, flags, limit, client_message, &cl, &errors);
		if (o->verb != VERB_CHECK && !cl.down)
			report_run_summary(o, n, &cl.tally);
		if (errors > 0)
			client_fail(&cl, BAYESC_EXIT_DATAERR);
		if (n == 0 && errors == 0 && !cl.down) {
			fprintf(stderr, "bayesc: no messages found\n");
			client_fail(&cl, BAYESC_EXIT_DATAERR);
		}
	}
	if (cl.status != 0)
		ret = cl.status;
	else
		ret = (o->verb == VERB_CHECK && o->exit_code && cl.any_spam) ? BAYESC_EXIT_SPAM : BAYESC_EXIT_OK;

out:
	ctl_client_free(cl.ctl);
	ctl_global_cleanup();
	return ret;
}
