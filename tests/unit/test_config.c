/*
 * test_config.c - bayesd's config parser (config/config.c): defaults,
 * every type of value, the errors that name file and line, trusted
 * network matching, and config_print() reading back as the same config.
 *
 * The unit test binary links config/libconfig.a and milter/libbayesd.a
 * (milter/addresses.c: trusted networks, exemptions, recipient users);
 * the key table is reached through config_internal.h.
 */
#include "addresses.h"
#include "bayes.h"
#include "config.h"
#include "config_internal.h"
#include "harness.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* write_conf - text into a fresh file under the test directory */
static const char *write_conf(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", test_tmpdir(), name);
	f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

/* load_text - config_load of text; err gets the error */
static struct bayesd_config *load_text(const char *text, char *err, size_t errlen)
{
	const char *path = write_conf("t.conf", text);

	err[0] = '\0';
	return path ? config_load(path, err, errlen) : NULL;
}

TEST(config_defaults)
{
	char err[256];
	struct bayesd_config *c = config_load(NULL, err, sizeof(err));
	struct bayes_options o;

	REQUIRE(c != NULL);
	bayes_options_default(&o);
	CHECK_STR(c->milter_socket, BAYESD_DEFAULT_MILTER_SOCKET);
	CHECK_STR(c->controller_socket, BAYESD_DEFAULT_CONTROLLER_SOCKET);
	CHECK_STR(c->database, BAYESD_DEFAULT_DATABASE);
	CHECK_STR(c->pidfile, BAYESD_DEFAULT_PIDFILE);
	CHECK_STR(c->user, "");
	CHECK_STR(c->trusted_networks, "");
	CHECK_STR(c->reject_message, "5.7.1 Message classified as spam");
	CHECK_STR(c->subject_tag, "");
	CHECK_STR(c->syslog_facility, "mail");
	CHECK_NEAR(c->spam_threshold, 0.90, 1e-12);
	CHECK_NEAR(c->reject_threshold, 0.999, 1e-12);
	CHECK(c->quarantine_threshold > 1);
	CHECK(c->on_error == ON_ERROR_ACCEPT);
	CHECK(c->upstream_headers == UPSTREAM_RENAME);
	CHECK(!c->score_authenticated);
	CHECK(c->scan_limit == 1024 * 1024);
	CHECK(c->controller_socket_mode == 0660);
	CHECK(c->train_mode == o.train_mode);
	CHECK(c->sync_full == o.sync_full);
	CHECK(c->log_level == LOG_INFO);
	CHECK(c->ntrusted == 0);
	CHECK(c->refs == 1);
	config_unref(&c);
	CHECK(c == NULL);
}

TEST(config_values)
{
	char err[256];
	struct bayesd_config *c = load_text(
		"# a comment\n"
		"\n"
		"   milter_socket = unix:/run/bayesd/milter.sock\n"
		"spam_threshold=0.8\n"
		"reject_threshold = off\n"
		"quarantine_threshold = 0.995\n"
		"subject_tag = \"[SPAM] \"\n"
		"reject_message = 5.7.1 Go away, \"spammer\"#1  # a trailing comment\n"
		"on_error = TEMPFAIL\n"
		"upstream_headers = Keep\n"
		"score_authenticated = yes\n"
		"scan_limit = 512K\n"
		"max_request_bytes = 2MiB\n"
		"controller_timeout = 2m\n"
		"controller_socket_mode = 0600\n"
		"controller_bind = 127.0.0.1:11334\n"
		"train_mode = mature\n"
		"sync = full\n"
		"log_level = debug\n"
		"syslog_facility = local3\n"
		"read_handles = 4\r\n"
		"spam_threshold = 0.85\n",	/* a repeated key: the last wins */
		err, sizeof(err));

	if (!c)
		fprintf(stderr, "  %s\n", err);
	REQUIRE(c != NULL);
	CHECK_STR(c->milter_socket, "unix:/run/bayesd/milter.sock");
	CHECK_NEAR(c->spam_threshold, 0.85, 1e-12);
	CHECK(c->reject_threshold > 1);
	CHECK_NEAR(c->quarantine_threshold, 0.995, 1e-12);
	CHECK_STR(c->subject_tag, "[SPAM] ");
	/* '#' after a blank starts a comment; '#' inside a word does not */
	CHECK_STR(c->reject_message, "5.7.1 Go away, \"spammer\"#1");
	CHECK(c->on_error == ON_ERROR_TEMPFAIL);
	CHECK(c->upstream_headers == UPSTREAM_KEEP);
	CHECK(c->score_authenticated);
	CHECK(c->scan_limit == 512 * 1024);
	CHECK(c->max_request_bytes == 2 * 1024 * 1024);
	CHECK(c->controller_timeout_s == 120);
	CHECK(c->controller_socket_mode == 0600);
	CHECK_STR(c->controller_bind, "127.0.0.1:11334");
	CHECK(c->train_mode == BAYES_TRAIN_MATURE);
	CHECK(c->sync_full);
	CHECK(c->log_level == LOG_DEBUG);
	CHECK_STR(c->syslog_facility, "local3");
	CHECK(c->milter_threads_hint == 4);
	CHECK(c->path != NULL);
	config_unref(&c);
}

/* Each bad line, and what the error must say (after "FILE:LINE: "). */
static const struct {
	const char *line;
	const char *want;
} config_bad[] = {
	{ "nope = 1", "unknown key 'nope'" },
	{ "spam_threshold = 1.5", "bad value for spam_threshold: '1.5'" },
	{ "spam_threshold = off", "bad value for spam_threshold: 'off'" },
	{ "spam_threshold = nan", "bad value for spam_threshold" },
	{ "spam_threshold = 0.9x", "bad value for spam_threshold" },
	{ "reject_threshold = -0.1", "bad value for reject_threshold" },
	{ "scan_limit = 10", "bad value for scan_limit: '10'" },
	{ "scan_limit = 1T", "bad value for scan_limit" },
	{ "scan_limit = -1", "bad value for scan_limit" },
	{ "controller_timeout = 0", "bad value for controller_timeout" },
	{ "controller_socket_mode = 0999", "bad value for controller_socket_mode" },
	{ "on_error = maybe", "expected one of: accept, tempfail" },
	{ "upstream_headers = strip", "bad value for upstream_headers: 'strip' (expected one of: rename, remove, keep)" },
	{ "train_mode = sometimes", "expected one of: all, error, mature" },
	{ "sync = fast", "bad value for sync" },
	{ "score_authenticated = perhaps", "expected yes or no" },
	{ "milter_socket = inet:127.0.0.1:11332", "libmilter syntax" },
	{ "milter_socket = unix:relative.sock", "absolute path" },
	{ "milter_socket = tcp:11332", "bad value for milter_socket" },
	{ "milter_socket =", "milter_socket may not be empty" },
	{ "database = ", "database may not be empty" },
	{ "controller_bind = localhost", "bad value for controller_bind" },
	{ "controller_bind = 127.0.0.1:99999", "bad value for controller_bind" },
	{ "trusted_networks = 10.0.0.0/33", "bad network in trusted_networks: '10.0.0.0/33'" },
	{ "trusted_networks = 127.0.0.1, example.org", "'example.org'" },
	{ "trusted_networks = ::1/129", "'::1/129'" },
	{ "syslog_facility = kern2", "unknown syslog facility 'kern2'" },
	{ "log_level = loud", "bad value for log_level" },
	{ "read_handles = 0", "bad value for read_handles" },
	{ "just some words", "expected 'key = value'" },
	{ "= 3", "expected 'key = value'" },
	{ "subject_tag = \"[SPAM]", "unterminated quoted value for subject_tag" },
	{ "subject_tag = \"[SPAM]\" x", "unterminated quoted value" },
};

TEST(config_errors_name_file_and_line)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_bad); i++) {
		char text[256], err[512], want[512];
		struct bayesd_config *c;

		/* the bad line is line 3: after a comment and a good line */
		snprintf(text, sizeof(text), "# bayesd\nspam_threshold = 0.9\n%s\n", config_bad[i].line);
		c = load_text(text, err, sizeof(err));
		if (c) {
			test_failf(__FILE__, __LINE__, "'%s' was accepted", config_bad[i].line);
			config_unref(&c);
			continue;
		}
		snprintf(want, sizeof(want), "%s/t.conf:3: ", test_tmpdir());
		if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, config_bad[i].want))
			test_failf(__FILE__, __LINE__, "'%s': error \"%s\", expected \"%s...%s...\"",
				   config_bad[i].line, err, want, config_bad[i].want);
	}
}

