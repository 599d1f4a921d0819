/*
 * pop3_login.c: the start of a POP3 session: greeting, CAPA, STLS, and
 * authentication (USER/PASS, APOP, and every SASL mechanism through
 * sasl_run() over AUTH, RFC 5034).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "buf.h"
#include "conn.h"
#include "i18n.h"
#include "log.h"
#include "login.h"
#include "pop3.h"
#include "pop3_priv.h"
#include "sasl_run.h"
#include "session.h"
#include "tls.h"
#include "xmalloc.h"

/* STLS and the handshake; re-reads the capabilities.  -1 on failure. */
static int
stls(struct pop3 *p, const struct pop3_tls *t)
{
	struct session	*s = p->s;
	char		*cause = NULL;
	const char	*txt;
	size_t		 tl;
	int		 r;

	if ((r = pop3_command(p, &txt, &tl, "STLS")) < 0)
		return -1;
	if (r != POP3_OK) {
		char *e = log_escape(txt, tl);

		log_err("%s", e);
		free(e);
	} else if (conn_starttls(p->c, t->opts, &cause) != 0) {
		log_err_lines(cause ? cause : "?");
		free(cause);
	} else {
		session_tls_report(s);
		log_verbose(_("%s: upgrade to TLS succeeded."), t->opts->host);
		return pop3_capa(p);
	}
	log_err(_("%s: upgrade to TLS failed."), t->opts->host);
	log_err(_("Socket or TLS error on %s@%s"), s->q->o.remote, s->host);
	log_err(_("socket error while fetching from %s@%s"), s->q->o.remote,
	    s->pollname);
	s->status = PS_SOCKET;
	return -1;
}

/* The TLS decision after the first CAPA. */
static int
tls_step(struct pop3 *p, const struct pop3_tls *t)
{
	struct session *s = p->s;

	if (t->mode == 2) {
		if (!p->caps.capa) {
			log_err("%s", _("STLS is mandatory for this session, "
			    "but server refused CAPA command."));
			log_err("%s", _("CAPA command support is, however, "
			    "necessary for STLS."));
			s->status = PS_SOCKET;
			return -1;
		}
		return stls(p, t);
	}
	if (t->mode == 1 && p->caps.stls)
		return stls(p, t);
	if (t->mode == 0 && t->proto_empty && p->caps.stls)
		log_verbose(_("%s: WARNING: server offered STLS, but sslproto "
		    "'' given."), s->host);
	return 0;
}

/* USER and PASS (PASS masked in the transcript). */
static int
auth_user(struct pop3 *p)
{
	const char	*t;
	size_t		 tl;
	int		 r;

	if ((r = pop3_command(p, &t, &tl, "USER %s", p->s->q->o.remote)) < 0)
		return -1;
	if (r != POP3_OK)
		return pop3_login_error(p, t, tl);
	conn_mask_next(p->c, CONN_MASK_WORD);
	if ((r = pop3_last_login_command(p, &t, &tl, "PASS %s",
	    p->s->password)) < 0)
		return -1;
	return r == POP3_OK ? 0 : pop3_login_error(p, t, tl);
}

/* APOP with the greeting's timestamp. */
static int
auth_apop_cmd(struct pop3 *p)
{
	const char	*ts, *t;
	size_t		 tslen, tl;
	char		*d;
	int		 r;

	r = pop3_apop_timestamp(p->greeting, strlen(p->greeting), &ts, &tslen);
	if (r != 0) {
		log_err("%s", r > 0 ?
		    _("Required APOP timestamp not found in greeting") :
		    _("Timestamp syntax error in greeting"));
		p->s->status = PS_AUTHFAIL;
		return -1;
	}
	if ((d = auth_apop(ts, tslen, p->s->password)) == NULL) {
		p->s->status = PS_AUTHFAIL;
		return -1;
	}
	/* the digest stands for the password: not in the transcript */
	conn_mask_next(p->c, strlen("APOP ") + strlen(p->s->q->o.remote) + 1);
	r = pop3_last_login_command(p, &t, &tl, "APOP %s %s", p->s->q->o.remote,
	    d);
	free(d);
	if (r < 0)
		return -1;
	return r == POP3_OK ? 0 : pop3_login_error(p, t, tl);
}

/* ---------------------------------------------------------- SASL */

/* AUTH MECH [initial-response]; the response is masked. */
static int
sasl_start(void *arg, const char *mech, const char *ir)
{
	struct pop3	*p = arg;

	if (ir == NULL)
		return pop3_sendf(p, "AUTH %s", mech);
	conn_mask_next(p->c, strlen("AUTH ") + strlen(mech) + 1);
	return pop3_sendf(p, "AUTH %s %s", mech, ir);
}

/* "+ challenge", +OK or -ERR. */
static enum sasl_reply
sasl_next(void *arg, const char **text, size_t *len)
{
	struct pop3	*p = arg;
	int		 r = pop3_reply(p, text, len);

	if (r < 0)
		return SASL_R_ERROR;
	if (r == POP3_CONT)
		return SASL_R_CHALLENGE;
	if (r == POP3_OK) {
		*len = 0;	/* RFC 5034: no data with +OK */
		return SASL_R_SUCCESS;
	}
	(void)pop3_login_error(p, *text, *len);
	return SASL_R_REFUSED;
}

/* One response line, masked; the last one takes the listing along. */
static int
sasl_respond(void *arg, const char *line, bool last)
{
	struct pop3	*p = arg;

	conn_mask_next(p->c, 0);
	if (pop3_sendf(p, "%s", line) != 0)
		return -1;
	return last ? pop3_prelist(p) : 0;
}

