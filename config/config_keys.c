/*
 * config_keys.c - bayesd's configuration keys: config_table, one row per
 * key (name, type, field of struct bayesd_config, range, default), and
 * what is done with a row: find it by name, parse and check a value for
 * it (sizes, durations, booleans, networks, socket specifications, enums),
 * apply the defaults, free what the values own, print a config back
 * (config_print). config.c reads files and hands each "key = value" here.
 *
 * A new key is a field of struct bayesd_config (config.h), a row here,
 * and a commented line in milter/bayesd.conf (a unit test checks that
 * every row is documented there).
 *
 * Rooms: may use classifier/ (bayes.h, util.h) and config/log.h; never
 * milter/, trainer/, corpus/.
 */
#include "config.h"
#include "config_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "util.h"

#define CONFIG_VALUE_MAX	((CONFIG_LINE_MAX - 64) / 2)

enum config_type {
	CT_STRING,		/* any text */
	CT_BOOL,		/* yes/no, true/false, on/off, 1/0 */
	CT_UINT,		/* unsigned, in [min, max] */
	CT_SIZE,		/* bytes with an optional K, M, G suffix (powers of 1024) */
	CT_SECONDS,		/* seconds with an optional s, m, h suffix */
	CT_MODE,		/* octal file mode */
	CT_PROB,		/* a probability in [min, max] (or "off" with CF_OFF) */
	CT_ENUM,		/* one of names[] */
	CT_FACILITY,		/* syslog facility name, kept as text */
	CT_LEVEL,		/* syslog level name, stored as its priority */
	CT_MILTER_SOCKET,	/* libmilter socket specification */
	CT_HOSTPORT,		/* "" or HOST:PORT */
	CT_NETS,		/* CIDR list, kept as text and parsed into trusted[] */
};

#define CF_NONEMPTY	0x01	/* a string that may not be empty */
#define CF_OFF		0x02	/* a threshold that may be "off" */

struct config_enum {
	const char *name;
	int value;
};

struct config_row {
	const char *key;
	enum config_type type;
	size_t offset;		/* of the field in struct bayesd_config */
	size_t size;		/* of the field (enums stored in bool or int) */
	double min, max;	/* numeric types */
	const char *dstr;	/* default of text types; NULL = see dnum */
	double dnum;		/* default of numeric types */
	unsigned flags;
	const struct config_enum *names;	/* CT_ENUM, NULL-terminated */
};

static const struct config_enum config_on_error[] = {
	{ "accept", ON_ERROR_ACCEPT }, { "tempfail", ON_ERROR_TEMPFAIL }, { NULL, 0 },
};
static const struct config_enum config_upstream_headers[] = {
	{ "rename", UPSTREAM_RENAME }, { "remove", UPSTREAM_REMOVE }, { "keep", UPSTREAM_KEEP },
	{ NULL, 0 },
};
static const struct config_enum config_history_addresses[] = {
	{ "plain", 0 }, { "hash", 1 }, { NULL, 0 },
};
static const struct config_enum config_history_store[] = {
	{ "auto", HISTORY_STORE_AUTO }, { "sqlite", HISTORY_STORE_SQLITE },
	{ "redis", HISTORY_STORE_REDIS }, { NULL, 0 },
};
static const struct config_enum config_train_mode[] = {
	{ "all", BAYES_TRAIN_ALL }, { "error", BAYES_TRAIN_ERROR },
	{ "mature", BAYES_TRAIN_MATURE }, { NULL, 0 },
};
static const struct config_enum config_user_map[] = {
	{ "none", USER_MAP_NONE }, { "localpart", USER_MAP_LOCALPART },
	{ "address", USER_MAP_ADDRESS }, { NULL, 0 },
};
static const struct config_enum config_backend[] = {
	{ "sqlite", BAYES_BACKEND_SQLITE }, { "redis", BAYES_BACKEND_REDIS }, { NULL, 0 },
};
static const struct config_enum config_sync[] = {
	{ "normal", 0 }, { "full", 1 }, { NULL, 0 },
};

#define F(field)	offsetof(struct bayesd_config, field), sizeof(((struct bayesd_config *)0)->field)
#define KB		1024.0
#define MB		(1024.0 * 1024.0)
#define GB		(1024.0 * 1024.0 * 1024.0)

