/*
 * controller_endpoints.c - what the controller answers (controller.h):
 * POST /check, /learn_spam, /learn_ham, /forget and GET /stat, /health,
 * /metrics, with what they share: the pools of read-only engine handles,
 * the JSON and error responses, the request's user and flags, the
 * password check. controller.c routes a request here once its body is in.
 *
 * Rooms: may use classifier/ (bayes.h, util.h),
 * config/ and milter/ (writer, autolearn, metrics, verdict, the scan
 * history through controller_history.h).
 */
#include "controller_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "autolearn.h"
#include "http_reply.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "verdict.h"
#include "writer.h"

/*
 * Engine handles.
 */

/* ctl_pool_get - a read-only handle (explain: one that keeps text); NULL + err. */
static struct bayes *ctl_pool_get(struct controller *c, bool explain, char *err, size_t errlen,
				  enum bayes_errkind *kind_r)
{
	struct ctl_pool *p = &c->pool[explain];
	struct bayes_options opt;
	struct bayes *h = NULL;

	pthread_mutex_lock(&c->lock);
	if (p->n > 0)
		h = p->h[--p->n];
	opt = c->opt;
	pthread_mutex_unlock(&c->lock);
	if (h != NULL)
		return h;
	opt.keep_text = explain;
	return bayes_open(c->database, BAYES_OPEN_RDONLY, &opt, err, errlen, kind_r);
}

/* ctl_pool_put - give a handle back; broken ones (database error) are closed. */
static void ctl_pool_put(struct controller *c, bool explain, struct bayes *h, bool broken)
{
	struct ctl_pool *p = &c->pool[explain];

	if (!broken) {
		pthread_mutex_lock(&c->lock);
		if (p->n < CONTROLLER_POOL_HANDLES) {
			p->h[p->n++] = h;
			h = NULL;
		}
		pthread_mutex_unlock(&c->lock);
	}
	bayes_close(&h);
}

/* ctl_pool_flush - close every idle handle. */
void ctl_pool_flush(struct controller *c)
{
	for (size_t k = 0; k < ARRAY_SIZE(c->pool); k++)
		while (c->pool[k].n > 0)
			bayes_close(&c->pool[k].h[--c->pool[k].n]);
}

/*
 * Responses.
 */

/* ctl_reply - queue a response with body text[0..len) (copied). */
enum MHD_Result ctl_reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
			  const char *text, size_t len)
{
	return http_reply(conn, status, ctype, text, len, false);
}

/* ctl_reply_json - queue obj (reference stolen) as the JSON body. */
enum MHD_Result ctl_reply_json(struct MHD_Connection *conn, unsigned status, json_t *obj)
{
	enum MHD_Result ret;
	struct buf b;
	char *s;

	s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(obj);
	if (s == NULL)
		return MHD_NO;
	buf_init(&b);
	buf_printf(&b, "%s\n", s);
	free(s);
	ret = ctl_reply(conn, status, "application/json", b.data, b.len);
	buf_free(&b);
	return ret;
}

/* ctl_reply_error - {"error": msg} with status. */
enum MHD_Result ctl_reply_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	return ctl_reply_json(conn, status, json_pack("{s:s}", "error", msg));
}

