/*
 * addr.h: address lists in header field bodies.
 *
 * Two readers of the same text:
 *
 * addr_iter_*: the scanner fetchmail 6.4.37 uses for multidrop recipients
 *   (and for the envelope sender), quirks included: blanks inside a bare
 *   address vanish, a group's "name:" sticks to its first member, a route
 *   stays in front of the address, a quoted string is kept with its
 *   quotes.  rcpt.c uses it so that mail is routed as the reference
 *   routes it.
 *
 * addr_parse_list(): an RFC 5322 address-list parser (groups, nested
 *   comments, quoted local parts, display names with encoded words, angle
 *   addresses, obsolete routes, missing commas between addresses) giving
 *   clean addr-specs.
 *
 * Both are single passes over the bytes with O(1) work per byte and no
 * recursion, whatever the input (unbalanced quotes, comments or brackets
 * included), and neither keeps a fixed-size copy of anything.
 */
#ifndef ADDR_H
#define ADDR_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* State of the reference-compatible scanner over one field. */
struct addr_iter {
	const char	*s;
	size_t		 n;
	size_t		 i;
	bool		 done;
};

/*
 * Start scanning s[0..n): a header field with its name when has_name (the
 * name up to the first ":" is skipped), else a bare field body.  Line ends
 * may be "\r\n" or "\n"; a line end not followed by a blank ends the text.
 */
void	addr_iter_init(struct addr_iter *, const char *s, size_t n,
	    bool has_name);
/*
 * The next address into out (replacing its contents): 1, or 0 at the end.
 * An address may be empty ("<>", a lone comment).  An address whose
 * quoted string or angle brackets span a line break is skipped.  -1 if
 * out cannot hold it (buf maximum).
 */
int	addr_iter_next(struct addr_iter *, struct buf *out);

/* One RFC 5322 addr-spec. */
struct addr_spec {
	char	*local;		/* as written in SMTP: dot-atom or quoted */
	char	*domain;	/* NULL for a bare local part */
};

struct addr_list {
	struct addr_spec	*v;
	size_t			 n;
	size_t			 cap;
};

/*
 * Parse the field body s[0..n) (no field name) as an RFC 5322
 * address-list, appending the addr-specs in order to *out.  Group names,
 * display names, comments and routes are dropped; empty groups give
 * nothing.  At most max addresses are kept (0: no limit).  Returns the
 * number of addresses added.
 */
size_t	addr_parse_list(const char *s, size_t n, struct addr_list *out,
	    size_t max);
void	addr_list_free(struct addr_list *);

#endif
