/*
 * sink_smtp.c: SMTP and LMTP client sink over struct conn.
 *
 * Opening runs down the hunt list: "host", "host/port" (TCP, or the
 * plugout command), or an absolute path (LMTP over a Unix socket).  A
 * host is taken when its greeting and EHLO (LHLO) succeed; for SMTP a
 * failed greeting or EHLO is retried once on a new connection with
 * HELO, as the reference does.
 *
 * Per message: MAIL FROM (BODY=, SIZE=), one RCPT TO per recipient and
 * DATA; with PIPELINING all of them in one write, else lock-step.  Any
 * 4xx to a RCPT makes the whole message temporary, no accepted RCPT
 * refuses it; both end with RSET.  The body is queued with conn_write()
 * (the conn flushes at its high-water mark) and dot-stuffed here; the
 * transcript is off while it streams.  After ".", one reply (SMTP) or
 * one per accepted recipient (LMTP).
 *
 * A connection that can no longer be used (dropped, protocol error, or
 * a message abandoned in the middle of DATA) is closed and marked dead;
 * the next sink_begin() runs down the hunt list again.  A listener that
 * hung up on an idle connection (I/O error or 421 at MAIL) is reopened
 * once and the message retried.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "i18n.h"
#include "log.h"
#include "sasl_run.h"
#include "sink.h"
#include "sink_priv.h"
#include "xmalloc.h"

#define SMTP_LINE_MAX	65536	/* bytes per reply line */
#define SMTP_MAX_LINES	1000	/* lines per (multi-line) reply */
#define SMTP_QUIT_WAIT	10	/* seconds to wait for the QUIT reply */
#define SMTP_TEXT_MAX	16384	/* bytes of a reply kept for messages */
#define SMTP_EOM_TRACE	". (EOM)"

/* AUTH mechanisms offered (struct smtp.auth). */
#define SMTP_AUTH_PLAIN	0x01
#define SMTP_AUTH_LOGIN	0x02
#define SMTP_AUTH_CRAM	0x04
#define SMTP_AUTH_SCRAM1	0x08
#define SMTP_AUTH_SCRAM256	0x10

struct smtp {
	struct conn	*conn;		/* NULL when dead */
	struct buf	*line;		/* last reply line */
	struct buf	*text;		/* the whole last reply, printable,
					 * lines joined by "\n" (bounded) */
	bool		 lmtp;
	bool		 cap_8bit;
	bool		 cap_size;
	bool		 cap_pipe;
	int		 auth;		/* SMTP_AUTH_* offered */
	int		 auth_code;	/* the last AUTH reply's code */
	bool		 garbled;	/* last reply was not SMTP */
};

/* Outcome of one attempt at a message envelope. */
enum smtp_try {
	SMTP_DONE,			/* result is final */
	SMTP_RETRY			/* listener hung up at MAIL: reopen */
};

static int	 smtp_open(struct sink *, char **);
static enum sink_result smtp_begin(struct sink *, const struct sink_env *);
static enum sink_result smtp_line(struct sink *, const char *, size_t, int);
static enum sink_result smtp_end(struct sink *);
static void	 smtp_abort(struct sink *);
static void	 smtp_close(struct sink *);

static int	 smtp_hunt(struct sink *, char **);
static int	 smtp_try_host(struct sink *, const char *);
static void	 smtp_split(const char *, char **, char **);
static struct conn *smtp_dial(struct sink *, const char *, const char *,
		    const char *, bool);
static struct conn *smtp_dial_unix(const char *, int, char **);
static char	*smtp_plugout_cmd(const char *, const char *, const char *);
static int	 smtp_greet(struct sink *, const char *);
static int	 smtp_reply(struct sink *, bool);
static void	 smtp_cap(struct smtp *, const char *, size_t);
static int	 smtp_fail_io(struct sink *, int);
static enum sink_result smtp_class(struct sink *, int);
static int	 smtp_flush(struct sink *);
static void	 smtp_drop(struct sink *);
static void	 smtp_rset(struct sink *);
static void	 smtp_trace(struct sink *, bool);
static void	 smtp_mail_cmd(struct sink *, const struct sink_env *);
static enum smtp_try smtp_envelope(struct sink *, const struct sink_env *,
		    enum sink_result *);
static enum sink_result smtp_mail_refused(struct sink *, int, int);
static int	 smtp_rcpts(struct sink *, int, int *);
static enum sink_result smtp_after_rcpts(struct sink *,
		    const struct sink_env *, int, int);
static void	 smtp_note_rcpt(struct sink *, size_t, int);
static enum sink_result smtp_end_lmtp(struct sink *);
static int	 smtp_put(void *, const void *, size_t);
static void	 smtp_seterr_reply(struct sink *, enum sink_stage, int);
static enum sink_result smtp_rcpt_verdict(struct sink *);
static enum sink_result smtp_fallback(struct sink *, const struct sink_env *,
		    int, int);
