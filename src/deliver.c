/*
 * deliver.c: the driver's side of a session: which messages to fetch,
 * pushing a fetched message through the header processing into a sink,
 * and the deletion rule: a message may be deleted only after the sink
 * accepted it, and its UID is recorded durably before the protocol
 * sends the deletion.
 */
#include "config.h"

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "buf.h"
#include "cfg.h"
#include "conn.h"
#include "driver_priv.h"
#include "refusal.h"
#include "i18n.h"
#include "log.h"
#include "rcpt.h"
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

/* pause(): a long wait for the server comes; nothing stays open. */
static void
pause_delivery(struct session *s)
{
	struct drv	*d = s->arg;

	uid_flush(d);
	sink_close(d->sink);
	d->sink = NULL;
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
	bool		 stored;

	if (m->uid != NULL && d->acct != NULL)
		st = uid_lookup(d->uids, d->acct, m->uid, m->uidlen);
	/* with fetchall the reference does not ask which ones are old;
	 * IMAP: the server's \Seen flag makes a message old too */
	stored = (st == UID_SEEN || st == UID_DELETED) &&
	    o->fetchall != FLAG_TRUE;
	m->old = (stored || m->seen_flag) && o->fetchall != FLAG_TRUE;
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
	if ((st == UID_DELETED || (stored && o->flush != FLAG_TRUE)) &&
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
	    !d->dopts->check && !d->s.imap &&
	    (d->limit == 0 || (unsigned long)o->expunge.v < d->limit)) {
		d->limit = (unsigned long)o->expunge.v;
		d->limit_expunge = true;
	}
}

/* IMAP: the UID account of the folder polled, its UIDVALIDITY checked
 * (a change drops the UIDs of the old one); the listing of the previous
 * folder is forgotten.  Without a UIDVALIDITY UIDs are not kept.  With
 * tracepolls the header processing is set up for the folder. */
static void
imap_folder_account(struct drv *d)
{
	struct session	*s = &d->s;
	const char	*folder = s->folder ? s->folder : "INBOX";
	uint32_t	 old;
	bool		 known;
	size_t		 i;

	for (i = 0; i < d->npresent; i++)
		free(d->present[i]);
	d->npresent = 0;
	d->acct = NULL;
	if (d->mopts.tracepolls && d->mopts.folder != s->folder) {
		/* the Received: line names the folder polled */
		d->mopts.folder = s->folder;
		msg_free(d->msg);
		d->msg = msg_new(&d->mopts);
	}
	if (s->uidvalidity == 0)
		return;
	d->acct = uid_account_add(d->uids, s->q->o.remote, s->host, folder);
	if (d->acct == NULL)
		return;
	known = uid_validity_get(d->uids, d->acct, &old) == 0;
	if (uid_validity_set(d->uids, d->acct, s->uidvalidity) == 1 && known)
		log_verbose(_("UIDVALIDITY of folder %s changed (%lu, was %lu): "
		    "forgetting its UIDs"), folder,
		    (unsigned long)s->uidvalidity, (unsigned long)old);
}

/* IMAP: UIDs of the folder the server no longer lists are gone for
 * good (a UID is never reused under one UIDVALIDITY): forget them. */
