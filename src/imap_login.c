/*
 * imap_login.c: the start of an IMAP session: greeting, CAPABILITY,
 * STARTTLS, and authentication (LOGIN, and every SASL mechanism through
 * sasl_run() over AUTHENTICATE, with SASL-IR when the server has it).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conn.h"
#include "i18n.h"
#include "imap_parse.h"
#include "imap_priv.h"
#include "log.h"
#include "login.h"
#include "pop3.h"
#include "sasl_run.h"
#include "session.h"
#include "tls.h"
#include "xmalloc.h"

/* CAPABILITY. */
int
imap_capability(struct imap *ip)
{
	struct imap_resp r;

	ip->caps_fresh = false;
	if (imap_command(ip, &r, "CAPABILITY") < 0)
		return -1;
	return 0;
}

/* STARTTLS and the handshake; re-reads the capabilities. */
static int
starttls(struct imap *ip, const struct pop3_tls *t)
{
	struct session	*s = ip->s;
	struct imap_resp r;
	char		*cause = NULL;
	int		 c;

	if ((c = imap_command(ip, &r, "STARTTLS")) < 0)
		return -1;
	if (c != IMAP_C_OK) {
		char *e = log_escape(r.text, r.textlen);

		log_err("%s", e);
		free(e);
	} else if (conn_starttls(ip->c, t->opts, &cause) != 0) {
		log_err_lines(cause ? cause : "?");
		free(cause);
	} else {
		session_tls_report(s);
		log_verbose(_("%s: upgrade to TLS succeeded."), t->opts->host);
		memset(&ip->caps, 0, sizeof(ip->caps));
		return imap_capability(ip);
	}
	log_err(_("%s: upgrade to TLS failed."), t->opts->host);
	log_err(_("Socket or TLS error on %s@%s"), s->q->o.remote, s->host);
	log_err(_("socket error while fetching from %s@%s"), s->q->o.remote,
	    s->pollname);
	s->status = PS_SOCKET;
	return -1;
}

/* The TLS decision after the greeting's capabilities. */
static int
tls_step(struct imap *ip, const struct pop3_tls *t)
{
	struct session *s = ip->s;

	if (t->mode == 2 && ip->preauth) {
		log_err(_("%s: configuration requires TLS, but STARTTLS is not "
		    "permitted because of authenticated state (PREAUTH). "
		    "Aborting connection.  Server permitting, try --ssl "
		    "instead (see manual)."), s->host);
		log_err(_("Socket or TLS error on %s@%s"), s->q->o.remote,
		    s->host);
		log_err(_("socket error while fetching from %s@%s"),
		    s->q->o.remote, s->pollname);
		s->status = PS_SOCKET;
		return -1;
	}
	if (t->mode == 2 || (t->mode == 1 && ip->caps.starttls &&
	    !ip->preauth))
		return starttls(ip, t);
	if (t->mode == 0 && t->proto_empty && ip->caps.starttls)
		log_verbose(_("%s: WARNING: server offered STARTTLS but "
		    "sslproto '' given."), s->host);
	return 0;
}

/* LOGIN "user" "password", the password masked in the transcript:
 * 0 logged in, 1 refused, -1 error. */
static int
auth_login(struct imap *ip)
{
	struct imap_resp r;
	const char	*user = ip->s->q->o.remote, *pw = ip->s->password;
	size_t		 keep;
	unsigned	 tag;

	buf_reset(ip->cmd);
	if (buf_append(ip->cmd, "LOGIN ", 6) != 0 ||
	    imap_quote(ip->cmd, user, strlen(user)) != 0 ||
	    buf_append(ip->cmd, " ", 1) != 0) {
		log_err("%s", _("the user name cannot be sent in an IMAP "
		    "quoted string"));
		ip->s->status = PS_AUTHFAIL;
		return -1;
	}
	keep = strlen("A0000 ") + buf_len(ip->cmd);
	if (imap_quote(ip->cmd, pw, strlen(pw)) != 0) {
		buf_wipe(ip->cmd);
		log_err("%s", _("the password cannot be sent in an IMAP quoted "
		    "string"));
		ip->s->status = PS_AUTHFAIL;
		return -1;
	}
	conn_mask_next(ip->c, keep);
	tag = imap_send_cmd(ip, "%s", buf_data(ip->cmd));
	buf_wipe(ip->cmd);
	if (imap_simple_reply(ip, tag, &r) != 0)
		return -1;
	return r.cond == IMAP_C_OK ? 0 : 1;
}

