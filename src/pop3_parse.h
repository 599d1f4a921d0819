/*
 * pop3_parse.h: pure parsers for POP3 server replies (RFC 1939, 2449,
 * 2595, 3206).  No I/O: every function takes a line as bytes + length
 * (CRLF already stripped) and validates before it trusts anything.
 */
#ifndef POP3_PARSE_H
#define POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Longest UID accepted.  RFC 1939 allows 70 characters 0x21..0x7e, but
 * the reference takes whatever a server sends up to the first blank, and
 * so do we, within the UID store's bound. */
#define POP3_UID_MAX	4096

enum pop3_status {
	POP3_BAD = -1,		/* neither +OK nor -ERR: protocol violation */
	POP3_OK = 0,		/* +OK */
	POP3_ERR = 1,		/* -ERR */
	POP3_CONT = 2		/* "+ " continuation during AUTH */
};

/* What a -ERR means for the poll, as fetchmail classifies it. */
enum pop3_errclass {
	POP3_E_OTHER = 0,	/* plain failure */
	POP3_E_LOCKED,		/* mailbox busy: [IN-USE], [LOGIN-DELAY], "lock", "wait" */
	POP3_E_BUSY,		/* "service ... unavailable" */
	POP3_E_TEMP,		/* [SYS/TEMP] */
	POP3_E_AUTH		/* [AUTH] */
};

/* Capabilities from a CAPA reply, one call per line. */
struct pop3_caps {
	bool	 capa;		/* the server answered CAPA */
	bool	 stls, uidl, top, pipelining, user, resp_codes;
	bool	 sasl_plain, sasl_login, sasl_cram_md5, sasl_external;
	bool	 sasl_gssapi, sasl_ntlm, sasl_otp, sasl_scram_sha1;
	bool	 sasl_scram_sha256, sasl_oauthbearer, sasl_xoauth2, sasl_rpa;
	int	 login_delay;	/* LOGIN-DELAY seconds, -1 if absent */
};

/* Status of a reply line; *TEXT and *TEXTLEN get the text after the status
 * word (may be empty).  */
enum pop3_status pop3_status(const char *line, size_t len,
		    const char **text, size_t *textlen);

/* Classify the text of a -ERR reply. */
enum pop3_errclass pop3_errclass(const char *text, size_t len);

/* Parse "+OK count octets" (STAT); returns 0 or -1. */
int	pop3_parse_stat(const char *text, size_t len, unsigned long *count,
	    unsigned long long *octets);

/* Parse a "num size" LIST line (or the text of a single-message LIST
 * reply); returns 0 or -1. */
int	pop3_parse_list(const char *line, size_t len, unsigned long *num,
	    unsigned long long *size);

/* Parse a "num uid" UIDL line.  The UID is the bytes after the number
 * up to the next blank (anything after it is ignored, as the reference
 * does); *UID points into LINE, *UIDLEN is 1..POP3_UID_MAX.  Returns 0 or
 * -1. */
int	pop3_parse_uidl(const char *line, size_t len, unsigned long *num,
	    const char **uid, size_t *uidlen);

/* Add one CAPA line to CAPS.  */
void	pop3_parse_capa(struct pop3_caps *caps, const char *line, size_t len);

/* Find the APOP timestamp "<...@...>" in a greeting.  Returns 0 and sets
 * *TS and *TSLEN (including the angle brackets), 1 if there is none, -1 if
 * one is there but malformed. */
int	pop3_apop_timestamp(const char *greeting, size_t len, const char **ts,
	    size_t *tslen);

/* Whether LINE ends a multi-line reply; otherwise *SKIP is the number of
 * bytes of byte-stuffing to drop from its front (0 or 1). */
bool	pop3_multiline_end(const char *line, size_t len, size_t *skip);

#endif