TEST(config_missing_file)
{
	char err[256], path[512];
	struct bayesd_config *c;

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", test_tmpdir());
	c = config_load(path, err, sizeof(err));
	CHECK(c == NULL);
	CHECK(strstr(err, "does-not-exist.conf") != NULL);
	CHECK(strstr(err, "No such file") != NULL);
}

TEST(config_long_line)
{
	char *text = malloc(CONFIG_LINE_MAX + 64), err[256];
	struct bayesd_config *c;

	REQUIRE(text);
	memset(text, 'a', CONFIG_LINE_MAX + 10);
	memcpy(text, "user = ", 7);
	strcpy(text + CONFIG_LINE_MAX + 10, "\n");
	c = load_text(text, err, sizeof(err));
	CHECK(c == NULL);
	CHECK(strstr(err, ":1: line longer than") != NULL);
	free(text);
}

/* addr4/addr6 - config_trusted() of a textual address */
static bool trusted(const struct bayesd_config *c, const char *addr)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, addr, a) == 1)
		return config_trusted(c, AF_INET, a);
	if (inet_pton(AF_INET6, addr, a) == 1)
		return config_trusted(c, AF_INET6, a);
	return false;
}

TEST(config_trusted_networks)
{
	char err[256];
	struct bayesd_config *c, *none;

	c = load_text("trusted_networks = 127.0.0.0/8, 192.0.2.128/25 2001:db8::/32,::1 "
		      "198.51.100.7 10.1.2.3/12\n", err, sizeof(err));
	REQUIRE(c != NULL);
	CHECK(c->ntrusted == 6);
	CHECK(trusted(c, "127.0.0.1"));
	CHECK(trusted(c, "127.255.255.254"));
	CHECK(!trusted(c, "128.0.0.1"));
	CHECK(trusted(c, "192.0.2.128"));
	CHECK(trusted(c, "192.0.2.255"));
	CHECK(!trusted(c, "192.0.2.127"));
	CHECK(trusted(c, "2001:db8:1::5"));
	CHECK(!trusted(c, "2001:db9::1"));
	CHECK(trusted(c, "::1"));
	CHECK(!trusted(c, "::2"));
	CHECK(trusted(c, "198.51.100.7"));
	CHECK(!trusted(c, "198.51.100.8"));
	/* host bits of 10.1.2.3/12 are ignored: the block is 10.0.0.0/12 */
	CHECK(trusted(c, "10.15.255.255"));
	CHECK(!trusted(c, "10.16.0.0"));
	/* an IPv4-mapped IPv6 client is its IPv4 address */
	CHECK(trusted(c, "::ffff:127.0.0.1"));
	CHECK(!trusted(c, "::ffff:8.8.8.8"));
	CHECK(!config_trusted(c, AF_UNIX, "x"));

	none = config_load(NULL, err, sizeof(err));
	REQUIRE(none != NULL);
	/* loopback is not trusted unless configured */
	CHECK(!trusted(none, "127.0.0.1"));
	CHECK(!trusted(none, "::1"));
	config_unref(&none);
	config_unref(&c);
}

