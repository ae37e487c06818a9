/*
 * main.c - bayesd: the Bayesian spam filter daemon (a milter for Postfix).
 *
 * Process life, in order:
 *	parse the command line and the config (bayesd -n stops here);
 *	open the logs; bind the controller's sockets and libmilter's listening
 *	socket while still root; daemonize unless -f; write the pid file; drop
 *	to the configured user; check the database once (a warning, not a
 *	failure: mail must flow); start the controller (and its writer); run
 *	libmilter in its own thread; then wait for signals.
 *
 * Signals. libmilter's smfi_main() spawns a thread that sigwait()s for
 * SIGHUP, SIGTERM and SIGINT and stops the milter on any of them, and it
 * blocks those signals in the thread that calls smfi_main() and in every
 * thread made after. A second sigwait() thread of ours would race with
 * it, and the loser's SIGHUP would stop the daemon instead of reloading
 * it. So smfi_main() runs in a thread of its own and the main thread keeps
 * the three signals unblocked, with handlers that write the signal to a
 * self-pipe: Linux delivers a process-directed signal to the main thread
 * whenever it does not block it, so these handlers, not libmilter, get
 * them. Should libmilter's thread catch one anyway, smfi_main() returns,
 * the milter thread reports that through the same pipe, and bayesd shuts
 * down cleanly rather than running without its milter.
 *	SIGHUP		reload the config; a bad file keeps the old config
 *	SIGTERM, SIGINT	stop: no new connections, messages in flight finish
 *			(up to BAYESD_DRAIN_S), the controller finishes its
 *			requests and queued learns, the pid file goes, exit 0
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "controller.h"
#include "history.h"
#include "log.h"
#include "milter.h"
#include "tokens/count_cache.h"

#define BAYESD_DRAIN_S	30	/* seconds messages in flight get at shutdown */

static int main_pipe[2] = { -1, -1 };	/* signal and milter-exit notifications */
static int main_pidfd = -1;
static const char *main_pidpath;	/* written by us, removed at exit */
static bool main_milter_returned;	/* smfi_main() is over */

/* main_usage - the manual, short */
static void main_usage(FILE *out)
{
	fprintf(out,
"NAME\n"
"    bayesd - Bayesian spam filter daemon: a milter for Postfix\n"
"\n"
"SYNOPSIS\n"
"    bayesd [-f] [-c FILE]\n"
"    bayesd -n [-v] [-c FILE]\n"
"    bayesd -h | --help | -V | --version\n"
"\n"
"DESCRIPTION\n"
"    bayesd scores every message Postfix hands it over the milter protocol\n"
"    with the statistics in its database, and acts on the probability:\n"
"    \"X-Spam-Status: Yes|No, score=S required=5.0 tests=BAYES_NN\n"
"    autolearn=A version=bayesd-V\" (SpamAssassin's shape: S in points, 5.0\n"
"    at spam_threshold) and X-Spam-Bayesd (the probability) headers on\n"
"    every scored message, X-Spam-Flag: YES on spam (at or above\n"
"    spam_threshold), an optional Subject tag and quarantine, and a\n"
"    550 5.7.1 reject at or above reject_threshold. X-Spam-* headers that\n"
"    come from outside follow upstream_headers: renamed to\n"
"    X-Upstream-Spam-* (rename, the default), deleted (remove) or left\n"
"    beside bayesd's own (keep). Senders that authenticated (SASL),\n"
"    clients in trusted_networks and mail from the box itself (Postfix's\n"
"    pickup, unless score_local = yes) are not scored and get no\n"
"    X-Spam-* header. Until the statistics hold min_learns (default 200)\n"
"    messages of each class, nothing is flagged or rejected: \"X-Spam-Status:\n"
"    Unknown, not enough training\" (min_learns = 0: score at once).\n"
"    If the database is missing, locked or broken, mail still flows\n"
"    (on_error = accept adds \"X-Spam-Status: Unknown, score=unknown\";\n"
"    on_error = tempfail answers 451 4.7.1).\n"
"\n"
"    It learns through its HTTP controller (controller_socket, see\n"
"    bayesc(1)); one writer thread commits every learn, the milter only\n"
"    reads. Runs with no config file at all on its embedded defaults.\n"
"\n"
"OPTIONS\n"
"    -c FILE    read the configuration from FILE, its include lines and\n"
"               FILE.d/*.conf (default %s,\n"
"               when it exists; otherwise the embedded defaults)\n"
"    -f         stay in the foreground and log to stderr (for systemd);\n"
"               without it bayesd detaches and logs to syslog\n"
"    -n         check the configuration: print \"configuration OK\" and exit 0,\n"
"               or print the error with its file and line and exit 78\n"
"    -v         with -n: also print every key with its value (passwords\n"
"               are shown only as \"# (set, not shown)\")\n"
"    -h, --help this text\n"
"    -V, --version  print the version\n"
"\n"
"SIGNALS\n"
"    SIGHUP     reload the configuration (sockets, database, user and\n"
"               pidfile need a restart); sessions in progress keep the\n"
"               configuration they started with; a bad file is logged and\n"
"               the running configuration stays\n"
"    SIGTERM, SIGINT\n"
"               stop accepting connections, let messages in flight finish\n"
"               (up to %d s) and queued learns commit, then exit 0\n"
"\n"
"FILES\n"
"    %s       configuration (key = value)\n"
"    %s     statistics database\n"
"    %s   scan history (history_size rows)\n"
"    %s   the controller's web page, served at /\n"
"    %s    controller socket\n"
"    %s          pid file\n"
"    Default milter socket: %s (Postfix: smtpd_milters =\n"
"    inet:127.0.0.1:11332).\n"
"\n"
"EXIT STATUS\n"
"    0 success, 64 usage error, 78 configuration error, 71 cannot start\n"
"    (socket, user, pid file in use), 70 internal error.\n"
"\n"
"SEE ALSO\n"
"    bayesc(1), bayesd.conf(5) (every key; also the commented example),\n"
"    postconf(5) smtpd_milters.\n",
		BAYESD_DEFAULT_CONFIG, BAYESD_DRAIN_S, BAYESD_DEFAULT_CONFIG,
		BAYESD_DEFAULT_DATABASE, BAYESD_DEFAULT_HISTORY_DATABASE, BAYESD_WWWDIR,
		BAYESD_DEFAULT_CONTROLLER_SOCKET, BAYESD_DEFAULT_PIDFILE,
		BAYESD_DEFAULT_MILTER_SOCKET);
}

