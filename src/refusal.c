/*
 * refusal.c: what becomes of a message the listener or the MDA did not
 * take, by 6.4.37's rules (see refusal.h): the reply's stage and code,
 * the antispam list, softbounce, bouncemail, spambounce and the
 * postmaster decide whether it is kept, deleted or bounced, and what is
 * logged.  Bounces go out through a sink of their own (bounce.c).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "buf.h"
#include "cfg.h"
#include "driver_priv.h"
#include "i18n.h"
#include "log.h"
#include "msg.h"
#include "refusal.h"
#include "sink.h"
#include "xmalloc.h"

enum msg_fate
refusal_fate(const struct drv *d)
{
	return d->cfg->g.softbounce == FLAG_FALSE ? FATE_DELETE : FATE_KEEP;
}

/* Whether code is one of the query's antispam codes. */
static bool
is_spam(const struct drv *d, int code)
{
	const struct cfg_opts *o = &d->s.q->o;
	size_t	 i;

	for (i = 0; i < o->nantispam; i++)
		if (o->antispam[i] == code)
			return true;
	return false;
}

/* Header line callback: append to a buffer. */
static int
to_buf(void *arg, const char *line, size_t len, int eol)
{
	struct buf *b = arg;

	(void)eol;
	if (buf_append(b, line, len) != 0 || buf_append(b, "\r\n", 2) != 0)
		return -1;
	return 0;
}

/* Who gets a bounce: the sender (bouncemail), else the postmaster;
 * NULL when that is nobody a bounce may go to. */
static const char *
bounce_target(const struct drv *d, const struct attempt *a)
{
	const char	*pm = d->cfg->g.postmaster;

	if (d->cfg->g.bouncemail != FLAG_FALSE)
		return a->info->sender_null || !bounce_sender_ok(a->sender) ?
		    NULL : a->sender;
	return pm != NULL && *pm != '\0' ? pm : NULL;
}

/* The sink a bounce goes through: the SMTP hunt list when mail goes
 * by SMTP, else the listener on localhost:25. */
static void
bounce_conf(const struct drv *d, struct sink_conf *c,
    const char *const *deflt)
{
	*c = d->sconf;
	c->kind = SINK_SMTP;
	c->mda = c->bsmtp = NULL;
	c->smtpname = NULL;
	c->rawrcpt = true;
	c->idle = NULL;
	c->trace_arg = "SMTP";
	if (d->sconf.kind != SINK_SMTP) {
		c->hosts = deflt;
		c->nhosts = 1;
		c->plugout = NULL;
	}
}

/*
 * Bounce the current message to whoever bounce_target() names, with
 * this reason and these failed recipients; logs the outcome.  Notes in
 * a whether a bounce that had a recipient failed.
 */
static void
send_bounce(struct drv *d, struct attempt *a, const char *reason,
    const struct bounce_fail *fail, size_t nfail)
{
	static const char *const deflt[] = { "localhost" };
	const char	*to = bounce_target(d, a), *fqdn = d->dopts->hostname;
	struct sink_conf c;
	struct bounce	 bn;
	struct buf	*hdr, *out;
	char		 boundary[96], *cause = NULL;

	if (to == NULL)
		return;
	hdr = buf_create(MSG_HEADER_MAX + 4096);
	out = buf_create(2 * MSG_HEADER_MAX + 65536);
	(void)msg_write_fields(d->msg, to_buf, hdr);
	memset(&bn, 0, sizeof(bn));
	bn.to = to;
	bn.fqdn = fqdn;
	bn.reason = reason;
	bn.fail = fail;
	bn.nfail = nfail;
	bn.headers = buf_data(hdr);
	bn.headerslen = buf_len(hdr);
	bn.when = (long long)time(NULL);
	(void)snprintf(boundary, sizeof(boundary), "fetchmail-dsn-%ld-%lld",
	    (long)getpid(), bn.when);
	bounce_build(out, &bn, boundary);
	bounce_conf(d, &c, deflt);
	log_verbose("%s", _("SMTP: (bounce-message body)"));
	if (bounce_send(&c, "", to, out, &cause) == 0)
		log_info(_("mail from MAILER-DAEMON@%s bounced to %s"), fqdn, to);
	else {
		log_err(_("bounce to %s not sent: %s"), to, cause);
		a->bounce_failed = true;
	}
	free(cause);
	buf_free(hdr);
	buf_free(out);
}

void
refusal_rcpts(struct drv *d, struct attempt *a)
{
	struct sink	*sk = d->sink;
	const char	*name = sink_name(sk), *addr;
	struct bounce_fail *fail;
	size_t		 i, n = sink_rcpt_count(sk), nfail = 0;
	int		 code;
	bool		 spam;

	fail = xcalloc(n + 1, sizeof(*fail));
	for (i = 0; i < n; i++) {
		if (sink_rcpt_is_fallback(sk, i) ||
		    sink_rcpt_result(sk, i) != SINK_REFUSED)
			continue;
		code = sink_rcpt_code(sk, i);
		addr = sink_rcpt_addr(sk, i);
		spam = is_spam(d, code);
		if (!spam)
			log_err(_("%s error: %s"), name, sink_rcpt_reply(sk, i));
		if ((spam && d->cfg->g.spambounce != FLAG_TRUE) || code == 553 ||
		    (code == 552 && d->cfg->g.bouncemail == FLAG_FALSE)) {
			log_verbose(_("%s listener doesn't really like recipient "
			    "address `%s'"), name, addr);
			continue;
		}
		log_verbose(_("%s listener doesn't like recipient address "
		    "`%s'"), name, addr);
		fail[nfail].addr = addr;
		fail[nfail].reply = sink_rcpt_reply(sk, i);
		nfail++;
	}
	if (nfail > 0)
		send_bounce(d, a, _("Some addresses were rejected by the MDA "
		    "fetchmail forwards to."), fail, nfail);
	free(fail);
}