TEST(config_print_reads_back)
{
	char err[256], *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	struct bayesd_config *c, *d;
	FILE *f;

	c = load_text("subject_tag = \" [SPAM] \"\nreject_threshold = off\n"
		      "trusted_networks = 10.0.0.0/8 ::1\nscan_limit = 3M\nlog_level = warning\n"
		      "recipient_delimiter = \"+#\"  # quoted, then a comment\n", err, sizeof(err));
	REQUIRE(c != NULL);
	CHECK_STR(c->recipient_delimiter, "+#");
	f = open_memstream(&a, &alen);
	REQUIRE(f);
	config_print(c, f);
	fclose(f);
	d = load_text(a, err, sizeof(err));
	if (!d)
		fprintf(stderr, "  %s\n", err);
	REQUIRE(d != NULL);
	f = open_memstream(&b, &blen);
	REQUIRE(f);
	config_print(d, f);
	fclose(f);
	CHECK_MEM(b, blen, a, alen);
	CHECK_STR(d->subject_tag, " [SPAM] ");
	CHECK(d->reject_threshold > 1);
	CHECK(d->log_level == LOG_WARNING);
	CHECK(strstr(a, "scan_limit = 3145728\n") != NULL);
	free(a);
	free(b);
	config_unref(&c);
	config_unref(&d);
}

