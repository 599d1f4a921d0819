/*
 * deliver.c: the driver's side of a session: which messages to fetch,
 * pushing a fetched message through the header processing into a sink,
 * and the deletion rule: a message may be deleted only after the sink
 * accepted it, and its UID is recorded durably before the protocol
 * sends the deletion.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cfg.h"
#include "conn.h"
#include "driver_priv.h"
#include "i18n.h"
#include "log.h"
#include "uidstore.h"
#include "xmalloc.h"

#define BODY_CHUNK	(64 * 1024)

/* Remember one UID in a growing list. */
static void
uid_list_add(char ***v, size_t **lens, size_t *n, const char *uid, size_t len)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	*lens = xreallocarray(*lens, *n + 1, sizeof(**lens));
	(*v)[*n] = xstrndup(uid, len);
	(*lens)[*n] = len;
	(*n)++;
}

/* Record a message's UID in STATE; uid_flush() makes it durable. */
static void
record_uid(struct drv *d, const struct msgref *m, enum uid_state state)
{
	if (m->uid == NULL || d->acct == NULL)
		return;
	if (uid_mark(d->uids, d->acct, m->uid, m->uidlen, state) != 0)
		return;
	d->uid_unsynced = true;
}

/* Make the recorded UIDs durable (append + fsync).  Called before the
 * protocol sends commands (a DELE must not precede its UID on disk) and
 * while the sink waits for the next message's verdict, so that the
 * fsync overlaps the MDA's or listener's work. */
static void
uid_flush(struct drv *d)
{
	if (!d->uid_unsynced)
		return;
	d->uid_unsynced = false;
	if (uid_sync(d->uids) != 0)
		log_err(_("Error writing to fetchids file %s"),
		    uid_error(d->uids));
}

/* sync(): the session is about to send commands. */
static void
sync_uids(struct session *s)
{
	uid_flush(s->arg);
}

/* The sink's idle hook. */
static void
sink_idle(void *arg)
{
	uid_flush(arg);
}

/* Decide one message's action from its UID state and size. */
static void
decide(struct drv *d, struct msgref *m, unsigned long *nfetch,
    unsigned long *nold)
{
	const struct cfg_opts *o = &d->s.q->o;
	enum uid_state	 st = UID_ABSENT;

	if (m->uid != NULL && d->acct != NULL)
		st = uid_lookup(d->uids, d->acct, m->uid, m->uidlen);
	/* with fetchall the reference does not ask which ones are old */
	m->old = (st == UID_SEEN || st == UID_DELETED) &&
	    o->fetchall != FLAG_TRUE;
	if (m->old)
		(*nold)++;
	if (d->dopts->check) {
		m->action = MSGA_SKIP;
		return;
	}
	if (d->limit > 0 && *nfetch >= d->limit) {
		/* the reference stops at the limit: nothing more is done */
		m->action = MSGA_SKIP;
		d->limit_hit = true;
		return;
	}
	if ((st == UID_DELETED || (m->old && o->flush != FLAG_TRUE)) &&
	    o->keep != FLAG_TRUE) {
		/* fetched before, and mail is not kept: its deletion was
		 * rolled back by a session that ended before QUIT */
		log_verbose(_("id=%.*s (num=%lu) was deleted, but is still "
		    "present!"), (int)m->uidlen, m->uid, m->num);
		m->action = MSGA_DELETE;
		return;
	}
	if (m->old) {
		m->action = o->flush == FLAG_TRUE ? MSGA_DELETE : MSGA_SKIP;
		return;
	}
	if (o->limit.set && o->limit.v > 0 &&
	    m->size > (unsigned long long)o->limit.v) {
		m->oversized = true;
		m->action = o->limitflush == FLAG_TRUE ? MSGA_DELETE : MSGA_SKIP;
		return;
	}
	m->action = MSGA_FETCH;
	(*nfetch)++;
}

/* The most messages this session may fetch: fetchlimit, or expunge N
 * (without keep), which ends the session after N so that their
 * deletions are committed early; 0 for no limit. */
static void
session_limit(struct drv *d)
{
	const struct cfg_opts *o = &d->s.q->o;

	d->limit = 0;
	d->limit_expunge = false;
	if (o->fetchlimit.set && o->fetchlimit.v > 0)
		d->limit = (unsigned long)o->fetchlimit.v;
	if (o->expunge.set && o->expunge.v > 0 && o->keep != FLAG_TRUE &&
	    !d->dopts->check &&
	    (d->limit == 0 || (unsigned long)o->expunge.v < d->limit)) {
		d->limit = (unsigned long)o->expunge.v;
		d->limit_expunge = true;
	}
}

