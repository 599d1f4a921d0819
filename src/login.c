/*
 * login.c: the parts of a login POP3 and IMAP share (see login.h).
 */
#include "config.h"

#include <string.h>

#include "login.h"
#include "session.h"

int
login_sasl_mech(int auth)
{
	switch (auth) {
	case A_CRAM_MD5:	return SASL_CRAM_MD5;
	case A_SCRAM_SHA1:	return SASL_SCRAM_SHA1;
	case A_SCRAM_SHA256:	return SASL_SCRAM_SHA256;
	case A_OTP:		return SASL_OTP;
	case A_NTLM:		return SASL_NTLM;
	case A_GSSAPI:
	case A_KERBEROS_V5:	return SASL_GSSAPI;
	case A_EXTERNAL:	return SASL_EXTERNAL;
	case A_OAUTHBEARER:	return SASL_OAUTHBEARER;
	case A_XOAUTH2:		return SASL_XOAUTH2;
	default:		return -1;
	}
}

int
login_sasl(struct session *s, const struct sasl_io *io, enum sasl_mech m,
    const char *service)
{
	const struct cfg_opts *o = &s->q->o;
	struct sasl_cred c;
	enum sasl_reply	 r;

	memset(&c, 0, sizeof(c));
	c.user = o->remote;
	c.pass = s->password;
	c.host = s->truename ? s->truename : s->host;
	c.service = service;
	c.principal = o->principal;
	r = sasl_run(io, m, &c);
	if (r == SASL_R_SUCCESS)
		return 0;
	if (r == SASL_R_REFUSED && s->status == 0)
		s->status = PS_AUTHFAIL;
	return r == SASL_R_ERROR ? -1 : 1;
}