TEST(config_current_refcount)
{
	char err[256];
	struct bayesd_config *c = config_load(NULL, err, sizeof(err)), *cur;

	REQUIRE(c != NULL);
	config_current_set(c);
	CHECK(c->refs == 2);
	cur = config_current();
	CHECK(cur == c);
	CHECK(c->refs == 3);
	config_unref(&cur);
	config_current_set(NULL);
	CHECK(c->refs == 1);
	CHECK(config_current() == NULL);
	config_unref(&c);
}

TEST(config_example_documents_every_key)
{
	char err[512], line[1024], *text = NULL, *p;
	size_t len = 0;
	FILE *f = fopen("milter/bayesd.conf", "r");
	FILE *out;
	struct bayesd_config *c;

	REQUIRE(f != NULL);	/* unit tests run from the project root */
	out = open_memstream(&text, &len);
	REQUIRE(out);
	/* every "#key = default" line, uncommented, must load */
	while (fgets(line, sizeof(line), f)) {
		p = line + 1;
		if (line[0] == '#' && *p >= 'a' && *p <= 'z' && strstr(p, " =")) {
			size_t k = strcspn(p, " =");
			char key[64];

			if (k < sizeof(key)) {
				memcpy(key, p, k);
				key[k] = '\0';
				if (config_find(key))
					fputs(p, out);
			}
		}
	}
	fclose(f);
	fclose(out);
	for (size_t i = 0; config_key_name(i); i++) {
		char want[80];

		snprintf(want, sizeof(want), "%s =", config_key_name(i));
		if (!text || !strstr(text, want))
			test_failf(__FILE__, __LINE__, "milter/bayesd.conf does not document %s",
				   config_key_name(i));
	}
	c = load_text(text, err, sizeof(err));
	if (!c)
		fprintf(stderr, "  %s\n", err);
	CHECK(c != NULL);
	if (c) {
		CHECK_NEAR(c->spam_threshold, BAYES_DEFAULT_SPAM_THRESHOLD, 1e-12);
		CHECK_NEAR(c->reject_threshold, BAYES_DEFAULT_REJECT_THRESHOLD, 1e-12);
		CHECK(c->scan_limit == BAYESD_DEFAULT_SCAN_LIMIT);
		CHECK(c->max_request_bytes == BAYESD_DEFAULT_MAX_REQUEST_BYTES);
		config_unref(&c);
	}
	free(text);
}

/* rcpt_user - config_rcpt_user into a static buffer; "" when it says none */
static const char *rcpt_user(const struct bayesd_config *c, const char *rcpt)
{
	static char user[BAYESD_USER_MAX];

	if (!config_rcpt_user(c, rcpt, user, sizeof(user)))
		return "";
	return user;
}

TEST(config_rcpt_user_map)
{
	static const struct {
		const char *conf, *rcpt, *user;
	} cases[] = {
		/* the default: user_map = address, recipient_delimiter = + */
		{ "", "<Joe@Example.ORG>", "joe@example.org" },
		{ "", "joe+lists@example.org", "joe@example.org" },
		{ "", "<JOE+Lists+x@example.org>", "joe@example.org" },
		{ "", "<+only@example.org>", "+only@example.org" },	/* all extension: kept */
		{ "", "<postmaster>", "postmaster" },
		{ "", "<>", "" },					/* the null recipient */
		{ "", "", "" },
		{ "user_map = localpart\n", "<Joe+x@Example.ORG>", "joe" },
		{ "user_map = localpart\n", "<@example.org>", "" },
		{ "user_map = localpart\n", "<\"a@b\"@example.org>", "\"a@b\"" },
		{ "user_map = none\n", "<Joe+x@Example.ORG>", "Joe@Example.ORG" },
		{ "recipient_delimiter =\n", "<joe+x@example.org>", "joe+x@example.org" },
		{ "recipient_delimiter = +-\n", "<joe-x@example.org>", "joe@example.org" },
		{ "recipient_delimiter = +-\n", "<joe+a-b@example.org>", "joe@example.org" },
	};
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bayesd_config *c = load_text(cases[i].conf, err, sizeof(err));

		REQUIRE(c != NULL);
		CHECK_STR(rcpt_user(c, cases[i].rcpt), cases[i].user);
		config_unref(&c);
	}
}