static void
imap_forget_absent(struct drv *d)
{
	struct uid_ref	*refs;
	size_t		 i;

	if (d->acct == NULL || d->dopts->check)
		return;
	refs = xcalloc(d->npresent ? d->npresent : 1, sizeof(*refs));
	for (i = 0; i < d->npresent; i++) {
		refs[i].uid = d->present[i];
		refs[i].len = d->presentlen[i];
	}
	(void)uid_forget_absent(d->uids, d->acct, refs, d->npresent);
	free(refs);
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
	if (s->imap)
		imap_folder_account(d);
	for (i = 0; i < n; i++) {
		decide(d, &m[i], &nfetch, &nold);
		if (m[i].uid != NULL)
			uid_list_add(&d->present, &d->presentlen,
			    &d->npresent, m[i].uid, m[i].uidlen);
	}
	if (s->imap)
		imap_forget_absent(d);
	if (n == 0) {
		if (s->folder != NULL)
			log_info(_("No mail for %s at %s (folder %s)"),
			    s->q->o.remote, s->pollname, s->folder);
		else
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
	if (s->folder != NULL)
		log_progress_more(_(" (folder %s)"), s->folder);
	if (s->imap)
		log_progress_more("%s", ".");	/* no total for IMAP */
	else
		log_progress_more(_(" (%llu octets)."), octets);
	log_progress_end();
	if (d->dopts->check && n > nold)
		s->fetched = n - nold;	/* -c: "mail found" */
	return 0;
}

/* Whether this process is a detached daemon: the reference sends its
 * oversized-message warnings only then (not once, not with -N).  A
 * detached fetchmail leads its own session (daemon_detach()). */
static bool
detached_daemon(const struct drv *d)
{
	return d->cfg->g.daemon.v > 0 && getsid(0) == getpid();
}

/* The account name the oversized-message registry uses. */
static char *
oversized_account(const struct drv *d)
{
	return xasprintf("%s@%s", d->s.q->o.remote, d->s.pollname);
}

/* Remember an oversized message for the warning. */
static void
oversized_note(struct drv *d, const struct msgref *m)
{
	char	*acct, *key;

	if (d->dopts->check || !detached_daemon(d))
		return;
	acct = oversized_account(d);
	if (m->uid != NULL)
		key = xasprintf("u%.*s", (int)m->uidlen, m->uid);
	else
		key = xasprintf("n%lu/%llu", m->num, m->size);
	bounce_oversized_note(acct, key, m->num, m->size);
	free(key);
	free(acct);
}

/*
 * After the poll: the oversized-message warning to the local user,
 * through the query's own delivery, if there is something new to tell
 * and the last one is `warnings` seconds old.
 */
static void
oversized_warn(struct drv *d)
{
	const struct cfg_opts	*o = &d->s.q->o;
	const struct bounce_oversized *list;
	struct bounce_warning	 w;
	struct buf		*out;
	char			*acct, *from, *cause = NULL;
	long long		 now = (long long)time(NULL);
	size_t			 n;

	if (!detached_daemon(d))
		return;
	acct = oversized_account(d);
	n = bounce_oversized_due(acct, now, o->warnings.v, &list);
	if (n > 0) {
		memset(&w, 0, sizeof(w));
		w.to = o->localnames.n > 0 ? o->localnames.v[0] :
		    d->cfg->g.postmaster;
		w.from_domain = o->smtpaddress != NULL ? o->smtpaddress :
		    d->dopts->hostname;
		w.host = d->s.pollname;
		w.user = o->remote;
		w.deleted = o->limitflush == FLAG_TRUE;
		w.msgs = list;
		w.nmsgs = n;
		w.when = now;
		out = buf_create(SIZE_MAX / 4);
		bounce_build_warning(out, &w);
		from = xasprintf("FETCHMAIL-DAEMON@%s", w.from_domain);
		if (bounce_send(&d->sconf, from, w.to, out, &cause) == 0)
			bounce_oversized_sent(acct, now);
		else
			log_err(_("oversized-messages warning not sent: %s"),
			    cause);
		free(cause);
		free(from);
		buf_free(out);
	}
	free(acct);
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
		oversized_note(d, m);
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
	if (d->sconf.kind == SINK_SMTP || d->sconf.kind == SINK_LMTP)
		log_err(_("SMTP transaction error while fetching from %s@%s and "
		    "delivering to SMTP host %s"), d->s.q->o.remote,
		    d->s.pollname, d->sconf.nhosts > 0 ?
		    d->sconf.hosts[d->sconf.nhosts - 1] : "localhost");
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

/* SDPS: the envelope sender from *ENV ("" for the null sender) in
 * place of the one found in the header; *copy holds the result, which
 * borrows FROM. */
static const struct msg_info *
sdps_sender(const struct msg_info *info, char *from, struct msg_info *copy)
{
	*copy = *info;
	copy->sender_null = *from == '\0';
	copy->sender = *from == '\0' ? NULL : from;
	return copy;
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

/* The Received: facts for the accepted recipient(s): exactly one
 * gets "for <ADDR> (MODE)", the postmaster taken at RCPT time "(by
 * default)". */
static void
received_for(struct drv *d, struct msg_received *rcv, const char *mode)
{
	struct sink	*sk = d->sink;
	size_t		 i;

	rcv->mode = mode;
	if (sink_naccepted(sk) != 1)
		return;
	for (i = 0; i < sink_rcpt_count(sk); i++) {
		if (sink_rcpt_result(sk, i) != SINK_OK)
			continue;
		rcv->rcpt = sink_rcpt_addr(sk, i);
		if (sink_rcpt_is_fallback(sk, i)) {
			rcv->mode = "by default";
			log_verbose(_("no address matches; forwarding to %s."),
			    d->cfg->g.postmaster);
		}
	}
}

/* Send the message through the sink; returns its fate. */
static enum msg_fate
to_sink(struct drv *d, const struct msgref *m, struct msgsrc *src,
    const struct msg_info *info)
{
	const struct cfg_opts *o = &d->s.q->o;
	const char	*one[1] = { o->localnames.n > 0 ?
			    o->localnames.v[0] : NULL };
	struct sink_env	 env = { 0 };
	struct msg_received rcv = { 0 };
	struct rcpt_result res;
	struct attempt	 a = { 0 };
	enum sink_result r;
	enum msg_fate	 fate;
	char		*sender, *warning = NULL;
	struct msg_info	 sinfo;
	bool		 multi = rcpt_is_multidrop(o->localnames.n, o->wildcard);
	int		 b;

	memset(&res, 0, sizeof(res));
	if (multi) {
		if (!md_find(d, m, &res)) {
			/* a duplicate: refused, not forwarded */
			rcpt_result_free(&res);
			return drain(d, src) < 0 ? FATE_ABORT :
			    refusal_fate(d);
		}
		if (res.dns_error) {
			/* transient: neither forwarded nor deleted */
			rcpt_result_free(&res);
			return drain(d, src) < 0 ? FATE_ABORT : FATE_KEEP;
		}
	}
	if (!sink_ready(d)) {
		rcpt_result_free(&res);
		return drain(d, src) < 0 ? FATE_ABORT : FATE_KEEP;
	}
	if (m->sdps_from != NULL)
		info = sdps_sender(info, m->sdps_from, &sinfo);
	sender = envelope_sender(d, info);
	a.info = info;
	a.sender = sender;
	env.sender = sender;
	if (multi) {
		env.rcpt = (const char *const *)res.local;
		env.nrcpt = res.nlocal;
	} else {
		env.rcpt = one;
		env.nrcpt = 1;
	}
	env.size = m->size;
	env.body = info->body8 == 2 ? SINK_BODY_8BIT :
	    info->body8 == 1 ? SINK_BODY_7BIT : SINK_BODY_UNKNOWN;
	if (d->sconf.kind == SINK_SMTP || d->sconf.kind == SINK_LMTP)
		env.fallback = d->cfg->g.postmaster;
	r = sink_begin(d->sink, &env);
	if (r == SINK_OK || sink_fail_stage(d->sink) == SINK_STAGE_RCPT)
		refusal_rcpts(d, &a);
	if (r == SINK_OK) {
		received_for(d, &rcv, multi ? "multi-drop" : "single-drop");
		if (multi)
			rcv.warning = warning = md_warning(&res, info);
		rcv.when = (long long)time(NULL);
		if (msg_write_header(d->msg, &rcv, out_line, d) != 0)
			r = SINK_ERROR;
		else if ((b = stream_body(d, src)) < 0) {
			sink_abort(d->sink);
			free(warning);
			free(sender);
			rcpt_result_free(&res);
			return FATE_ABORT;
		} else if (b > 0)
			r = SINK_ERROR;
		if (r == SINK_OK)
			r = sink_end(d->sink);
		else
			sink_abort(d->sink);
	}
	free(warning);
	d->since_sink++;
	if (r != SINK_OK && drain(d, src) < 0) {
		free(sender);
		rcpt_result_free(&res);
		return FATE_ABORT;
	}
	fate = refusal_verdict(d, &a, r);
	free(sender);
	rcpt_result_free(&res);
	return fate;
}

/* deliver(): one fetched message, from the header to the verdict. */
static enum msg_fate
deliver(struct session *s, const struct msgref *m, struct msgsrc *src)
{
	struct drv		*d = s->arg;
	const struct msg_info	*info = NULL;
	enum msg_fate		 fate;
	int			 hr;

	if (s->imap)
		log_progress(_("reading message %s@%s:%lu of %lu"),
		    s->q->o.remote, d->truename, m->num, d->count);
	else
		log_progress(_("reading message %s@%s:%lu of %lu (%llu "
		    "octets)"), s->q->o.remote, d->truename, m->num, d->count,
		    m->size);
	msg_reset(d->msg);
	hr = msg_read_header(d->msg, src, &info);
	if (hr == 0 && s->imap) {
		/* IMAP: header and body sizes, as the reference shows them */
		log_progress_more(_(" (%zu header octets)"),
		    info->header_bytes);
		log_progress_more(_(" (%llu body octets)"),
		    m->size > info->header_bytes ? m->size -
		    info->header_bytes : 0);
	}
	if (hr != 0) {
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
		fate = refusal_fate(d);
	} else if ((fate = to_sink(d, m, src, info)) == FATE_ABORT)
		return FATE_ABORT;
	s->fetched++;
	if (d->sink == NULL && s->stop) {
		/* no sink: the poll ends here, as the reference's does */
		log_progress_end();
		return fate;
	}
	if (fate == FATE_DELETE && s->q->o.keep == FLAG_TRUE) {
		record_uid(d, m, UID_SEEN);
		fate = FATE_SEEN;	/* IMAP marks it \Seen */
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

	for (size_t i = 0; i < d->ndeleted; i++) {
		(void)uid_mark(d->uids, d->acct, d->deleted[i],
		    d->deletedlen[i], UID_EXPUNGED);
		free(d->deleted[i]);
	}
	/* committed once: IMAP commits at every EXPUNGE, folder by folder */
	d->ndeleted = 0;
}

const struct session_ops driver_ops = {
	plan, skipped, deliver, sync_uids, dele_ok, committed, pause_delivery
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
	mo->proto = d->s.proto_name;
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
	sc->esmtpname = o->esmtpname;
	sc->esmtppassword = o->esmtppassword;
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
	oversized_warn(d);
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