/* ctl_errkind_status - the HTTP status for an engine error. */
static unsigned ctl_errkind_status(enum bayes_errkind kind)
{
	switch (kind) {
	case BAYES_ERR_INPUT:
		return MHD_HTTP_BAD_REQUEST;
	case BAYES_ERR_BUSY:
	case BAYES_ERR_DB:
	case BAYES_ERR_INCOMPATIBLE:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	case BAYES_ERR_NONE:
		break;
	}
	return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* ctl_errkind_name - metrics label of an engine error. */
static const char *ctl_errkind_name(enum bayes_errkind kind)
{
	switch (kind) {
	case BAYES_ERR_BUSY: return "busy";
	case BAYES_ERR_DB: return "db";
	case BAYES_ERR_INCOMPATIBLE: return "incompatible";
	case BAYES_ERR_INPUT: return "input";
	case BAYES_ERR_NONE: break;
	}
	return "internal";
}

/*
 * Request details.
 */

/*
 * ctl_user - the user of the request: "User:" header, else ?user=. False
 * with the reason in why (for the 400) when the name is not one
 * bayesd takes (user_name_problem: not UTF-8, a NUL - "?user=a%00b" is seen
 * whole, not cut at the NUL -, a control character, a space, too long).
 */
static bool ctl_user(struct MHD_Connection *conn, const char **user_r, char *why, size_t whylen)
{
	const char *u = NULL, *problem;
	size_t n = 0;

	*user_r = NULL;
	/* bayesc's User:, rspamd's Deliver-To: (rspamc -d), or ?user= */
	if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, "User", 4, &u, &n) != MHD_YES || n == 0)
		if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, "Deliver-To", 10, &u, &n) != MHD_YES ||
		    n == 0)
			if (MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, "user", 4, &u, &n) != MHD_YES)
				u = NULL;
	if (u == NULL || n == 0)
		return true;
	if ((problem = user_name_problem(u, n)) != NULL) {
		snprintf(why, whylen, "malformed user: the name %s", problem);
		return false;
	}
	*user_r = u;
	return true;
}

/* ctl_flag - a yes/no header or query argument ("1", "yes", "true"). */
static bool ctl_flag(struct MHD_Connection *conn, const char *header, const char *arg)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, header);

	if (v == NULL)
		v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, arg);
	if (v == NULL)
		return false;
	return strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0;
}

/* ctl_peer - who is asking, for logs: "uid=1000 pid=42" or "tcp". */
static void ctl_peer(struct ctl_listener *l, struct MHD_Connection *conn, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *ci;
	struct ucred cr;
	socklen_t len = sizeof(cr);

	snprintf(out, outlen, "%s", l->tcp ? "tcp" : "uid=?");
	if (l->tcp)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
		snprintf(out, outlen, "uid=%ld pid=%ld", (long)cr.uid, (long)cr.pid);
}

