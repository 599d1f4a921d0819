/*
 * imap_parse.h: pure parsers for IMAP server responses (RFC 3501 and
 * the IMAP4rev2 subset servers send).  No I/O: every function takes one
 * response line as bytes + length (CRLF already stripped), validates
 * before it trusts anything, and points into the line it was given (the
 * results are borrowed from it).  A line may end with a literal
 * announcement {n} or {n+}; the caller reads those n bytes itself and
 * hands the line that follows them to the parser again (imap_fetch_parse
 * keeps its state across the pieces).
 */
#ifndef IMAP_PARSE_H
#define IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* Longest response line accepted (a literal's bytes are not a line). */
#define IMAP_LINE_MAX		(1024 * 1024)
/* Largest literal accepted ({n} above it is a protocol error). */
#define IMAP_LITERAL_MAX	((uint64_t)1 << 40)
/* Most messages a mailbox may announce (EXISTS); more is refused. */
#define IMAP_MSGS_MAX		10000000u

/* Lexical tokens. */
enum imap_tok {
	IMAP_T_END = 0,		/* end of the line */
	IMAP_T_ATOM,		/* atom, number, flag; "BODY[...]<n>" whole */
	IMAP_T_QUOTED,		/* "..." (span without the quotes, still
				 * escaped) */
	IMAP_T_LITERAL,		/* {n} or {n+}: last token of a line */
	IMAP_T_LPAREN,
	IMAP_T_RPAREN,
	IMAP_T_ERROR		/* malformed */
};

struct imap_token {
	enum imap_tok	 type;
	const char	*p;		/* the token's bytes, borrowed */
	size_t		 len;
	uint64_t	 literal;	/* IMAP_T_LITERAL: the byte count */
};

/* A cursor over one line. */
struct imap_lex {
	const char	*p, *end;
};

void	imap_lex_init(struct imap_lex *, const char *, size_t);
/* The next token, skipping single blanks; IMAP_T_END at the end. */
enum imap_tok imap_lex_next(struct imap_lex *, struct imap_token *);

/* Parse a token's bytes as an unsigned decimal number no larger than
 * max (no sign, no blanks, no leading '+'); 0 or -1. */
int	imap_number(const char *, size_t, uint64_t max, uint64_t *);
/* Case-insensitive comparison of a token with a C string. */
bool	imap_tok_is(const struct imap_token *, const char *);

enum imap_kind {
	IMAP_R_TAGGED,		/* "TAG OK ..." */
	IMAP_R_UNTAGGED,	/* "* ..." */
	IMAP_R_CONT		/* "+ ..." */
};

/* Status conditions (tagged replies and untagged status responses). */
enum imap_cond {
	IMAP_C_NONE = 0,	/* not a status response */
	IMAP_C_OK,
	IMAP_C_NO,
	IMAP_C_BAD,
	IMAP_C_PREAUTH,
	IMAP_C_BYE
};

/* What an untagged response is. */
enum imap_what {
	IMAP_W_STATUS = 0,	/* OK/NO/BAD/PREAUTH/BYE (cond says which) */
	IMAP_W_CAPABILITY,	/* rest: the capability atoms */
	IMAP_W_EXISTS,		/* num */
	IMAP_W_EXPUNGE,		/* num */
	IMAP_W_RECENT,		/* num */
	IMAP_W_FETCH,		/* num; rest: from the "(" on */
	IMAP_W_OTHER		/* FLAGS, SEARCH, LIST, ... (ignored) */
};

/* One parsed response line; every pointer is borrowed from the line. */
struct imap_resp {
	enum imap_kind	 kind;
	const char	*tag;		/* IMAP_R_TAGGED */
	size_t		 taglen;
	enum imap_cond	 cond;
	enum imap_what	 what;		/* IMAP_R_UNTAGGED */
	uint64_t	 num;		/* EXISTS/EXPUNGE/RECENT/FETCH */
	const char	*code;		/* response code name ("UIDVALIDITY"),
					 * NULL if none */
	size_t		 codelen;
	const char	*codearg;	/* the rest inside [...], may be "" */
	size_t		 codearglen;
	const char	*text;		/* human-readable text, or the rest */
	size_t		 textlen;
	const char	*rest;		/* FETCH/CAPABILITY/OTHER payload */
	size_t		 restlen;
	bool		 has_literal;	/* the line ends with {n} */
	uint64_t	 literal;
};

/* Parse a response line; 0, or -1 when it is not a valid response
 * (or announces a literal over IMAP_LITERAL_MAX). */
int	imap_parse_response(const char *, size_t, struct imap_resp *);
/* Whether a line ends with a literal announcement: 1 and *n its size,
 * 0 none, -1 one over IMAP_LITERAL_MAX.  Used to skip untagged data this
 * client does not read. */
int	imap_line_literal(const char *, size_t, uint64_t *n);

/* Capabilities the client looks at. */
struct imap_caps {
	bool	 known;		/* a CAPABILITY list was seen */
	bool	 imap4rev1, imap4rev2, imap4;
	bool	 starttls, logindisabled, idle, uidplus, literalplus;
	bool	 sasl_ir;
	bool	 auth_plain, auth_login, auth_cram_md5, auth_external;
	bool	 auth_gssapi, auth_ntlm, auth_xoauth2, auth_oauthbearer;
	bool	 auth_scram_sha1, auth_scram_sha256, auth_otp;
};

/* Replace caps with the atoms of a CAPABILITY list ("IMAP4rev1 ..."). */
void	imap_parse_caps(struct imap_caps *, const char *, size_t);

/*
 * A FETCH response's attribute list, parsed in pieces: the first piece
 * is resp.rest (from "("), each later one the line after a literal.
 */
struct imap_fetch {
	bool		 has_uid, has_size, has_flags;
	uint32_t	 uid;
	uint64_t	 size;		/* RFC822.SIZE */
	bool		 seen, deleted;	/* in FLAGS */
	bool		 body;		/* the literal announced is BODY[]'s
					 * value (the whole message) */
	bool		 body_missing;	/* BODY[] was NIL or a string */
	/* parser state */
	int		 state;
	unsigned	 depth;		/* nesting of the value skipped */
	int		 item;		/* the item whose value comes */
};

void	imap_fetch_init(struct imap_fetch *);
/* Parse one piece.  0: the list is complete; 1: the piece ends with a
 * literal of *lit bytes (body tells whether it is the message), read it
 * and pass the next line; -1: malformed. */
int	imap_fetch_parse(struct imap_fetch *, const char *, size_t,
	    uint64_t *lit);

/* Append s as an IMAP quoted string to b ("..." with \ and " escaped).
 * -1 if s holds CR, LF or NUL (needs a literal) or b is full. */
int	imap_quote(struct buf *, const char *, size_t);

/* Append to b a sequence set of uids[*i..] ("1:3,7"), uids ascending,
 * until the set would exceed maxlen bytes; *i advances past the UIDs
 * written (at least one).  -1 if b is full. */
int	imap_uidset(struct buf *, const uint32_t *uids, size_t n, size_t *i,
	    size_t maxlen);

#endif
