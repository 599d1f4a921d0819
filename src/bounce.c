/*
 * bounce.c: the messages fetchmail writes itself.
 *
 * A bounce is an RFC 3464 delivery status notification: a
 * multipart/report with a human-readable part (the layout of 6.4.37's
 * bounces: reason, then each failed address with the listener's
 * reply), a message/delivery-status part (Reporting-MTA, then per
 * recipient Final-Recipient, Action: failed, Status from the reply's
 * RFC 3463 code, Diagnostic-Code) and the refused message's header as
 * text/rfc822-headers.  It is sent from <> so that it can never bounce
 * back.
 *
 * The oversized-message warning is a plain text mail from
 * FETCHMAIL-DAEMON to the local user, as 6.4.37 words it.
 *
 * Both are built into a buffer and sent through a sink of their own
 * (bounce_send()), never the one a message is in the middle of.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "buf.h"
#include "conn.h"
#include "i18n.h"
#include "msg.h"
#include "sink.h"
#include "xmalloc.h"

#define BOUNCE_MAX	(SIZE_MAX / 4)	/* a buffer's hard limit */

bool
bounce_sender_ok(const char *s)
{
	size_t	 n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || strcmp(s, "<>") == 0)
		return false;
	if (n >= 13 && strncasecmp(s, "MAILER-DAEMON", 13) == 0 &&
	    (s[13] == '\0' || s[13] == '@'))
		return false;
	return true;
}

void
bounce_status(const char *reply, char *out, size_t size)
{
	const char	*p = reply;
	size_t		 a, b, c;

	/* "550 5.1.1 text" or "550-5.1.1 text": class.subject.detail */
	if (strlen(p) > 4 && (p[3] == ' ' || p[3] == '-')) {
		p += 4;
		a = strspn(p, "0123456789");
		b = a == 1 && p[1] == '.' ? strspn(p + 2, "0123456789") : 0;
		c = b >= 1 && b <= 3 && p[2 + b] == '.' ?
		    strspn(p + 3 + b, "0123456789") : 0;
		if (a == 1 && (p[0] == '2' || p[0] == '4' || p[0] == '5') &&
		    c >= 1 && c <= 3 && (p[3 + b + c] == '\0' ||
		    isspace((unsigned char)p[3 + b + c]))) {
			(void)snprintf(out, size, "%.*s", (int)(3 + b + c), p);
			return;
		}
	}
	(void)snprintf(out, size, "%c.0.0",
	    reply[0] >= '2' && reply[0] <= '5' ? reply[0] : '5');
}

/* Append text with every "\n" in it turned into CRLF + indent. */
static void
put_lines(struct buf *b, const char *text, const char *indent)
{
	const char	*nl;

	while ((nl = strchr(text, '\n')) != NULL) {
		(void)buf_append(b, text, (size_t)(nl - text));
		(void)buf_append(b, "\r\n", 2);
		(void)buf_append(b, indent, strlen(indent));
		text = nl + 1;
	}
	(void)buf_append(b, text, strlen(text));
}

/* The header of a bounce. */
static void
bounce_head(struct buf *b, const struct bounce *bn, const char *boundary)
{
	char	 date[64];

	msg_date(bn->when, date, sizeof(date));
	(void)buf_printf(b, "Subject: %s\r\n",
	    "Mail delivery failed: returning message to sender");
	(void)buf_printf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    bn->fqdn);
	(void)buf_printf(b, "To: %s\r\n", bn->to);
	(void)buf_printf(b, "Date: %s\r\n", date);
	(void)buf_printf(b, "Message-ID: <fetchmail-dsn.%s@%s>\r\n", boundary,
	    bn->fqdn);
	(void)buf_printf(b, "Auto-Submitted: auto-replied\r\n");
	(void)buf_printf(b, "MIME-Version: 1.0\r\n");
	(void)buf_printf(b, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n",
	    boundary);
}