/* ctl_password_ok - constant-time comparison with the configured password. */
bool ctl_password_ok(struct controller *c, const char *given)
{
	const char *want;
	unsigned char diff = 0;
	size_t gl, wl, i;
	bool ok;

	pthread_mutex_lock(&c->lock);
	want = c->set.password;
	if (want == NULL || given == NULL) {
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	gl = strlen(given);
	wl = strlen(want);
	for (i = 0; i < gl; i++)
		diff |= (unsigned char)given[i] ^ (unsigned char)want[i < wl ? i : 0];
	ok = diff == 0 && gl == wl;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/* ctl_action - the milter's action for prob, as rspamd names them. */
static const char *ctl_action(const struct ctl_settings *s, double prob)
{
	if (s->reject_threshold <= 1.0 && prob >= s->reject_threshold)
		return "reject";
	if (prob >= s->spam_threshold)
		return "add header";
	return "no action";
}

/*
 * Endpoints. Each queues the response and returns what MHD_queue_response
 * returned.
 */

/*
 * ctl_autolearn - a check that asks for the autolearn rule with
 * "Autolearn: yes" (bayesd-smtpd-filter does). The asker knows what the
 * rule must know about the sender and says it: "Auth: LOGIN" for a SASL
 * login, "Trusted: yes" for a client in trusted_networks, "Truncated: yes"
 * for a message cut at scan_limit; "Queue-Id:" names the message in the
 * log. Over TCP it takes the password, as a learn does. The daemon's
 * current config decides, as for the milter. Adds "autolearn":
 * "spam"|"ham" to o when a learn was posted.
 */
static void ctl_autolearn(struct ctl_listener *l, struct MHD_Connection *conn, const struct ctl_req *req,
			  const char *user, double prob, size_t size, json_t *o)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Auth");
	struct bayesd_config *cfg;
	const char *cls;
	struct autolearn_msg al = {
		.tag = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Queue-Id"),
		.user = user, .data = req->body, .size = size, .prob = prob,
		.trusted = ctl_flag(conn, "Trusted", "trusted"),
		.authenticated = auth != NULL && *auth != '\0',
		.truncated = size < req->len || ctl_flag(conn, "Truncated", "truncated"),
	};

	if (l->tcp && !ctl_password_ok(l->c, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Password"))) {
		log_warning("controller: autolearn over TCP without the password; not learned");
		return;
	}
	cfg = config_current();
	cls = autolearn_offer(cfg, l->c->writer, &al);
	config_unref(&cfg);
	if (cls != NULL)
		json_object_set_new(o, "autolearn", json_string(cls));
}

/* ctl_do_check - POST /check: score with a read-only handle. */
enum MHD_Result ctl_do_check(struct ctl_listener *l, struct MHD_Connection *conn,
			     struct ctl_req *req, const struct ctl_settings *s)
{
	struct controller *c = l->c;
	struct bayes_msg_meta meta;
	struct bayes_result r;
	enum bayes_errkind kind = BAYES_ERR_NONE;
	const char *user;
	char err[256], why[96];
	struct bayes *h;
	bool explain, mature;
	size_t size;
	json_t *o, *feats;

	if (!ctl_user(conn, &user, why, sizeof(why)))
		return ctl_reply_error(conn, MHD_HTTP_BAD_REQUEST, why);
	if (req->len == 0)
		return ctl_reply_error(conn, MHD_HTTP_BAD_REQUEST, "empty message");
	explain = ctl_flag(conn, "Explain", "explain");
	meta.client_ip = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "IP");
	meta.helo = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Helo");
	size = req->len;
	if (s->scan_limit > 0 && size > s->scan_limit)
		size = s->scan_limit;	/* what the milter would have read */

	err[0] = '\0';
	/* as the milter: after a database error a fresh handle gets one try */
	for (int attempt = 0;; attempt++) {
		if ((h = ctl_pool_get(c, explain, err, sizeof(err), &kind)) == NULL) {
			metrics_error(ctl_errkind_name(kind ? kind : BAYES_ERR_DB));
			log_warning("controller: check: %s", err);
			return ctl_reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, err);
		}
		if (bayes_check(h, user, req->body, size, &meta, &r) == 0)
			break;
		kind = bayes_errkind(h);
		snprintf(err, sizeof(err), "%s", bayes_errmsg(h));
		ctl_pool_put(c, explain, h, kind == BAYES_ERR_DB || kind == BAYES_ERR_INCOMPATIBLE);
		if (attempt == 0 && kind == BAYES_ERR_DB)
			continue;
		metrics_error(ctl_errkind_name(kind));
		log_warning("controller: check%s%s: %s", user ? " user=" : "", user ? user : "", err);
		return ctl_reply_error(conn, ctl_errkind_status(kind), err);
	}

	/*
	 * "score" is what the milter's X-Spam-Status says: the probability.
	 * Below min_learns the probability is still the engine's, but there is
	 * no verdict: "verdict": "unknown", "action": "no action", and
	 * "mature": false with the counts say why, as the milter does.
	 */
	mature = r.learned_spam >= s->min_learns && r.learned_ham >= s->min_learns;
	o = json_pack("{s:f,s:s,s:s,s:b,s:f,s:f,s:I,s:I}",
		      "probability", r.prob,
		      "verdict", !mature ? "unknown" : r.prob >= s->spam_threshold ? "spam" : "ham",
		      "action", mature ? ctl_action(s, r.prob) : "no action",
		      "spam", (int)(mature && r.prob >= s->spam_threshold),
		      "score", r.prob,
		      "required", s->spam_threshold,
		      "tokens", (json_int_t)r.nfeatures,
		      "used", (json_int_t)r.nused);
	if (strcmp(req->route->path, "/checkv2") == 0) {
		/*
		 * rspamd's shape (rspamc, Rspamd's milter clients): "score" and
		 * "required_score" in points (verdict_points: 5.0 at
		 * spam_threshold), "is_skipped", "symbols"; the probability stays
		 * under "probability".
		 */
		struct bayesd_config pc;
		double pts;

		memset(&pc, 0, sizeof(pc));
		pc.spam_threshold = s->spam_threshold;
		pts = verdict_points(&pc, r.prob);
		json_object_set_new(o, "score", json_real(pts));
		json_object_set_new(o, "required_score", json_real(VERDICT_POINTS_REQUIRED));
		json_object_set_new(o, "is_skipped", json_false());
		json_object_set_new(o, "symbols", json_pack("{s:{s:s,s:f,s:[s]}}",
			r.prob >= 0.5 ? "BAYES_SPAM" : "BAYES_HAM", "name",
			r.prob >= 0.5 ? "BAYES_SPAM" : "BAYES_HAM", "score", pts,
			"options", mature ? "mature" : "not enough training"));
	}
	json_object_set_new(o, "mature", json_boolean(mature));
	json_object_set_new(o, "learned_spam", json_integer((json_int_t)r.learned_spam));
	json_object_set_new(o, "learned_ham", json_integer((json_int_t)r.learned_ham));
	json_object_set_new(o, "min_learns", json_integer((json_int_t)s->min_learns));
	if (!mature)
		json_object_set_new(o, "reason", json_string("not enough training"));
	if (user)
		json_object_set_new(o, "user", json_string(user));
	if (explain) {
		feats = json_array();
		for (size_t i = 0; i < r.ntop; i++) {
			const struct bayes_feature *f = &r.top[i];
			char hex[20];
			json_t *txt;

			if (f->text != NULL && (txt = json_string(f->text)) != NULL) {
				/* valid UTF-8 */
			} else {
				snprintf(hex, sizeof(hex), "#%016llx", (unsigned long long)f->hash);
				txt = json_string(hex);
			}
			json_array_append_new(feats, json_pack("{s:o,s:f,s:I,s:I}", "text", txt,
							       "prob", f->prob,
							       "spam", (json_int_t)f->spam,
							       "ham", (json_int_t)f->ham));
		}
		json_object_set_new(o, "features", feats);
	}
	ctl_pool_put(c, explain, h, false);	/* feature texts are copied into o by now */
	if (mature && ctl_flag(conn, "Autolearn", "autolearn"))
		ctl_autolearn(l, conn, req, user, r.prob, size, o);
	log_debug("controller: check%s%s: probability=%.5f (%.1f ms)", user ? " user=" : "",
		  user ? user : "", r.prob, ctl_elapsed_ms(&req->start));
	return ctl_reply_json(conn, MHD_HTTP_OK, o);
}

