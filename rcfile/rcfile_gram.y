/*
 * rcfile_gram.y: grammar of the fetchmail run-control file.
 *
 * An rcfile is a sequence of `set` statements and entries.  An entry is
 * a head (poll/server NAME, skip NAME or defaults), server options, then
 * either bare user options (one implicit user) or user descriptions
 * introduced by `user`.  Actions only call the builders in
 * rcfile_build.c; errors are collected, never printed or exited on here.
 */
%{
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "cfg.h"
#include "rcfile_priv.h"

#define S(P)	rc_server(P)
#define U(P)	rc_user(P, true)
%}

%define api.pure full
%define api.prefix {rc_yy}
%define parse.error simple
%define parse.trace
%parse-param {struct rc_parser *P}
%lex-param {struct rc_parser *P}

%code provides {
int	rc_yylex(RC_YYSTYPE *, struct rc_parser *);
void	rc_yyerror(struct rc_parser *, const char *);
}

%union {
	char			*str;
	int			 num;
	struct cfg_list		*list;
}

%token <str> STRING
%token <num> NUMBER PROTO AUTHTYPE BADHEADER_POLICY
%token SET DAEMON LOGFILE IDFILE PIDFILE POSTMASTER BOUNCEMAIL SPAMBOUNCE
%token SOFTBOUNCE SYSLOG INVISIBLE SHOWDOTS PROPERTIES
%token DEFAULTS POLL SKIP VIA AKA LOCALDOMAINS PROTOCOL SERVICE PORT
%token INTERVAL AUTHENTICATE TIMEOUT ENVELOPE QVIRTUAL PRINCIPAL ESMTPNAME
%token ESMTPPASSWORD INTERFACE MONITOR PLUGIN PLUGOUT TRACEPOLLS BADHEADER
%token DNS UIDL CHECKALIAS USERNAME PASSWORD IS HERE THERE FOLDER SMTPHOST
%token PASSWORDFILE PASSWORDCOMMAND
%token FETCHDOMAINS SMTPADDRESS SMTPNAME ANTISPAM MDA BSMTP LMTP PRECONNECT
%token POSTCONNECT LIMIT WARNINGS FETCHLIMIT FETCHSIZELIMIT FASTUIDL
%token BATCHLIMIT EXPUNGE SSL SSLKEY SSLCERT SSLPROTO SSLCERTCK SSLCERTFILE
%token SSLCERTPATH SSLCOMMONNAME SSLFINGERPRINT KEEP FLUSH LIMITFLUSH
%token FETCHALL REWRITE FORCECR STRIPCR PASS8BITS DROPSTATUS DROPDELIVERED
%token MIMEDECODE IDLE NO MAP

%type <list> names
%type <num> bool_user_kw

%destructor { free($$); } <str>
%destructor { cfg_list_clear($$); free($$); } <list>

%%

rcfile		: /* empty */
		| statements
		;

statements	: statement
		| statements statement
		;

statement	: SET global
		| entry				{ rc_entry_end(P); }
		;

optmap		: /* empty */ | MAP ;