/* The human-readable part. */
static void
bounce_text(struct buf *b, const struct bounce *bn)
{
	size_t	 i;

	(void)buf_printf(b, "Content-Type: text/plain\r\n\r\n");
	(void)buf_printf(b, "This message was created automatically by mail "
	    "delivery software.\r\n\r\n");
	(void)buf_printf(b, "A message that you sent could not be delivered "
	    "to one or more of its\r\nrecipients. This is a permanent "
	    "error.\r\n\r\n");
	(void)buf_printf(b, "Reason: ");
	put_lines(b, bn->reason, "");
	(void)buf_printf(b, "\r\n\r\n");
	if (bn->nfail == 0)
		return;
	(void)buf_printf(b, "The following address(es) failed:\r\n");
	for (i = 0; i < bn->nfail; i++) {
		(void)buf_printf(b, "%s\r\n   SMTP error: ", bn->fail[i].addr);
		put_lines(b, bn->fail[i].reply, "");
		(void)buf_printf(b, "\r\n");
	}
	(void)buf_printf(b, "\r\n");
}

/* The message/delivery-status part (RFC 3464). */
static void
bounce_dsn(struct buf *b, const struct bounce *bn)
{
	char	 date[64], st[32];
	size_t	 i;

	msg_date(bn->when, date, sizeof(date));
	(void)buf_printf(b, "Content-Type: message/delivery-status\r\n\r\n");
	(void)buf_printf(b, "Reporting-MTA: dns; %s\r\n\r\n", bn->fqdn);
	for (i = 0; i < bn->nfail; i++) {
		bounce_status(bn->fail[i].reply, st, sizeof(st));
		(void)buf_printf(b, "Final-Recipient: rfc822; %s\r\n",
		    bn->fail[i].addr);
		(void)buf_printf(b, "Last-Attempt-Date: %s\r\n", date);
		(void)buf_printf(b, "Action: failed\r\nStatus: %s\r\n", st);
		/* multi-line replies folded, as the field syntax wants */
		(void)buf_printf(b, "Diagnostic-Code: smtp; ");
		put_lines(b, bn->fail[i].reply, " ");
		(void)buf_printf(b, "\r\n\r\n");
	}
}

void
bounce_build(struct buf *b, const struct bounce *bn, const char *boundary)
{
	bounce_head(b, bn, boundary);
	(void)buf_printf(b, "--%s\r\n", boundary);
	bounce_text(b, bn);
	(void)buf_printf(b, "--%s\r\n", boundary);
	bounce_dsn(b, bn);
	(void)buf_printf(b, "--%s\r\n", boundary);
	(void)buf_printf(b, "Content-Type: text/rfc822-headers\r\n\r\n");
	if (bn->headers != NULL)
		(void)buf_append(b, bn->headers, bn->headerslen);
	(void)buf_printf(b, "\r\n--%s--\r\n", boundary);
}

void
bounce_build_warning(struct buf *b, const struct bounce_warning *w)
{
	char	 date[64];
	size_t	 i;

	msg_date(w->when, date, sizeof(date));
	(void)buf_printf(b, "From: FETCHMAIL-DAEMON@%s\r\n", w->from_domain);
	(void)buf_printf(b, "To: %s\r\n", w->to);
	(void)buf_printf(b, "Date: %s\r\n", date);
	(void)buf_printf(b, "Auto-Submitted: auto-generated\r\n");
	(void)buf_printf(b, "MIME-Version: 1.0\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "Content-Type: text/plain; charset=\"US-ASCII\"\r\n");
	(void)buf_printf(b, "Subject: %s\r\n\r\n",
	    "Fetchmail oversized-messages warning");
	(void)buf_printf(b, w->deleted ?
	    "The following oversized messages were deleted on server %s "
	    "account %s:\r\n\r\n" :
	    "The following oversized messages remain on server %s "
	    "account %s:\r\n\r\n", w->host, w->user);
	for (i = 0; i < w->nmsgs; i++)
		(void)buf_printf(b, "  %lu message  %llu octets long %s "
		    "by fetchmail.\r\n", w->msgs[i].count, w->msgs[i].size,
		    w->deleted ? "deleted" : "skipped");
	(void)buf_printf(b, "\r\n-- \r\nThe Fetchmail Daemon\r\n");
}

/* ---------------------------------------------------------------- */
/* the oversized-message registry                                   */