/*
 * config_table - every key. Defaults of train_mode come from the engine
 * (bayes_options_default()), so "dstr" is NULL there and config_defaults()
 * fills it in.
 */
static const struct config_row config_table[] = {
	{ "milter_socket", CT_MILTER_SOCKET, F(milter_socket), 0, 0,
	  BAYESD_DEFAULT_MILTER_SOCKET, 0, CF_NONEMPTY, NULL },
	{ "controller_socket", CT_STRING, F(controller_socket), 0, 0,
	  BAYESD_DEFAULT_CONTROLLER_SOCKET, 0, 0, NULL },
	{ "controller_socket_mode", CT_MODE, F(controller_socket_mode), 0, 0777,
	  NULL, BAYESD_DEFAULT_CONTROLLER_SOCKET_MODE, 0, NULL },
	{ "controller_socket_group", CT_STRING, F(controller_socket_group), 0, 0, "", 0, 0, NULL },
	{ "controller_bind", CT_HOSTPORT, F(controller_bind), 0, 0, "", 0, 0, NULL },
	{ "controller_password", CT_STRING, F(controller_password), 0, 0, "", 0, 0, NULL },
	{ "max_request_bytes", CT_SIZE, F(max_request_bytes), 1 * KB, 1 * GB,
	  NULL, BAYESD_DEFAULT_MAX_REQUEST_BYTES, 0, NULL },
	{ "controller_timeout", CT_SECONDS, F(controller_timeout_s), 1, 3600,
	  NULL, BAYESD_DEFAULT_CONTROLLER_TIMEOUT, 0, NULL },
	{ "controller_max_connections", CT_UINT, F(controller_max_connections), 8, 1024,
	  NULL, BAYESD_DEFAULT_CONTROLLER_MAX_CONNECTIONS, 0, NULL },
	{ "controller_max_per_ip", CT_UINT, F(controller_max_per_ip), 2, 1024,
	  NULL, BAYESD_DEFAULT_CONTROLLER_MAX_PER_IP, 0, NULL },
	{ "database", CT_STRING, F(database), 0, 0, BAYESD_DEFAULT_DATABASE, 0, CF_NONEMPTY, NULL },
	{ "backend", CT_ENUM, F(backend), 0, 0, "sqlite", 0, 0, config_backend },
	{ "redis_servers", CT_STRING, F(redis_servers), 0, 0, BAYES_REDIS_DEFAULT_SERVERS, 0, CF_NONEMPTY, NULL },
	{ "redis_password", CT_STRING, F(redis_password), 0, 0, "", 0, 0, NULL },
	{ "redis_db", CT_UINT, F(redis_db), 0, 1000000, NULL, 0, 0, NULL },
	{ "redis_prefix", CT_STRING, F(redis_prefix), 0, 0, BAYES_REDIS_DEFAULT_PREFIX, 0, 0, NULL },
	{ "redis_connect_timeout_ms", CT_UINT, F(redis_connect_timeout_ms), 10, 600000,
	  NULL, BAYES_REDIS_DEFAULT_TIMEOUT_MS, 0, NULL },
	{ "redis_timeout_ms", CT_UINT, F(redis_timeout_ms), 10, 600000,
	  NULL, BAYES_REDIS_DEFAULT_TIMEOUT_MS, 0, NULL },
	{ "pidfile", CT_STRING, F(pidfile), 0, 0, BAYESD_DEFAULT_PIDFILE, 0, 0, NULL },
	{ "user", CT_STRING, F(user), 0, 0, "", 0, 0, NULL },
	{ "group", CT_STRING, F(group), 0, 0, "", 0, 0, NULL },
	{ "spam_threshold", CT_PROB, F(spam_threshold), 0, 1,
	  NULL, BAYES_DEFAULT_SPAM_THRESHOLD, 0, NULL },
	{ "reject_threshold", CT_PROB, F(reject_threshold), 0, 1,
	  NULL, BAYES_DEFAULT_REJECT_THRESHOLD, CF_OFF, NULL },
	{ "quarantine_threshold", CT_PROB, F(quarantine_threshold), 0, 1,
	  NULL, BAYESD_THRESHOLD_OFF, CF_OFF, NULL },
	{ "reject_message", CT_STRING, F(reject_message), 0, 0,
	  BAYESD_DEFAULT_REJECT_MESSAGE, 0, CF_NONEMPTY, NULL },
	{ "subject_tag", CT_STRING, F(subject_tag), 0, 0, "", 0, 0, NULL },
	{ "on_error", CT_ENUM, F(on_error), 0, 0, "accept", 0, 0, config_on_error },
	{ "upstream_headers", CT_ENUM, F(upstream_headers), 0, 0, "rename", 0, 0,
	  config_upstream_headers },
	{ "score_authenticated", CT_BOOL, F(score_authenticated), 0, 0, "no", 0, 0, NULL },
	{ "trusted_networks", CT_NETS, F(trusted_networks), 0, 0, "", 0, 0, NULL },
	{ "controller_open_reads", CT_BOOL, F(controller_open_reads), 0, 0, "no", 0, 0, NULL },
	{ "score_local", CT_BOOL, F(score_local), 0, 0, "no", 0, 0, NULL },
	{ "exempt_recipients", CT_STRING, F(exempt_recipients), 0, 0,
	  BAYESD_DEFAULT_EXEMPT_RECIPIENTS, 0, 0, NULL },
	{ "exempt_senders", CT_STRING, F(exempt_senders), 0, 0, "", 0, 0, NULL },
	{ "no_reject_recipients", CT_STRING, F(no_reject_recipients), 0, 0, "", 0, 0, NULL },
	{ "min_learns", CT_UINT, F(min_learns), 0, 100000000,
	  NULL, BAYESD_DEFAULT_MIN_LEARNS, 0, NULL },
	{ "scan_limit", CT_SIZE, F(scan_limit), 1 * KB, 64 * MB,
	  NULL, BAYESD_DEFAULT_SCAN_LIMIT, 0, NULL },
	{ "read_handles", CT_UINT, F(milter_threads_hint), 1, 1024,
	  NULL, BAYESD_DEFAULT_READ_HANDLES, 0, NULL },
	{ "train_mode", CT_ENUM, F(train_mode), 0, 0, NULL, 0, 0, config_train_mode },
	{ "sync", CT_ENUM, F(sync_full), 0, 0, NULL, 0, 0, config_sync },
	{ "per_user_global", CT_BOOL, F(per_user_global), 0, 0, "yes", 0, 0, NULL },
	{ "cache_max_tokens", CT_UINT, F(cache_max_tokens), 0, 100000000,
	  NULL, BAYESD_DEFAULT_CACHE_MAX_TOKENS, 0, NULL },
	{ "per_user", CT_BOOL, F(per_user), 0, 0, "no", 0, 0, NULL },
	{ "user_map", CT_ENUM, F(user_map), 0, 0, "address", 0, 0, config_user_map },
	{ "recipient_delimiter", CT_STRING, F(recipient_delimiter), 0, 0,
	  BAYESD_DEFAULT_RECIPIENT_DELIMITER, 0, 0, NULL },
	{ "user_aliases", CT_STRING, F(user_aliases), 0, 0, "", 0, 0, NULL },
	{ "autolearn", CT_BOOL, F(autolearn), 0, 0, "no", 0, 0, NULL },
	{ "autolearn_spam_threshold", CT_PROB, F(autolearn_spam_threshold), 0.5, 1,
	  NULL, BAYESD_DEFAULT_AUTOLEARN_SPAM, 0, NULL },
	{ "autolearn_ham_threshold", CT_PROB, F(autolearn_ham_threshold), 0, 0.5,
	  NULL, BAYESD_DEFAULT_AUTOLEARN_HAM, 0, NULL },
	{ "history", CT_BOOL, F(history), 0, 0, "yes", 0, 0, NULL },
	{ "history_size", CT_UINT, F(history_size), 10, 10000000,
	  NULL, BAYESD_DEFAULT_HISTORY_SIZE, 0, NULL },
	{ "history_database", CT_STRING, F(history_database), 0, 0,
	  BAYESD_DEFAULT_HISTORY_DATABASE, 0, CF_NONEMPTY, NULL },
	{ "history_store", CT_ENUM, F(history_store), 0, 0, "auto", 0, 0, config_history_store },
	{ "history_addresses", CT_ENUM, F(history_hash_addresses), 0, 0, "plain", 0, 0,
	  config_history_addresses },
	{ "www_dir", CT_STRING, F(www_dir), 0, 0, BAYESD_WWWDIR, 0, 0, NULL },
	{ "syslog_facility", CT_FACILITY, F(syslog_facility), 0, 0,
	  BAYESD_DEFAULT_SYSLOG_FACILITY, 0, 0, NULL },
	{ "log_level", CT_LEVEL, F(log_level), 0, 0, "info", 0, 0, NULL },
};