/* ctl_do_learn - POST /learn_spam, /learn_ham, /forget: through the writer. */
enum MHD_Result ctl_do_learn(struct ctl_listener *l, struct MHD_Connection *conn,
			     struct ctl_req *req)
{
	struct writer_job job;
	const char *user;
	char peer[64], why[96];
	json_t *o;

	const char *digest = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "digest");
	if (digest) {	/* a message known only from the scan history */
		ctl_peer(l, conn, peer, sizeof(peer));
		return chist_learn(conn, l->c->writer, req->route->ep == CTL_LEARN_SPAM ? WRITER_LEARN_SPAM :
				   req->route->ep == CTL_LEARN_HAM ? WRITER_LEARN_HAM : WRITER_FORGET,
				   digest, peer);
	}
	if (!ctl_user(conn, &user, why, sizeof(why)))
		return ctl_reply_error(conn, MHD_HTTP_BAD_REQUEST, why);
	if (req->len == 0)
		return ctl_reply_error(conn, MHD_HTTP_BAD_REQUEST, "empty message");

	memset(&job, 0, sizeof(job));
	job.op = req->route->ep == CTL_LEARN_SPAM ? WRITER_LEARN_SPAM :
		req->route->ep == CTL_LEARN_HAM ? WRITER_LEARN_HAM : WRITER_FORGET;
	job.user = user;
	job.data = req->body;
	job.size = req->len;
	ctl_peer(l, conn, peer, sizeof(peer));

	if (writer_submit(l->c->writer, &job) < 0 || job.rc != 0) {
		metrics_learned(METRICS_LEARN_ERROR);
		metrics_error(ctl_errkind_name(job.kind));
		log_warning("controller: %s%s%s %s: %s", req->route->path + 1, user ? " user=" : "",
			    user ? user : "", peer, job.err);
		return ctl_reply_error(conn, ctl_errkind_status(job.kind), job.err);
	}
	metrics_learned((int)job.outcome);
	log_info("controller: %s%s%s %s: %s (%.1f ms)", req->route->path + 1,
		 user ? " user=" : "", user ? user : "", peer, bayes_outcome_name(job.outcome),
		 ctl_elapsed_ms(&req->start));

	if (job.op == WRITER_FORGET)
		o = json_pack("{s:s,s:b}", "result", bayes_outcome_name(job.outcome),
			      "forgotten", (int)(job.outcome == BAYES_FORGOTTEN));
	else
		o = json_pack("{s:s,s:b}", "result", bayes_outcome_name(job.outcome),
			      "learned", (int)(job.outcome == BAYES_LEARNED ||
					       job.outcome == BAYES_RELEARNED));
	if (user)
		json_object_set_new(o, "user", json_string(user));
	return ctl_reply_json(conn, MHD_HTTP_OK, o);
}