static void	 smtp_auth(struct sink *);

const struct sink_ops sink_smtp_ops = {
	"SMTP",
	smtp_open,
	smtp_begin,
	smtp_line,
	smtp_end,
	smtp_abort,
	smtp_close
};

/* ---------------------------------------------------------------- */
/* connecting                                                       */

/* Allocate the state and connect to the first working host. */
static int
smtp_open(struct sink *s, char **cause)
{
	struct smtp	*sm;

	sm = xcalloc(1, sizeof(*sm));
	sm->line = buf_create(SMTP_LINE_MAX);
	sm->text = buf_create(SMTP_TEXT_MAX + SMTP_LINE_MAX);
	s->impl = sm;
	if (s->conf->kind == SINK_LMTP)
		s->name = "LMTP";
	if (smtp_hunt(s, cause) == -1) {
		buf_free(sm->line);
		buf_free(sm->text);
		free(sm);
		s->impl = NULL;
		return -1;
	}
	return 0;
}

/* Run down the hunt list: 0 connected, or -1 and *cause. */
static int
smtp_hunt(struct sink *s, char **cause)
{
	static const char *const deflt[] = { "localhost" };
	const char *const	*hosts = s->conf->hosts;
	size_t			 n = s->conf->nhosts, i;
	const char		*last = "localhost";

	if (n == 0 || hosts == NULL) {
		hosts = deflt;
		n = 1;
	}
	for (i = 0; i < n; i++) {
		last = hosts[i];
		if (smtp_try_host(s, hosts[i]) == 0)
			return 0;
	}
	*cause = xasprintf(_("%s connect to %s failed"), s->name, last);
	return -1;
}

/*
 * Connect to one hunt-list entry and say hello; 0 or -1 (reason
 * logged).  Sets the protocol, host and destination domain.
 */
static int
smtp_try_host(struct sink *s, const char *entry)
{
	struct smtp	*sm = s->impl;
	char		*host, *port;
	bool		 local = entry[0] == '/';
	int		 rv = -1;

	sm->lmtp = s->conf->kind == SINK_LMTP || local;
	s->name = sm->lmtp ? "LMTP" : "SMTP";
	smtp_split(entry, &host, &port);
	if (sm->lmtp && !local && (port == NULL || strcmp(port, "25") == 0 ||
	    strcmp(port, "smtp") == 0)) {
		log_err(_("%s: LMTP can't use default SMTP port"), entry);
		goto out;
	}
	if ((sm->conn = smtp_dial(s, entry, host, port, local)) == NULL)
		goto out;
	if (smtp_greet(s, sm->lmtp ? "LHLO" : "EHLO") == -1) {
		smtp_drop(s);
		/* RFC 1869: some listeners hang up on EHLO; retry HELO. */
		if (sm->lmtp ||
		    (sm->conn = smtp_dial(s, entry, host, port, local)) == NULL)
			goto out;
		if (smtp_greet(s, "HELO") == -1) {
			smtp_drop(s);
			goto out;
		}
	}
	sink_set_host(s, entry);
	sink_set_dest(s, local ? "localhost" : host);
	rv = 0;
out:
	free(host);
	free(port);
	return rv;
}

/* Split "host/port" (port NULL if none); a path is all host. */
static void
smtp_split(const char *entry, char **host, char **port)
{
	const char	*sl;

	sl = strrchr(entry, '/');
	if (entry[0] == '/' || sl == NULL || sl[1] == '\0') {
		*host = sl != NULL && entry[0] != '/' ?
		    xstrndup(entry, (size_t)(sl - entry)) : xstrdup(entry);
		*port = NULL;
		return;
	}
	*host = xstrndup(entry, (size_t)(sl - entry));
	*port = xstrdup(sl + 1);
}

/* Open the transport for one entry, transcript on; NULL if it failed
 * (reason logged). */
static struct conn *
smtp_dial(struct sink *s, const char *entry, const char *host,
    const char *port, bool local)
{
	const struct sink_conf	*c = s->conf;
	struct conn		*cn;
	char			*cause = NULL, *cmd;
	const char		*p = port != NULL ? port : "25";

	if (local)
		cn = smtp_dial_unix(host, c->timeout, &cause);
	else if (c->plugout != NULL && *c->plugout != '\0') {
		cmd = smtp_plugout_cmd(c->plugout, host, p);
		cn = conn_spawn(cmd, c->timeout, &cause);
		free(cmd);
	} else {
		if (log_verbosity() >= 1)
			log_progress(_("Trying to connect to %s/%s..."), host, p);
		cn = conn_connect(host, p, c->timeout, &cause);
		if (log_verbosity() >= 1) {
			log_progress_more("%s", cn != NULL ? _("connected.") :
			    _("connection failed."));
			log_progress_end();
		}
	}
	if (cn == NULL) {
		log_err(_("connection to %s failed: %s"), entry, cause);
		free(cause);
		return NULL;
	}
	if (c->trace != NULL)
		conn_set_trace(cn, c->trace, c->trace_arg);
	return cn;
}