#undef F

#define FIELD(c, row, type)	((type *)((char *)(c) + (row)->offset))
#define CFIELD(c, row, type)	((const type *)((const char *)(c) + (row)->offset))

/* config_find - the row of key, or NULL */
const struct config_row *config_find(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_table); i++)
		if (strcmp(config_table[i].key, key) == 0)
			return &config_table[i];
	return NULL;
}

/* config_key_name - the i-th key, NULL past the last (config_internal.h) */
const char *config_key_name(size_t i)
{
	return i < ARRAY_SIZE(config_table) ? config_table[i].key : NULL;
}

/*
 * config_parse_count - the decimal number s starts with into *n_r and
 * where it ends into *end_r; false when s does not start with a digit or
 * the number does not fit. The unit suffixes are the callers'.
 */
static bool config_parse_count(const char *s, unsigned long long *n_r, char **end_r)
{
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*n_r = strtoull(s, end_r, 10);
	return errno == 0;
}

/* config_parse_size - bytes with an optional binary suffix (k, KiB, MB...) */
static bool config_parse_size(const char *s, double *v_r)
{
	char *end;
	unsigned long long n;
	double mult = 1;

	if (!config_parse_count(s, &n, &end))
		return false;
	switch (*end) {
	case 'k': case 'K': mult = KB; end++; break;
	case 'm': case 'M': mult = MB; end++; break;
	case 'g': case 'G': mult = GB; end++; break;
	default: break;
	}
	if (mult > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0')
		return false;
	*v_r = (double)n * mult;
	return true;
}

/* config_parse_seconds - seconds with an optional s/m/h suffix */
static bool config_parse_seconds(const char *s, double *v_r)
{
	static const struct { char unit; double mult; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 },
	};
	char *end;
	unsigned long long n;
	double mult = 1;

	if (!config_parse_count(s, &n, &end))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (*end == units[i].unit) {
			mult = units[i].mult;
			end++;
			break;
		}
	}
	if (*end != '\0')
		return false;
	*v_r = (double)n * mult;
	return true;
}