/* ctl_per_user - every user's own figures as a JSON array, or NULL with the reason in err. */
static json_t *ctl_per_user(struct bayes *h, char *err, size_t errlen, enum bayes_errkind *kind_r)
{
	struct bayes_user_stats *u;
	size_t n;
	json_t *arr;

	if (bayes_users(h, &u, &n) < 0) {
		*kind_r = bayes_errkind(h);
		snprintf(err, errlen, "%s", bayes_errmsg(h));
		return NULL;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		/* a name from before names were checked (or from a recipient) that
		 * JSON cannot hold is listed escaped, not dropped from the list */
		json_t *name = u[i].name ? json_string(u[i].name) : json_null();
		char esc[4 * USER_NAME_MAX + 1];

		if (name == NULL)
			name = json_string(escape_for_log(esc, sizeof(esc), u[i].name));
		json_array_append_new(arr, json_pack("{s:o,s:I,s:I,s:I,s:I}", "user", name,
						     "learned_spam", (json_int_t)u[i].learned_spam,
						     "learned_ham", (json_int_t)u[i].learned_ham,
						     "tokens", (json_int_t)u[i].tokens,
						     "remembered", (json_int_t)u[i].remembered));
	}
	bayes_users_free(&u, n);
	return arr;
}

/*
 * ctl_do_stat - GET /stat, and GET /health (health: a usable database).
 * Both say whether the statistics are mature (min_learns of each class).
 * Over TCP without the password, /stat leaves out the per-user list (the
 * users' addresses) and says so with "per_user_hidden": true.
 */
enum MHD_Result ctl_do_stat(struct ctl_listener *l, struct MHD_Connection *conn, bool health,
			    const struct ctl_settings *s)
{
	struct controller *c = l->c;
	enum bayes_errkind kind = BAYES_ERR_NONE;
	struct bayes_stats st;
	const char *user = NULL;
	char err[256], why[96];
	struct bayes *h;
	bool mature;
	json_t *o;

	if (!health && !ctl_user(conn, &user, why, sizeof(why)))
		return ctl_reply_error(conn, MHD_HTTP_BAD_REQUEST, why);
	err[0] = '\0';
	if ((h = ctl_pool_get(c, false, err, sizeof(err), &kind)) == NULL)
		goto fail;
	if (bayes_stats(h, user, &st) < 0) {
		kind = bayes_errkind(h);
		snprintf(err, sizeof(err), "%s", bayes_errmsg(h));
		ctl_pool_put(c, false, h, kind != BAYES_ERR_BUSY);
		goto fail;
	}
	mature = st.learned_spam >= s->min_learns && st.learned_ham >= s->min_learns;
	if (health) {
		ctl_pool_put(c, false, h, false);
		o = json_pack("{s:s,s:b,s:I}", "status", "ok", "mature", (int)mature,
			      "min_learns", (json_int_t)s->min_learns);
		if (!mature)
			json_object_set_new(o, "reason", json_string("not enough training"));
		return ctl_reply_json(conn, MHD_HTTP_OK, o);
	}
	o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:s?}",
		      "learned_spam", (json_int_t)st.learned_spam,
		      "learned_ham", (json_int_t)st.learned_ham,
		      "tokens", (json_int_t)st.tokens,
		      "remembered", (json_int_t)st.remembered,
		      "users", (json_int_t)st.users,
		      "db_bytes", (json_int_t)st.db_bytes,
		      "schema_version", st.schema_version,
		      "tok_params", st.tok_params);
	json_object_set_new(o, "last_expire", json_integer((json_int_t)st.last_expire));
	/* the message counts again under plain names, for scripts that grep for them */
	json_object_set_new(o, "spam_messages", json_integer((json_int_t)st.learned_spam));
	json_object_set_new(o, "ham_messages", json_integer((json_int_t)st.learned_ham));
	json_object_set_new(o, "min_learns", json_integer((json_int_t)s->min_learns));
	json_object_set_new(o, "mature", json_boolean(mature));
	if (!mature)
		json_object_set_new(o, "reason", json_string("not enough training"));
	if (user) {
		json_object_set_new(o, "user", json_string(user));
	} else if (l->tcp && !ctl_password_ok(c, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
									       "Password"))) {
		/* the users' addresses are not for anyone who can reach the port */
		json_object_set_new(o, "per_user_hidden", json_true());
	} else {
		/* last, after every global figure: readers that take the first spam count get the global one */
		json_t *arr = ctl_per_user(h, err, sizeof(err), &kind);
		if (arr == NULL) {
			json_decref(o);
			ctl_pool_put(c, false, h, kind != BAYES_ERR_BUSY);
			goto fail;
		}
		json_object_set_new(o, "per_user", arr);
	}
	ctl_pool_put(c, false, h, false);
	return ctl_reply_json(conn, MHD_HTTP_OK, o);

