/*
 * bayesc.c - bayesc, the command-line trainer and checker.
 *
 * The verbs are declared as a table; the options are the same for every
 * verb. With --db PATH bayesc works on a database file itself (offline.c),
 * with -c CONFIG on the statistics bayesd.conf names (a file or Redis),
 * with --redis SERVERS on Redis; without, it talks to bayesd's
 * controller (client.c).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bayesc.h"
#include "config.h"
#include "eval.h"
#include "score/score.h"
#include "util.h"

static const struct {
	const char *name;
	enum bayesc_verb verb;
	bool offline_only;
} verbs[] = {
	{ "check", VERB_CHECK, false },
	{ "symbols", VERB_CHECK, false },
	{ "learn_spam", VERB_LEARN_SPAM, false },
	{ "learn_ham", VERB_LEARN_HAM, false },
	{ "forget", VERB_FORGET, false },
	{ "stat", VERB_STAT, false },
	{ "eval", VERB_EVAL, true },
	{ "dump", VERB_DUMP, true },
	{ "restore", VERB_RESTORE, true },
	{ "expire", VERB_EXPIRE, true },
	{ "import-mbox", VERB_IMPORT_MBOX, false },
	{ "history", VERB_HISTORY, false },
};

static void usage(FILE *out)
{
	fputs(
"Usage: bayesc [OPTIONS] [COMMAND] [FILE|DIR]...\n"
"\n"
"Check and train the bayesd spam classifier. Messages are read from the\n"
"FILEs, from maildirs (DIR/cur and DIR/new), from folders of message files,\n"
"and from the folders under them (Maildir++ .Junk, .Archive.2023, nested\n"
"folders), or from standard input when none is given. A DIR with no mail\n"
"anywhere below it is an error (exit 65).\n"
"Without a COMMAND bayesc runs symbols (check and the words that weighed\n"
"most), as rspamc does: 'bayesc FILE' checks FILE, 'bayesc < FILE' standard\n"
"input. Options as in rspamc: -h is the host, -d the user (see below).\n"
"\n"
"Commands:\n"
"  check, symbols   print each message's spam probability and verdict\n"
"  learn_spam       learn the messages as spam\n"
"  learn_ham        learn the messages as ham (not spam)\n"
"  import-mbox --spam|--ham FILE...\n"
"                   learn every message of the mbox FILEs as spam or ham;\n"
"                   prints one summary line (learned, already learned,\n"
"                   failed) instead of a line per message\n"
"  forget           remove what earlier learns of the messages added\n"
"  stat             print the statistics\n"
"  history [-n N] [--action ACTION]\n"
"                   the newest N (20) rows of bayesd's scan history: time,\n"
"                   queue id, score, action, sender, subject (controller only)\n"
"  eval INDEX       (with --db) TREC immediate-feedback evaluation over a\n"
"                   TREC index of 'spam PATH' / 'ham PATH' lines\n"
"  dump             (with --db) write the statistics as portable text to\n"
"                   standard output (format: README)\n"
"  restore          (with --db) read a dump from standard input into a new,\n"
"                   empty database\n"
"  expire           (with --db) remove rare tokens not seen for long, old\n"
"                   learned-message memory; prints what it removed\n"
"\n"
"A message learned twice as the same class is 'already learned' and changes\n"
"nothing; learned as the other class it is 'relearned' and its counts move.\n"
"\n"
"Where:\n"
"  --db PATH        work on the database file PATH directly, without bayesd\n"
"                   (created by learn_* when missing; no short option: -d is\n"
"                   the user, as in rspamc)\n"
"  -c, --config F   work directly on the statistics the bayesd configuration\n"
"                   F names: its database, or with backend = redis its\n"
"                   redis_* settings (what --db means for the commands below)\n"
"  --redis SERVERS  work directly on the Redis statistics at SERVERS\n"
"                   (HOST:PORT, the primary first); --redis-prefix P too\n"
"  -s, --socket P   bayesd's controller socket (default $BAYESC_SOCKET, else\n"
"                   " BAYESC_DEFAULT_SOCKET ")\n"
"  -h, --connect HOST[:PORT], -H, --host HOST[:PORT]\n"
"                   bayesd's controller on TCP instead (needs -P to learn);\n"
"                   the port is " BAYESC_DEFAULT_PORT " when left out. As in rspamc,\n"
"                   -h is the host, not the help (that is --help)\n"
"  -P, --password W controller password for TCP\n"
"  -u, --user USER, -d, --deliver-to USER\n"
"                   per-user statistics of USER (rspamc's -d, deliver-to)\n"
"  -i, --ip IP      check: the client IP the message came from, scored as\n"
"                   the milter scores it (rspamc's -i; sent as IP:)\n"
"  --helo NAME      check: the client's HELO name (rspamc's --helo)\n"
"  -t, --timeout S  seconds to wait for bayesd (default 30)\n"
"  --no-recurse     a DIR's own mail only (DIR/cur, DIR/new or its files),\n"
"                   not that of the folders under it\n"
"  --mbox           the FILEs (or stdin) are mbox files of many messages,\n"
"                   each named FILE#N in the output\n"
"  --spam, --ham    import-mbox: the class to learn\n"
"  --train-mode M   (with --db) learn_spam/learn_ham score each message first\n"
"                   and learn it only where training mode M says so:\n"
"                   all, error (wrong or unsure: train on error with a thick\n"
"                   threshold), mature (all until mature, then error), or\n"
"                   default (the embedded default, error)\n"
"\n"
"Output:\n"
"  (on a terminal, learning from folders and mbox files shows a progress\n"
"  line on standard error and a summary line at the end)\n"
"  -j, --json       one JSON object per message\n"
"  -e, --explain    check: also the words that weighed most\n"
"  -E, --exit-code  check: exit 1 when any message is spam (spamc -c);\n"
"                   without it check exits 0 for spam and ham alike\n"
"  -q, --quiet      check: no output (with -c: the exit status only)\n"
"  --results FILE   eval: write the per-message TREC results to FILE\n"
"  --windows N      eval: also (1-ROCA)%, hm% and sm% of each N messages\n"
"  --train-only     eval: learn every message of INDEX with its label,\n"
"                   score none (the first half of a cross-corpus run)\n"
"  --score-only     eval: score every message, learn none (the second half)\n"
"  --classifier C   with --db: combine the features by 'mean' (default:\n"
"                   mean log-odds) or 'fisher' (chi-square, as bogofilter)\n"
"  --byte-ngrams N[/H]\n"
"                   with --db: byte 4-grams of the first N bytes (default\n"
"                   3000; 0 = none, which opens a database made before them),\n"
"                   of the header at most H bytes (default 2000; 0 = no cap)\n"
"  --score-param NAME=VALUE[,NAME=VALUE]\n"
"                   with --db, for experiments: robs (Robinson's strength),\n"
"                   min_dev (the neutral band left out), mean_scale\n"
"  --max-age-days N expire: remove any token not seen for N days (default\n"
"                   180); the hapax (15) and neutral (60) ages are capped at N\n"
"  --help           this text;  -V, --version  the version\n"
"\n"
"Exit status: 0 success (check: every message scored, spam or ham), 1 check\n"
"-E found spam, 64 usage, 65 unreadable input or no mail found, 66 database\n"
"missing, 69 bayesd unavailable, 75 database busy, 76 database corrupt or\n"
"incompatible.\n", out);
}

/* the long-only options' codes, beyond every short option's character */
enum { OPT_HELP = 1000, OPT_NO_RECURSE, OPT_HELO };

