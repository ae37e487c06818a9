/*
 * fuzz_controller.c - libFuzzer target: the controller's request handling.
 *
 * The controller has no entry point that takes a parsed request: requests
 * reach ctl_access() through libmicrohttpd. So this target starts a real
 * controller once (controller_bind/start on a UNIX socket in a temporary
 * folder, with its own database) and sends each input, as raw bytes, over
 * a fresh connection: request line, headers and body are all the fuzzer's.
 * It then reads the answer until the controller closes the connection (or
 * a few seconds pass: a request that is still incomplete is not a bug).
 * The contract checked: the daemon stays up and every answer it writes
 * begins with an HTTP status line.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "controller.h"
#include "fuzz.h"
#include "log.h"

static struct controller *fctl;
static struct bayesd_config *fctl_cfg;
static char fctl_dir[64];
static char fctl_sock[96];

/* fctl_stop - stop the controller and remove its files at exit. */
static void fctl_stop(void)
{
	char path[160];

	controller_stop(&fctl);
	config_unref(&fctl_cfg);
	static const char *const files[] = { "db.sqlite", "db.sqlite-wal", "db.sqlite-shm", "bayesd.conf" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fctl_dir, files[i]);
		unlink(path);
	}
	rmdir(fctl_dir);
}

/* LLVMFuzzerInitialize - start one controller for the whole run. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char conf[160], err[512];
	FILE *f;

	(void)argc;
	(void)argv;
	log_open("fuzz_controller", true, LOG_MAIL);
	log_set_level(getenv("FUZZ_VERBOSE") ? LOG_DEBUG : LOG_CRIT);
	snprintf(fctl_dir, sizeof(fctl_dir), "/tmp/fuzz-controller.XXXXXX");
	if (mkdtemp(fctl_dir) == NULL)
		fuzz_fail("mkdtemp failed", "fuzz_controller");
	snprintf(fctl_sock, sizeof(fctl_sock), "%s/ctl.sock", fctl_dir);
	snprintf(conf, sizeof(conf), "%s/bayesd.conf", fctl_dir);
	if ((f = fopen(conf, "w")) == NULL)
		fuzz_fail("cannot write the config", "fuzz_controller");
	fprintf(f, "controller_socket = %s\ndatabase = %s/db.sqlite\n"
		"max_request_bytes = 65536\ncontroller_timeout = 2\n", fctl_sock, fctl_dir);
	fclose(f);
	if ((fctl_cfg = config_load(conf, err, sizeof(err))) == NULL)
		fuzz_fail(err, "config_load");
	if ((fctl = controller_bind(fctl_cfg, err, sizeof(err))) == NULL)
		fuzz_fail(err, "controller_bind");
	if (controller_start(fctl, fctl_cfg, err, sizeof(err)) < 0)
		fuzz_fail(err, "controller_start");
	atexit(fctl_stop);
	return 0;
}

/* fctl_connect - a new connection to the controller. */
static int fctl_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fuzz_fail("socket failed", "fuzz_controller");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fctl_sock);
	for (int tries = 0; connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0; tries++) {
		/* Refused only when the listen queue is full for a moment. */
		if (tries > 100 || (errno != EAGAIN && errno != ECONNREFUSED && errno != EINTR))
			fuzz_fail("controller does not accept connections", "fuzz_controller");
		usleep(10000);
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char answer[4096];
	size_t got = 0;
	int fd = fctl_connect();

	/* Send all we can; the controller may answer (413, 400) and close early. */
	for (size_t off = 0; off < size;) {
		ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 3000) <= 0)
			break;
		/*
		 * Past the first 4 KiB, drain into a scratch buffer: receiving
		 * there into answer again overwrote its start, so a long answer
		 * (a /stat listing users, several pipelined answers) looked like
		 * one that is not HTTP.
		 */
		char scratch[4096];
		char *to = got < sizeof(answer) ? answer + got : scratch;
		size_t room = got < sizeof(answer) ? sizeof(answer) - got : sizeof(scratch);
		ssize_t r = recv(fd, to, room, 0);
		if (r <= 0)
			break;
		if (got < sizeof(answer))
			got += (size_t)r;
	}
	close(fd);
	if (got >= 5 && memcmp(answer, "HTTP/", 5) != 0) {
		/* Show what came: a false alarm here is told from a real one by its bytes. */
		fprintf(stderr, "fuzz_controller: %zu bytes of answer: %.*s\n", got,
			(int)(got < 300 ? got : 300), answer);
		fuzz_fail("answer is not HTTP", "fuzz_controller");
	}
	return 0;
}