/* config_parse_bool - yes/no and friends */
static bool config_parse_bool(const char *s, bool *v_r)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v_r = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v_r = false;
			return true;
		}
	}
	return false;
}

/* config_parse_net - one "addr[/prefix]" into n (host bits cleared) */
static bool config_parse_net(const char *s, struct config_net *n)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max, prefix;
	unsigned char a4[4];

	if (len == 0 || len >= sizeof(addr))
		return false;
	memcpy(addr, s, len);
	addr[len] = '\0';
	memset(n->addr, 0, sizeof(n->addr));
	if (inet_pton(AF_INET, addr, a4) == 1) {
		n->addr[10] = n->addr[11] = 0xff;	/* IPv4-mapped */
		memcpy(n->addr + 12, a4, 4);
		max = 32;
	} else if (inet_pton(AF_INET6, addr, n->addr) == 1) {
		max = 128;
	} else {
		return false;
	}
	prefix = max;
	if (slash) {
		char *end;
		unsigned long p;

		if (slash[1] < '0' || slash[1] > '9')
			return false;
		p = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || p > max)
			return false;
		prefix = (unsigned)p;
	}
	n->prefix = prefix + (128 - max);
	for (unsigned bit = n->prefix; bit < 128; bit++)
		n->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	return true;
}