/* Connect a stream socket to a Unix-domain path. */
static struct conn *
smtp_dial_unix(const char *path, int timeout, char **cause)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*cause = xasprintf(_("%s: socket path too long"), path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		*cause = xasprintf("socket: %s", strerror(errno));
		return NULL;
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR)
			continue;
		*cause = xasprintf("%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	return conn_from_fds(fd, fd, timeout);
}

/* The plugout command with %h and %p (shell-quoted) and %% expanded. */
static char *
smtp_plugout_cmd(const char *tmpl, const char *host, const char *port)
{
	struct buf	*b = buf_create(SIZE_MAX / 4);
	const char	*p, *v;
	char		*out;

	for (p = tmpl; *p != '\0'; p++) {
		if (p[0] != '%' || (p[1] != 'h' && p[1] != 'p' &&
		    p[1] != '%')) {
			(void)buf_append(b, p, 1);
			continue;
		}
		p++;
		if (*p == '%') {
			(void)buf_append(b, "%", 1);
			continue;
		}
		(void)buf_append(b, "'", 1);
		for (v = *p == 'h' ? host : port; *v != '\0'; v++) {
			if (*v == '\'')
				(void)buf_append(b, "'\\''", 4);
			else
				(void)buf_append(b, v, 1);
		}
		(void)buf_append(b, "'", 1);
	}
	out = xstrndup(buf_data(b), buf_len(b));
	buf_free(b);
	return out;
}

/* Read the greeting and send verb (EHLO, LHLO, HELO): 0 or -1. */
static int
smtp_greet(struct sink *s, const char *verb)
{
	struct smtp	*sm = s->impl;
	const char	*me = s->conf->heloname;
	int		 code;

	sm->cap_8bit = sm->cap_size = sm->cap_pipe = false;
	sm->auth = 0;
	if ((code = smtp_reply(s, false)) == -1)
		return -1;
	if (code / 100 != 2) {
		sink_seterr_line(s, buf_data(sm->line), buf_len(sm->line));
		return -1;
	}
	if (me == NULL || *me == '\0')
		me = "localhost";
	(void)conn_printf(sm->conn, "%s %s\r\n", verb, me);
	if (smtp_flush(s) == -1)
		return -1;
	if ((code = smtp_reply(s, strcmp(verb, "HELO") != 0)) == -1)
		return -1;
	if (code / 100 != 2) {
		sink_seterr_line(s, buf_data(sm->line), buf_len(sm->line));
		return -1;
	}
	if (sm->auth != 0)
		smtp_auth(s);
	return sm->conn != NULL ? 0 : -1;
}

/* ---------------------------------------------------------------- */
/* AUTH                                                             */

/* AUTH MECH [initial-response] (RFC 4954); the response is masked. */
static int
smtp_sasl_start(void *arg, const char *mech, const char *ir)
{
	struct sink	*s = arg;
	struct smtp	*sm = s->impl;

	if (ir == NULL)
		(void)conn_printf(sm->conn, "AUTH %s\r\n", mech);
	else {
		conn_mask_next(sm->conn, strlen("AUTH ") + strlen(mech) + 1);
		(void)conn_printf(sm->conn, "AUTH %s %s\r\n", mech, ir);
	}
	return 0;
}

/* "334 challenge", 2xx, or a refusal (its code kept in sm->auth_code). */
static enum sasl_reply
smtp_sasl_next(void *arg, const char **text, size_t *len)
{
	struct sink	*s = arg;
	struct smtp	*sm = s->impl;
	const char	*p;
	size_t		 n;
	int		 code;

	if (smtp_flush(s) == -1 || (code = smtp_reply(s, false)) == -1) {
		smtp_drop(s);
		return SASL_R_ERROR;
	}
	sm->auth_code = code;
	p = buf_data(sm->line);
	n = buf_len(sm->line);
	/* "334", "334 " and "334 !!" must not crash anything
	 * (CVE-2025-61962): the text after "334 ", maybe empty */
	*text = n > 4 ? p + 4 : "";
	*len = n > 4 ? n - 4 : 0;
	if (code == 334)
		return SASL_R_CHALLENGE;
	*len = 0;
	return code / 100 == 2 ? SASL_R_SUCCESS : SASL_R_REFUSED;
}