/* plan(): decide, remember the listing, print the summary. */
static int
plan(struct session *s, struct msgref *m, size_t n, unsigned long long octets)
{
	struct drv	*d = s->arg;
	unsigned long	 nfetch = 0, nold = 0;
	size_t		 i;

	d->count = n;
	d->limit_hit = false;
	session_limit(d);
	for (i = 0; i < n; i++) {
		decide(d, &m[i], &nfetch, &nold);
		if (m[i].uid != NULL)
			uid_list_add(&d->present, &d->presentlen,
			    &d->npresent, m[i].uid, m[i].uidlen);
	}
	if (n == 0) {
		log_info(_("No mail for %s at %s"), s->q->o.remote,
		    s->pollname);
		return 0;
	}
	if (nold > 0)
		log_progress(n == 1 ? _("%lu message (%lu seen) for %s at %s") :
		    _("%lu messages (%lu seen) for %s at %s"),
		    (unsigned long)n, nold, s->q->o.remote, s->pollname);
	else
		log_progress(n == 1 ? _("%lu message for %s at %s") :
		    _("%lu messages for %s at %s"), (unsigned long)n,
		    s->q->o.remote, s->pollname);
	log_progress_more(_(" (%llu octets)."), octets);
	log_progress_end();
	if (d->dopts->check && n > nold)
		s->fetched = n - nold;	/* -c: "mail found" */
	return 0;
}

/* skipped(): what the reference prints for a message not fetched. */
static void
skipped(struct session *s, const struct msgref *m)
{
	struct drv	*d = s->arg;
	bool		 del = m->action == MSGA_DELETE;

	if (m->oversized) {
		log_progress(_("skipping message %s@%s:%lu (%llu octets) "
		    "(oversized)"), s->q->o.remote, d->truename, m->num,
		    m->size);
		log_progress_more("%s", del ? _(" flushed") : _(" not flushed"));
		log_progress_end();
	} else if (m->old && del && s->q->o.flush == FLAG_TRUE) {
		log_progress(_("skipping message %s@%s:%lu"), s->q->o.remote,
		    d->truename, m->num);
		log_progress_more("%s", _(" flushed"));
		log_progress_end();
	}
}

/* Open the sink if it is not open; false (status set) on failure. */
static bool
sink_ready(struct drv *d)
{
	const struct cfg_opts *o = &d->s.q->o;
	char	*cause = NULL;

	if (d->sink != NULL && o->batchlimit.set && o->batchlimit.v > 0 &&
	    d->since_sink >= (unsigned long)o->batchlimit.v) {
		sink_close(d->sink);
		d->sink = NULL;
	}
	if (d->sink != NULL)
		return true;
	d->since_sink = 0;
	d->sink = sink_open(&d->sconf, &cause);
	if (d->sink != NULL)
		return true;
	log_err("%s", cause ? cause : _("cannot open the delivery sink"));
	free(cause);
	d->s.status = d->sconf.kind == SINK_BSMTP ? PS_BSMTP : PS_SMTP;
	d->s.stop = true;
	return false;
}

/* Header line callback: into the sink. */
static int
out_line(void *arg, const char *line, size_t len, int eol)
{
	struct drv *d = arg;

	return sink_line(d->sink, line, len, eol) == SINK_OK ? 0 : -1;
}

/* Read what is left of the message and throw it away. */
static int
drain(struct drv *d, struct msgsrc *src)
{
	int	eol, r;

	while ((r = src->next(src->ctx, d->line, &eol)) == 1)
		;
	return r;
}

/* Stream the body from src into the sink; -1 source error, 1 sink error. */
static int
stream_body(struct drv *d, struct msgsrc *src)
{
	int	eol, r;

	if (msg_header_only(d->msg))
		return 0;
	while ((r = src->next(src->ctx, d->line, &eol)) == 1)
		if (sink_line(d->sink, buf_data(d->line), buf_len(d->line),
		    eol) != SINK_OK)
			return drain(d, src) < 0 ? -1 : 1;
	return r;
}

/* The fate of a refused message under the softbounce rule. */
static enum msg_fate
refused(struct drv *d)
{
	return d->cfg->g.softbounce == FLAG_FALSE ? FATE_DELETE : FATE_KEEP;
}