TEST(config_rcpt_user_long)
{
	char err[512], rcpt[BAYESD_USER_MAX + 64], user[8];
	struct bayesd_config *c = load_text("", err, sizeof(err));

	REQUIRE(c != NULL);
	memset(rcpt, 'a', sizeof(rcpt) - 1);
	rcpt[sizeof(rcpt) - 1] = '\0';
	CHECK_STR(rcpt_user(c, rcpt), "");		/* too long: global */
	CHECK(!config_rcpt_user(c, "joe@example.org", user, sizeof(user)));
	CHECK(config_rcpt_user(c, "a@b.org", user, sizeof(user)));
	config_unref(&c);
}

TEST(config_rcpt_user_aliases)
{
	char err[512], conf[600];
	const char *path = write_conf("aliases", "# comment\n\n"
				      "Sales@Example.org  alice\n"
				      "<info@example.org> bob   # trailing comment\n"
				      "joe+lists@example.org lists\n"
				      "info@example.org carol\n");
	struct bayesd_config *c;

	REQUIRE(path != NULL);
	snprintf(conf, sizeof(conf), "user_aliases = %s\nuser_map = localpart\n", path);
	c = load_text(conf, err, sizeof(err));
	if (!c)
		fprintf(stderr, "  %s\n", err);
	REQUIRE(c != NULL);
	CHECK(c->naliases == 3);
	CHECK_STR(rcpt_user(c, "<sales@EXAMPLE.org>"), "alice");
	CHECK_STR(rcpt_user(c, "<sales+q@example.org>"), "alice");	/* after stripping */
	CHECK_STR(rcpt_user(c, "<info@example.org>"), "carol");	/* the last line wins */
	CHECK_STR(rcpt_user(c, "<joe+lists@example.org>"), "lists");	/* as given first */
	CHECK_STR(rcpt_user(c, "<joe+other@example.org>"), "joe");	/* then user_map */
	config_unref(&c);

	/* a bad line and a missing file are errors that name them */
	path = write_conf("aliases.bad", "ok@example.org ok\njust-one-field\n");
	snprintf(conf, sizeof(conf), "user_aliases = %s\n", path);
	c = load_text(conf, err, sizeof(err));
	CHECK(c == NULL);
	CHECK(strstr(err, "aliases.bad:2: expected 'address user'") != NULL);
	c = load_text("user_aliases = /nonexistent/aliases\n", err, sizeof(err));
	CHECK(c == NULL);
	CHECK(strstr(err, "/nonexistent/aliases") != NULL);
}

TEST(config_per_user_autolearn_defaults)
{
	char err[512];
	struct bayesd_config *c = config_load(NULL, err, sizeof(err));

	REQUIRE(c != NULL);
	CHECK(!c->per_user);
	CHECK(c->user_map == USER_MAP_ADDRESS);
	CHECK_STR(c->recipient_delimiter, "+");
	CHECK_STR(c->user_aliases, "");
	CHECK(!c->autolearn);
	CHECK_NEAR(c->autolearn_spam_threshold, 0.999, 1e-12);
	CHECK_NEAR(c->autolearn_ham_threshold, 0.001, 1e-12);
	config_unref(&c);
	c = load_text("autolearn_spam_threshold = 0.4\n", err, sizeof(err));
	CHECK(c == NULL);
	c = load_text("per_user = yes\nautolearn = yes\nautolearn_ham_threshold = 0.01\n", err,
		      sizeof(err));
	REQUIRE(c != NULL);
	CHECK(c->per_user && c->autolearn);
	CHECK_NEAR(c->autolearn_ham_threshold, 0.01, 1e-12);
	config_unref(&c);
}