global		: LOGFILE optmap STRING		{ rc_set_str(&P->cfg->g.logfile, $3); }
		| IDFILE optmap STRING		{ rc_set_str(&P->cfg->g.idfile, $3); }
		| PIDFILE optmap STRING		{ rc_set_str(&P->cfg->g.pidfile, $3); }
		| POSTMASTER optmap STRING	{ rc_set_str(&P->cfg->g.postmaster, $3); }
		| PROPERTIES optmap STRING	{ rc_set_str(&P->cfg->g.properties, $3); }
		| DAEMON optmap NUMBER		{ rc_set_num(&P->cfg->g.daemon, $3); }
		| BOUNCEMAIL			{ P->cfg->g.bouncemail = FLAG_TRUE; }
		| NO BOUNCEMAIL			{ P->cfg->g.bouncemail = FLAG_FALSE; }
		| SPAMBOUNCE			{ P->cfg->g.spambounce = FLAG_TRUE; }
		| NO SPAMBOUNCE			{ P->cfg->g.spambounce = FLAG_FALSE; }
		| SOFTBOUNCE			{ P->cfg->g.softbounce = FLAG_TRUE; }
		| NO SOFTBOUNCE			{ P->cfg->g.softbounce = FLAG_FALSE; }
		| SYSLOG			{ P->cfg->g.syslog = FLAG_TRUE; }
		| NO SYSLOG			{ P->cfg->g.syslog = FLAG_FALSE; }
		| INVISIBLE			{ P->cfg->g.invisible = FLAG_TRUE; }
		| NO INVISIBLE			{ P->cfg->g.invisible = FLAG_FALSE; }
		| SHOWDOTS			{ P->cfg->g.showdots = FLAG_TRUE; }
		| NO SHOWDOTS			{ P->cfg->g.showdots = FLAG_TRUE; /* sic: as the reference */ }
		;

/* A server option after user options ends the entry with an error; the
 * parse goes on, so that the next token must start a new statement (this
 * is how the reference reports it). */
entry		: head serv_opts
		| head serv_opts user_opts
		| head serv_opts user_opts late_serv_opt
		| head serv_opts user_descs
		| head serv_opts user_descs late_serv_opt
		;

head		: POLL STRING			{ rc_entry_begin(P, $2, RC_POLL); }
		| SKIP STRING			{ rc_entry_begin(P, $2, RC_SKIP); }
		| DEFAULTS			{ rc_entry_begin(P, NULL, RC_DEFAULTS); }
		;

serv_opts	: /* empty */
		| serv_opts serv_opt
		;

user_opts	: user_opt
		| user_opts user_opt
		;

user_descs	: user_desc
		| user_descs user_desc
		;

user_desc	: user_head user_tail
		;

user_tail	: /* empty */
		| user_tail user_opt
		;

user_head	: USERNAME STRING		{ rc_user_begin(P); rc_set_str(&U(P)->remote, $2); }
		| USERNAME STRING THERE		{ rc_user_begin(P); rc_set_str(&U(P)->remote, $2); }
		| USERNAME mapping_first HERE
		| USERNAME mapping_first mappings HERE
		;

mapping_first	: STRING			{ rc_user_begin(P); rc_localname(U(P), $1, NULL); }
		| STRING MAP STRING		{ rc_user_begin(P); rc_localname(U(P), $1, $3); }
		;

mappings	: mapping
		| mappings mapping
		;

/* "*" is an ordinary word; as a plain local name it is the wildcard
 * (rc_localname), as in the reference. */
mapping		: STRING			{ rc_localname(U(P), $1, NULL); }
		| STRING MAP STRING		{ rc_localname(U(P), $1, $3); }
		;

names		: STRING			{ $$ = calloc(1, sizeof(*$$)); if ($$ == NULL) abort(); cfg_list_add($$, $1, NULL); free($1); }
		| names STRING			{ $$ = $1; cfg_list_add($$, $2, NULL); free($2); }
		;

late_serv_opt	: serv_opt1			{ rc_error_at(P, "server option after user options"); }
		;

/* The `no` forms are not server options once user options began: there
 * they are plain syntax errors, as in the reference. */
serv_opt	: serv_opt1
		| serv_opt_no
		;