/* MAIL FROM (or %F) for the sink in use, as the reference picks it;
 * allocated. */
static char *
envelope_sender(const struct drv *d, const struct msg_info *info)
{
	switch (d->sconf.kind) {
	case SINK_MDA:
		return xstrdup(info->sender_null ? "<>" :
		    info->sender ? info->sender : "");
	case SINK_BSMTP:
		if (info->sender_null)
			return xstrdup("");
		return xstrdup(info->sender && *info->sender ? info->sender :
		    d->dopts->user);
	default:
		return msg_smtp_sender(info, &d->mopts);
	}
}

/* Send the message through the sink; returns its fate. */
static enum msg_fate
to_sink(struct drv *d, const struct msgref *m, struct msgsrc *src,
    const struct msg_info *info)
{
	const struct cfg_opts *o = &d->s.q->o;
	const char	*rcpt[1] = { o->localnames.v[0] };
	struct sink_env	 env = { 0 };
	struct msg_received rcv = { 0 };
	enum sink_result r;
	char		*sender;
	int		 b;

	if (!sink_ready(d))
		return drain(d, src) < 0 ? FATE_ABORT : FATE_KEEP;
	sender = envelope_sender(d, info);
	env.sender = sender;
	env.rcpt = rcpt;
	env.nrcpt = 1;
	env.size = m->size;
	env.body = info->body8 == 2 ? SINK_BODY_8BIT :
	    info->body8 == 1 ? SINK_BODY_7BIT : SINK_BODY_UNKNOWN;
	r = sink_begin(d->sink, &env);
	if (r == SINK_OK) {
		if (sink_naccepted(d->sink) == 1 && sink_rcpt_count(d->sink) > 0)
			for (size_t i = 0; i < sink_rcpt_count(d->sink); i++)
				if (sink_rcpt_result(d->sink, i) == SINK_OK)
					rcv.rcpt = sink_rcpt_addr(d->sink, i);
		rcv.mode = "single-drop";
		rcv.when = (long long)time(NULL);
		if (msg_write_header(d->msg, &rcv, out_line, d) != 0)
			r = SINK_ERROR;
		else if ((b = stream_body(d, src)) < 0) {
			sink_abort(d->sink);
			free(sender);
			return FATE_ABORT;
		} else if (b > 0)
			r = SINK_ERROR;
		if (r == SINK_OK)
			r = sink_end(d->sink);
		else
			sink_abort(d->sink);
	}
	d->since_sink++;
	free(sender);
	if (r != SINK_OK && drain(d, src) < 0)
		return FATE_ABORT;
	switch (r) {
	case SINK_OK:
		return FATE_DELETE;
	case SINK_TEMPFAIL:
		log_err(_("%s error: %s"), sink_name(d->sink),
		    sink_error(d->sink));
		return FATE_KEEP;
	case SINK_REFUSED:
		log_err(_("%s error: %s"), sink_name(d->sink),
		    sink_error(d->sink));
		return refused(d);
	default:
		/* the message stays; the next one gets a new sink */
		log_err("%s", sink_error(d->sink));
		sink_close(d->sink);
		d->sink = NULL;
		return FATE_KEEP;
	}
}

/* deliver(): one fetched message, from the header to the verdict. */
static enum msg_fate
deliver(struct session *s, const struct msgref *m, struct msgsrc *src)
{
	struct drv		*d = s->arg;
	const struct msg_info	*info = NULL;
	enum msg_fate		 fate;

	log_progress(_("reading message %s@%s:%lu of %lu (%llu octets)"),
	    s->q->o.remote, d->truename, m->num, d->count, m->size);
	msg_reset(d->msg);
	if (msg_read_header(d->msg, src, &info) != 0) {
		log_err("%s", msg_error(d->msg));
		if (drain(d, src) < 0)
			return FATE_ABORT;
		fate = FATE_KEEP;
	} else if (info->bad_header && !d->mopts.badheader_accept) {
		log_err("%s", _("incorrect header line found - see manpage "
		    "for bad-header option"));
		if (info->bad_line != NULL)
			log_verbose(_("line: %s"), info->bad_line);
		if (drain(d, src) < 0)
			return FATE_ABORT;
		fate = refused(d);
	} else if ((fate = to_sink(d, m, src, info)) == FATE_ABORT)
		return FATE_ABORT;
	s->fetched++;
	if (fate == FATE_DELETE && s->q->o.keep == FLAG_TRUE) {
		record_uid(d, m, UID_SEEN);
		fate = FATE_KEEP;
		log_progress_more("%s", _(" not flushed"));
	} else if (fate == FATE_DELETE) {
		record_uid(d, m, UID_DELETED);
		log_progress_more("%s", _(" flushed"));
	} else
		log_progress_more("%s", _(" not flushed"));
	log_progress_end();
	return fate;
}