/* ---------------------------------------------------------- SASL */

struct imap_sasl {
	struct imap	*ip;
	unsigned	 tag;
};

/* AUTHENTICATE MECH [initial-response]; the response is masked. */
static int
sasl_start(void *arg, const char *mech, const char *ir)
{
	struct imap_sasl *a = arg;

	if (ir == NULL)
		a->tag = imap_send_cmd(a->ip, "AUTHENTICATE %s", mech);
	else {
		conn_mask_next(a->ip->c, strlen("A0000 AUTHENTICATE ") +
		    strlen(mech) + 1);
		a->tag = imap_send_cmd(a->ip, "AUTHENTICATE %s %s", mech, ir);
	}
	return a->tag == 0 ? -1 : 0;
}

/* "+ challenge", or the tagged verdict. */
static enum sasl_reply
sasl_next(void *arg, const char **text, size_t *len)
{
	struct imap_sasl *a = arg;
	struct imap	*ip = a->ip;
	struct imap_resp r;
	char		*e;

	if (imap_next_resp(ip, &r) != 0)
		return SASL_R_ERROR;
	if (r.kind == IMAP_R_CONT) {
		*text = r.text;
		*len = r.textlen;
		return SASL_R_CHALLENGE;
	}
	if (r.kind != IMAP_R_TAGGED || !imap_tag_is(&r, a->tag)) {
		(void)imap_proto_fail(ip, buf_data(ip->line),
		    buf_len(ip->line));
		return SASL_R_ERROR;
	}
	*len = 0;
	if (r.cond == IMAP_C_OK)
		return SASL_R_SUCCESS;
	e = log_escape(r.text, r.textlen);
	log_verbose("%s", e);
	free(e);
	ip->s->status = PS_AUTHFAIL;
	return SASL_R_REFUSED;
}

/* One response line, masked. */
static int
sasl_respond(void *arg, const char *line, bool last)
{
	struct imap_sasl *a = arg;

	(void)last;
	conn_mask_next(a->ip->c, 0);
	return conn_printf(a->ip->c, "%s\r\n", line) == 0 ? 0 :
	    imap_io_fail(a->ip);
}

/* Log in with one SASL mechanism: 0, 1 refused (status set), -1 error. */
static int
auth_sasl(struct imap *ip, enum sasl_mech m)
{
	struct imap_sasl a = { ip, 0 };
	struct sasl_io	 io = { sasl_start, sasl_next, sasl_respond, &a,
			    ip->caps.sasl_ir, ip->s->host };

	return login_sasl(ip->s, &io, m, "imap");
}

/* Whether the server offers mechanism M (and this build has it). */
static bool
offered(const struct imap *ip, enum sasl_mech m)
{
	const struct imap_caps *c = &ip->caps;
	bool	 o;

	switch (m) {
	case SASL_EXTERNAL:
		/* a client certificate, and its name sent up front */
		o = c->auth_external && c->sasl_ir &&
		    ip->s->q->o.sslcert != NULL;
		break;
	case SASL_GSSAPI:	o = c->auth_gssapi; break;
	case SASL_SCRAM_SHA256:	o = c->auth_scram_sha256; break;
	case SASL_SCRAM_SHA1:	o = c->auth_scram_sha1; break;
	case SASL_NTLM:		o = c->auth_ntlm; break;
	case SASL_CRAM_MD5:	o = c->auth_cram_md5; break;
	default:		o = false; break;
	}
	return o && sasl_mech_available(m);
}