/* One response line, masked. */
static int
smtp_sasl_respond(void *arg, const char *line, bool last)
{
	struct sink	*s = arg;
	struct smtp	*sm = s->impl;

	(void)last;
	conn_mask_next(sm->conn, 0);
	(void)conn_printf(sm->conn, "%s\r\n", line);
	return 0;
}

/* The mechanism to use among those the listener offers, best first. */
static int
smtp_auth_mech(const struct smtp *sm)
{
	static const struct { int bit; enum sasl_mech m; } pref[] = {
		{ SMTP_AUTH_SCRAM256, SASL_SCRAM_SHA256 },
		{ SMTP_AUTH_SCRAM1, SASL_SCRAM_SHA1 },
		{ SMTP_AUTH_CRAM, SASL_CRAM_MD5 },
		{ SMTP_AUTH_PLAIN, SASL_PLAIN },
		{ SMTP_AUTH_LOGIN, SASL_LOGIN },
	};
	size_t	i;

	for (i = 0; i < sizeof(pref) / sizeof(pref[0]); i++)
		if (sm->auth & pref[i].bit)
			return (int)pref[i].m;
	return SASL_LOGIN;	/* offered nothing we know: try LOGIN */
}

/*
 * Authenticate with the best of SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5,
 * PLAIN, LOGIN the listener offers, when esmtpname and esmtppassword
 * are set.  A refusal is logged and otherwise ignored (the listener
 * decides what it accepts unauthenticated); only a broken connection
 * ends the attempt at this host (sm->conn is then NULL).
 */
static void
smtp_auth(struct sink *s)
{
	const struct sink_conf	*c = s->conf;
	struct smtp		*sm = s->impl;
	struct sasl_cred	 cred;
	struct sasl_io		 io = { smtp_sasl_start, smtp_sasl_next,
				    smtp_sasl_respond, s, true, s->name };
	enum sasl_reply		 r;

	if (c->esmtpname == NULL || *c->esmtpname == '\0' ||
	    c->esmtppassword == NULL || *c->esmtppassword == '\0')
		return;
	memset(&cred, 0, sizeof(cred));
	cred.user = c->esmtpname;
	cred.pass = c->esmtppassword;
	cred.host = s->name;
	cred.service = "smtp";
	sm->auth_code = 0;
	r = sasl_run(&io, (enum sasl_mech)smtp_auth_mech(sm), &cred);
	if (r == SASL_R_REFUSED && sm->conn != NULL)
		log_err(_("%s authentication as %s failed: %s"), s->name,
		    c->esmtpname, sm->auth_code > 0 ? buf_data(sm->text) :
		    "?");
}

/* ---------------------------------------------------------------- */
/* replies                                                          */

/*
 * Read one reply (all its lines): its code, or -1 with the error set.
 * The last line stays in sm->line.  With caps, the EHLO keywords of the
 * lines after the first are noted.
 */
static int
smtp_reply(struct sink *s, bool caps)
{
	struct smtp	*sm = s->impl;
	const char	*p;
	size_t		 n, nl;
	int		 r;

	sm->garbled = false;
	buf_reset(sm->text);
	for (nl = 0;; nl++) {
		if ((r = conn_getline(sm->conn, sm->line, SMTP_LINE_MAX)) != 1)
			return smtp_fail_io(s, r);
		p = buf_data(sm->line);
		n = buf_len(sm->line);
		if (buf_len(sm->text) < SMTP_TEXT_MAX) {
			char	*t = sink_printable(p, n);

			if (nl > 0)
				(void)buf_append(sm->text, "\n", 1);
			(void)buf_append(sm->text, t, n);
			free(t);
		}
		if (nl >= SMTP_MAX_LINES || n < 3 ||
		    p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
		    p[2] < '0' || p[2] > '9' ||
		    (n > 3 && p[3] != ' ' && p[3] != '-')) {
			char	*t = sink_printable(p, n < 80 ? n : 80);

			sink_seterr(s, _("%s listener protocol error "
			    "(reply \"%s\")"), s->name, t);
			free(t);
			sm->garbled = true;
			return -1;
		}
		if (caps && nl > 0 && n > 4)
			smtp_cap(sm, p + 4, n - 4);
		if (n == 3 || p[3] == ' ')
			return (p[0] - '0') * 100 + (p[1] - '0') * 10 +
			    (p[2] - '0');
	}
}