/* dele_ok(): remember the UID; QUIT will make its deletion final. */
static void
dele_ok(struct session *s, const struct msgref *m)
{
	struct drv *d = s->arg;

	if (m->uid != NULL)
		uid_list_add(&d->deleted, &d->deletedlen, &d->ndeleted,
		    m->uid, m->uidlen);
}

/* committed(): QUIT +OK; the accepted deletions are final. */
static void
committed(struct session *s)
{
	struct drv *d = s->arg;

	for (size_t i = 0; i < d->ndeleted; i++)
		(void)uid_mark(d->uids, d->acct, d->deleted[i],
		    d->deletedlen[i], UID_EXPUNGED);
}

const struct session_ops driver_ops = {
	plan, skipped, deliver, sync_uids, dele_ok, committed
};

/* Header processing and sink settings for the query. */
void
deliver_setup(struct drv *d)
{
	const struct cfg_opts *o = &d->s.q->o;
	struct msg_opts	*mo = &d->mopts;
	struct sink_conf *sc = &d->sconf;
	bool		 mda = o->mda != NULL && o->bsmtp == NULL;

	memset(mo, 0, sizeof(*mo));
	mo->truename = d->truename;
	mo->ipaddr = d->ipaddr;
	mo->localhost = d->dopts->hostname;
	mo->proto = "POP3";
	mo->pollname = d->s.pollname;
	mo->remote = o->remote;
	mo->user = d->dopts->user;
	mo->folder = NULL;
	mo->tracepolls = o->tracepolls == FLAG_TRUE;
	mo->invisible = d->cfg->g.invisible == FLAG_TRUE;
	mo->rewrite = o->rewrite != FLAG_FALSE;
	mo->dropstatus = o->dropstatus == FLAG_TRUE;
	mo->dropdelivered = o->dropdelivered == FLAG_TRUE;
	mo->keep_return_path = mda;
	mo->badheader_accept = o->badheader == FLAG_TRUE;
	d->msg = msg_new(mo);
	d->line = buf_create(BODY_CHUNK + 16);

	memset(sc, 0, sizeof(*sc));
	sc->kind = o->bsmtp ? SINK_BSMTP : mda ? SINK_MDA :
	    o->lmtp == FLAG_TRUE ? SINK_LMTP : SINK_SMTP;
	if (sc->kind == SINK_SMTP && o->smtphunt.n > 0 &&
	    o->smtphunt.v[0][0] == '/')
		sc->kind = SINK_LMTP;	/* a socket path speaks LMTP */
	sc->hosts = (const char *const *)o->smtphunt.v;
	sc->nhosts = o->smtphunt.n;
	sc->plugout = o->plugout;
	sc->heloname = mo->invisible ? d->truename : d->dopts->hostname;
	sc->smtpaddress = o->smtpaddress;
	sc->smtpname = o->smtpname;
	sc->mda = o->mda;
	sc->bsmtp = o->bsmtp;
	sc->timeout = o->timeout.v;
	sc->stripcr = o->stripcr == FLAG_TRUE;
	sc->forcecr = o->forcecr == FLAG_TRUE;
	sc->pass8bits = o->pass8bits == FLAG_TRUE;
	sc->idle = sink_idle;
	sc->idle_arg = d;
	if (d->dopts->verbose >= 1) {
		sc->trace = session_trace;
		sc->trace_arg = sc->kind == SINK_LMTP ? "LMTP" : "SMTP";
	}
}

/* Close the sink and free the per-query delivery state. */
void
deliver_finish(struct drv *d)
{
	size_t	i;

	sink_close(d->sink);
	d->sink = NULL;
	msg_free(d->msg);
	d->msg = NULL;
	buf_free(d->line);
	d->line = NULL;
	for (i = 0; i < d->npresent; i++)
		free(d->present[i]);
	free(d->present);
	free(d->presentlen);
	for (i = 0; i < d->ndeleted; i++)
		free(d->deleted[i]);
	free(d->deleted);
	free(d->deletedlen);
	d->present = d->deleted = NULL;
	d->presentlen = d->deletedlen = NULL;
	d->npresent = d->ndeleted = 0;
}
