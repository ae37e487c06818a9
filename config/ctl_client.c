/*
 * ctl_client.c - one HTTP client of bayesd's controller (ctl_client.h),
 * for bayesc's client mode and the OpenSMTPD filter.
 *
 * libcurl speaks HTTP. The easy handle is made on the first request and
 * reset before each, so every request sets all its options itself and a
 * POST never leaks into the GET after it; the reset keeps the live
 * connection. After a timeout the handle is thrown away with its
 * connection and the next request makes a new one.
 *
 * Rooms: may use classifier/util.h; never milter/, trainer/, corpus/.
 */
#include "ctl_client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct ctl_client {
	CURL *curl;			/* NULL until the first request and after a timeout */
	struct curl_slist *fixed;	/* "Name: value" sent with every request */
	char *target;			/* socket path or HOST:PORT */
	char *socket;			/* NULL over TCP */
	char *base;			/* "http://localhost" or "http://HOST:PORT" */
	char *user_agent;
	long timeout_ms, connect_timeout_ms;
	size_t max_response;
	struct buf resp;
	char errbuf[CURL_ERROR_SIZE];
	const char *error;		/* the last failure, in errbuf or libcurl's text */
	int os_errno;
};

bool ctl_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

void ctl_global_cleanup(void)
{
	curl_global_cleanup();
}

struct ctl_client *ctl_client_new(const struct ctl_params *p)
{
	struct ctl_client *c = xcalloc(1, sizeof(*c));

	if (p->host != NULL && *p->host != '\0') {
		c->target = xstrdup(p->host);
		c->base = xmalloc(strlen(p->host) + 8);
		strcpy(c->base, strncmp(p->host, "http://", 7) == 0 ? "" : "http://");
		strcat(c->base, p->host);
	} else {
		c->socket = xstrdup(p->socket ? p->socket : "");
		c->target = xstrdup(c->socket);
		c->base = xstrdup("http://localhost");
	}
	c->user_agent = p->user_agent ? xstrdup(p->user_agent) : NULL;
	c->timeout_ms = p->timeout_ms;
	c->connect_timeout_ms = p->connect_timeout_ms;
	c->max_response = p->max_response;
	c->error = "";
	buf_init(&c->resp);
	if ((c->curl = curl_easy_init()) == NULL) {
		ctl_client_free(c);
		return NULL;
	}
	return c;
}

void ctl_client_free(struct ctl_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->fixed);
	free(c->target);
	free(c->socket);
	free(c->base);
	free(c->user_agent);
	buf_free(&c->resp);
	free(c);
}

bool ctl_client_header(struct ctl_client *c, const char *name, const char *value)
{
	struct buf h;
	struct curl_slist *l;

	if (strpbrk(value, "\r\n") != NULL)
		return false;
	buf_init(&h);
	buf_printf(&h, "%s: %s", name, value);
	l = curl_slist_append(c->fixed, h.data);
	buf_free(&h);
	if (!l)
		return false;
	c->fixed = l;
	return true;
}

/* ctl_write - libcurl's body callback: keep up to max_response bytes */
static size_t ctl_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct ctl_client *c = arg;
	size_t n = size * nmemb;

	if (n > c->max_response - c->resp.len)
		return 0;	/* makes libcurl fail with CURLE_WRITE_ERROR */
	buf_append(&c->resp, data, n);
	return n;
}

/* ctl_headers - the fixed headers, then extra; NULL when there are none */
static struct curl_slist *ctl_headers(const struct ctl_client *c, const char *const *extra)
{
	struct curl_slist *l = NULL;

	for (const struct curl_slist *f = c->fixed; f; f = f->next)
		l = curl_slist_append(l, f->data);
	for (; extra && *extra; extra++)
		l = curl_slist_append(l, *extra);
	return l;
}

enum ctl_result ctl_client_request(struct ctl_client *c, const char *path, const char *const *extra,
				   const void *body, size_t len, struct ctl_reply *r)
{
	struct curl_slist *hdrs;
	struct buf url;
	CURLcode rc;
	long oserr = 0;

	c->errbuf[0] = '\0';
	c->error = "";
	c->os_errno = 0;
	buf_reset(&c->resp);
	if (!c->curl && (c->curl = curl_easy_init()) == NULL) {
		c->error = "curl_easy_init failed";
		return CTL_ERROR;
	}
	curl_easy_reset(c->curl);
	buf_init(&url);
	buf_printf(&url, "%s%s", c->base, path);
	curl_easy_setopt(c->curl, CURLOPT_URL, url.data);
	if (c->socket)
		curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	if (body != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, (const char *)body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	}
	hdrs = ctl_headers(c, extra);
	if (hdrs)
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, ctl_write);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	if (c->user_agent)
		curl_easy_setopt(c->curl, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http");

	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(hdrs);
	buf_free(&url);
	if (rc == CURLE_OK) {
		r->status = 0;
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
		r->body = c->resp.data ? c->resp.data : "";
		r->len = c->resp.len;
		return CTL_OK;
	}
	c->error = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
		c->os_errno = (int)oserr;
		return CTL_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		/* a half-read answer must not be read by the next request */
		curl_easy_cleanup(c->curl);
		c->curl = NULL;
		return CTL_TIMEOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return CTL_DROPPED;
	default:
		return CTL_ERROR;
	}
}

const char *ctl_client_error(const struct ctl_client *c)
{
	return c->error;
}

int ctl_client_os_errno(const struct ctl_client *c)
{
	return c->os_errno;
}

const char *ctl_client_target(const struct ctl_client *c)
{
	return c->target;
}