/* Note one EHLO keyword line. */
static void
smtp_cap(struct smtp *sm, const char *p, size_t n)
{
	size_t	 k, i, j;

	for (k = 0; k < n && p[k] != ' ' && p[k] != '='; k++)
		;
	if (k == 8 && strncasecmp(p, "8BITMIME", 8) == 0)
		sm->cap_8bit = true;
	else if (k == 4 && strncasecmp(p, "SIZE", 4) == 0)
		sm->cap_size = true;
	else if (k == 10 && strncasecmp(p, "PIPELINING", 10) == 0)
		sm->cap_pipe = true;
	else if (k == 4 && strncasecmp(p, "AUTH", 4) == 0) {
		/* "AUTH PLAIN LOGIN" or the old "AUTH=LOGIN" */
		for (i = k + 1; i < n; i = j + 1) {
			for (j = i; j < n && p[j] != ' '; j++)
				;
			if (j - i == 5 && strncasecmp(p + i, "PLAIN", 5) == 0)
				sm->auth |= SMTP_AUTH_PLAIN;
			else if (j - i == 5 && strncasecmp(p + i, "LOGIN", 5) == 0)
				sm->auth |= SMTP_AUTH_LOGIN;
			else if (j - i == 8 &&
			    strncasecmp(p + i, "CRAM-MD5", 8) == 0)
				sm->auth |= SMTP_AUTH_CRAM;
			else if (j - i == 11 &&
			    strncasecmp(p + i, "SCRAM-SHA-1", 11) == 0)
				sm->auth |= SMTP_AUTH_SCRAM1;
			else if (j - i == 13 &&
			    strncasecmp(p + i, "SCRAM-SHA-256", 13) == 0)
				sm->auth |= SMTP_AUTH_SCRAM256;
		}
	}
}

/* The failure is the reply just read: its text, code and stage. */
static void
smtp_seterr_reply(struct sink *s, enum sink_stage stage, int code)
{
	struct smtp	*sm = s->impl;

	sink_seterr(s, "%s", buf_data(sm->text));
	sink_setfail(s, stage, code);
}

/* Error text for a failed read (r from conn_getline); -1. */
static int
smtp_fail_io(struct sink *s, int r)
{
	struct smtp	*sm = s->impl;

	if (r == 0)
		sink_seterr(s, _("%s listener closed the connection"),
		    s->name);
	else
		sink_seterr(s, "%s", conn_error(sm->conn));
	return -1;
}

/* Result for a reply code to MAIL, RCPT or the end of data. */
static enum sink_result
smtp_class(struct sink *s, int code)
{
	struct smtp	*sm = s->impl;

	switch (code / 100) {
	case 2:
		return SINK_OK;
	case 4:
		return SINK_TEMPFAIL;
	case 5:
		return SINK_REFUSED;
	}
	sink_seterr(s, _("%s listener protocol error (reply \"%.3s\")"),
	    s->name, buf_data(sm->line));
	return SINK_ERROR;
}

/* Send what is queued: 0, or -1 with the error set. */
static int
smtp_flush(struct sink *s)
{
	struct smtp	*sm = s->impl;

	if (conn_flush(sm->conn) == 0)
		return 0;
	sink_seterr(s, "%s", conn_error(sm->conn));
	return -1;
}

/* Close the connection; the next message reconnects. */
static void
smtp_drop(struct sink *s)
{
	struct smtp	*sm = s->impl;

	conn_free(sm->conn);
	sm->conn = NULL;
}

/* RSET, best effort (the error text is kept); drops on I/O failure. */
static void
smtp_rset(struct sink *s)
{
	struct smtp	*sm = s->impl;
	char		*keep;

	if (sm->conn == NULL)
		return;
	keep = s->error != NULL ? xstrdup(s->error) : NULL;
	(void)conn_write(sm->conn, "RSET\r\n", 6);
	if (smtp_flush(s) == -1 || smtp_reply(s, false) == -1)
		smtp_drop(s);
	free(s->error);
	s->error = keep;
}

/* Transcript on (commands) or off (message body). */
static void
smtp_trace(struct sink *s, bool on)
{
	struct smtp	*sm = s->impl;

	if (s->conf->trace == NULL)
		return;
	if (on)
		conn_set_trace(sm->conn, s->conf->trace, s->conf->trace_arg);
	else
		conn_set_trace(sm->conn, NULL, NULL);
}

/* ---------------------------------------------------------------- */
/* envelope                                                         */

/* Start a message; reopens a dead connection, retries once after an
 * idle hang-up. */
static enum sink_result
smtp_begin(struct sink *s, const struct sink_env *env)
{
	struct smtp		*sm = s->impl;
	enum sink_result	 r = SINK_ERROR;
	char			*cause;
	int			 attempt;

	if (env->nrcpt == 0) {
		sink_seterr(s, _("no recipients"));
		return SINK_REFUSED;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		if (sm->conn == NULL) {
			if (smtp_hunt(s, &cause) == -1) {
				sink_seterr(s, "%s", cause);
				free(cause);
				return SINK_ERROR;
			}
		}
		if (smtp_envelope(s, env, &r) == SMTP_DONE)
			break;
	}
	return r;
}

