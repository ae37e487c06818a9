/*
 * addresses.c - the daemon's questions about addresses, asked of a loaded
 * configuration (config/): is a client trusted (trusted_networks) or the
 * box itself, is a sender or recipient exempt, and whose statistics a
 * recipient is scored with (user_aliases, user_map). bayesd's milter and
 * bayesd-smtpd-filter ask them; bayesc does not.
 *
 * Rooms: may use config/.
 */
#include "addresses.h"

#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* config_local - a loopback address (the box itself)? */
bool config_local(int family, const void *addr)
{
	const unsigned char *a = addr;
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const unsigned char one[16] = { [15] = 1 };

	if (family == AF_INET)
		return a[0] == 127;
	if (family != AF_INET6)
		return false;
	if (memcmp(a, mapped, 12) == 0)
		return a[12] == 127;
	return memcmp(a, one, 16) == 0;
}

/* config_exempt - address matches a pattern of list? */
bool config_exempt(const struct bayesd_config *c, const char *list, const char *address)
{
	char addr[512], *at;
	size_t n, llen, dlen;
	const char *p = list;

	while (*address == '<' || *address == ' ')
		address++;
	n = strcspn(address, ">");
	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, address, n);
	addr[n] = '\0';
	config_lower(addr);
	if ((at = strrchr(addr, '@')) == NULL)
		return false;
	/* the +extension goes: postmaster+x@ is postmaster@ */
	llen = (size_t)(at - addr);
	if (c->recipient_delimiter[0]) {
		size_t e = strcspn(addr, c->recipient_delimiter);

		if (e < llen)
			llen = e;
	}
	dlen = strlen(at + 1);
	while (*p) {
		size_t k, pat_at;
		const char *pat, *pa;

		p += strspn(p, " ,\t");
		pat = p;
		k = strcspn(p, " ,\t");
		p += k;
		if (k == 0)
			continue;
		if ((pa = memchr(pat, '@', k)) == NULL)
			continue;
		pat_at = (size_t)(pa - pat);
		/* local part: empty matches any */
		if (pat_at > 0 && (pat_at != llen || strncasecmp(pat, addr, llen) != 0))
			continue;
		/* domain: empty matches any */
		if (k - pat_at - 1 > 0 &&
		    (k - pat_at - 1 != dlen || strncasecmp(pa + 1, at + 1, dlen) != 0))
			continue;
		return true;
	}
	return false;
}

/* config_trusted - address in trusted_networks? */
bool config_trusted(const struct bayesd_config *c, int family, const void *addr)
{
	unsigned char a[16];

	if (family == AF_INET) {
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, addr, 4);
	} else if (family == AF_INET6) {
		memcpy(a, addr, 16);
	} else {
		return false;
	}
	for (size_t i = 0; i < c->ntrusted; i++) {
		const struct config_net *n = &c->trusted[i];
		unsigned full = n->prefix / 8, rest = n->prefix % 8;

		if (memcmp(a, n->addr, full) != 0)
			continue;
		if (rest == 0)
			return true;
		if (((a[full] ^ n->addr[full]) & (unsigned char)(0xff00u >> rest)) == 0)
			return true;
	}
	return false;
}

/* config_alias_find - the user of lower-cased address, or NULL */
static const char *config_alias_find(const struct bayesd_config *c, const char *address)
{
	size_t lo = 0, hi = c->naliases;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(address, c->aliases[mid].address);

		if (d == 0)
			return c->aliases[mid].user;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* config_rcpt_user - envelope recipient to per-user statistics name */
bool config_rcpt_user(const struct bayesd_config *c, const char *rcpt, char *user, size_t userlen)
{
	char addr[BAYESD_USER_MAX * 2], lower[BAYESD_USER_MAX * 2];
	const char *alias, *delim = c->recipient_delimiter ? c->recipient_delimiter : "";
	size_t len = strlen(rcpt);
	char *at;

	if (len >= 2 && rcpt[0] == '<' && rcpt[len - 1] == '>') {
		rcpt++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(addr))
		return false;
	memcpy(addr, rcpt, len);
	addr[len] = '\0';

	/* an alias of the address as given, then of it without its extension */
	memcpy(lower, addr, len + 1);
	config_lower(lower);
	if ((alias = config_alias_find(c, lower)) != NULL)
		goto found;
	at = strrchr(addr, '@');
	if (*delim) {
		size_t local = at ? (size_t)(at - addr) : len;
		size_t ext = strcspn(addr, delim);

		/* "+foo@": a local part that is all extension keeps it (Postfix does too) */
		if (ext > 0 && ext < local) {
			memmove(addr + ext, addr + local, len - local + 1);
			len -= local - ext;
			at = strrchr(addr, '@');
		}
	}
	memcpy(lower, addr, len + 1);
	config_lower(lower);
	if ((alias = config_alias_find(c, lower)) != NULL)
		goto found;

	switch (c->user_map) {
	case USER_MAP_NONE:
		alias = addr;
		break;
	case USER_MAP_LOCALPART:
		if (at)
			lower[at - addr] = '\0';
		alias = lower;
		break;
	case USER_MAP_ADDRESS:
	default:
		alias = lower;
		break;
	}

found:
	if (*alias == '\0' || strlen(alias) >= userlen)
		return false;
	strcpy(user, alias);
	return true;
}