/*
 * host_with_port - -h/-H HOST[:PORT] with the port filled in when left
 * out ("[::1]" and "host" alike), as rspamc's -h takes a bare host.
 * Returns arg itself or a static copy.
 */
static const char *host_with_port(const char *arg)
{
	static char full[300];
	const char *h = strncmp(arg, "http://", 7) == 0 ? arg + 7 : arg;
	const char *close = h[0] == '[' ? strchr(h, ']') : NULL;
	const char *colon = strrchr(close ? close : h, ':');

	/* a bare IPv6 address (two colons, no brackets) has no port either */
	if (colon != NULL && (close != NULL || strchr(h, ':') == colon))
		return arg;
	if (*h == '\0' || strlen(arg) > sizeof(full) - 16)
		return arg;
	if (close == NULL && colon != NULL)
		snprintf(full, sizeof(full), "%.*s[%s]:%s", (int)(h - arg), arg, h, BAYESC_DEFAULT_PORT);
	else
		snprintf(full, sizeof(full), "%s:%s", arg, BAYESC_DEFAULT_PORT);
	return full;
}

/*
 * default_command - whether argv[optind] is a FILE rather than a command:
 * bayesc without a command runs symbols, as rspamc does. A word that is
 * neither a command nor a file stays an unknown command.
 */