serv_opt1	: VIA STRING			{ rc_set_str(&S(P)->via, $2); }
		| AKA names			{ cfg_list_append(&S(P)->aka, $2); cfg_list_clear($2); free($2); }
		| LOCALDOMAINS names		{ cfg_list_append(&S(P)->localdomains, $2); cfg_list_clear($2); free($2); }
		| PROTOCOL PROTO		{ cfg_set_proto(S(P), $2); }
		| SERVICE STRING		{ rc_set_str(&S(P)->service, $2); }
		| SERVICE NUMBER		{ char b[32]; snprintf(b, sizeof(b), "%d", $2); rc_set_str(&S(P)->service, strdup(b)); }
		| PORT NUMBER			{ char b[32]; snprintf(b, sizeof(b), "%d", $2); rc_set_str(&S(P)->service, strdup(b)); }
		| INTERVAL NUMBER		{ rc_set_raw(&S(P)->interval, $2); }
		| AUTHENTICATE AUTHTYPE		{ S(P)->auth = $2 == A_ANY ? A_UNSET : $2; /* any = unset */ }
		| TIMEOUT NUMBER		{ rc_set_num(&S(P)->timeout, ($2 == 0 || $2 == -1) ? 300 : $2); }
		| ENVELOPE NUMBER STRING	{ rc_set_raw(&S(P)->envskip, $2); rc_set_str(&S(P)->envelope, $3); S(P)->no_envelope = false; }
		| ENVELOPE STRING		{ rc_set_raw(&S(P)->envskip, 0); rc_set_str(&S(P)->envelope, $2); S(P)->no_envelope = false; }
		| QVIRTUAL STRING		{ rc_set_str(&S(P)->qvirtual, $2); }
		| INTERFACE STRING		{ if (rc_interface_check(P, $2) != 0) { free($2); YYABORT; } rc_set_str(&S(P)->interface, $2); }
		| MONITOR STRING		{ rc_set_str(&S(P)->monitor, $2); }
		| PLUGIN STRING			{ rc_set_str(&S(P)->plugin, $2); }
		| PLUGOUT STRING		{ rc_set_str(&S(P)->plugout, $2); }
		| PRINCIPAL STRING		{ rc_set_str(&S(P)->principal, $2); }
		| ESMTPNAME STRING		{ rc_set_str(&S(P)->esmtpname, $2); }
		| ESMTPPASSWORD STRING		{ rc_set_str(&S(P)->esmtppassword, $2); }
		| BADHEADER BADHEADER_POLICY	{ S(P)->badheader = $2 ? FLAG_TRUE : FLAG_UNSET; /* reject = unset */ }
		| DNS				{ S(P)->dns = FLAG_TRUE; }
		| UIDL				{ S(P)->uidl = FLAG_TRUE; }
		| CHECKALIAS			{ S(P)->checkalias = FLAG_TRUE; }
		| TRACEPOLLS			{ S(P)->tracepolls = FLAG_TRUE; }
		;

serv_opt_no	: NO ENVELOPE			{ rc_set_str(&S(P)->envelope, NULL); S(P)->no_envelope = true; }
		| NO DNS			{ S(P)->dns = FLAG_FALSE; }
		| NO UIDL			{ S(P)->uidl = FLAG_FALSE; }
		| NO CHECKALIAS			{ S(P)->checkalias = FLAG_FALSE; }
		| NO TRACEPOLLS			{ S(P)->tracepolls = FLAG_TRUE; /* sic: as the reference */ }
		;