/* Queue "MAIL FROM:<sender> [BODY=..] [SIZE=n]". */
static void
smtp_mail_cmd(struct sink *s, const struct sink_env *env)
{
	struct smtp	*sm = s->impl;
	const char	*body = "";
	char		 size[32], *from;

	if (sm->cap_8bit) {
		if (s->conf->pass8bits || env->body == SINK_BODY_8BIT)
			body = " BODY=8BITMIME";
		else if (env->body == SINK_BODY_7BIT)
			body = " BODY=7BIT";
	}
	size[0] = '\0';
	if (sm->cap_size && env->size > 0)
		(void)snprintf(size, sizeof(size), " SIZE=%llu", env->size);
	from = sink_clean_addr(env->sender != NULL ? env->sender : "");
	(void)conn_printf(sm->conn, "MAIL FROM:<%s>%s%s\r\n", from, body,
	    size);
	free(from);
}

/*
 * One attempt at MAIL, RCPT..., DATA; *r is the result.  SMTP_RETRY
 * when the listener hung up at MAIL (I/O error or 421): the connection
 * is dropped and the caller may reconnect and try again.
 */
static enum smtp_try
smtp_envelope(struct sink *s, const struct sink_env *env,
    enum sink_result *r)
{
	struct smtp	*sm = s->impl;
	size_t		 i;
	int		 code = 0, data = 0, pipe = sm->cap_pipe;

	*r = SINK_ERROR;
	smtp_mail_cmd(s, env);
	if (pipe) {
		for (i = 0; i < s->nrcpt; i++)
			(void)conn_printf(sm->conn, "RCPT TO:<%s>\r\n",
			    s->rcpt[i].addr);
		(void)conn_write(sm->conn, "DATA\r\n", 6);
	}
	if (smtp_flush(s) == -1 || (code = smtp_reply(s, false)) == -1 ||
	    code == 421) {
		if (code == 421)
			smtp_seterr_reply(s, SINK_STAGE_MAIL, code);
		else
			sink_setfail(s, SINK_STAGE_MAIL, 0);
		smtp_drop(s);
		return code == -1 && sm->garbled ? SMTP_DONE : SMTP_RETRY;
	}
	if (code / 100 != 2)
		*r = smtp_mail_refused(s, pipe, code);
	else if (smtp_rcpts(s, pipe, &data) == 0)
		*r = smtp_after_rcpts(s, env, pipe, data);
	else {
		sink_setfail(s, SINK_STAGE_RCPT, 0);
		smtp_drop(s);
	}
	return SMTP_DONE;
}

/* MAIL got code: read what was pipelined after it, clean up. */
static enum sink_result
smtp_mail_refused(struct sink *s, int pipe, int code)
{
	enum sink_result	 r;
	size_t			 i;
	int			 data = 0;

	smtp_seterr_reply(s, SINK_STAGE_MAIL, code);
	r = smtp_class(s, code);
	for (i = 0; i < s->nrcpt; i++)
		s->rcpt[i].result = r;
	/* The pipelined RCPTs and DATA have replies too (errors). */
	for (i = 0; pipe && i <= s->nrcpt && data != -1; i++)
		data = smtp_reply(s, false);
	if (r == SINK_ERROR || data == -1 || data == 354)
		smtp_drop(s);
	else
		smtp_rset(s);
	return r;
}

/* Send (lock-step) or read the RCPT replies, then (pipelined) the DATA
 * reply into *data: 0, or -1 if the connection failed. */
static int
smtp_rcpts(struct sink *s, int pipe, int *data)
{
	struct smtp	*sm = s->impl;
	size_t		 i;
	int		 code;

	for (i = 0; i < s->nrcpt; i++) {
		if (!pipe) {
			(void)conn_printf(sm->conn, "RCPT TO:<%s>\r\n",
			    s->rcpt[i].addr);
			if (smtp_flush(s) == -1)
				return -1;
		}
		if ((code = smtp_reply(s, false)) == -1)
			return -1;
		smtp_note_rcpt(s, i, code);
	}
	if (pipe && (*data = smtp_reply(s, false)) == -1)
		return -1;
	return 0;
}

/* Record a recipient's reply (the one just read). */
static void
smtp_note_rcpt(struct sink *s, size_t i, int code)
{
	struct smtp	*sm = s->impl;

	free(s->rcpt[i].reply);
	s->rcpt[i].reply = xstrdup(buf_data(sm->text));
	s->rcpt[i].code = code;
	switch (code / 100) {
	case 2:
		s->rcpt[i].result = SINK_OK;
		break;
	case 4:
		s->rcpt[i].result = SINK_TEMPFAIL;
		break;
	default:
		s->rcpt[i].result = SINK_REFUSED;
		break;
	}
}