/*
 * auth any, among what the server offers, as the reference orders it
 * but with SCRAM first: those that need no password (EXTERNAL with a
 * client certificate, GSSAPI with a ticket), SCRAM (SHA-256, else
 * SHA-1: both check the same secret), CRAM-MD5, NTLM, and LOGIN last
 * unless the server forbids it.  A refusal moves on to the next, so the
 * password never travels in clear while a mechanism that masks it is
 * left.
 */
static int
auth_any(struct imap *ip)
{
	static const enum sasl_mech order[] = { SASL_EXTERNAL, SASL_GSSAPI,
	    SASL_SCRAM_SHA256, SASL_SCRAM_SHA1, SASL_CRAM_MD5, SASL_NTLM };
	size_t	i;
	int	r = 1;
	bool	tried = false, scram = false;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!offered(ip, order[i]) ||
		    (order[i] == SASL_SCRAM_SHA1 && scram))
			continue;
		scram = scram || order[i] == SASL_SCRAM_SHA256;
		tried = true;
		if ((r = auth_sasl(ip, order[i])) <= 0)
			return r;
		ip->s->status = 0;
	}
	if (!ip->caps.logindisabled)
		return auth_login(ip);
	if (!tried)
		log_err(_("%s: the server forbids LOGIN (LOGINDISABLED) "
		    "and offers no method this build can use."),
		    ip->s->host);
	return 1;
}

/* Log in as the configured method asks; 0, or -1 (status set). */
static int
authenticate(struct imap *ip)
{
	const struct cfg_opts *o = &ip->s->q->o;
	int	m, r = 1;

	if (o->auth == A_SSH)		/* the plugin logged us in */
		return 0;
	if (ip->s->password == NULL) {
		log_err(_("No password for %s@%s."), o->remote,
		    ip->s->pollname);
		ip->s->status = PS_AUTHFAIL;
		return -1;
	}
	if (o->auth == A_ANY || o->auth == A_UNSET)
		r = auth_any(ip);
	else if (o->auth == A_PASSWORD) {
		if (ip->caps.logindisabled)
			log_err(_("%s: --auth password requested but server "
			    "forbids it (LOGINDISABLED)."), ip->s->host);
		else
			r = auth_login(ip);
	} else if ((m = login_sasl_mech(o->auth)) < 0 ||
	    !sasl_mech_available((enum sasl_mech)m))
		log_err(_("authentication method %s is not supported for IMAP "
		    "in this build"), cfg_auth_name(o->auth));
	else
		r = auth_sasl(ip, (enum sasl_mech)m);
	if (r > 0)
		ip->s->status = PS_AUTHFAIL;
	return r == 0 ? 0 : -1;
}

/* Greeting, capabilities, TLS, login. */
int
imap_login(struct imap *ip, const struct pop3_tls *t)
{
	struct imap_resp r;

	if (conn_getline(ip->c, ip->line, IMAP_LINE_MAX) != 1)
		return imap_io_fail(ip);
	if (imap_parse_response(buf_data(ip->line), buf_len(ip->line),
	    &r) != 0 || r.kind != IMAP_R_UNTAGGED || r.what != IMAP_W_STATUS ||
	    (r.cond != IMAP_C_OK && r.cond != IMAP_C_PREAUTH)) {
		if (r.kind == IMAP_R_UNTAGGED && r.cond == IMAP_C_BYE)
			(void)imap_untagged(ip, &r);
		return imap_proto_fail(ip, buf_data(ip->line), buf_len(ip->line));
	}
	ip->preauth = r.cond == IMAP_C_PREAUTH;
	if (r.code != NULL && r.codelen == 10 &&
	    strncasecmp(r.code, "CAPABILITY", 10) == 0)
		imap_parse_caps(&ip->caps, r.codearg, r.codearglen);
	else if (imap_capability(ip) != 0)
		return -1;
	if (t->mode != 3 && tls_step(ip, t) != 0)
		return -1;
	if (ip->preauth)
		return 0;
	ip->caps_fresh = false;
	if (authenticate(ip) != 0)
		return -1;
	/* the capabilities after login (UIDPLUS) */
	return ip->caps_fresh ? 0 : imap_capability(ip);
}