user_opt	: IS mapping_list
		| IS mapping_list HERE
		| IS STRING THERE		{ rc_set_str(&U(P)->remote, $2); }
		| PASSWORD STRING		{ rc_set_str(&U(P)->password, $2); }
		| PASSWORDFILE STRING		{ rc_set_str(&U(P)->passwordfile, $2); }
		| PASSWORDCOMMAND STRING	{ rc_set_str(&U(P)->passwordcommand, $2); }
		| FOLDER names			{ cfg_list_append(&U(P)->mailboxes, $2); cfg_list_clear($2); free($2); }
		| SMTPHOST names		{ cfg_list_append(&U(P)->smtphunt, $2); cfg_list_clear($2); free($2); }
		| FETCHDOMAINS names		{ cfg_list_append(&U(P)->fetchdomains, $2); cfg_list_clear($2); free($2); }
		| SMTPADDRESS STRING		{ rc_set_str(&U(P)->smtpaddress, $2); }
		| SMTPNAME STRING		{ rc_set_str(&U(P)->smtpname, $2); }
		| ANTISPAM numbers
		| MDA STRING			{ rc_set_str(&U(P)->mda, $2); }
		| BSMTP STRING			{ rc_set_str(&U(P)->bsmtp, $2); }
		| LMTP				{ U(P)->lmtp = FLAG_TRUE; }
		| PRECONNECT STRING		{ rc_set_str(&U(P)->preconnect, $2); }
		| POSTCONNECT STRING		{ rc_set_str(&U(P)->postconnect, $2); }
		| bool_user_kw			{ *((int *)((char *)U(P) + $1)) = FLAG_TRUE; }
		| NO bool_user_kw		{ *((int *)((char *)U(P) + $2)) = FLAG_FALSE; }
		| SSLKEY STRING			{ rc_set_str(&U(P)->sslkey, $2); }
		| SSLCERT STRING		{ rc_set_str(&U(P)->sslcert, $2); }
		| SSLPROTO STRING		{ rc_set_str(&U(P)->sslproto, $2); }
		| SSLCERTFILE STRING		{ rc_set_str(&U(P)->sslcertfile, $2); }
		| SSLCERTPATH STRING		{ rc_set_str(&U(P)->sslcertpath, $2); }
		| SSLCOMMONNAME STRING		{ rc_set_str(&U(P)->sslcommonname, $2); }
		| SSLFINGERPRINT STRING		{ rc_set_str(&U(P)->sslfingerprint, $2); }
		| LIMIT NUMBER			{ rc_set_num(&U(P)->limit, $2); }
		| WARNINGS NUMBER		{ rc_set_num(&U(P)->warnings, $2); }
		| FETCHLIMIT NUMBER		{ rc_set_num(&U(P)->fetchlimit, $2); }
		| FETCHSIZELIMIT NUMBER		{ rc_set_num(&U(P)->fetchsizelimit, $2); }
		| FASTUIDL NUMBER		{ rc_set_num(&U(P)->fastuidl, $2); }
		| BATCHLIMIT NUMBER		{ rc_set_num(&U(P)->batchlimit, $2); }
		| EXPUNGE NUMBER		{ rc_set_num(&U(P)->expunge, $2); }
		| PROPERTIES STRING		{ rc_set_str(&U(P)->properties, $2); }
		;

bool_user_kw	: KEEP				{ $$ = offsetof(struct cfg_opts, keep); }
		| FLUSH				{ $$ = offsetof(struct cfg_opts, flush); }
		| LIMITFLUSH			{ $$ = offsetof(struct cfg_opts, limitflush); }
		| FETCHALL			{ $$ = offsetof(struct cfg_opts, fetchall); }
		| REWRITE			{ $$ = offsetof(struct cfg_opts, rewrite); }
		| FORCECR			{ $$ = offsetof(struct cfg_opts, forcecr); }
		| STRIPCR			{ $$ = offsetof(struct cfg_opts, stripcr); }
		| PASS8BITS			{ $$ = offsetof(struct cfg_opts, pass8bits); }
		| DROPSTATUS			{ $$ = offsetof(struct cfg_opts, dropstatus); }
		| DROPDELIVERED			{ $$ = offsetof(struct cfg_opts, dropdelivered); }
		| MIMEDECODE			{ $$ = offsetof(struct cfg_opts, mimedecode); }
		| IDLE				{ $$ = offsetof(struct cfg_opts, idle); }
		| SSL				{ $$ = offsetof(struct cfg_opts, ssl); }
		| SSLCERTCK			{ $$ = offsetof(struct cfg_opts, sslcertck); }
		;

mapping_list	: mapping
		| mapping_list mapping
		;

numbers		: NUMBER			{ rc_antispam(U(P), $1); }
		| numbers NUMBER		{ rc_antispam(U(P), $2); }
		;

%%

/* Report a grammar error at the last token read. */
void
rc_yyerror(struct rc_parser *P, const char *msg)
{
	(void)msg;
	rc_error_at(P, "syntax error");
}