fail:
	metrics_error(ctl_errkind_name(kind ? kind : BAYES_ERR_DB));
	log_warning("controller: %s: %s", health ? "health" : "stat", err);
	if (health)
		return ctl_reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				      json_pack("{s:s,s:s}", "status", "error", "error", err));
	return ctl_reply_error(conn, ctl_errkind_status(kind ? kind : BAYES_ERR_DB), err);
}

/* ctl_do_metrics - GET /metrics. */
enum MHD_Result ctl_do_metrics(struct controller *c, struct MHD_Connection *conn)
{
	enum MHD_Result ret;
	enum bayes_errkind kind = BAYES_ERR_NONE;
	struct bayes_stats st;
	struct bayes *h;
	char err[256];
	struct buf b;

	buf_init(&b);
	metrics_render(&b);
	/*
	 * Gauges of the statistics, read now (one bayes_stats on a pooled
	 * handle); left out, not zero, when the database cannot be read, so a
	 * dashboard shows a gap rather than an emptied database.
	 */
	if ((h = ctl_pool_get(c, false, err, sizeof(err), &kind)) != NULL) {
		if (bayes_stats(h, NULL, &st) == 0) {
			buf_printf(&b, "# HELP bayesd_learned_messages Messages learned, by class (global statistics).\n"
				   "# TYPE bayesd_learned_messages gauge\n"
				   "bayesd_learned_messages{class=\"spam\"} %llu\n"
				   "bayesd_learned_messages{class=\"ham\"} %llu\n",
				   (unsigned long long)st.learned_spam, (unsigned long long)st.learned_ham);
			buf_printf(&b, "# HELP bayesd_tokens Token rows in the statistics.\n"
				   "# TYPE bayesd_tokens gauge\nbayesd_tokens %llu\n",
				   (unsigned long long)st.tokens);
			buf_printf(&b, "# HELP bayesd_database_bytes Size of the statistics database.\n"
				   "# TYPE bayesd_database_bytes gauge\nbayesd_database_bytes %lld\n",
				   (long long)st.db_bytes);
			buf_printf(&b, "# HELP bayesd_last_expire_timestamp_seconds Unix time of the last expiry (0 = never).\n"
				   "# TYPE bayesd_last_expire_timestamp_seconds gauge\n"
				   "bayesd_last_expire_timestamp_seconds %lld\n", (long long)st.last_expire);
			ctl_pool_put(c, false, h, false);
		} else {
			ctl_pool_put(c, false, h, bayes_errkind(h) != BAYES_ERR_BUSY);
		}
	}
	buf_printf(&b, "# HELP bayesd_build_info bayesd's version.\n# TYPE bayesd_build_info gauge\n"
		   "bayesd_build_info{version=\"%s\"} 1\n", BAYESD_VERSION);
	ret = ctl_reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", b.data, b.len);
	buf_free(&b);
	return ret;
}