/* main_signal - async-signal-safe: note the signal in the pipe */
static void main_signal(int sig)
{
	int saved = errno;
	char c = sig == SIGHUP ? 'H' : 'T';

	if (write(main_pipe[1], &c, 1) < 0) {
		/* the pipe is full: a notification is already pending */
	}
	errno = saved;
}

/* main_signals - the self-pipe and the handlers */
static bool main_signals(void)
{
	struct sigaction sa;

	if (pipe2(main_pipe, O_CLOEXEC) != 0)
		return false;
	fcntl(main_pipe[1], F_SETFL, O_NONBLOCK);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = main_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	return true;
}

/* main_milter_thread - run libmilter; tell the main thread when it returns */
static void *main_milter_thread(void *arg)
{
	char c;
	int rc = milter_run();

	__atomic_store_n(&main_milter_returned, true, __ATOMIC_RELEASE);
	c = rc == 0 ? 'M' : 'F';
	if (write(main_pipe[1], &c, 1) < 0)
		log_error("milter: cannot notify the main thread: %m");
	return NULL;
}

/* main_pidfile_write - create, lock and fill the pid file */
static bool main_pidfile_write(const char *path)
{
	char buf[32];
	int n;

	if (!path || !*path)
		return true;
	main_pidfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (main_pidfd < 0) {
		/* not fatal: a foreground daemon under a supervisor needs none */
		log_warning("open(%s) failed: %m; running without a pid file", path);
		return true;
	}
	if (flock(main_pidfd, LOCK_EX | LOCK_NB) != 0) {
		n = (int)read(main_pidfd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		/*
		 * Another bayesd with the same pid file but other sockets
		 * (a second node on this host, a test instance: two on the
		 * same sockets never get here, their bind fails first). Its
		 * file stays as it is; this one runs without.
		 */
		log_warning("%s: locked by another bayesd (pid %s); running without a pid file", path,
			    buf[0] ? buf : "unknown");
		close(main_pidfd);
		main_pidfd = -1;
		return true;
	}
	(void)fchmod(main_pidfd, 0644);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(main_pidfd, 0) != 0 || write(main_pidfd, buf, (size_t)n) != n)
		log_warning("write(%s) failed: %m", path);
	main_pidpath = path;
	return true;
}

