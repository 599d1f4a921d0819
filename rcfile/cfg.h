/*
 * cfg.h: the configuration model.
 *
 * The rcfile parser and the command line both fill "raw" records in which
 * every option may be unset.  cfg_resolve() merges them in a fixed order
 * (poll entry, then the `defaults` entry for what is still unset, then the
 * command line over everything, then built-in defaults) and the result is
 * treated as read-only from then on.
 *
 * One struct cfg_query describes one user at one server, as in fetchmail:
 * the server part is copied into every user of an entry.  Everything that
 * is per-option (merging, dumping) is driven by the field table in
 * cfg_fields.c so that adding an option touches one place.
 */
#ifndef CFG_H
#define CFG_H

#include <stdbool.h>
#include <stddef.h>

/* Tri-state flag: unset, explicitly off, explicitly on. */
enum cfg_flag { FLAG_UNSET = 0, FLAG_FALSE = 1, FLAG_TRUE = 2 };

/* A number that remembers whether it was given (explicit 0 != unset). */
struct cfg_num {
	int	v;
	bool	set;
};

/* Growable list of owned strings.  `map` is parallel to `v` and holds the
 * local name of a `server=local` mapping (NULL for plain names). */
struct cfg_list {
	char	**v;
	char	**map;
	size_t	  n;
};

enum cfg_proto {
	P_UNSET = 0, P_AUTO, P_POP2, P_POP3, P_APOP, P_RPOP, P_KPOP, P_SDPS,
	P_IMAP, P_ETRN, P_ODMR
};

enum cfg_auth {
	A_UNSET = 0, A_ANY, A_PASSWORD, A_NTLM, A_CRAM_MD5, A_GSSAPI,
	A_KERBEROS_V4, A_KERBEROS_V5, A_SSH, A_OTP, A_MSN, A_EXTERNAL,
	/* not in 6.4.37 (SCRAM ours; the OAuth pair as in fetchmail 6.5) */
	A_SCRAM_SHA1, A_SCRAM_SHA256, A_OAUTHBEARER, A_XOAUTH2
};

/* The options of one query: server part first, then user part. */
struct cfg_opts {
	/* server */
	char		*via;
	int		 proto;		/* enum cfg_proto */
	char		*service;
	struct cfg_num	 timeout;
	struct cfg_num	 interval;
	char		*envelope;
	bool		 no_envelope;
	struct cfg_num	 envskip;
	char		*qvirtual;
	int		 auth;		/* enum cfg_auth */
	int		 dns, uidl, checkalias, tracepolls, badheader;
	struct cfg_list	 aka, localdomains;
	char		*interface, *monitor, *plugin, *plugout;
	char		*principal, *esmtpname, *esmtppassword;
	/* user */
	char		*remote;
	char		*password;
	/* where a fresh password (an OAuth token) comes from at each poll:
	 * a file's first line, or a command's first output line */
	char		*passwordfile, *passwordcommand;
	struct cfg_list	 localnames;
	bool		 wildcard;
	int		 fetchall, keep, flush, limitflush, rewrite, stripcr;
	int		 forcecr, pass8bits, dropstatus, dropdelivered;
	int		 mimedecode, idle, lmtp, ssl, sslcertck;
	char		*mda, *bsmtp, *preconnect, *postconnect;
	struct cfg_num	 limit, warnings, fetchlimit, fetchsizelimit;
	struct cfg_num	 fastuidl, batchlimit, expunge;
	char		*sslkey, *sslcert, *sslproto, *sslcertfile;
	char		*sslcertpath, *sslcommonname, *sslfingerprint;
	char		*properties;
	struct cfg_list	 smtphunt, fetchdomains, mailboxes;
	bool		 smtphunt_default;	/* filled by the resolve step */
	bool		 fetchdomains_default;
	char		*smtpaddress, *smtpname;
	int		*antispam;
	size_t		 nantispam;
	bool		 antispam_set;
};

struct cfg_query {
	char		*pollname;
	bool		 skip;
	bool		 first_of_entry;
	bool		 selected;	/* named on the command line */
	bool		 polled;	/* a run would poll it (resolve) */
	struct cfg_opts	 o;
	struct cfg_query *next;
};

struct cfg_global {
	struct cfg_num	 daemon;
	char		*logfile, *idfile, *pidfile, *postmaster, *properties;
	int		 bouncemail, spambounce, softbounce;
	int		 invisible, showdots, syslog;
};

/* Everything read from one rcfile. */
struct cfg {
	struct cfg_global	 g;
	struct cfg_query	*defaults;	/* NULL if none */
	struct cfg_query	*queries;	/* in file order */
	char			*rcfile;	/* absolute path or "-" */
	char			*rcdir;		/* for relative paths */
};

/* Where the parser puts errors; each one is a complete line for stderr. */
struct cfg_errors {
	char	**msg;
	size_t	  n;
	int	  status;	/* fetchmail exit code of the first error */
};

/* field table (cfg_fields.c) */
enum cfg_ftype { FT_FLAG, FT_NUM, FT_STR, FT_PATH, FT_LIST };
struct cfg_field {
	const char	*name;
	enum cfg_ftype	 type;
	size_t		 off;
	bool		 server;	/* server-level option */
};
extern const struct cfg_field cfg_fields[];
extern const size_t cfg_nfields;

/* cfg.c */
struct cfg	*cfg_new(void);
void		 cfg_free(struct cfg *);
void		 cfg_opts_free(struct cfg_opts *);
void		 cfg_query_free(struct cfg_query *);
void		 cfg_list_add(struct cfg_list *, const char *, const char *);
void		 cfg_list_clear(struct cfg_list *);
void		 cfg_list_copy(struct cfg_list *, const struct cfg_list *);
void		 cfg_list_append(struct cfg_list *, const struct cfg_list *);
void		 cfg_errors_add(struct cfg_errors *, int status,
		    const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
void		 cfg_errors_free(struct cfg_errors *);
const char	*cfg_proto_name(int);
const char	*cfg_auth_name(int);
int		 cfg_proto_parse(const char *);
int		 cfg_auth_parse(const char *, bool cmdline);
void		 cfg_set_proto(struct cfg_opts *, int);
const char	*cfg_interface_check(const char *);
void		 cfg_opts_merge(struct cfg_opts *dst, const struct cfg_opts *src,
		    bool override, bool server_part, bool user_part);

/* netrc.c: the password for LOGIN at HOST in ~/.netrc (allocated) */
char		*cfg_netrc_lookup(const char *data, size_t len, const char *host,
		    const char *login);
char		*cfg_netrc_read(const char *home, size_t *len);

/* rcfile parsing (rcfile_gram.y): name is used in messages */
int		 cfg_parse_buffer(struct cfg *, const char *name,
		    const char *data, size_t len, struct cfg_errors *,
		    bool debug);

#endif