TEST(config_min_learns_and_local)
{
	char err[256];
	struct bayesd_config *c = config_load(NULL, err, sizeof(err));
	unsigned char v4[4] = { 127, 0, 0, 1 }, v4b[4] = { 192, 0, 2, 1 };
	unsigned char v6[16] = { [15] = 1 }, m6[16] = { [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 9 };
	unsigned char o6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

	REQUIRE(c != NULL);
	CHECK(c->min_learns == 200);
	CHECK(!c->score_local);
	config_unref(&c);
	c = load_text("min_learns = 0   # score from the first message\nscore_local = yes\n", err, sizeof(err));
	REQUIRE(c != NULL);
	CHECK(c->min_learns == 0);
	CHECK(c->score_local);
	config_unref(&c);
	CHECK(config_local(AF_INET, v4));
	CHECK(!config_local(AF_INET, v4b));
	CHECK(config_local(AF_INET6, v6));
	CHECK(config_local(AF_INET6, m6));
	CHECK(!config_local(AF_INET6, o6));
}

TEST(config_include_and_conf_d)
{
	char err[512], dir[512], path[512];
	struct bayesd_config *c;

	write_conf("inc-part.conf", "spam_threshold = 0.7  # from the included file\n");
	snprintf(dir, sizeof(dir), "%s/inc.conf.d", test_tmpdir());
	mkdir(dir, 0755);
	/* read in name order after the main file: 20 wins over 10 and the main file */
	write_conf("inc.conf.d/10-a.conf", "min_learns = 10\nscan_limit = 2M\n");
	write_conf("inc.conf.d/20-b.conf", "min_learns = 20\n");
	write_conf("inc.conf.d/30-c.conf.disabled", "min_learns = 30\n");
	write_conf("inc.conf", "min_learns = 5\ninclude inc-part.conf\nsubject_tag = x\n");
	snprintf(path, sizeof(path), "%s/inc.conf", test_tmpdir());
	c = config_load(path, err, sizeof(err));
	if (!c)
		fprintf(stderr, "  %s\n", err);
	REQUIRE(c != NULL);
	CHECK_NEAR(c->spam_threshold, 0.7, 1e-12);
	CHECK(c->min_learns == 20);
	CHECK(c->scan_limit == 2 * 1024 * 1024);
	CHECK_STR(c->subject_tag, "x");
	config_unref(&c);

	/* an error in an included file names that file and line, and the include line */
	write_conf("inc-bad.conf", "\nno_such_key = 1\n");
	write_conf("inc2.conf", "include inc-bad.conf\n");
	snprintf(path, sizeof(path), "%s/inc2.conf", test_tmpdir());
	c = config_load(path, err, sizeof(err));
	CHECK(c == NULL);
	CHECK(strstr(err, "inc2.conf:1: include: ") != NULL);
	CHECK(strstr(err, "inc-bad.conf:2: unknown key 'no_such_key'") != NULL);

	/* an include of itself stops at the depth limit */
	write_conf("inc3.conf", "include inc3.conf\n");
	snprintf(path, sizeof(path), "%s/inc3.conf", test_tmpdir());
	c = config_load(path, err, sizeof(err));
	CHECK(c == NULL);
	CHECK(strstr(err, "nested deeper") != NULL);
}

TEST(config_print_hides_secrets)
{
	char err[256], *a = NULL;
	size_t alen = 0;
	struct bayesd_config *c;
	FILE *f;

	c = load_text("controller_password = \"pass word\\\"#1\"  # quoted, then a comment\n", err,
		      sizeof(err));
	REQUIRE(c != NULL);
	CHECK_STR(c->controller_password, "pass word\"#1");
	f = open_memstream(&a, &alen);
	REQUIRE(f);
	config_print(c, f);
	fclose(f);
	/* bayesd -n -v says that it is set, never what it is */
	CHECK(strstr(a, "pass word") == NULL);
	CHECK(strstr(a, "controller_password = # (set, not shown)\n") != NULL);
	CHECK(strstr(a, "redis_password = \n") != NULL);
	free(a);
	config_unref(&c);
}

TEST(config_exempt_patterns)
{
	char err[256];
	struct bayesd_config *c = config_load(NULL, err, sizeof(err));

	REQUIRE(c != NULL);
	/* RFC 2142 by default, any domain, any case, +extension ignored */
	CHECK(config_exempt(c, c->exempt_recipients, "<postmaster@example.org>"));
	CHECK(config_exempt(c, c->exempt_recipients, "Abuse@Example.NET"));
	CHECK(config_exempt(c, c->exempt_recipients, "<postmaster+reports@example.org>"));
	CHECK(!config_exempt(c, c->exempt_recipients, "<joe@example.org>"));
	CHECK(!config_exempt(c, c->exempt_recipients, "<postmasterx@example.org>"));
	CHECK(!config_exempt(c, c->exempt_recipients, "<>"));
	CHECK(!config_exempt(c, c->exempt_senders, "<postmaster@example.org>"));
	CHECK(config_exempt(c, "joe@example.org, @lists.example.net", "<JOE@example.org>"));
	CHECK(config_exempt(c, "joe@example.org, @lists.example.net", "<any@lists.example.net>"));
	CHECK(!config_exempt(c, "joe@example.org, @lists.example.net", "<joe@example.net>"));
	CHECK(!config_exempt(c, "joe@example.org, @lists.example.net", "<any@sub.lists.example.net>"));
	config_unref(&c);
}