/* main_pidfile_remove - at exit; the directory may no longer let us */
static void main_pidfile_remove(void)
{
	if (main_pidpath && unlink(main_pidpath) != 0)
		log_debug("unlink(%s) failed: %m", main_pidpath);
	if (main_pidfd >= 0)
		close(main_pidfd);
	main_pidfd = -1;
}

/*
 * main_mkdir - create dir and its missing parents, like a package's
 * RuntimeDirectory= and StateDirectory=: parents get 0755, dir itself gets
 * mode and, when uid is not -1, that owner. Directories that exist are left
 * as they are. Failure is only a warning: what needs the directory (the
 * controller, the pid file, the database) says what went wrong.
 */
static void main_mkdir(const char *dir, mode_t mode, uid_t uid, gid_t gid)
{
	char *path = strdup(dir), *p;
	bool last;

	if (!path)
		abort();
	for (p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		last = *p == '\0' || p[strspn(p, "/")] == '\0';
		*p = '\0';
		if (mkdir(path, last ? mode : 0755) == 0) {
			/* the umask (027) must not take "x" from others on a parent */
			if (chmod(path, last ? mode : 0755) != 0)
				log_warning("chmod(%s) failed: %m", path);
			if (last && uid != (uid_t)-1 && chown(path, uid, gid) != 0)
				log_warning("chown(%s) failed: %m", path);
			if (last)
				log_info("created %s", path);
		} else if (errno != EEXIST) {
			log_warning("mkdir(%s) failed: %m", path);
			break;
		}
		if (last)
			break;
		*p = '/';
	}
	free(path);
}

/* main_mkdir_of - main_mkdir on the directory part of file (if any) */
static void main_mkdir_of(const char *file, mode_t mode, uid_t uid, gid_t gid)
{
	const char *slash;
	char *dir;

	if (!file || file[0] != '/' || !(slash = strrchr(file, '/')) || slash == file)
		return;
	if (!(dir = strndup(file, (size_t)(slash - file))))
		abort();
	main_mkdir(dir, mode, uid, gid);
	free(dir);
}

/*
 * main_make_dirs - the directories of the database (0750), and of the
 * controller socket, pid file and a UNIX milter socket (0755), when
 * missing; as root they belong to the configured user, who writes there
 * after the privilege drop.
 */
static void main_make_dirs(const struct bayesd_config *cfg)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	const char *ms = cfg->milter_socket;

	if (geteuid() == 0 && *cfg->user) {
		struct passwd *pw = getpwnam(cfg->user);
		struct group *gr = *cfg->group ? getgrnam(cfg->group) : NULL;

		/* an unknown user or group is reported by main_drop_privileges */
		if (pw) {
			uid = pw->pw_uid;
			gid = gr ? gr->gr_gid : pw->pw_gid;
		}
	}
	main_mkdir_of(cfg->database, 0750, uid, gid);
	if (*cfg->controller_socket)
		main_mkdir_of(cfg->controller_socket, 0755, uid, gid);
	if (*cfg->pidfile)
		main_mkdir_of(cfg->pidfile, 0755, uid, gid);
	if (strncmp(ms, "unix:", 5) == 0 || strncmp(ms, "local:", 6) == 0)
		main_mkdir_of(strchr(ms, ':') + 1, 0755, uid, gid);
}

/* main_drop_privileges - become cfg->user (and group) when root */
static bool main_drop_privileges(const struct bayesd_config *cfg)
{
	struct passwd *pw;
	struct group *gr;
	gid_t gid;

	if (!*cfg->user) {
		if (geteuid() == 0)
			log_warning("running as root: set user (and group) in the configuration");
		return true;
	}
	if (!(pw = getpwnam(cfg->user))) {
		log_error("user %s: no such user", cfg->user);
		return false;
	}
	if (geteuid() != 0) {
		if (geteuid() != pw->pw_uid)
			log_warning("not root: cannot switch to user %s, staying uid %ld", cfg->user,
				    (long)geteuid());
		return true;
	}
	gid = pw->pw_gid;
	if (*cfg->group) {
		if (!(gr = getgrnam(cfg->group))) {
			log_error("group %s: no such group", cfg->group);
			return false;
		}
		gid = gr->gr_gid;
	}
	if (main_pidfd >= 0 && fchown(main_pidfd, pw->pw_uid, gid) != 0)
		log_debug("fchown(pid file) failed: %m");
	if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_error("cannot become user %s: %m", cfg->user);
		return false;
	}
	if (setuid(0) == 0) {
		log_error("privilege drop to %s did not stick", cfg->user);
		return false;
	}
	log_info("running as user %s (uid %ld, gid %ld)", cfg->user, (long)pw->pw_uid, (long)gid);
	return true;
}

