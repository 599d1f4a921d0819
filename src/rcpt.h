/*
 * rcpt.h: who gets a message fetched from a multidrop mailbox.
 *
 * rcpt_find() is a pure function of the message's header fields and the
 * query's settings: it finds the envelope recipient(s) as fetchmail 6.4.37
 * does (an envelope header, the Received: heuristic, else To/Cc/Bcc or
 * Resent-*), classifies every address (qvirtual prefix, `is` mapping,
 * localdomains, server aliases, optionally DNS through a callback) and
 * returns the local recipients, the rejected addresses, the postmaster
 * fallback, the X-Fetchmail-Warning text and the -v -v log lines.  It does
 * no I/O, so the tests feed it recorded messages and a fake resolver.
 */
#ifndef RCPT_H
#define RCPT_H

#include <stdbool.h>
#include <stddef.h>

/* One header field: its complete text, name and colon included, with the
 * line ends it came with ("\r\n" or "\n", final one optional), after the
 * header rewriting (rewrite qualifies bare names before the reference
 * looks at them). */
struct rcpt_field {
	const char	*text;
	size_t		 len;
};

/* What the DNS hook says about a host name. */
enum rcpt_alias {
	RCPT_ALIAS_NO = 0,
	RCPT_ALIAS_YES,
	RCPT_ALIAS_TEMPFAIL	/* lookup failed: the message must wait */
};

/*
 * DNS alias test (`dns`; `checkalias` compares addresses): is NAME the mail
 * server under another name (its canonical name equals the true name, an
 * MX of it points there, or with checkalias an address matches)?  Called
 * only after the true name and aka checks failed; caching is the hook's.
 * A lookup that fails for a reason other than "no such name" is
 * RCPT_ALIAS_TEMPFAIL; the hook logs it itself, as the reference does
 * ("nameserver failure while looking for ..."), and rcpt then treats the
 * name as an alias (the reference's answer) but flags the message.
 */
typedef enum rcpt_alias	rcpt_dns_fn(void *arg, const char *name);

/* Where log lines go as they happen: level 2 is -v -v, 1 is -v. */
typedef void	rcpt_log_fn(void *arg, int level, const char *line);

/* The query's settings (all borrowed). */
struct rcpt_opts {
	const char		*truename;	/* the server's true name */
	const char *const	*aka;		/* aka list */
	size_t			 naka;
	const char *const	*localdomains;
	size_t			 nlocaldomains;
	/* The `is` list: names[i], and maps[i] the local name of a
	 * 'names[i]'='maps[i]' pair, NULL for a plain name.  A name
	 * with "@" is a full-address mapping. */
	const char *const	*names;
	const char *const	*maps;
	size_t			 nnames;
	bool			 wildcard;	/* `*` in the is list */
	const char		*envelope;	/* NULL or "Received": the
						 * Received heuristic */
	bool			 no_envelope;	/* `no envelope` */
	int			 envskip;
	const char		*qvirtual;	/* prefix to strip, or NULL */
	bool			 dropdelivered;
	const char		*postmaster;	/* fallback recipient ("" is
						 * passed on as the reference
						 * does) */
	rcpt_dns_fn		*dns;		/* NULL: `no dns` */
	void			*dns_arg;
	bool			 want_log;	/* fill rcpt_result.log */
	rcpt_log_fn		*log;		/* or, if set, send the lines
						 * here as they happen (so that
						 * the DNS hook's own lines fall
						 * in place); want_log unused */
	void			*log_arg;
	bool			 dedup;		/* drop repeated recipients
						 * (case folded; the reference
						 * sends each RCPT TO again) */
};

/* The outcome (owned; rcpt_result_free()). */
struct rcpt_result {
	char	**local;	/* recipients in the reference's order,
				 * repeats kept as it keeps them: local
				 * names, or full addresses passed through
				 * by localdomains */
	size_t	  nlocal;
	char	**rejected;	/* addresses that matched no local name */
	size_t	  nrejected;
	char	**log;		/* with want_log and no log hook: the
				 * lines, in order (all -v -v but the DNS
				 * error line, -v); a line may hold "\n"
				 * (the raw Received field) */
	size_t	  nlog;
	char	 *warning;	/* X-Fetchmail-Warning text or NULL */
	bool	  to_postmaster; /* nothing matched: local[0] = postmaster */
	bool	  envelope_found; /* an envelope or Received address was
				  * found (the duplicate check needs it) */
	bool	  dns_error;	/* a DNS lookup failed: forwarding and
				 * deletion must be suppressed (the -v
				 * line saying so is logged) */
	bool	  truncated;	/* more than RCPT_MAX addresses: the
				 * rest were not looked at */
};

/* Multidrop: more than one local name, or `*`. */
bool	rcpt_is_multidrop(size_t nnames, bool wildcard);

/*
 * Find the recipients of a message with the nfields header fields f (in
 * order; none for a headerless message) under o, into *res (which it
 * initialises).  Single-drop queries get their one local name without
 * looking at the header.  Work is linear in the size of the fields.
 */
void	rcpt_find(const struct rcpt_field *f, size_t nfields,
	    const struct rcpt_opts *o, struct rcpt_result *res);
void	rcpt_result_free(struct rcpt_result *);

/* The reference cuts every address its scanner returns to this many
 * bytes (and classifies what is left); we do the same. */
#define RCPT_ADDR_MAX	8191u
/* The reference's X-Fetchmail-Warning text is cut to this many bytes;
 * rcpt_result.warning is cut so (a caller joining more text must cut the
 * joined text again). */
#define RCPT_WARNING_MAX	618u

/* Most addresses looked at in one message (accepted plus rejected);
 * the reference has no limit. */
#define RCPT_MAX	1000000u

#endif