/* config_parse_nets - a comma or blank separated CIDR list; bad_r gets the bad item */
static bool config_parse_nets(const char *s, struct config_net **nets_r, size_t *n_r,
			      char *bad, size_t badlen)
{
	struct config_net *nets = NULL;
	size_t n = 0;
	const char *p = s;

	while (*p) {
		size_t len = strcspn(p, ", \t");
		char item[128];

		if (len == 0) {
			p++;
			continue;
		}
		if (len >= sizeof(item)) {
			snprintf(bad, badlen, "%.*s", (int)(len > 60 ? 60 : len), p);
			free(nets);
			return false;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		nets = xrealloc(nets, (n + 1) * sizeof(*nets));
		if (!config_parse_net(item, &nets[n])) {
			snprintf(bad, badlen, "%s", item);
			free(nets);
			return false;
		}
		n++;
		p += len;
	}
	free(*nets_r);
	*nets_r = nets;
	*n_r = n;
	return true;
}

/* config_check_milter_socket - libmilter's syntax, with a hint for Postfix's */
static bool config_check_milter_socket(const char *s, char *why, size_t whylen)
{
	const char *p;

	if (s[0] == '/' || strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
		p = s[0] == '/' ? s : strchr(s, ':') + 1;
		if (*p != '/') {
			snprintf(why, whylen, "a UNIX socket needs an absolute path");
			return false;
		}
		return true;
	}
	if (strncmp(s, "inet:", 5) == 0 || strncmp(s, "inet6:", 6) == 0) {
		char *end;
		unsigned long port;

		p = strchr(s, ':') + 1;
		port = strtoul(p, &end, 10);
		if (end == p || *end != '@' || port == 0 || port > 65535 || end[1] == '\0') {
			snprintf(why, whylen, "expected inet:PORT@HOST (libmilter syntax, "
				 "e.g. inet:11332@127.0.0.1; Postfix writes it inet:127.0.0.1:11332)");
			return false;
		}
		return true;
	}
	snprintf(why, whylen, "expected inet:PORT@HOST, inet6:PORT@HOST or unix:/path");
	return false;
}

/* config_check_hostport - "" or HOST:PORT / [V6]:PORT */
static bool config_check_hostport(const char *s)
{
	const char *colon;
	char *end;
	unsigned long port;

	if (*s == '\0')
		return true;
	colon = strrchr(s, ':');
	if (!colon || colon == s)
		return false;
	if (s[0] == '[' && colon[-1] != ']')
		return false;
	port = strtoul(colon + 1, &end, 10);
	return end != colon + 1 && *end == '\0' && port > 0 && port <= 65535;
}

/* config_oneline - printable text without CR/LF (an SMTP reply, a header) */
static bool config_oneline(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return false;
	return true;
}

/* config_range_text - "from 1024 to 1073741824" for an error */
static void config_range_text(const struct config_row *row, char *buf, size_t len)
{
	if (row->type == CT_PROB)
		snprintf(buf, len, "a number from %g to %g%s", row->min, row->max,
			 (row->flags & CF_OFF) ? ", or off" : "");
	else if (row->type == CT_SIZE)
		snprintf(buf, len, "a size from %.0f to %.0f bytes (K, M, G suffixes)",
			 row->min, row->max);
	else if (row->type == CT_SECONDS)
		snprintf(buf, len, "seconds from %.0f to %.0f (s, m, h suffixes)", row->min, row->max);
	else if (row->type == CT_MODE)
		snprintf(buf, len, "an octal mode such as 0660");
	else
		snprintf(buf, len, "a number from %.0f to %.0f", row->min, row->max);
}

/*
 * config_set - parse value for row into c. Returns false with the reason
 * (without file and line) in why.
 */
bool config_set(struct bayesd_config *c, const struct config_row *row, const char *value,
		char *why, size_t whylen)
{
	double d = 0;
	char *end;
	char range[128];

	switch (row->type) {
	case CT_STRING:
	case CT_FACILITY:
	case CT_MILTER_SOCKET:
	case CT_HOSTPORT:
	case CT_NETS:
		if ((row->flags & CF_NONEMPTY) && *value == '\0') {
			snprintf(why, whylen, "%s may not be empty", row->key);
			return false;
		}
		/*
		 * config_print() may double every byte when it quotes a value;
		 * what it prints must load again, so a value may fill at most
		 * half a line.
		 */
		if (strlen(value) > CONFIG_VALUE_MAX) {
			snprintf(why, whylen, "%s: value longer than %d bytes", row->key,
				 CONFIG_VALUE_MAX);
			return false;
		}
		/* no setting needs a control character, and config_print() could not show one */
		if (!config_oneline(value)) {
			snprintf(why, whylen, "%s may not contain control characters", row->key);
			return false;
		}
		if (row->type == CT_FACILITY && log_facility_code(value) < 0) {
			snprintf(why, whylen, "unknown syslog facility '%.64s' (mail, daemon, user, "
				 "local0 ... local7)", value);
			return false;
		}
		if (row->type == CT_MILTER_SOCKET) {
			char hint[160];

			if (!config_check_milter_socket(value, hint, sizeof(hint))) {
				snprintf(why, whylen, "bad value for %s: '%s' (%s)", row->key, value, hint);
				return false;
			}
		}
		if (row->type == CT_HOSTPORT && !config_check_hostport(value)) {
			snprintf(why, whylen, "bad value for %s: '%s' (expected HOST:PORT, e.g. "
				 "127.0.0.1:11334, or empty)", row->key, value);
			return false;
		}
		if (row->type == CT_NETS) {
			char bad[64];

			if (!config_parse_nets(value, &c->trusted, &c->ntrusted, bad, sizeof(bad))) {
				snprintf(why, whylen, "bad network in %s: '%s' (expected ADDRESS[/PREFIX], "
					 "e.g. 192.0.2.0/24 or 2001:db8::/32)", row->key, bad);
				return false;
			}
		}
		free(*FIELD(c, row, char *));
		*FIELD(c, row, char *) = xstrdup(value);
		return true;

	case CT_BOOL: {
		bool b;

		if (!config_parse_bool(value, &b)) {
			snprintf(why, whylen, "bad value for %s: '%s' (expected yes or no)",
				 row->key, value);
			return false;
		}
		*FIELD(c, row, bool) = b;
		return true;
	}

	case CT_ENUM:
		for (const struct config_enum *e = row->names; e->name; e++) {
			if (strcasecmp(value, e->name) != 0)
				continue;
			if (row->size == sizeof(bool))
				*FIELD(c, row, bool) = e->value != 0;
			else
				*FIELD(c, row, int) = e->value;
			return true;
		}
		{
			char list[128] = "";

			for (const struct config_enum *e = row->names; e->name; e++) {
				size_t l = strlen(list);

				snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "", e->name);
			}
			snprintf(why, whylen, "bad value for %s: '%s' (expected one of: %s)",
				 row->key, value, list);
		}
		return false;

	case CT_LEVEL: {
		int level = log_level_code(value);

		if (level < 0) {
			snprintf(why, whylen, "bad value for %s: '%s' (expected err, warning, "
				 "notice, info or debug)", row->key, value);
			return false;
		}
		*FIELD(c, row, int) = level;
		return true;
	}

	case CT_PROB:
		if ((row->flags & CF_OFF) && (strcasecmp(value, "off") == 0 ||
					      strcasecmp(value, "disabled") == 0 ||
					      strcasecmp(value, "no") == 0)) {
			*FIELD(c, row, double) = BAYESD_THRESHOLD_OFF;
			return true;
		}
		errno = 0;
		d = strtod(value, &end);
		if (end == value || *end != '\0' || errno != 0 || !isfinite(d))
			goto bad_number;
		if (d < row->min || d > row->max)
			goto bad_number;
		*FIELD(c, row, double) = d;
		return true;

	case CT_UINT:
	case CT_MODE: {
		/* decimal counts, octal file modes; no sign, no prefix */
		int base = row->type == CT_MODE ? 8 : 10;

		if (*value < '0' || *value >= '0' + base)
			goto bad_number;
		errno = 0;
		d = (double)strtoul(value, &end, base);
		if (*end != '\0' || errno != 0)
			goto bad_number;
		break;
	}

	case CT_SIZE:
		if (!config_parse_size(value, &d))
			goto bad_number;
		break;

	case CT_SECONDS:
		if (!config_parse_seconds(value, &d))
			goto bad_number;
		break;
	}

	/* the integer types */
	if (d < row->min || d > row->max)
		goto bad_number;
	if (row->size == sizeof(size_t) && row->type == CT_SIZE)
		*FIELD(c, row, size_t) = (size_t)d;
	else
		*FIELD(c, row, unsigned) = (unsigned)d;
	return true;

bad_number:
	config_range_text(row, range, sizeof(range));
	snprintf(why, whylen, "bad value for %s: '%s' (expected %s)", row->key, value, range);
	return false;
}