static bool default_command(const char *word)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verbs[i].name, word) == 0)
			return false;
	return strcmp(word, "-") == 0 || access(word, F_OK) == 0;
}

/*
 * lone_option - why an option given without the one it belongs with is
 * refused, or NULL: one that would be silently ignored is a mistake the
 * user should hear about.
 */
static const char *lone_option(const struct bayesc_opts *o, const char *config, const char *redis,
			       const char *redis_prefix)
{
	bool offline = o->db != NULL || config != NULL || redis != NULL;

	if (o->password && !o->host)
		return "-P (the controller password) goes with -h HOST[:PORT]; the UNIX socket needs none";
	if (o->host && o->socket)
		return "-h (-H, --connect) and -s name two controllers: give one";
	if (offline && (o->host || o->socket || o->password))
		return "-h, -s and -P talk to bayesd; --db, -c and --redis work without it: give one way";
	if (redis_prefix && !redis && !config)
		return "--redis-prefix goes with --redis SERVERS";
	if (redis && config)
		return "--redis and -c both say where the statistics are: give one";
	if (o->train_mode && !offline)
		return "--train-mode works on a database directly: add --db PATH, -c CONFIG or --redis";
	return NULL;
}

/* verb_misuse - why the arguments or options do not fit the command, or NULL. */
static const char *verb_misuse(const struct bayesc_opts *o)
{
	static char why[160];
	bool check = o->verb == VERB_CHECK;

	switch (o->verb) {
	case VERB_HISTORY:
		if (o->db || o->nargs > 0)
			return "history asks bayesd's controller and takes no argument (no --db)";
		if (o->history_action && strspn(o->history_action, "abcdefghijklmnopqrstuvwxyz") !=
		    strlen(o->history_action))
			return "--action: accept, flag, quarantine, reject or tempfail";
		break;
	case VERB_STAT:
	case VERB_DUMP:
	case VERB_RESTORE:
	case VERB_EXPIRE:
		if (o->nargs > 0) {
			snprintf(why, sizeof(why), "%s takes no argument, but was given '%.60s'%s", o->verb_name,
				 o->args[0], o->verb == VERB_RESTORE ? " (restore reads standard input)" : "");
			return why;
		}
		break;
	case VERB_EVAL:
		if (o->nargs != 1)
			return "usage: bayesc --db PATH [--results FILE] eval INDEX (one index file)";
		break;
	default:
		break;
	}
	if (o->results && o->verb != VERB_EVAL)
		return "--results goes with eval";
	if ((o->windows || o->eval_phase) && o->verb != VERB_EVAL)
		return "--windows, --train-only and --score-only go with eval";
	if (o->windows && o->eval_phase == EVAL_TRAIN_ONLY)
		return "--windows goes with a scoring eval, not --train-only";
	if ((o->combiner >= 0 || o->ngram_bytes >= 0 || o->score_params) && o->db == NULL)
		return "--classifier, --byte-ngrams and --score-param go with --db";
	if (o->max_age_days && o->verb != VERB_EXPIRE)
		return "--max-age-days goes with expire";
	if ((o->exit_code || o->explain) && !check)
		return "-E and --explain go with check";
	if ((o->meta.client_ip || o->meta.helo) && !check)
		return "-i and --helo go with check and symbols";
	for (const char *p = o->meta.client_ip; p && *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "-i: an IP address cannot hold spaces or control characters";
	for (const char *p = o->meta.helo; p && *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return "--helo: a HELO name cannot hold control characters";
	if (o->train_mode && o->verb != VERB_LEARN_SPAM && o->verb != VERB_LEARN_HAM)
		return "--train-mode goes with learn_spam, learn_ham and import-mbox";
	if (o->mbox && o->verb != VERB_CHECK && o->verb != VERB_LEARN_SPAM && o->verb != VERB_LEARN_HAM &&
	    o->verb != VERB_FORGET)
		return "--mbox goes with check, learn_spam, learn_ham and forget";
	return NULL;
}

/*
 * parse_score_params - "robs=1,min_dev=0.2" into opt; -1 with a message
 * on a name or value it does not know.
 */
static int parse_score_params(const char *arg, struct bayes_options *opt)
{
	char copy[256], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", arg);
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '='), *end;
		double v = eq ? strtod(eq + 1, &end) : -1.0;
		double *dst = NULL, hi = 0;

		if (eq) {
			*eq = '\0';
			if (strcmp(kv, "robs") == 0)
				dst = &opt->robs, hi = 1000;
			else if (strcmp(kv, "min_dev") == 0)
				dst = &opt->min_dev, hi = 0.5;
			else if (strcmp(kv, "mean_scale") == 0)
				dst = &opt->mean_scale, hi = 1000;
		}
		if (dst == NULL || eq[1] == '\0' || *end != '\0' || !(v >= 0 && v <= hi)) {
			fprintf(stderr, "bayesc: --score-param wants robs=X, min_dev=X or mean_scale=X "
				"(0 <= X, min_dev <= 0.5), not '%s'\n", arg);
			return -1;
		}
		*dst = v;
	}
	return 0;
}

