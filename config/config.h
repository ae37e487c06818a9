/*
 * config.h - bayesd's configuration: one typed table of keys, an embedded
 * default for each, read from a "key = value" file.
 *
 * config_load() fills a struct bayesd_config from the defaults and then
 * the file (NULL = defaults only). Unknown keys and bad values are errors
 * naming the file and line. A loaded config is immutable; a reload (SIGHUP)
 * builds a new one and swaps it in with reference counting, so a milter
 * connection keeps the config it started with (config_ref/config_unref).
 *
 * Rooms: may use classifier/ (bayes.h); never milter/, trainer/, corpus/.
 */
#ifndef BAYESD_CONFIG_H
#define BAYESD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bayes.h"

#ifndef BAYESD_SYSCONFDIR
#define BAYESD_SYSCONFDIR "/etc/bayesd"
#endif
#ifndef BAYESD_STATEDIR
#define BAYESD_STATEDIR "/var/lib/bayesd"
#endif
#ifndef BAYESD_RUNDIR
#define BAYESD_RUNDIR "/run/bayesd"
#endif

#define BAYESD_DEFAULT_CONFIG		BAYESD_SYSCONFDIR "/bayesd.conf"
#define BAYESD_DEFAULT_DATABASE		BAYESD_STATEDIR "/bayes.sqlite"
#define BAYESD_DEFAULT_HISTORY_DATABASE	BAYESD_STATEDIR "/history.sqlite"
#define BAYESD_DEFAULT_HISTORY_SIZE	10000	/* scan history rows kept */
#ifndef BAYESD_WWWDIR
#define BAYESD_WWWDIR			"/usr/local/share/bayesd/www"
#endif
#define BAYESD_DEFAULT_MILTER_SOCKET	"inet:11332@127.0.0.1"
#define BAYESD_DEFAULT_CONTROLLER_SOCKET BAYESD_RUNDIR "/controller.sock"
#define BAYESD_DEFAULT_PIDFILE		BAYESD_RUNDIR "/bayesd.pid"

#ifndef BAYESD_VERSION
#define BAYESD_VERSION			"0.1.0"
#endif

/* Embedded defaults of the other keys (bayesd.conf documents each one). */
#define BAYESD_DEFAULT_CONTROLLER_SOCKET_MODE	0660
#define BAYESD_DEFAULT_MAX_REQUEST_BYTES	(16u * 1024 * 1024)
#define BAYESD_DEFAULT_CONTROLLER_TIMEOUT	30	/* seconds */
#define BAYESD_DEFAULT_CONTROLLER_MAX_CONNECTIONS	64	/* per listener */
#define BAYESD_DEFAULT_CONTROLLER_MAX_PER_IP	16	/* TCP, per client address */
#define BAYESD_DEFAULT_REJECT_MESSAGE		"5.7.1 Message classified as spam"
#define BAYESD_DEFAULT_SCAN_LIMIT		(1024u * 1024)
#define BAYESD_DEFAULT_READ_HANDLES		32
#define BAYESD_DEFAULT_CACHE_MAX_TOKENS		2000000	/* COUNT_CACHE_DEFAULT_MAX_TOKENS */
#define BAYESD_DEFAULT_SYSLOG_FACILITY		"mail"
#define BAYESD_THRESHOLD_OFF			2.0	/* a threshold no probability reaches */
#define BAYESD_DEFAULT_RECIPIENT_DELIMITER	"+"
#define BAYESD_DEFAULT_AUTOLEARN_SPAM		0.999
#define BAYESD_DEFAULT_AUTOLEARN_HAM		0.001
#define BAYESD_USER_MAX				256	/* bytes of a mapped user name */
#define BAYESD_ALIASES_MAX			100000	/* lines of user_aliases */
#define BAYESD_DEFAULT_MIN_LEARNS		200	/* of each class, like rspamd and SpamAssassin */
#define BAYESD_DEFAULT_EXEMPT_RECIPIENTS	"postmaster@ abuse@"	/* RFC 2142 */
#define BAYESD_INCLUDE_DEPTH			8	/* nested include lines */

/* user_map: how an envelope recipient becomes a per-user statistics name */
enum user_map {
	USER_MAP_NONE,		/* the address as given */
	USER_MAP_LOCALPART,	/* the local part, lower-cased */
	USER_MAP_ADDRESS,	/* the whole address, lower-cased */
};

/* history_store: where the scan history is kept (milter/history.h) */
enum history_store {
	HISTORY_STORE_AUTO,	/* where the statistics are: Redis with backend = redis */
	HISTORY_STORE_SQLITE,	/* history_database, a file of this host */
	HISTORY_STORE_REDIS,	/* a capped list on the statistics' Redis, shared by the nodes */
};

enum on_error_policy {
	ON_ERROR_ACCEPT,	/* accept, X-Spam-Status says the score is unknown */
	ON_ERROR_TEMPFAIL,	/* 451 4.7.1 */
};

/* upstream_headers: what becomes of the X-Spam-* headers a message arrives with */
enum upstream_headers {
	UPSTREAM_RENAME,	/* X-Spam-Foo re-added as X-Upstream-Spam-Foo */
	UPSTREAM_REMOVE,	/* deleted */
	UPSTREAM_KEEP,		/* left as they came, beside ours */
};

struct bayesd_config {
	int refs;			/* config_ref/config_unref */
	char *path;			/* file it was read from, or NULL */