/* config_defaults - every row's default into c */
void config_defaults(struct bayesd_config *c)
{
	struct bayes_options o;
	char why[256];

	for (size_t i = 0; i < ARRAY_SIZE(config_table); i++) {
		const struct config_row *row = &config_table[i];
		bool ok = true;

		if (row->dstr)
			ok = config_set(c, row, row->dstr, why, sizeof(why));
		else if (row->type == CT_PROB)
			*FIELD(c, row, double) = row->dnum;
		else if (row->type == CT_SIZE)
			*FIELD(c, row, size_t) = (size_t)row->dnum;
		else if (row->type != CT_ENUM)
			*FIELD(c, row, unsigned) = (unsigned)row->dnum;
		/* a default that does not parse is a bug in the table */
		if (!ok) {
			fprintf(stderr, "bayesd: bad embedded default: %s\n", why);
			abort();
		}
	}
	bayes_options_default(&o);
	c->train_mode = o.train_mode;
	c->sync_full = o.sync_full;
}

/* config_free - free c and what it owns */
void config_free(struct bayesd_config *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_table); i++) {
		const struct config_row *row = &config_table[i];

		switch (row->type) {
		case CT_STRING:
		case CT_FACILITY:
		case CT_MILTER_SOCKET:
		case CT_HOSTPORT:
		case CT_NETS:
			free(*FIELD(c, row, char *));
			break;
		default:
			break;
		}
	}
	free(c->trusted);
	for (size_t i = 0; i < c->naliases; i++) {
		free(c->aliases[i].address);
		free(c->aliases[i].user);
	}
	free(c->aliases);
	free(c->path);
	free(c);
}