/* One account's oversized messages.  This is the only state kept
 * across polls here: what a daemon has already reported. */
struct ovs_account {
	char			*name;
	long long		 last;		/* last warning, 0: never */
	char			**keys;		/* every message noted */
	bool			*reported;
	struct bounce_oversized	*msgs;		/* parallel to keys */
	size_t			 n;
	struct bounce_oversized	*due;		/* bounce_oversized_due() */
};

static struct ovs_account *ovs;
static size_t		  novs;

/* The registry entry of an account, made if new. */
static struct ovs_account *
ovs_find(const char *account)
{
	size_t	 i;

	for (i = 0; i < novs; i++)
		if (strcmp(ovs[i].name, account) == 0)
			return &ovs[i];
	ovs = xreallocarray(ovs, novs + 1, sizeof(*ovs));
	memset(&ovs[novs], 0, sizeof(ovs[novs]));
	ovs[novs].name = xstrdup(account);
	return &ovs[novs++];
}

void
bounce_oversized_note(const char *account, const char *key,
    unsigned long num, unsigned long long size)
{
	struct ovs_account	*a = ovs_find(account);
	size_t			 i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->keys[i], key) == 0)
			return;
	a->keys = xreallocarray(a->keys, a->n + 1, sizeof(*a->keys));
	a->reported = xreallocarray(a->reported, a->n + 1,
	    sizeof(*a->reported));
	a->msgs = xreallocarray(a->msgs, a->n + 1, sizeof(*a->msgs));
	a->keys[a->n] = xstrdup(key);
	a->reported[a->n] = false;
	a->msgs[a->n].count = num;
	a->msgs[a->n].size = size;
	a->n++;
}

size_t
bounce_oversized_due(const char *account, long long now, long long interval,
    const struct bounce_oversized **list)
{
	struct ovs_account	*a = ovs_find(account);
	size_t			 i, k = 0;

	*list = NULL;
	if (a->last != 0 && now - a->last < interval)
		return 0;
	free(a->due);
	a->due = xcalloc(a->n + 1, sizeof(*a->due));
	for (i = 0; i < a->n; i++)
		if (!a->reported[i]) {
			/* the reference's count column: 1 per message */
			a->due[k].count = 1;
			a->due[k++].size = a->msgs[i].size;
		}
	*list = a->due;
	return k;
}

void
bounce_oversized_sent(const char *account, long long now)
{
	struct ovs_account	*a = ovs_find(account);
	size_t			 i;

	for (i = 0; i < a->n; i++)
		a->reported[i] = true;
	a->last = now;
}

/* ---------------------------------------------------------------- */
/* sending                                                          */

/* Feed msg, CRLF lines, to the sink. */
static enum sink_result
bounce_feed(struct sink *s, const struct buf *msg)
{
	const char	*p = buf_data(msg), *end = p + buf_len(msg), *nl;
	enum sink_result r = SINK_OK;

	while (p < end && r == SINK_OK) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		r = sink_line(s, p, (size_t)(nl > p && nl[-1] == '\r' ?
		    nl - 1 - p : nl - p), CONN_EOL_CRLF);
		p = nl + 1;
	}
	return r;
}

int
bounce_send(const struct sink_conf *conf, const char *sender,
    const char *rcpt, const struct buf *msg, char **cause)
{
	struct sink_env	 env;
	struct sink	*s;
	enum sink_result r;
	const char	*to[1];

	*cause = NULL;
	if ((s = sink_open(conf, cause)) == NULL)
		return -1;
	memset(&env, 0, sizeof(env));
	to[0] = rcpt;
	env.sender = sender;
	env.rcpt = to;
	env.nrcpt = 1;
	if ((r = sink_begin(s, &env)) == SINK_OK) {
		if ((r = bounce_feed(s, msg)) == SINK_OK)
			r = sink_end(s);
		else
			sink_abort(s);
	}
	if (r != SINK_OK)
		*cause = xstrdup(*sink_error(s) != '\0' ? sink_error(s) :
		    _("message not accepted"));
	sink_close(s);
	return r == SINK_OK ? 0 : -1;
}
