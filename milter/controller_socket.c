/*
 * controller_socket.c - the controller's listening sockets, made as root
 * by controller_bind (controller.c): the UNIX socket (created under a
 * tight umask, then given its mode and group; a stale one left by a dead
 * daemon removed, a live one an error) and the TCP listener on HOST:PORT.
 *
 * Rooms: may use classifier/ (util.h), config/ and milter/'s controller
 * headers; libmicrohttpd is not needed here.
 */
#include "controller_internal.h"

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* ctl_unix_listen - the UNIX socket: tight umask, then mode and group. */
int ctl_unix_listen(const struct bayesd_config *cfg, char *err, size_t errlen)
{
	const char *path = cfg->controller_socket;
	struct sockaddr_un sun;
	mode_t old;
	char *dir, *slash;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "controller_socket %s: path too long", path);
		return -1;
	}
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir(%s): %s", dir, strerror(errno));
			free(dir);
			return -1;
		}
	}
	free(dir);
	if (!unix_socket_reclaim(path, err, errlen))
		return -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0177);	/* no window in which others may connect */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, errlen, "bind(%s): %s", path, strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);

	if (cfg->controller_socket_group && *cfg->controller_socket_group) {
		struct group *gr = getgrnam(cfg->controller_socket_group);

		if (gr == NULL) {
			snprintf(err, errlen, "controller_socket_group %s: no such group",
				 cfg->controller_socket_group);
			goto fail;
		}
		if (chown(path, (uid_t)-1, gr->gr_gid) < 0) {
			snprintf(err, errlen, "chown(%s, group %s): %s", path,
				 cfg->controller_socket_group, strerror(errno));
			goto fail;
		}
	}
	if (chmod(path, cfg->controller_socket_mode & 0777) < 0) {
		snprintf(err, errlen, "chmod(%s, %04o): %s", path, cfg->controller_socket_mode & 0777,
			 strerror(errno));
		goto fail;
	}
	if (listen(fd, 64) < 0) {
		snprintf(err, errlen, "listen(%s): %s", path, strerror(errno));
		goto fail;
	}
	return fd;

fail:
	close(fd);
	unlink(path);
	return -1;
}

/* ctl_is_loopback - 127.0.0.0/8 or ::1. */
static bool ctl_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}

/* ctl_tcp_listen - bind host:port ("[v6]:port" too). */
int ctl_tcp_listen(const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	char *host = xstrdup(spec), *port, *h;
	int fd = -1, on = 1, rc;

	h = host;
	if (*h == '[') {
		char *end = strchr(h, ']');

		if (end == NULL || end[1] != ':') {
			snprintf(err, errlen, "controller_bind %s: expected [ADDRESS]:PORT", spec);
			free(host);
			return -1;
		}
		*end = '\0';
		h++;
		port = end + 2;
	} else {
		if ((port = strrchr(h, ':')) == NULL) {
			snprintf(err, errlen, "controller_bind %s: expected HOST:PORT", spec);
			free(host);
			return -1;
		}
		*port++ = '\0';
	}
	if (*h == '\0' || *port == '\0') {
		snprintf(err, errlen, "controller_bind %s: expected HOST:PORT", spec);
		free(host);
		return -1;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(h, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "controller_bind %s: %s", spec, gai_strerror(rc));
		free(host);
		return -1;
	}
	snprintf(err, errlen, "controller_bind %s: no usable address", spec);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0) {
			if (!ctl_is_loopback(ai->ai_addr))
				log_warning("controller: %s is not a loopback address; checks and stats "
					    "are open to whoever reaches it", spec);
			break;
		}
		snprintf(err, errlen, "bind(%s): %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	free(host);
	return fd;
}