/* main_keep - a key a reload cannot change: keep the running value */
static void main_keep(const char *key, char **new_value, const char *old_value)
{
	if (strcmp(*new_value, old_value) == 0)
		return;
	log_warning("reload: %s changed from '%s' to '%s': takes effect at restart", key,
		    old_value, *new_value);
	free(*new_value);
	*new_value = strdup(old_value);
	if (!*new_value)
		abort();
}

/* main_reload - SIGHUP: a new config, or the old one with a log line */
static void main_reload(const char *path, struct controller *ctl)
{
	struct bayesd_config *old = config_current(), *cfg;
	char err[512];

	cfg = config_load(path, err, sizeof(err));
	if (!cfg) {
		log_error("reload: %s; keeping the running configuration", err);
		config_unref(&old);
		return;
	}
	cfg->foreground = old->foreground;
	main_keep("milter_socket", &cfg->milter_socket, old->milter_socket);
	main_keep("controller_socket", &cfg->controller_socket, old->controller_socket);
	main_keep("controller_bind", &cfg->controller_bind, old->controller_bind);
	main_keep("database", &cfg->database, old->database);
	main_keep("pidfile", &cfg->pidfile, old->pidfile);
	/* the statistics backend: the milter, the controller and the writer must agree on it */
	if (cfg->backend != old->backend) {
		log_warning("reload: backend changed: takes effect at restart");
		cfg->backend = old->backend;
	}
	main_keep("redis_servers", &cfg->redis_servers, old->redis_servers);
	main_keep("redis_prefix", &cfg->redis_prefix, old->redis_prefix);
	if (cfg->redis_db != old->redis_db) {
		log_warning("reload: redis_db changed: takes effect at restart");
		cfg->redis_db = old->redis_db;
	}
	main_keep("user", &cfg->user, old->user);
	main_keep("group", &cfg->group, old->group);
	main_keep("syslog_facility", &cfg->syslog_facility, old->syslog_facility);
	log_set_level(cfg->log_level);
	config_current_set(cfg);
	milter_reload();
	history_configure(cfg);
	if (ctl)
		controller_reload(ctl, cfg);
	log_info("reload: configuration %s loaded", path ? path : "(embedded defaults)");
	config_unref(&cfg);
	config_unref(&old);
}

