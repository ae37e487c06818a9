/*
 * redis_server.c - the unit tests' redis-server. See redis_server.h.
 */
#include "redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static int port = -1;	/* -1 not tried, 0 not available */
static pid_t pid;

/* free_port - a port nobody listens on now (the kernel's choice). */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		p = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return p;
}

/* answers - does something accept connections on the port? */
static bool answers(int p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void stop(void)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		pid = 0;
	}
}

int redis_server_port(void)
{
	char num[16];

	if (port >= 0)
		return port;
	port = 0;
	/* hiredis writes with write(2): a dead server must be an error, not a signal */
	signal(SIGPIPE, SIG_IGN);
	int p = free_port();
	if (p == 0)
		return 0;
	snprintf(num, sizeof(num), "%d", p);
	fflush(NULL);
	if ((pid = fork()) < 0)
		return 0;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execlp("redis-server", "redis-server", "--port", num, "--bind", "127.0.0.1", "--save", "",
		       "--appendonly", "no", "--dir", test_tmpdir(), (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		if (answers(p)) {
			port = p;
			atexit(stop);
			return port;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			pid = 0;
			return 0;	/* not installed, or it would not start */
		}
		nanosleep(&ts, NULL);
	}
	stop();
	return 0;
}

bool redis_server_skip(const char *test)
{
	if (redis_server_port() > 0)
		return false;
	test_skip(test, "redis-server not installed or did not start (apt-get install redis-server)");
	return true;
}
