/*
 * rcfile_priv.h: state shared by the rcfile lexer, grammar and builders.
 * Not for use outside rcfile/.
 */
#ifndef RCFILE_PRIV_H
#define RCFILE_PRIV_H

#include <stddef.h>
#include "cfg.h"

struct rc_parser {
	struct cfg		*cfg;
	struct cfg_errors	*errs;
	const char		*name;		/* file name for messages */
	void			*scanner;
	char			*last;		/* raw text of the last token */
	int			 pushback;	/* token queued by a run-on "noX" */
	bool			 failed;
	/* the entry being built */
	struct cfg_query	*entry;		/* server part and head */
	struct cfg_query	*users;		/* its users, in order */
	struct cfg_query	*user;		/* the current one */
	struct cfg_query	**qtail;	/* end of cfg->queries */
};

/* Record the raw text of the token just read (NULL at end of input). */
void	 rc_last(struct rc_parser *, const char *, size_t);
/* Queue a token to be returned by the next call of the lexer. */
void	 rc_pushback(struct rc_parser *, int tok);
/* Decode fetchmail's backslash escapes; returns an allocated string. */
char	*rc_unescape(const char *, size_t);
/* Report "FILE:LINE: WHAT at TOKEN" and mark the parse failed. */
void	 rc_error_at(struct rc_parser *, const char *what);
/* Current line of the scanner. */
int	 rc_lineno(struct rc_parser *);

/* builders used by grammar actions (rcfile_build.c) */
void	 rc_entry_begin(struct rc_parser *, char *name, int kind);
void	 rc_entry_end(struct rc_parser *);
int	 rc_take_defaults(struct rc_parser *);
struct cfg_opts *rc_server(struct rc_parser *);
struct cfg_opts *rc_user(struct rc_parser *, bool implicit);
void	 rc_user_begin(struct rc_parser *);
void	 rc_set_str(char **, char *);
void	 rc_set_num(struct cfg_num *, int);
void	 rc_set_raw(struct cfg_num *, int);
void	 rc_localname(struct cfg_opts *, char *name, char *map);
void	 rc_antispam(struct cfg_opts *, int);
int	 rc_interface_check(struct rc_parser *, const char *);

enum { RC_POLL, RC_SKIP, RC_DEFAULTS };

#endif
