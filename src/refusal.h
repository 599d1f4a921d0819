/*
 * refusal.h: the delivery policy for refused mail (refusal.c), used by
 * deliver.c.  After sink_begin() (and sink_end()), the sink's verdict
 * and failure details (stage, reply code, per-recipient replies) decide
 * the message's fate as 6.4.37 does:
 *
 *  - 4xx anywhere: kept (retried next poll); RCPT 4xx makes the whole
 *    message temporary.
 *  - antispam codes: never an "SMTP error" line, never a bounce unless
 *    spambounce; a refused recipient is dropped silently.
 *  - 530 at MAIL/DATA/end of data: "SMTP server requires STARTTLS,
 *    keeping message."; kept.
 *  - 552: bounce "too large" (with bouncemail); 553: never bounced;
 *    other 5xx: bounce "General SMTP/ESMTP error." (with bouncemail).
 *  - refused recipients (5xx but 553, spam, 552 without bouncemail):
 *    one bounce listing them, to the sender or, without bouncemail, to
 *    the postmaster; the sink has meanwhile offered the message to the
 *    postmaster (sink_env.fallback), and if that took it, it counts as
 *    delivered.
 *  - a message refused for good is deleted only with "set no
 *    softbounce", and then only if every bounce it needed went out.
 *  - LMTP after the dot: refusals by recipient as above; if some
 *    recipients took it, the others are bounced and it counts as
 *    delivered.
 *  - MDA: any failure keeps it; an MDA that did not read the whole
 *    message ends the poll with status 6 (IOERR), as the reference.
 * Bounces never go to an empty, <> or MAILER-DAEMON sender.
 */
#ifndef REFUSAL_H
#define REFUSAL_H

#include <stdbool.h>

#include "session.h"
#include "sink.h"

struct drv;
struct msg_info;

/* What one message's delivery attempt leaves for the verdict. */
struct attempt {
	const struct msg_info	*info;
	const char		*sender;	/* as the sink got it */
	bool			 bounce_failed;	/* a bounce it needed
						 * could not be sent */
};

/* The fate of a message refused for good: the softbounce rule. */
enum msg_fate	refusal_fate(const struct drv *);
/* After the envelope: log and bounce the recipients the listener
 * refused for good (call when sink_begin() succeeded or failed at RCPT). */
void		refusal_rcpts(struct drv *, struct attempt *);
/* The fate of the current message from the sink's result r (logs,
 * bounces; may close d->sink or stop the poll). */
enum msg_fate	refusal_verdict(struct drv *, struct attempt *,
		    enum sink_result r);

#endif
