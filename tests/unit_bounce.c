/*
 * unit_bounce.c: the messages fetchmail writes itself (src/bounce.c):
 * who may get a bounce, the RFC 3463 status taken from a reply, the
 * exact layout of a bounce (6.4.37's text, an RFC 3464 report) and of
 * the oversized-message warning.  TAP output.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "buf.h"
#include "tap.h"

static void
test_sender_ok(void)
{
	ok(bounce_sender_ok("a@b.example"), "sender: an address");
	ok(bounce_sender_ok("joe"), "sender: a bare name");
	ok(!bounce_sender_ok(""), "sender: empty");
	ok(!bounce_sender_ok(NULL), "sender: none");
	ok(!bounce_sender_ok("<>"), "sender: <>");
	ok(!bounce_sender_ok("MAILER-DAEMON"), "sender: MAILER-DAEMON");
	ok(!bounce_sender_ok("mailer-daemon@example.org"),
	    "sender: mailer-daemon@..., any case");
	ok(bounce_sender_ok("mailer-daemons@example.org"),
	    "sender: mailer-daemons is somebody else");
}

static void
test_status(void)
{
	static const struct { const char *reply, *want; } t[] = {
		{ "550 5.1.1 <a@b>: unknown", "5.1.1" },
		{ "550-5.7.1 first\n550 5.7.1 second", "5.7.1" },
		{ "451 4.3.0 later", "4.3.0" },
		{ "552 5.3.4", "5.3.4" },
		{ "550 5.100.999 x", "5.100.999" },
		{ "550 no enhanced code", "5.0.0" },
		{ "451 try later", "4.0.0" },
		{ "550 5.1 short", "5.0.0" },
		{ "550 5.1.1x glued", "5.0.0" },
		{ "550 3.1.1 wrong class", "5.0.0" },
		{ "550", "5.0.0" },
		{ "", "5.0.0" },
	};
	char	 out[32];
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bounce_status(t[i].reply, out, sizeof(out));
		is_str(out, t[i].want, "status of reply %zu", i);
	}
}

static void
test_build(void)
{
	static const struct bounce_fail f[] = {
		{ "fmtest@127.0.0.1", "550 5.1.1 no such user" },
		{ "x@127.0.0.1", "554-5.7.1 first\n554 5.7.1 second" },
	};
	static const char hdr[] = "From: a@b.example\r\nSubject: hi\r\n";
	struct bounce	 bn;
	struct buf	*b = buf_create(SIZE_MAX / 4);

	memset(&bn, 0, sizeof(bn));
	bn.to = "a@b.example";
	bn.fqdn = "host.example";
	bn.reason = "Some addresses were rejected by the MDA fetchmail "
	    "forwards to.";
	bn.fail = f;
	bn.nfail = 2;
	bn.headers = hdr;
	bn.headerslen = strlen(hdr);
	bn.when = 0;
	bounce_build(b, &bn, "BND");
	is_str(buf_data(b),
	    "Subject: Mail delivery failed: returning message to sender\r\n"
	    "From: Mail Delivery System <MAILER-DAEMON@host.example>\r\n"
	    "To: a@b.example\r\n"
	    "Date: Thu, 01 Jan 1970 00:00:00 +0000 (UTC)\r\n"
	    "Message-ID: <fetchmail-dsn.BND@host.example>\r\n"
	    "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"BND\"\r\n"
	    "\r\n"
	    "--BND\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "This message was created automatically by mail delivery "
	    "software.\r\n"
	    "\r\n"
	    "A message that you sent could not be delivered to one or more "
	    "of its\r\n"
	    "recipients. This is a permanent error.\r\n"
	    "\r\n"
	    "Reason: Some addresses were rejected by the MDA fetchmail "
	    "forwards to.\r\n"
	    "\r\n"
	    "The following address(es) failed:\r\n"
	    "fmtest@127.0.0.1\r\n"
	    "   SMTP error: 550 5.1.1 no such user\r\n"
	    "x@127.0.0.1\r\n"
	    "   SMTP error: 554-5.7.1 first\r\n"
	    "554 5.7.1 second\r\n"
	    "\r\n"
	    "--BND\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; host.example\r\n"
	    "\r\n"
	    "Final-Recipient: rfc822; fmtest@127.0.0.1\r\n"
	    "Last-Attempt-Date: Thu, 01 Jan 1970 00:00:00 +0000 (UTC)\r\n"
	    "Action: failed\r\n"
	    "Status: 5.1.1\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
	    "\r\n"
	    "Final-Recipient: rfc822; x@127.0.0.1\r\n"
	    "Last-Attempt-Date: Thu, 01 Jan 1970 00:00:00 +0000 (UTC)\r\n"
	    "Action: failed\r\n"
	    "Status: 5.7.1\r\n"
	    "Diagnostic-Code: smtp; 554-5.7.1 first\r\n"
	    " 554 5.7.1 second\r\n"
	    "\r\n"
	    "--BND\r\n"
	    "Content-Type: text/rfc822-headers\r\n"
	    "\r\n"
	    "From: a@b.example\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "--BND--\r\n", "bounce: the whole layout");
	buf_free(b);
}

static void
test_warning(void)
{
	static const struct bounce_oversized o[] = { { 1, 516 }, { 1, 672 } };
	struct bounce_warning w;
	struct buf	*b = buf_create(SIZE_MAX / 4);

	memset(&w, 0, sizeof(w));
	w.to = "fmtest";
	w.from_domain = "host.example";
	w.host = "pop.example";
	w.user = "alice";
	w.msgs = o;
	w.nmsgs = 2;
	bounce_build_warning(b, &w);
	is_str(buf_data(b),
	    "From: FETCHMAIL-DAEMON@host.example\r\n"
	    "To: fmtest\r\n"
	    "Date: Thu, 01 Jan 1970 00:00:00 +0000 (UTC)\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "Content-Type: text/plain; charset=\"US-ASCII\"\r\n"
	    "Subject: Fetchmail oversized-messages warning\r\n"
	    "\r\n"
	    "The following oversized messages remain on server pop.example "
	    "account alice:\r\n"
	    "\r\n"
	    "  1 message  516 octets long skipped by fetchmail.\r\n"
	    "  1 message  672 octets long skipped by fetchmail.\r\n"
	    "\r\n"
	    "-- \r\n"
	    "The Fetchmail Daemon\r\n", "warning: the whole text");
	buf_reset(b);
	w.deleted = true;
	bounce_build_warning(b, &w);
	ok(strstr(buf_data(b), "The following oversized messages were "
	    "deleted on server pop.example account alice:\r\n\r\n"
	    "  1 message  516 octets long deleted by fetchmail.\r\n") != NULL,
	    "warning: limitflush wording");
	buf_free(b);
}

int
main(void)
{
	test_sender_ok();
	test_status();
	test_build();
	test_warning();
	return done_testing();
}