	/* where it listens and keeps its statistics */
	char *milter_socket;		/* libmilter syntax: inet:PORT@HOST or unix:/path */
	char *controller_socket;	/* UNIX socket path of the HTTP controller ("" = none) */
	unsigned controller_socket_mode;	/* e.g. 0660 */
	char *controller_socket_group;	/* group that may train ("" = the daemon's) */
	char *controller_bind;		/* "127.0.0.1:11334" or "" = no TCP controller */
	char *controller_password;	/* required for TCP learns */
	bool controller_open_reads;	/* GET /stat, /metrics on TCP without the password */
	size_t max_request_bytes;	/* controller request body cap */
	unsigned controller_timeout_s;	/* idle / slow client timeout */
	unsigned controller_max_connections;	/* per listener (libmicrohttpd's limit) */
	unsigned controller_max_per_ip;	/* TCP connections per client address */
	char *database;			/* the SQLite file (backend = sqlite) */
	int backend;			/* enum bayes_backend: sqlite or redis */
	char *redis_servers;		/* "host:port, ...": the primary, then read-only replicas */
	char *redis_password;
	unsigned redis_db;
	char *redis_prefix;
	unsigned redis_connect_timeout_ms;
	unsigned redis_timeout_ms;	/* each command's reply */
	char *pidfile;
	char *user;			/* drop to this user after binding ("" = stay) */
	char *group;

	/* what it does with a score */
	double spam_threshold;		/* >= : X-Spam-Flag: YES */
	double reject_threshold;	/* >= : 550 5.7.1 (> 1 disables) */
	double quarantine_threshold;	/* >= : smfi_quarantine (> 1 disables) */
	char *reject_message;
	char *subject_tag;		/* prefixed to the Subject of spam ("" = no rewrite) */
	enum on_error_policy on_error;
	enum upstream_headers upstream_headers;	/* incoming X-Spam-*: rename, remove, keep */
	bool score_authenticated;	/* default false: SASL senders not scored */
	char *trusted_networks;		/* comma/space separated CIDRs, default "" */
	bool score_local;		/* default false: mail from the box itself not scored */
	char *exempt_recipients;	/* patterns of recipients whose mail is not scored */
	char *exempt_senders;		/* patterns of envelope senders not scored */
	char *no_reject_recipients;	/* patterns of recipients who opted out of reject/quarantine */
	unsigned min_learns;		/* messages of each class before a verdict (0 = none) */
	size_t scan_limit;		/* bytes of a message read for scoring */

	/* engine */
	enum bayes_train_mode train_mode;
	bool sync_full;
	unsigned milter_threads_hint;	/* read handles kept in the pool */
	bool per_user_global;		/* a user's learns also go into the global statistics */
	unsigned cache_max_tokens;	/* shared token cache bound (0 = no cache; read at start) */

	/* per-user scoring at SMTP time (config_rcpt_user) */
	bool per_user;			/* one recipient: score with that user's statistics */
	enum user_map user_map;
	char *recipient_delimiter;	/* characters that start an +extension ("" = none) */
	char *user_aliases;		/* "address user" file ("" = none), read at load */

	/* autolearn: the milter learns confident verdicts through the writer */
	bool autolearn;
	double autolearn_spam_threshold;	/* prob >= this: learned as spam */
	double autolearn_ham_threshold;		/* prob <= this: learned as ham */

	/* scan history (history.h) */
	bool history;			/* keep a row per scored message */
	unsigned history_size;		/* rows kept (a ring) */
	char *history_database;		/* its own SQLite file */
	int history_store;		/* enum history_store: where the rows live */
	bool history_hash_addresses;	/* history_addresses = hash */
	char *www_dir;			/* the web page's static files ("" = none) */

	/* logging */
	bool foreground;		/* -f: log to stderr */
	char *syslog_facility;		/* "mail" */
	int log_level;			/* syslog priority threshold */

	/* trusted_networks, parsed */
	struct config_net *trusted;
	size_t ntrusted;

	/* user_aliases, read: sorted by address (lower-cased) */
	struct config_alias *aliases;
	size_t naliases;
};

/* One line of user_aliases. */
struct config_alias {
	char *address;			/* lower-cased */
	char *user;
	unsigned line;			/* in the file: the last line of an address wins */
};

/* One CIDR block of trusted_networks; IPv4 is kept as IPv4-mapped IPv6. */
struct config_net {
	unsigned char addr[16];
	unsigned prefix;		/* 0..128 */
};

/*
 * config_load - defaults, then the file at path (NULL = defaults only),
 * its include lines (a file, relative to path's directory), then every
 * *.conf file of the directory PATH.d next to it ("bayesd.conf.d"), in
 * name order: a later key wins.
 * Returns a config with one reference, or NULL with a one-line reason
 * ("bayesd.conf:12: unknown key 'foo'") in err.
 */
struct bayesd_config *config_load(const char *path, char *err, size_t errlen);

void config_ref(struct bayesd_config *c);
/* config_unref - drop a reference; frees at zero; sets *c to NULL. */
void config_unref(struct bayesd_config **c);

/*
 * config_print - write every key with its value, as a config file (bayesd
 * -n -v); secrets (controller_password, redis_password) are never
 * printed: an empty value with the comment "# (set, not shown)" when set.
 */
void config_print(const struct bayesd_config *c, FILE *out);

/*
 * config_trusted, config_local, config_exempt, config_rcpt_user: the
 * daemon's questions about addresses, in milter/addresses.h.
 */

/* config_lower - ASCII lower-case s in place */
void config_lower(char *s);

/*
 * config_store_options - the statistics backend settings of c into o
 * (backend, redis_*); the rest of o is left alone.
 */
void config_store_options(const struct bayesd_config *c, struct bayes_options *o);

/*
 * config_current_set - publish c as the daemon's current configuration (takes
 * a new reference; the previous one is unreferenced). config_current -
 * the current configuration with a new reference the caller drops with
 * config_unref(), or NULL before the first config_current_set().
 */
void config_current_set(struct bayesd_config *c);
struct bayesd_config *config_current(void);

#endif
