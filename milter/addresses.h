/*
 * addresses.h - the daemon's questions about addresses (addresses.c),
 * asked of a loaded configuration: trusted or local client, exempt
 * sender or recipient, the statistics a recipient is scored with.
 *
 * Rooms: may use config/.
 */
#ifndef BAYESD_ADDRESSES_H
#define BAYESD_ADDRESSES_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/*
 * config_trusted - whether the address (AF_INET: 4 bytes, AF_INET6: 16
 * bytes, IPv4-mapped IPv6 counts as IPv4) is in trusted_networks.
 */
bool config_trusted(const struct bayesd_config *c, int family, const void *addr);

/*
 * config_local - whether a client address is the box itself: 127.0.0.0/8,
 * ::1, or an IPv4-mapped loopback. family AF_INET (4 bytes) or AF_INET6.
 */
bool config_local(int family, const void *addr);

/*
 * config_exempt - whether address ("<a@b>" or without brackets) matches
 * one pattern of list (blank or comma separated): "user@domain" that
 * address, "user@" that local part in any domain (RFC 2142's postmaster@,
 * abuse@), "@domain" any address of the domain; case-insensitive, the
 * local part's +extension (recipient_delimiter) ignored.
 */
bool config_exempt(const struct bayesd_config *c, const char *list, const char *address);

/*
 * config_rcpt_user - the per-user statistics name of envelope recipient
 * rcpt ("<Joe+Lists@Example.ORG>" or without brackets). The angle
 * brackets go; the address is looked up in user_aliases (case-insensitive,
 * first as given, then with its +extension removed), and an alias wins;
 * otherwise the +extension (from the first recipient_delimiter character
 * of the local part to the '@') is removed and user_map applied: none
 * keeps it as it is, localpart keeps the part before the last '@',
 * address the whole; both lower-cased. Returns true with the name in
 * user (NUL-terminated), false when there is none to use: an empty
 * address (the null recipient "<>") or a name longer than userlen - 1
 * (the message is then scored with the global statistics).
 */
bool config_rcpt_user(const struct bayesd_config *c, const char *rcpt, char *user, size_t userlen);

#endif