/* run_eval - bayesc eval (corpus/eval.c) with what it needs of o. */
static int run_eval(const struct bayesc_opts *o)
{
	struct eval_opts e = { 0 };

	e.db = o->db;
	bayes_options_default(&e.engine);
	bayesc_store_options(o, &e.engine);
	e.results = o->results;
	e.windows = o->windows;
	e.phase = o->eval_phase;
	e.json = o->json;
	e.args = o->args;
	e.nargs = o->nargs;
	return eval_main(&e);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "config", required_argument, NULL, 'c' },
		{ "redis", required_argument, NULL, 'R' },
		{ "redis-prefix", required_argument, NULL, 'X' },
		{ "socket", required_argument, NULL, 's' },
		{ "host", required_argument, NULL, 'H' },
		{ "connect", required_argument, NULL, 'H' },
		{ "password", required_argument, NULL, 'P' },
		{ "user", required_argument, NULL, 'u' },
		{ "deliver-to", required_argument, NULL, 'u' },
		{ "timeout", required_argument, NULL, 't' },
		{ "ip", required_argument, NULL, 'i' },
		{ "helo", required_argument, NULL, OPT_HELO },
		{ "json", no_argument, NULL, 'j' },
		{ "explain", no_argument, NULL, 'e' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "exit-code", no_argument, NULL, 'E' },
		{ "results", required_argument, NULL, 'r' },
		{ "windows", required_argument, NULL, 'W' },
		{ "train-only", no_argument, NULL, 'T' },
		{ "score-only", no_argument, NULL, 'O' },
		{ "classifier", required_argument, NULL, 'K' },
		{ "byte-ngrams", required_argument, NULL, 'G' },
		{ "score-param", required_argument, NULL, 'Z' },
		{ "train-mode", required_argument, NULL, 'm' },
		{ "max-age-days", required_argument, NULL, 'A' },
		{ "mbox", no_argument, NULL, 'M' },
		{ "no-recurse", no_argument, NULL, OPT_NO_RECURSE },
		{ "spam", no_argument, NULL, 'S' },
		{ "ham", no_argument, NULL, 'N' },
		{ "action", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct bayesc_opts o = { .timeout_s = 30, .combiner = -1, .ngram_bytes = -1,
				 .ngram_header_bytes = -1 };
	const char *config = NULL, *redis = NULL, *redis_prefix = NULL;
	const char *why_alone;
	int c, import_class = -1;

	bayes_options_default(&o.store);
	while ((c = getopt_long(argc, argv, "c:s:h:H:P:u:d:t:i:n:jeqEV", longopts, NULL)) != -1) {
		switch (c) {
		case 'D': o.db = optarg; break;
		case 'c': config = optarg; break;
		case 'R': redis = optarg; break;
		case 'X': redis_prefix = optarg; break;
		case 's': o.socket = optarg; break;
		case 'h':
		case 'H': o.host = host_with_port(optarg); break;
		case 'P': o.password = optarg; break;
		case 'u':
		case 'd': o.user = optarg; break;
		case 'i': o.meta.client_ip = optarg; break;
		case OPT_HELO: o.meta.helo = optarg; break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 86400) {
				fprintf(stderr, "bayesc: -t wants a number of seconds from 1 to 86400, not '%s'\n", optarg);
				return BAYESC_EXIT_USAGE;
			}
			o.timeout_s = (int)v;
			break;
		}
		case 'j': o.json = true; break;
		case 'e': o.explain = true; break;
		case 'q': o.quiet = true; break;
		case 'n': o.history_n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'a': o.history_action = optarg; break;
		case 'E': o.exit_code = true; break;
		case 'r': o.results = optarg; break;
		case 'W':
		case 'G': {
			char *end;
			long v = strtol(optarg, &end, 10), h = -1;
			long lo = c == 'W' ? 1 : 0, hi = c == 'W' ? 10000000 : 1000000;
			if (c == 'G' && *end == '/' && end[1] != '\0') {
				/* N/H: the header's part capped at H bytes */
				h = strtol(end + 1, &end, 10);
				if (h < 0 || h > hi)
					end = optarg;	/* refused below */
			}
			if (*optarg == '\0' || *end != '\0' || v < lo || v > hi) {
				fprintf(stderr, "bayesc: --%s wants a number from %ld to %ld, not '%s'\n",
					c == 'W' ? "windows" : "byte-ngrams", lo, hi, optarg);
				return BAYESC_EXIT_USAGE;
			}
			if (c == 'W')
				o.windows = (unsigned)v;
			else {
				o.ngram_bytes = v;
				o.ngram_header_bytes = h;
			}
			break;
		}
		case 'T':
		case 'O':
			if (o.eval_phase && o.eval_phase != (c == 'T' ? EVAL_TRAIN_ONLY : EVAL_SCORE_ONLY)) {
				fputs("bayesc: --train-only and --score-only exclude each other\n", stderr);
				return BAYESC_EXIT_USAGE;
			}
			o.eval_phase = c == 'T' ? EVAL_TRAIN_ONLY : EVAL_SCORE_ONLY;
			break;
		case 'K':
			if ((o.combiner = score_combiner_parse(optarg)) < 0) {
				fprintf(stderr, "bayesc: --classifier is 'mean' or 'fisher', not '%s'\n", optarg);
				return BAYESC_EXIT_USAGE;
			}
			break;
		case 'Z':
			if (parse_score_params(optarg, &o.store) < 0)
				return BAYESC_EXIT_USAGE;
			o.score_params = true;
			break;
		case 'm': o.train_mode = optarg; break;
		case 'M': o.mbox = true; break;
		case OPT_NO_RECURSE: o.no_recurse = true; break;
		case 'S':
		case 'N':
			if (import_class >= 0 && import_class != (c == 'S')) {
				fputs("bayesc: --spam and --ham exclude each other\n", stderr);
				return BAYESC_EXIT_USAGE;
			}
			import_class = c == 'S';
			break;
		case 'A': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 100000) {
				fprintf(stderr, "bayesc: --max-age-days wants a number of days from 1 to 100000\n");
				return BAYESC_EXIT_USAGE;
			}
			o.max_age_days = (int)v;
			break;
		}
		case OPT_HELP: usage(stdout); return BAYESC_EXIT_OK;
		case 'V': puts("bayesc " BAYESD_VERSION); return BAYESC_EXIT_OK;
		default:
			fputs("Try 'bayesc --help'.\n", stderr);
			return BAYESC_EXIT_USAGE;
		}
	}
	if (o.user != NULL) {
		const char *why = user_name_problem(o.user, strlen(o.user));
		if (why != NULL) {
			fprintf(stderr, "bayesc: -u: the user name %s\n", why);
			return BAYESC_EXIT_USAGE;
		}
	}
	if ((why_alone = lone_option(&o, config, redis, redis_prefix)) != NULL) {
		fprintf(stderr, "bayesc: %s\n", why_alone);
		return BAYESC_EXIT_USAGE;
	}
	if (config) {
		char err[600];
		struct bayesd_config *cfg = config_load(config, err, sizeof(err));
		static char dbpath[4096];
		if (cfg == NULL) {
			fprintf(stderr, "bayesc: %s\n", err);
			return BAYESC_EXIT_USAGE;
		}
		config_store_options(cfg, &o.store);
		if (o.db == NULL) {
			snprintf(dbpath, sizeof(dbpath), "%s", cfg->database);
			o.db = dbpath;
		}
		config_unref(&cfg);
	}
	if (redis) {
		o.store.backend = BAYES_BACKEND_REDIS;
		snprintf(o.store.redis.servers, sizeof(o.store.redis.servers), "%s", redis);
		if (o.db == NULL)
			o.db = "redis";	/* only a name in messages */
	}
	if (redis_prefix)
		snprintf(o.store.redis.prefix, sizeof(o.store.redis.prefix), "%s", redis_prefix);
	/* hiredis writes with write(2): a closed connection must be an error, not a signal */
	if (o.store.backend == BAYES_BACKEND_REDIS)
		signal(SIGPIPE, SIG_IGN);
	/* no command: symbols of the FILEs, or of standard input when it is not a terminal */
	if (optind >= argc ? !isatty(STDIN_FILENO) : default_command(argv[optind])) {
		o.verb_name = "symbols";
		o.verb = VERB_CHECK;
		o.args = argv + optind;
		o.nargs = argc - optind;
	} else {
		size_t i;

		if (optind >= argc) {
			fputs("bayesc: no command given (check, learn_spam, learn_ham, import-mbox, forget, stat, eval, "
			      "dump, restore, expire); try 'bayesc --help'\n", stderr);
			return BAYESC_EXIT_USAGE;
		}
		o.verb_name = argv[optind];
		for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
			if (strcmp(verbs[i].name, o.verb_name) == 0)
				break;
		if (i == sizeof(verbs) / sizeof(verbs[0])) {
			fprintf(stderr, "bayesc: unknown command '%s' (and no such file); try 'bayesc --help'\n",
				o.verb_name);
			return BAYESC_EXIT_USAGE;
		}
		o.verb = verbs[i].verb;
		o.args = argv + optind + 1;
		o.nargs = argc - optind - 1;
		if (verbs[i].offline_only && o.db == NULL) {
			fprintf(stderr, "bayesc: %s needs --db PATH, -c CONFIG or --redis SERVERS\n", o.verb_name);
			return BAYESC_EXIT_USAGE;
		}
	}
	if (o.verb == VERB_IMPORT_MBOX) {
		if (import_class < 0 || o.nargs == 0) {
			fputs("bayesc: usage: bayesc import-mbox --spam|--ham FILE...\n", stderr);
			return BAYESC_EXIT_USAGE;
		}
		o.verb = import_class ? VERB_LEARN_SPAM : VERB_LEARN_HAM;
		o.mbox = true;
		o.summary_only = true;
	} else if (import_class >= 0) {
		fprintf(stderr, "bayesc: --spam and --ham go with import-mbox, not %s\n", o.verb_name);
		return BAYESC_EXIT_USAGE;
	}
	if ((why_alone = verb_misuse(&o)) != NULL) {
		fprintf(stderr, "bayesc: %s\n", why_alone);
		return BAYESC_EXIT_USAGE;
	}
	if (o.verb == VERB_EVAL)
		return run_eval(&o);
	return o.db ? offline_main(&o) : client_main(&o);
}

/* bayesc_store_options - the statistics -c, --redis (or nothing: SQLite at --db) chose. */
void bayesc_store_options(const struct bayesc_opts *o, struct bayes_options *opt)
{
	opt->backend = o->store.backend;
	opt->redis = o->store.redis;
	if (o->combiner >= 0)
		opt->combiner = o->combiner;
	if (o->ngram_bytes >= 0)
		opt->tok.ngram_bytes = (unsigned)o->ngram_bytes;
	if (o->ngram_header_bytes >= 0)
		opt->tok.ngram_header_bytes = (unsigned)o->ngram_header_bytes;
	opt->robs = o->store.robs;
	opt->min_dev = o->store.min_dev;
	opt->mean_scale = o->store.mean_scale;
}