/* config_print_string - a value, quoted when blanks or quotes would be lost */
static void config_print_string(FILE *out, const char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[0] != ' ' && s[0] != '\t' && s[0] != '"' && s[n - 1] != ' ' &&
	    s[n - 1] != '\t') {
		fputs(s, out);
		return;
	}
	if (n == 0)
		return;
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* config_print - every key = value */
void config_print(const struct bayesd_config *c, FILE *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_table); i++) {
		const struct config_row *row = &config_table[i];

		fprintf(out, "%s = ", row->key);
		if (row->type == CT_STRING && (strcmp(row->key, "controller_password") == 0 ||
					       strcmp(row->key, "redis_password") == 0)) {
			/* a secret: whether it is set, never what it is */
			fputs(**CFIELD(c, row, char *) ? "# (set, not shown)" : "", out);
			fputc('\n', out);
			continue;
		}
		switch (row->type) {
		case CT_STRING:
		case CT_FACILITY:
		case CT_MILTER_SOCKET:
		case CT_HOSTPORT:
		case CT_NETS:
			config_print_string(out, *CFIELD(c, row, char *));
			break;
		case CT_BOOL:
			fputs(*CFIELD(c, row, bool) ? "yes" : "no", out);
			break;
		case CT_ENUM: {
			int v = row->size == sizeof(bool) ? *CFIELD(c, row, bool) : *CFIELD(c, row, int);

			for (const struct config_enum *e = row->names; e->name; e++)
				if (e->value == v) {
					fputs(e->name, out);
					break;
				}
			break;
		}
		case CT_LEVEL:
			fputs(log_level_name(*CFIELD(c, row, int)), out);
			break;
		case CT_PROB: {
			double d = *CFIELD(c, row, double);

			if (d > 1)
				fputs("off", out);
			else
				fprintf(out, "%g", d);
			break;
		}
		case CT_SIZE:
			fprintf(out, "%zu", *CFIELD(c, row, size_t));
			break;
		case CT_MODE:
			fprintf(out, "0%03o", *CFIELD(c, row, unsigned));
			break;
		case CT_UINT:
		case CT_SECONDS:
			fprintf(out, "%u", *CFIELD(c, row, unsigned));
			break;
		}
		fputc('\n', out);
	}
}