/* Log in with one SASL mechanism: 0, 1 refused (status set), -1 error. */
static int
auth_sasl(struct pop3 *p, enum sasl_mech m)
{
	struct sasl_io	io = { sasl_start, sasl_next, sasl_respond, p, true,
			    p->s->host };

	return login_sasl(p->s, &io, m, "pop");
}

/* Whether the server's CAPA offers mechanism M (and this build has
 * it). */
static bool
offered(const struct pop3_caps *c, enum sasl_mech m)
{
	bool	o;

	switch (m) {
	case SASL_GSSAPI:	o = c->sasl_gssapi; break;
	case SASL_SCRAM_SHA256:	o = c->sasl_scram_sha256; break;
	case SASL_SCRAM_SHA1:	o = c->sasl_scram_sha1; break;
	case SASL_NTLM:		o = c->sasl_ntlm; break;
	case SASL_CRAM_MD5:	o = c->sasl_cram_md5; break;
	case SASL_RPA:		o = c->sasl_rpa; break;
	default:		o = false; break;
	}
	return o && sasl_mech_available(m);
}

/* Whether USER is an account of the compuserve.com realm ("name@"
 * "compuserve.com", any case): auth any logs it in with RPA. */
static bool
compuserve_user(const char *user)
{
	static const char	dom[] = "@compuserve.com";
	size_t			n = strlen(user), d = sizeof(dom) - 1;

	return n > d && strcasecmp(user + n - d, dom) == 0;
}

/*
 * auth any, among what the server offers, as the reference orders it
 * but with SCRAM first: GSSAPI (no password; without a ticket it moves
 * on), SCRAM (SHA-256, else SHA-1: both check the same secret, one
 * attempt is enough), NTLM, CRAM-MD5, and USER/PASS last.  A refusal
 * moves on to the next, so the password never travels in clear while a
 * mechanism that masks it is left; a lock or busy error ends the login.
 * A compuserve.com user on a server offering RPA (--enable-rpa builds)
 * uses RPA alone: its verdict is final, the pass phrase is never sent.
 */
static int
auth_any(struct pop3 *p)
{
	static const enum sasl_mech order[] = { SASL_GSSAPI,
	    SASL_SCRAM_SHA256, SASL_SCRAM_SHA1, SASL_NTLM, SASL_CRAM_MD5 };
	size_t	i;
	int	r;
	bool	scram = false;

	if (compuserve_user(p->s->q->o.remote) && offered(&p->caps, SASL_RPA))
		return auth_sasl(p, SASL_RPA);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!offered(&p->caps, order[i]) ||
		    (order[i] == SASL_SCRAM_SHA1 && scram))
			continue;
		scram = scram || order[i] == SASL_SCRAM_SHA256;
		if ((r = auth_sasl(p, order[i])) <= 0)
			return r;
		if (p->s->status != PS_AUTHFAIL)
			return -1;
		p->s->status = 0;
	}
	return auth_user(p);
}

/* Log in as the configured method asks; 0, or -1 (status set). */
static int
authenticate(struct pop3 *p)
{
	const struct cfg_opts *o = &p->s->q->o;
	int	m, r;

	if (o->auth == A_SSH)		/* the plugin logged us in */
		return 0;
	if (p->s->password == NULL) {
		log_err(_("No password for %s@%s."), o->remote, p->s->pollname);
		p->s->status = PS_AUTHFAIL;
		return -1;
	}
	if (o->proto == P_APOP)
		return auth_apop_cmd(p);
	if (o->auth == A_PASSWORD)
		return auth_user(p);
	if (o->auth == A_ANY || o->auth == A_UNSET)
		r = auth_any(p);
	else if ((m = login_sasl_mech(o->auth)) < 0 ||
	    !sasl_mech_available((enum sasl_mech)m)) {
		log_err(_("authentication method %s is not supported for POP3 "
		    "in this build"), cfg_auth_name(o->auth));
		p->s->status = PS_AUTHFAIL;
		return -1;
	} else
		r = auth_sasl(p, (enum sasl_mech)m);
	return r == 0 ? 0 : -1;
}

/* After a refused login the connection is still good: say QUIT, as the
 * reference does, quietly (a server that hung up changes nothing); its
 * reply is read unless pipelined commands are in the way. */
static void
quit_refused(struct pop3 *p)
{
	int	st = p->s->status;

	if (st != PS_AUTHFAIL && st != PS_LOCKBUSY && st != PS_SERVBUSY)
		return;
	if (conn_printf(p->c, "QUIT\r\n") != 0 || conn_flush(p->c) != 0)
		return;
	if (!p->prelisted)
		(void)conn_getline(p->c, p->line, POP3_LINE_MAX);
}

/* Greeting, capabilities, TLS, login. */
int
pop3_login(struct pop3 *p, const struct pop3_tls *t)
{
	struct session	*s = p->s;
	const char	*txt;
	size_t		 tl;
	int		 r;

	if ((r = pop3_reply(p, &txt, &tl)) < 0)
		return -1;
	if (r != POP3_OK)
		return pop3_login_error(p, txt, tl);
	p->greeting = xstrndup(txt, tl);
	/* CAPA for the TLS decision and the mechanisms; APOP and auth
	 * password need it only for STLS (6.4.37 skips it for APOP even
	 * when TLS is mandatory, and then logs in in clear) */
	if ((t->mode == 1 || t->mode == 2 || ((t->proto_empty ||
	    s->q->o.auth != A_PASSWORD) && s->q->o.proto != P_APOP)) &&
	    pop3_capa(p) != 0)
		return -1;
	if (t->mode != 3 && tls_step(p, t) != 0)
		return -1;
	if (authenticate(p) == 0)
		return 0;
	quit_refused(p);
	return -1;
}