/* main_config_path - -c, else the default file when it exists, else none */
static const char *main_config_path(const char *opt, char *abs, size_t abslen)
{
	const char *path = opt;

	if (!path) {
		if (access(BAYESD_DEFAULT_CONFIG, F_OK) != 0)
			return NULL;
		path = BAYESD_DEFAULT_CONFIG;
	}
	/* absolute, so a reload still finds it after chdir("/") */
	if (path[0] != '/' && realpath(path, abs) && strlen(abs) < abslen)
		return abs;
	return path;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *opt_config = NULL, *path;
	char abs[PATH_MAX], err[512];
	bool foreground = false, check = false, verbose = false, stopping = false;
	struct bayesd_config *cfg;
	struct controller *ctl;
	struct count_cache *cache = NULL;
	pthread_t milter_tid;
	int ch, status = EX_OK;

	while ((ch = getopt_long(argc, argv, "c:fnvhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opt_config = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'n':
			check = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			main_usage(stdout);
			return EX_OK;
		case 'V':
			printf("bayesd %s\n", BAYESD_VERSION);
			return EX_OK;
		default:
			fprintf(stderr, "usage: bayesd [-f] [-c FILE] | -n [-v] [-c FILE] | -h | -V\n");
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bayesd: unexpected argument '%s' (see bayesd --help)\n", argv[optind]);
		return EX_USAGE;
	}
	/* options that mean something only with another are refused alone,
	 * rather than starting a daemon that silently ignores them */
	if (verbose && !check) {
		fprintf(stderr, "bayesd: -v goes with -n (print the configuration); it does not start the daemon\n");
		return EX_USAGE;
	}
	if (foreground && check) {
		fprintf(stderr, "bayesd: -f starts the daemon in the foreground and -n only checks the configuration: "
			"give one\n");
		return EX_USAGE;
	}

	path = main_config_path(opt_config, abs, sizeof(abs));
	cfg = config_load(path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "bayesd: %s\n", err);
		return EX_CONFIG;
	}
	if (check) {
		if (verbose)
			config_print(cfg, stdout);
		if (!path)
			fprintf(stderr, "bayesd: no configuration file; using the embedded defaults\n");
		printf("configuration OK\n");
		config_unref(&cfg);
		return EX_OK;
	}
	cfg->foreground = foreground;

	umask(027);
	log_open("bayesd", foreground, log_facility_code(cfg->syslog_facility));
	log_stderr_too(!foreground);	/* until daemon(): startup errors reach the terminal */
	log_set_level(cfg->log_level);
	config_current_set(cfg);
	if (!main_signals()) {
		log_error("pipe failed: %m");
		return EX_OSERR;
	}

	/* as root: the state and run directories, the sockets */
	main_make_dirs(cfg);
	err[0] = '\0';
	ctl = controller_bind(cfg, err, sizeof(err));
	if (!ctl) {
		log_error("controller: %s", err[0] ? err : "cannot bind");
		return EX_OSERR;
	}
	if (!milter_setup(cfg, err, sizeof(err))) {
		log_error("%s", err);
		controller_stop(&ctl);
		return EX_OSERR;
	}

	if (!foreground) {
		if (daemon(0, 0) != 0) {
			log_error("daemon failed: %m");
			return EX_OSERR;
		}
		log_stderr_too(false);
	}
	if (!main_pidfile_write(cfg->pidfile) || !main_drop_privileges(cfg)) {
		controller_stop(&ctl);
		return EX_OSERR;
	}
	log_info("bayesd %s starting: milter %s, database %s, config %s", BAYESD_VERSION,
		 cfg->milter_socket, cfg->database, path ? path : "(embedded defaults)");
	milter_probe(cfg);
	/*
	 * The global statistics in memory for every scoring thread; the
	 * controller's writer loads it and keeps it current (without a
	 * controller nobody does, and checks read the database). Not with
	 * Redis: other nodes learn too, and only this one would update it.
	 */
	if (cfg->cache_max_tokens > 0 && cfg->backend == BAYES_BACKEND_SQLITE) {
		cache = count_cache_new(cfg->cache_max_tokens);
		milter_cache_set(cache);
		controller_cache_set(ctl, cache);
	}
	history_configure(cfg);
	if (controller_start(ctl, cfg, err, sizeof(err)) != 0)
		log_error("controller: %s; learning and the HTTP endpoints are unavailable, "
			  "the milter goes on", err);
	milter_writer_set(controller_writer(ctl));
	if (cfg->autolearn && controller_writer(ctl) == NULL)
		log_warning("autolearn = yes needs the controller (its writer learns): autolearn is off");

	if ((errno = pthread_create(&milter_tid, NULL, main_milter_thread, NULL)) != 0) {
		log_error("cannot start the milter thread: %m");
		controller_stop(&ctl);
		main_pidfile_remove();
		return EX_OSERR;
	}

	while (!stopping) {
		char c;
		ssize_t n = read(main_pipe[0], &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("read(signal pipe) failed: %m");
			status = EX_SOFTWARE;
			break;
		}
		switch (c) {
		case 'H':
			main_reload(path, ctl);
			break;
		case 'T':
			log_info("stopping on signal");
			stopping = true;
			break;
		case 'M':
			log_warning("milter stopped (a signal reached libmilter); shutting down");
			stopping = true;
			break;
		default:
			log_error("milter: smfi_main failed; shutting down");
			status = EX_SOFTWARE;
			stopping = true;
			break;
		}
	}

	/*
	 * No new connections; wait for the messages in flight; only then
	 * smfi_stop(), which ends libmilter's sessions (milter.h).
	 */
	milter_stop();
	milter_drain(BAYESD_DRAIN_S);
	log_debug("stop: messages in flight done");
	milter_finish();
	if (__atomic_load_n(&main_milter_returned, __ATOMIC_ACQUIRE))
		pthread_join(milter_tid, NULL);
	else
		pthread_detach(milter_tid);
	log_debug("stop: milter listener closed");
	milter_writer_set(NULL);
	controller_stop(&ctl);
	log_debug("stop: controller stopped");
	milter_shutdown();
	milter_cache_set(NULL);
	count_cache_free(&cache);
	main_pidfile_remove();
	config_current_set(NULL);
	config_unref(&cfg);
	log_info("stopped");
	return status;
}