/*
 * The RCPT replies together: SINK_OK if one recipient was accepted
 * and none deferred; else SINK_TEMPFAIL (any 4xx: the first one is the
 * error) or SINK_REFUSED (the first 5xx is the error).
 */
static enum sink_result
smtp_rcpt_verdict(struct sink *s)
{
	size_t	 i, ok = 0, temp = s->nrcpt, bad = s->nrcpt;

	for (i = 0; i < s->nrcpt; i++) {
		if (s->rcpt[i].result == SINK_OK)
			ok++;
		else if (s->rcpt[i].result == SINK_TEMPFAIL && temp == s->nrcpt)
			temp = i;
		else if (s->rcpt[i].result == SINK_REFUSED && bad == s->nrcpt)
			bad = i;
	}
	if (temp < s->nrcpt)
		i = temp;
	else if (ok == 0 && bad < s->nrcpt)
		i = bad;
	else
		return ok > 0 ? SINK_OK : SINK_REFUSED;
	sink_seterr(s, "%s", s->rcpt[i].reply);
	sink_setfail(s, SINK_STAGE_RCPT, s->rcpt[i].code);
	return i == temp ? SINK_TEMPFAIL : SINK_REFUSED;
}

/*
 * Every recipient was refused for good: offer the message to the
 * fallback (postmaster), in the same transaction in lock-step mode, in
 * a new one after a pipelined DATA (which has failed: there was no
 * recipient).  SINK_OK when it was accepted and DATA may be sent.
 */
static enum sink_result
smtp_fallback(struct sink *s, const struct sink_env *env, int pipe,
    int data)
{
	struct smtp	*sm = s->impl;
	size_t		 i;
	int		 code;

	if (pipe) {
		if (data == 354) {
			/* DATA without a recipient accepted: cannot go on */
			sink_seterr(s, _("%s listener accepted DATA without "
			    "recipients"), s->name);
			sink_setfail(s, SINK_STAGE_DATA, 0);
			smtp_drop(s);
			return SINK_ERROR;
		}
		smtp_rset(s);
		if (sm->conn == NULL)
			return SINK_ERROR;
		smtp_mail_cmd(s, env);
		if (smtp_flush(s) == -1 || (code = smtp_reply(s, false)) == -1) {
			smtp_drop(s);
			return SINK_ERROR;
		}
		if (code / 100 != 2)
			return smtp_mail_refused(s, 0, code);
	}
	i = sink_rcpt_add_fallback(s);
	(void)conn_printf(sm->conn, "RCPT TO:<%s>\r\n", s->rcpt[i].addr);
	if (smtp_flush(s) == -1 || (code = smtp_reply(s, false)) == -1) {
		sink_setfail(s, SINK_STAGE_RCPT, 0);
		smtp_drop(s);
		return SINK_ERROR;
	}
	smtp_note_rcpt(s, i, code);
	if (code / 100 == 2)
		return SINK_OK;
	smtp_seterr_reply(s, SINK_STAGE_RCPT, code);
	smtp_rset(s);
	return code / 100 == 4 ? SINK_TEMPFAIL : SINK_REFUSED;
}

/*
 * Decide after the RCPT replies; send DATA in lock-step mode (pipe 0),
 * else data is the reply the pipelined DATA got.  A pipelined DATA that
 * was accepted although the message must not go on cannot be undone:
 * the connection is dropped.
 */
static enum sink_result
smtp_after_rcpts(struct sink *s, const struct sink_env *env, int pipe,
    int data)
{
	struct smtp		*sm = s->impl;
	enum sink_result	 r;

	r = smtp_rcpt_verdict(s);
	if (r == SINK_REFUSED && s->fallback != NULL) {
		if ((r = smtp_fallback(s, env, pipe, data)) != SINK_OK)
			return r;
		pipe = 0;		/* DATA has not gone out for it */
	} else if (r != SINK_OK) {
		if (pipe && data == 354)
			smtp_drop(s);
		else
			smtp_rset(s);
		return r;
	}
	if (!pipe) {
		(void)conn_write(sm->conn, "DATA\r\n", 6);
		if (smtp_flush(s) == -1 || (data = smtp_reply(s, false)) == -1) {
			sink_setfail(s, SINK_STAGE_DATA, 0);
			smtp_drop(s);
			return SINK_ERROR;
		}
	}
	if (data != 354) {
		smtp_seterr_reply(s, SINK_STAGE_DATA, data);
		r = data / 100 == 2 || data / 100 == 3 ? SINK_ERROR :
		    smtp_class(s, data);
		if (r == SINK_ERROR)
			smtp_drop(s);
		else
			smtp_rset(s);
		return r;
	}
	smtp_trace(s, false);
	free(s->error);
	s->error = NULL;
	sink_setfail(s, SINK_STAGE_NONE, 0);
	return SINK_OK;
}