/* The recipients of the message as failed ones, each with reply. */
static struct bounce_fail *
all_failed(struct drv *d, const char *reply, size_t *n)
{
	struct bounce_fail *f;
	size_t		 i, k = 0, cnt = sink_rcpt_count(d->sink);

	f = xcalloc(cnt + 1, sizeof(*f));
	for (i = 0; i < cnt; i++) {
		if (sink_rcpt_is_fallback(d->sink, i))
			continue;
		f[k].addr = sink_rcpt_addr(d->sink, i);
		f[k].reply = reply;
		k++;
	}
	*n = k;
	return f;
}

/*
 * The whole message was refused at MAIL, DATA or the end of data (LMTP:
 * by its recipient): the reference's rules for the reply code.
 */
static enum msg_fate
message_refused(struct drv *d, struct attempt *a)
{
	struct sink	*sk = d->sink;
	const char	*reply = sink_error(sk), *reason;
	int		 code = sink_error_code(sk);
	bool		 eod = sink_fail_stage(sk) == SINK_STAGE_EOD &&
			    d->sconf.kind == SINK_SMTP;
	struct bounce_fail *f;
	char		*why = NULL;
	size_t		 n;

	if (is_spam(d, code)) {
		if (d->cfg->g.spambounce == FLAG_TRUE)
			reason = why = xasprintf("%s\n%s", _("spam filter or "
			    "virus scanner rejected message because:"), reply);
		else
			reason = NULL;
	} else {
		log_err(_("%s error: %s"), sink_name(sk), reply);
		if (code == 530) {
			log_info("%s", _("SMTP server requires STARTTLS, "
			    "keeping message."));
			return FATE_KEEP;
		}
		if (code == 553 || d->cfg->g.bouncemail == FLAG_FALSE)
			reason = NULL;
		else if (code == 552)
			reason = _("This message was too large (SMTP error 552).");
		else
			reason = _("General SMTP/ESMTP error.");
	}
	if (reason != NULL) {
		f = all_failed(d, reply, &n);
		send_bounce(d, a, reason, f, n);
		free(f);
	}
	free(why);
	if (eod)
		log_err("%s", _("SMTP listener refused delivery"));
	return a->bounce_failed ? FATE_KEEP : refusal_fate(d);
}

/*
 * LMTP end of data with some recipients delivered: the others are
 * bounced (never retried: a retry would duplicate the delivered
 * copies); the message counts as delivered.
 */
static enum msg_fate
lmtp_partial(struct drv *d, struct attempt *a)
{
	struct sink	*sk = d->sink;
	struct bounce_fail *f;
	size_t		 i, n = 0, cnt = sink_rcpt_count(sk);

	f = xcalloc(cnt + 1, sizeof(*f));
	for (i = 0; i < cnt; i++) {
		if (sink_rcpt_result(sk, i) == SINK_OK ||
		    sink_rcpt_code(sk, i) == 0)
			continue;
		log_err(_("%s error: %s"), sink_name(sk), sink_rcpt_reply(sk, i));
		f[n].addr = sink_rcpt_addr(sk, i);
		f[n].reply = sink_rcpt_reply(sk, i);
		n++;
	}
	if (n > 0)
		send_bounce(d, a, _("LMTP partial delivery failure."), f, n);
	free(f);
	return FATE_DELETE;
}

enum msg_fate
refusal_verdict(struct drv *d, struct attempt *a, enum sink_result r)
{
	struct sink	*sk = d->sink;
	enum sink_stage	 st = sink_fail_stage(sk);

	if (r == SINK_OK)
		return FATE_DELETE;
	if (r == SINK_ERROR && d->sconf.kind == SINK_MDA) {
		/* it stopped reading: the poll ends, as the reference's */
		log_info("%s", sink_error(sk));
		log_err(_("MDA error while fetching from %s@%s"),
		    d->s.q->o.remote, d->s.pollname);
		sink_close(sk);
		d->sink = NULL;
		d->s.status = PS_IOERR;
		d->s.stop = true;
		return FATE_KEEP;
	}
	if (r == SINK_ERROR) {
		/* the message stays; the next one gets a new sink */
		log_err("%s", sink_error(sk));
		sink_close(sk);
		d->sink = NULL;
		return FATE_KEEP;
	}
	if (st == SINK_STAGE_EOD && d->sconf.kind == SINK_LMTP &&
	    sink_naccepted(sk) > 0)
		return lmtp_partial(d, a);
	if (d->sconf.kind == SINK_MDA) {
		log_err("%s", sink_error(sk));
		return FATE_KEEP;
	}
	if (d->sconf.kind == SINK_BSMTP) {
		log_err(_("%s error: %s"), sink_name(sk), sink_error(sk));
		return r == SINK_REFUSED ? refusal_fate(d) : FATE_KEEP;
	}
	if (st == SINK_STAGE_RCPT) {
		/* rcpt_refusals() has told about each recipient */
		if (r == SINK_TEMPFAIL)
			log_err(_("%s error: %s"), sink_name(sk), sink_error(sk));
		else if (d->cfg->g.postmaster != NULL &&
		    *d->cfg->g.postmaster != '\0')
			log_err(_("can't even send to %s!"),
			    d->cfg->g.postmaster);
		if (r == SINK_TEMPFAIL || a->bounce_failed)
			return FATE_KEEP;
		return refusal_fate(d);
	}
	if (is_spam(d, sink_error_code(sk)) || r == SINK_REFUSED)
		return message_refused(d, a);
	log_err(_("%s error: %s"), sink_name(sk), sink_error(sk));
	return FATE_KEEP;
}