/* ---------------------------------------------------------------- */
/* body and end of data                                             */

/* conn_write() as a sink_put_fn. */
static int
smtp_put(void *arg, const void *p, size_t n)
{
	return conn_write(arg, p, n);
}

static enum sink_result
smtp_line(struct sink *s, const char *p, size_t n, int eol)
{
	struct smtp	*sm = s->impl;

	if (sink_put_stuffed(s, smtp_put, sm->conn, p, n, eol) == 0)
		return SINK_OK;
	sink_seterr(s, "%s", conn_error(sm->conn));
	return SINK_ERROR;
}

/* Send ".", read the verdict(s). */
static enum sink_result
smtp_end(struct sink *s)
{
	struct smtp	*sm = s->impl;
	int		 code;

	if (s->state == SINK_FAILED) {
		smtp_drop(s);
		return SINK_ERROR;
	}
	if ((!s->bol && conn_write(sm->conn, "\r\n", 2) == -1) ||
	    conn_write(sm->conn, ".\r\n", 3) == -1) {
		sink_seterr(s, "%s", conn_error(sm->conn));
		smtp_drop(s);
		return SINK_ERROR;
	}
	smtp_trace(s, true);
	if (s->conf->trace != NULL)
		s->conf->trace(s->conf->trace_arg, CONN_TRACE_OUT,
		    SMTP_EOM_TRACE, strlen(SMTP_EOM_TRACE));
	if (smtp_flush(s) == -1) {
		smtp_drop(s);
		return SINK_ERROR;
	}
	if (s->conf->idle != NULL)
		s->conf->idle(s->conf->idle_arg);
	if (sm->lmtp)
		return smtp_end_lmtp(s);
	if ((code = smtp_reply(s, false)) == -1) {
		sink_setfail(s, SINK_STAGE_EOD, 0);
		smtp_drop(s);
		return SINK_ERROR;
	}
	if (code / 100 == 2)
		return SINK_OK;
	smtp_seterr_reply(s, SINK_STAGE_EOD, code);
	if (code / 100 != 4 && code / 100 != 5) {
		(void)smtp_class(s, code);
		smtp_drop(s);
		return SINK_ERROR;
	}
	smtp_rset(s);
	return code / 100 == 4 ? SINK_TEMPFAIL : SINK_REFUSED;
}

/* LMTP: one reply per accepted recipient; OK only if all succeed. */
static enum sink_result
smtp_end_lmtp(struct sink *s)
{
	enum sink_result	 r = SINK_OK;
	size_t			 i;
	int			 code;

	for (i = 0; i < s->nrcpt; i++) {
		if (s->rcpt[i].result != SINK_OK)
			continue;
		if ((code = smtp_reply(s, false)) == -1) {
			for (; i < s->nrcpt; i++)
				if (s->rcpt[i].result == SINK_OK)
					s->rcpt[i].result = SINK_ERROR;
			sink_setfail(s, SINK_STAGE_EOD, 0);
			smtp_drop(s);
			return SINK_ERROR;
		}
		smtp_note_rcpt(s, i, code);
		if (s->rcpt[i].result == SINK_OK)
			continue;
		if (r == SINK_OK) {
			sink_seterr(s, "%s", s->rcpt[i].reply);
			sink_setfail(s, SINK_STAGE_EOD, code);
		}
		if (s->rcpt[i].result == SINK_TEMPFAIL)
			r = SINK_TEMPFAIL;
		else if (r == SINK_OK)
			r = SINK_REFUSED;
	}
	return r;
}

/* In DATA nothing can be taken back: drop the connection (the listener
 * discards the message); the next message reconnects. */
static void
smtp_abort(struct sink *s)
{
	smtp_drop(s);
}

/* QUIT (best effort) and free. */
static void
smtp_close(struct sink *s)
{
	struct smtp	*sm = s->impl;
	int		 t;

	if (sm == NULL)
		return;
	if (sm->conn != NULL) {
		t = s->conf->timeout;
		if (t <= 0 || t > SMTP_QUIT_WAIT)
			conn_set_timeout(sm->conn, SMTP_QUIT_WAIT);
		(void)conn_write(sm->conn, "QUIT\r\n", 6);
		if (conn_flush(sm->conn) == 0)
			(void)smtp_reply(s, false);
		smtp_drop(s);
	}
	buf_free(sm->line);
	buf_free(sm->text);
	free(sm);
	s->impl = NULL;
}
