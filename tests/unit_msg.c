/*
 * unit_msg.c: unit tests of the header processing (TAP).  The expected
 * outputs were recorded from fetchmail 6.4.37 (MDA and BSMTP delivery
 * from a scripted POP3 server; "Return-Path kept" is the MDA case).
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "conn.h"
#include "msg.h"
#include "tap.h"

#define WHEN	1795300767LL	/* Sat, 21 Nov 2026 22:39:27 +0000 */
#define RCV_UTC	"Received: from pop.example.com\r\n" \
		"\tby vm with POP3 (fetchmail-6.4.37)\r\n" \
		"\tfor <alice@localhost> (single-drop); " \
		"Sat, 21 Nov 2026 22:39:27 +0000 (UTC)\r\n"

/* A msgsrc over a string: lines end in "\n" (sent as CRLF) or, with
 * lf, as LF; a piece size > 0 splits long lines into pieces. */
struct memsrc {
	const char	*p, *end;
	bool		 lf;
	size_t		 piece;
	int		 fail_at;	/* fail on this call (1-based), 0 never */
	int		 calls;
};

static int
mem_next(void *ctx, struct buf *line, int *eol)
{
	struct memsrc	*s = ctx;
	const char	*nl;
	size_t		 n;

	if (++s->calls == s->fail_at)
		return -1;
	if (s->p >= s->end)
		return 0;
	nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
	n = nl != NULL ? (size_t)(nl - s->p) : (size_t)(s->end - s->p);
	if (s->piece > 0 && n > s->piece) {
		buf_set(line, s->p, s->piece);
		s->p += s->piece;
		*eol = CONN_EOL_NONE;
		return 1;
	}
	buf_set(line, s->p, n);
	*eol = nl == NULL ? CONN_EOL_NONE : s->lf ? CONN_EOL_LF : CONN_EOL_CRLF;
	s->p += n + (nl != NULL);
	return 1;
}

/* Output collector: the lines with "\r\n" or "\n" as their eol says. */
static int
collect(void *arg, const char *line, size_t len, int eol)
{
	struct buf	*b = arg;

	buf_append(b, line, len);
	buf_append(b, eol == CONN_EOL_CRLF ? "\r\n" : eol == CONN_EOL_LF ?
	    "\n" : "", eol == CONN_EOL_CRLF ? 2 : eol == CONN_EOL_LF ? 1 : 0);
	return 0;
}

static struct msg_opts
defopts(void)
{
	struct msg_opts	o;

	memset(&o, 0, sizeof(o));
	o.truename = "pop.example.com";
	o.localhost = "vm";
	o.proto = "POP3";
	o.pollname = "pop.example.com";
	o.remote = "remuser";
	o.user = "root";
	o.rewrite = true;
	return o;
}

static struct msg	*cur;
static struct buf	*outb;
static const struct msg_info *info;
static size_t		 g_piece;	/* piece size used by hdr() */

/* Read text with o; 0 or -1 as msg_read_header().  The msg stays in cur
 * for the checks that follow. */
static int
readmsg(const struct msg_opts *o, const char *text, bool lf, size_t piece)
{
	struct memsrc	 s = { text, text + strlen(text), lf, piece, 0, 0 };
	struct msgsrc	 src = { mem_next, &s };

	msg_free(cur);
	cur = msg_new(o);
	msg_reset(cur);
	info = NULL;
	return msg_read_header(cur, &src, &info);
}

/* The header block written for text with o (default receipt data). */
static const char *
hdr(const struct msg_opts *o, const char *text)
{
	struct msg_received	rcv = { "alice@localhost", "single-drop",
				    WHEN, NULL };

	buf_reset(outb);
	if (readmsg(o, text, false, g_piece) != 0)
		return "(read failed)";
	if (msg_write_header(cur, &rcv, collect, outb) != 0)
		return "(write failed)";
	buf_append(outb, "", 1);
	return buf_data(outb);
}

/* The envelope sender found for text with o. */
static const char *
sender(const struct msg_opts *o, const char *text)
{
	if (readmsg(o, text, false, 0) != 0)
		return "(read failed)";
	return info->sender;
}

/* The field NAME... of text after processing (the first header line
 * starting with prefix), without its line end. */
static const char *
field(const struct msg_opts *o, const char *text, const char *prefix)
{
	static char	 res[4096];
	const char	*h = hdr(o, text), *p, *e;

	for (p = h; *p != '\0'; p = e + 1) {
		if ((e = strchr(p, '\n')) == NULL)
			break;
		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			snprintf(res, sizeof(res), "%.*s", (int)(e - p -
			    (e > p && e[-1] == '\r')), p);
			return res;
		}
	}
	return "(no such field)";
}

/* What the field in between "X-A: 1" and "X-Z: 1" became. */
static const char *
mid(const struct msg_opts *o, const char *in)
{
	static char	 res[4096];
	char		 text[2048];
	const char	*h, *a, *z;

	snprintf(text, sizeof(text), "X-A: 1\n%s\nX-Z: 1\n\n", in);
	h = hdr(o, text);
	if ((a = strstr(h, "X-A: 1\r\n")) == NULL ||
	    (z = strstr(a, "\r\nX-Z: 1")) == NULL)
		return "(lost)";
	a += 8;
	snprintf(res, sizeof(res), "%.*s", (int)(z - a), a);
	return res;
}

static void
test_basic(void)
{
	struct msg_opts	o = defopts();

	is_str(hdr(&o, "From: Sender <s1@example.net>\n"
	    "To: alice@example.org, bob\nSubject: test 1\n\nbody 1\n"),
	    RCV_UTC "From: Sender <s1@example.net>\r\n"
	    "To: alice@example.org, bob@pop.example.com\r\n"
	    "Subject: test 1\r\n\r\n", "basic message, bare bob qualified");
	is_str(info->sender, "s1@example.net", "sender from From:");
	ok(!info->bad_header && !info->headerless && !info->had_nul &&
	    info->body8 == 0 && !msg_header_only(cur), "plain facts");
	ok(info->header_bytes == 78, "header bytes as received (%zu)",
	    info->header_bytes);
	is_str(hdr(&o, "X-First: 1\nFrom: a@example.net\n"
	    "Received: from mx by host; Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "Received: from mx2\n\tby host2\nSubject: recv\n\nbody\n"),
	    "X-First: 1\r\nFrom: a@example.net\r\n" RCV_UTC
	    "Received: from mx by host; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	    "Received: from mx2\r\n\tby host2\r\nSubject: recv\r\n\r\n",
	    "Received: goes before the first Received:");
	is_str(field(&o, "From: a@x\nreceived: lower\n\n", "Received"),
	    "Received: from pop.example.com",
	    "lower-case received: is no insertion point");
	ok(strncmp(buf_data(outb), "Received:", 9) == 0, "... so on top");
	is_str(hdr(&o, "From: a@example.net\nSubject: onlyheader\n"),
	    RCV_UTC "From: a@example.net\r\nSubject: onlyheader\r\n\r\n",
	    "header without blank line or body");
	ok(msg_header_only(cur), "header only");
}

static void
test_received(void)
{
	struct msg_opts		o = defopts();
	struct msg_received	rcv = { NULL, NULL, WHEN, NULL };

	o.tracepolls = true;
	o.ipaddr = "192.0.2.1";
	o.folder = "INBOX";
	buf_reset(outb);
	readmsg(&o, "Subject: x\n\n", false, 0);
	msg_write_header(cur, &rcv, collect, outb);
	buf_append(outb, "", 1);
	is_str(buf_data(outb), "Received: from pop.example.com [192.0.2.1]\r\n"
	    "\tby vm with POP3 (fetchmail-6.4.37 polling pop.example.com "
	    "account remuser folder INBOX)\r\n"
	    "\tSat, 21 Nov 2026 22:39:27 +0000 (UTC)\r\nSubject: x\r\n\r\n",
	    "tracepolls, folder, IP, no recipient");
	o.folder = NULL;
	o.ipaddr = NULL;
	is_str(field(&o, "Subject: x\n\n", "\tby"),
	    "\tby vm with POP3 (fetchmail-6.4.37 polling pop.example.com "
	    "account remuser)", "tracepolls without folder");
	o = defopts();
	o.invisible = true;
	is_str(hdr(&o, "Subject: x\n\n"), "Subject: x\r\n\r\n", "invisible");
	rcv.rcpt = "a@b";
	rcv.mode = "multi-drop";
	rcv.warning = "no recipient addresses matched declared local names";
	buf_reset(outb);
	readmsg(&o, "Subject: x\n\n", false, 0);
	msg_write_header(cur, &rcv, collect, outb);
	buf_append(outb, "", 1);
	is_str(buf_data(outb), "Subject: x\r\nX-Fetchmail-Warning: no "
	    "recipient addresses matched declared local names\r\n\r\n",
	    "warning is the last header");
}

static void
test_date(void)
{
	char	d[128];

	msg_date(WHEN, d, sizeof(d));
	is_str(d, "Sat, 21 Nov 2026 22:39:27 +0000 (UTC)", "date UTC");
	setenv("TZ", "America/New_York", 1);
	tzset();
	msg_date(WHEN, d, sizeof(d));
	is_str(d, "Sat, 21 Nov 2026 17:39:27 -0500 (EST)", "date EST");
	setenv("TZ", "Asia/Kolkata", 1);
	tzset();
	msg_date(WHEN, d, sizeof(d));
	is_str(d, "Sun, 22 Nov 2026 04:09:27 +0530 (IST)", "date IST");
	msg_date(1767582245LL, d, sizeof(d));
	is_str(d, "Mon, 05 Jan 2026 08:34:05 +0530 (IST)", "two-digit day");
	setenv("TZ", "UTC", 1);
	tzset();
}

static void
test_return_path(void)
{
	struct msg_opts	 o = defopts();
	char		*s;

	o.keep_return_path = true;
	is_str(hdr(&o, "Return-Path: <rp@example.net>\nFrom: S <s@x.net>\n\n"),
	    RCV_UTC "Return-Path: <rp@example.net>\r\nFrom: S <s@x.net>\r\n"
	    "\r\n", "Return-Path kept for an MDA");
	is_str(info->sender, "rp@example.net", "Return-Path is the sender");
	o.keep_return_path = false;
	is_str(hdr(&o, "Return-Path: <rp@example.net>\nFrom: S <s@x.net>\n\n"),
	    RCV_UTC "From: S <s@x.net>\r\n\r\n", "dropped otherwise");
	is_str(hdr(&o, "From: S <s1@x.net>\nReturn-Path: <first@x.net>\n"
	    "Subject: rp3\nReturn-Path: <second@x.net>\n\n"),
	    RCV_UTC "From: S <s1@x.net>\r\nSubject: rp3\r\n"
	    "Return-Path: <second@x.net>\r\n\r\n", "only the first one goes");
	is_str(info->sender, "first@x.net", "first one is the sender");
	is_str(sender(&o, "Return-Path: <>\nFrom: f@x.org\n\n"), "",
	    "Return-Path: <>");
	ok(info->sender_null, "is the null sender");
	s = msg_smtp_sender(info, &o);
	is_str(s, "", "MAIL FROM:<>");
	free(s);
	is_str(sender(&o, "Return-Path: Name <> (c)\nFrom: f@x.org\n\n"), "",
	    "Name <> is null too");
	ok(info->sender_null, "... null");
	is_str(field(&o, "Return-Path: rp\nFrom: f@x\n\n", "X"),
	    "(no such field)", "bare Return-Path: rewritten, dropped");
	is_str(info->sender, "rp@pop.example.com", "... and the sender");
	is_str(hdr(&o, "Return-Path:\nFrom: f@x.org\n\n"),
	    RCV_UTC "Return-Path:\r\nFrom: f@x.org\r\n\r\n",
	    "empty Return-Path: kept, not used");
	is_str(info->sender, "f@x.org", "... From: used");
	is_str(hdr(&o, "Return-Path: \nReturn-Path: <b@y>\nFrom: f@x\n\n"),
	    RCV_UTC "Return-Path: \r\nFrom: f@x\r\n\r\n",
	    "the used one is dropped");
	is_str(sender(&o, "Return-path:  <rp8@x>  \nFrom: f@x\n\n"), "rp8@x",
	    "name case-insensitive, blanks");
	is_str(sender(&o, "Return-Path :<rp@x>\nFrom: f@x\n\n"), "f@x",
	    "blank before the colon: not Return-Path");
	o.rewrite = false;
	is_str(sender(&o, "Return-Path: (c)\nReturn-Path: <b@y>\n\n"), "b@y",
	    "Return-Path without address is skipped");
	o.rewrite = true;
	is_str(sender(&o, "Return-Path: (c)\nReturn-Path: <b@y>\n\n"),
	    "@pop.example.com", "... unless rewritten to one");
}

static void
test_sender_order(void)
{
	struct msg_opts	o = defopts();

	is_str(sender(&o, "Sender: bob\nFrom: S <s1@x.net>\n\n"),
	    "bob@pop.example.com", "Sender: qualified by rewrite first");
	o.rewrite = false;
	is_str(sender(&o, "Sender: bob\nFrom: S <s1@x.net>\n\n"), "s1@x.net",
	    "Sender: without @ or ! is ignored");
	is_str(sender(&o, "Sender: host!bob\nFrom: s@x\n\n"), "host!bob",
	    "Sender: with !");
	is_str(sender(&o, "Sender: (a@b) c\nFrom: f@x\n\n"), "c",
	    "Sender: @ in a comment counts");
	is_str(sender(&o, "Sender: a@x\nSender: b@y\n\n"), "b@y",
	    "last Sender:");
	is_str(sender(&o, "Sender: x@y\nSender: (c)\n\n"), "x@y",
	    "last qualifying Sender:");
	is_str(sender(&o, "From: S <s@x>\nResent-Sender: rs@x\n"
	    "Sender: bob@x\n\n"), "rs@x", "Resent-Sender first");
	is_str(sender(&o, "From: S <s@x>\nResent-From: rf@x\n\n"), "rf@x",
	    "Resent-From before From");
	is_str(sender(&o, "Reply-To: rt@x\nFrom: f@x\n\n"), "f@x",
	    "From before Reply-To");
	is_str(sender(&o, "Apparently-From: af@x\nReply-To: rt@x\n\n"),
	    "rt@x", "Reply-To before Apparently-From");
	is_str(sender(&o, "Apparently-From: af@x\n\n"), "af@x",
	    "Apparently-From");
	is_str(sender(&o, "From: f1@x\nFrom: f2@x\n\n"), "f2@x", "last From:");
	is_str(sender(&o, "From: a@x\nFrom: (c)\n\n"), "",
	    "last From: without address: none");
	ok(!info->sender_null, "... not the null sender");
	is_str(sender(&o, "From: (c)\nReply-To: r@x\n\n"), "r@x",
	    "From: without address falls through");
	is_str(sender(&o, "From: <>\nReply-To: r@x\n\n"), "",
	    "From: <> stops the search");
	ok(!info->sender_null, "... but is no null sender");
	is_str(sender(&o, "To: alice@example.org\n\n"), "", "no sender");
	o.rewrite = true;
	is_str(sender(&o, "From: a\n\n"), "a@pop.example.com",
	    "bare From: qualified");
	is_str(sender(&o, "From: (only comment)\n\n"), "@pop.example.com",
	    "comment-only From: rewritten to @host");
}

static void
test_extract(void)
{
	static const struct {
		const char	*value, *want;
	} t[] = {
		{ "a@x.org", "a@x.org" },
		{ "Name <a@x.org>", "a@x.org" },
		{ "\"Q, N\" <a@x.org>", "a@x.org" },
		{ "a@x.org (Comment)", "a@x.org" },
		{ "(Comment) a@x.org", "a@x.org" },
		{ "a@x.org, b@y.org", "a@x.org" },
		{ "<a@x.org>, b@y.org", "a@x.org" },
		{ "Name <a@x.org> extra", "a@x.org" },
		{ "grp: a@x.org;", "grp:a@x.org;" },
		{ "\"a b\"@x.org", "\"a b\"@x.org" },
		{ "<>", "" },
		{ "  a@x.org  ", "a@x.org" },
		{ "a", "a" },
		{ "\"Quoted\" a@x.org", "\"Quoted\"a@x.org" },
		{ "a@x.org\n (folded comment)", "a@x.org" },
		{ "Name\n <a@x.org>", "a@x.org" },
		{ "<a@x.org", "a@x.org" },
		{ "a@x.org>", "a@x.org>" },
		{ "<@route:a@x.org>", "@route:a@x.org" },
		{ "undisclosed-recipients:;", "undisclosed-recipients:;" },
		{ "(only comment)", "" },
		{ "\"\"", "\"\"" },
		{ "<<a@x.org>>", "a@x.org" },
		{ "\"x<y>\" <a@x.org>", "a@x.org" },
		{ "(c <b@y>) a@x.org", "a@x.org" },
		{ "a b c@d", "abc@d" },
		{ "<a b@x.org>", "a b@x.org" },
		{ ",a@x.org", "a@x.org" },
		{ "a@x.org (c, d) e@f", "a@x.orge@f" },
		{ "<a\n b@x>", "" },
		{ "\"a\n b\"@x", "" },
		{ "a\n b@x", "ab@x" },
		{ "<a\tb@x>", "a\tb@x" },
		{ "\\b , @@;\tb@,", "\\b@@;b@" },
		{ "\\,\t :,", "\\,:" },
		{ ",.  b<!) ", "!)" },
		{ "\"!;:)\",<\"@): ", "\"@):" },
		{ "<;\\>>!b", ";\\>" },
		{ "!<);\n @<(a,ab\"", "(a,ab\"" },
		{ "\\\n\ta\"(\t\t", "\\\na\"(" },
	};
	struct msg_opts	o = defopts();
	char		text[256];
	size_t		i;

	o.rewrite = false;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(text, sizeof(text), "From: %s\nSubject: x\n\n",
		    t[i].value);
		is_str(sender(&o, text), t[i].want, "From: address #%zu", i);
	}
}

static void
test_smtp_sender(void)
{
	struct msg_opts	 o = defopts();
	char		*s;
	static const struct {
		const char	*from, *truename, *want;
	} t[] = {
		{ "From: a@x\n\n", "pop.example.com", "a@x" },
		{ "From: a\n\n", "pop.example.com", "a@pop.example.com" },
		{ "From: a\n\n", "127.0.0.1", "a@[127.0.0.1]" },
		{ "To: x@y\n\n", "127.0.0.1", "remuser@[127.0.0.1]" },
		{ "To: x@y\n\n", "pop.example.com", "remuser@pop.example.com" },
		{ "From: @x\n\n", "pop.example.com", "remuser@pop.example.com" },
		{ "From: a!b\n\n", "pop.example.com", "a!b" },
		{ "From: \"\"\n\n", "pop.example.com", "\"\"@pop.example.com" },
		{ "From: <@r:a@x.org>\n\n", "h", "remuser@h" },
		{ "From: <>\n\n", "h", "remuser@h" },
	};
	size_t	i;

	o.rewrite = false;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		o.truename = t[i].truename;
		readmsg(&o, t[i].from, false, 0);
		s = msg_smtp_sender(info, &o);
		is_str(s, t[i].want, "MAIL FROM #%zu", i);
		free(s);
	}
}

static void
test_rewrite(void)
{
	static const struct {
		const char	*in, *want;
	} t[] = {
		{ "To: alice@example.org, bob",
		  "To: alice@example.org, bob@pop.example.com" },
		{ "To: \"Joe Q\" <joe>, (comment) bob, \"a b\"@x.org, "
		  "carol (Carol C), \"quoted, local\"",
		  "To: \"Joe Q\" <joe@pop.example.com>, (comment) "
		  "bob@pop.example.com, \"a b\"@x.org, carol@pop.example.com "
		  "(Carol C), \"quoted, local\"" },
		{ "To: undisclosed-recipients:;",
		  "To: undisclosed-recipients:;" },
		{ "Cc: grp: a, b@x.org;, c", "Cc: grp: a@pop.example.com, "
		  "b@x.org;, c@pop.example.com" },
		{ "To: \"x\\\" y\" <z>, w\\@v",
		  "To: \"x\\\" y\" <z@pop.example.com>, w\\@v" },
		{ "To: <@route.org:bob@x.org>, <bob>, bob@, @x.org, <>",
		  "To: <@route.org:bob@x.org>, <bob@pop.example.com>, bob@, "
		  "@x.org, <>" },
		{ "To: a, , b,", "To: a@pop.example.com, , b@pop.example.com," },
		{ "Cc:", "Cc:" },
		{ "To: \"ab\"", "To: \"ab\"" },
		{ "To: \"ab\" bob", "To: \"ab\" bob@pop.example.com" },
		{ "To: joe (comment, with comma)",
		  "To: joe@pop.example.com (comment, with comma)" },
		{ "To: joe(c)x", "To: joe@pop.example.com(c)x" },
		{ "To: <joe> (c)", "To: <joe@pop.example.com> (c)" },
		{ "To: joe ,bob", "To: joe@pop.example.com ,bob@pop.example.com" },
		{ "To: joe;", "To: joe;" },
		{ "To: a;, b", "To: a;@pop.example.com, b@pop.example.com" },
		{ "To: joe!host", "To: joe!host" },
		{ "To: joe%host", "To: joe%host@pop.example.com" },
		{ "To:  joe  ", "To:  joe@pop.example.com  " },
		{ "To: joe bob", "To: joe bob@pop.example.com" },
		{ "To: <joe", "To: <joe" },
		{ "To: (unclosed comment joe", "To: (unclosed comment joe" },
		{ "To: \"unclosed quote joe", "To: \"unclosed quote joe" },
		{ "To: a\\,b", "To: a\\@pop.example.com,b" },
		{ "To: a\\, b, c", "To: a\\@pop.example.com, b@pop.example.com, "
		  "c@pop.example.com" },
		{ "To: <a,b>", "To: <a,b@pop.example.com>" },
		{ "To: \"a\" <b> <c>", "To: \"a\" <b@pop.example.com> <c>" },
		{ "To: x (a)(b) y", "To: x@pop.example.com (a)(b) y" },
		{ "To: <\"\">", "To: <\"\"@pop.example.com>" },
		{ "To: ()", "To: ()@pop.example.com" },
		{ "To: a <>, b", "To: a <>, b" },
		{ "To: a) b, c", "To: a) b, c" },
		{ "To: )(", "To: )(@pop.example.com" },
		{ "To: < >", "To: < @pop.example.com>" },
		{ "To: b(x;)a", "To: b(x;)a@pop.example.com" },
		{ "To: x(bb),@", "To: x(bb)@pop.example.com,@" },
		{ "To: ,,a", "To:@pop.example.com ,,a" },
		{ "To: ,", "To: ," },
		{ "To: a, ,,", "To: a@pop.example.com@pop.example.com, ,," },
		{ "To: !\\ <@:, >", "To: !\\ <@:, >@pop.example.com" },
		{ "To: <,>ba", "To: <,@pop.example.com>ba" },
		{ "TO: bob", "TO: bob@pop.example.com" },
		{ "to : x8", "to : x8" },
		{ "Apparently-From: x1", "Apparently-From: x1@pop.example.com" },
		{ "Resent-Bcc: h", "Resent-Bcc: h@pop.example.com" },
		{ "Errors-To: x2", "Errors-To: x2" },
		{ "Resent-Reply-To: x7", "Resent-Reply-To: x7" },
		{ "X-To: notme", "X-To: notme" },
	};
	struct msg_opts	o = defopts();
	size_t		i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_str(mid(&o, t[i].in), t[i].want, "rewrite #%zu", i);
	is_str(hdr(&o, "From: a@example.net\nTo: alice,\n  bob,\n\tcarol@x.org,"
	    "\n dave\nSubject: fold\n continued subject\n\n"),
	    RCV_UTC "From: a@example.net\r\nTo: alice@pop.example.com,\r\n"
	    "  bob@pop.example.com,\r\n\tcarol@x.org,\r\n dave@pop.example.com"
	    "\r\nSubject: fold\r\n continued subject\r\n\r\n",
	    "folded fields keep their folding");
	is_str(hdr(&o, "Cc: a  \n\t\nCc: <a\n >\n\n"), RCV_UTC
	    "Cc: a@pop.example.com  \r\n\t\r\nCc: <a\r\n @pop.example.com>"
	    "\r\n\r\n", "insertion across a fold");
	o.rewrite = false;
	is_str(field(&o, "To: bob\n\n", "To"), "To: bob", "rewrite off");
}

static void
test_lf(void)
{
	struct msg_opts		o = defopts();
	struct msg_received	rcv = { "alice@localhost", "single-drop",
				    WHEN, NULL };

	buf_reset(outb);
	readmsg(&o, "To: ,\nTo: x,\n b\nSubject: lf\n\n", true, 0);
	msg_write_header(cur, &rcv, collect, outb);
	buf_append(outb, "", 1);
	is_str(buf_data(outb), RCV_UTC "To:@pop.example.com ,\n"
	    "To: x@pop.example.com,\n b@pop.example.com\nSubject: lf\n\r\n",
	    "LF lines keep LF (and rewrite as the reference does on LF)");
}

static void
test_drop(void)
{
	struct msg_opts	o = defopts();
	const char	*st = "From: a@example.net\nStatus:\nStatus: RO\n"
	    "X-Mozilla-Status:\nX-Mozilla-Status: 0001\nX-Mozilla-Status2: 0\n"
	    "STATUS:   \nX-MOZILLA-STATUS: \t\nSubject: status\n\n";
	const char	*dl = "Delivered-To: alice@example.org\nFrom: a@x\n"
	    "Delivered-To: other@example.org\nSubject: deliv\n\n";

	is_str(hdr(&o, st), RCV_UTC "From: a@example.net\r\nStatus: RO\r\n"
	    "X-Mozilla-Status: 0001\r\nX-Mozilla-Status2: 0\r\n"
	    "Subject: status\r\n\r\n", "empty Status: lines always go");
	o.dropstatus = true;
	is_str(hdr(&o, st), RCV_UTC "From: a@example.net\r\n"
	    "X-Mozilla-Status2: 0\r\nSubject: status\r\n\r\n", "dropstatus");
	is_str(hdr(&o, dl), RCV_UTC "Delivered-To: alice@example.org\r\n"
	    "From: a@x\r\nDelivered-To: other@example.org\r\n"
	    "Subject: deliv\r\n\r\n", "Delivered-To: kept");
	o.dropdelivered = true;
	is_str(hdr(&o, dl), RCV_UTC "From: a@x\r\nSubject: deliv\r\n\r\n",
	    "dropdelivered");
}

static void
test_bad(void)
{
	struct msg_opts	o = defopts();

	is_str(hdr(&o, "From: a@example.net\nthis is not a header\n"
	    "Subject: bad1\n\nbody\n"), RCV_UTC "From: a@example.net\r\n"
	    "this is not a header\r\nSubject: bad1\r\n\r\n",
	    "a bad line is kept (for bad-header accept)");
	ok(info->bad_header, "bad header");
	is_str(info->bad_line, "this is not a header", "the bad line");
	readmsg(&o, "From: a@x\nBad Name: value\n: empty\nSubject : s\n"
	    "a\001b: c\n\n", false, 0);
	ok(!info->bad_header, "any line with a colon is a field");
	readmsg(&o, " leading continuation\nFrom: a@x\n\n", false, 0);
	ok(!info->bad_header, "a leading continuation is not bad");
	is_str(hdr(&o, "From someone@example.net Mon Jan  1 00:00:00 2024\n"
	    "From: a@example.net\n>From inside\nSubject: fromline\n"
	    "From another line\nfrom x: y\n>From x: y\n\nFrom body\n"),
	    RCV_UTC "From: a@example.net\r\nSubject: fromline\r\n\r\n",
	    "From and >From lines are dropped");
	ok(info->bad_header, "... those without a colon are bad");
	is_str(info->bad_line, ">From inside", "... the first of them");
	readmsg(&o, "From x y z 10:00\nFrom: a@x\n\n", false, 0);
	ok(!info->bad_header, "From line with a colon is not bad");
	is_str(hdr(&o, "Hello world, no headers here\nsecond line\n\nbody\n"),
	    RCV_UTC "Hello world, no headers here\r\nsecond line\r\n\r\n",
	    "text without header: bad lines, kept");
	ok(info->bad_header && !info->headerless, "... bad, not headerless");
	is_str(info->sender, "", "... no sender");
}

static void
test_headerless(void)
{
	struct msg_opts	 o = defopts();
	const char	*want = RCV_UTC "From: FETCHMAIL-DAEMON\r\n"
	    "To: root@vm\r\nSubject: Headerless mail from remuser's mailbox "
	    "on pop.example.com\r\n\r\n";
	char		*s;

	is_str(hdr(&o, "\nbody only\nsecond line\n"), want,
	    "blank first line: synthetic header");
	ok(info->headerless && !info->bad_header, "headerless");
	is_str(info->sender, "", "... no sender");
	s = msg_smtp_sender(info, &o);
	is_str(s, "remuser@pop.example.com", "... MAIL FROM remote@truename");
	free(s);
	is_str(hdr(&o, "From a@b Mon Jan 1 00:00:00 2024\n\nbody\n"), want,
	    "every line dropped: synthetic header");
	is_str(hdr(&o, "Status:\n\nbody\n"), want, "... also Status:");
	is_str(hdr(&o, ""), want, "empty message");
	ok(msg_header_only(cur), "... header only");
}

static void
test_nul(void)
{
	struct msg_opts	o = defopts();
	const char	text[] = "From: a@example.net\nSubject: nul\0here\n"
	    "X-N: \0\0\n\nbody\n";
	struct memsrc	s = { text, text + sizeof(text) - 1, false, 0, 0, 0 };
	struct msgsrc	src = { mem_next, &s };
	struct msg_received rcv = { "alice@localhost", "single-drop", WHEN,
			    NULL };

	msg_free(cur);
	cur = msg_new(&o);
	ok(msg_read_header(cur, &src, &info) == 0 && info->had_nul,
	    "NULs noted");
	buf_reset(outb);
	msg_write_header(cur, &rcv, collect, outb);
	buf_append(outb, "", 1);
	is_str(buf_data(outb), RCV_UTC "From: a@example.net\r\n"
	    "Subject: nulhere\r\nX-N: \r\n\r\n",
	    "NULs removed, no automatic warning (as the reference)");
	{
		const char	t2[] = "From: a@x\n\0\nSubject: m\n\nbody\n";
		struct memsrc	s2 = { t2, t2 + sizeof(t2) - 1, false, 0, 0,
				    0 };
		struct msgsrc	src2 = { mem_next, &s2 };

		msg_free(cur);
		cur = msg_new(&o);
		ok(msg_read_header(cur, &src2, &info) == 0 &&
		    s2.p < s2.end && strncmp(s2.p, "Subject", 7) == 0,
		    "a line of NULs ends the header, as in the reference");
	}
}

static void
test_facts(void)
{
	static const struct {
		const char	*text;
		int		 body8;
	} t[] = {
		{ "Content-Transfer-Encoding: 8bit\n\n", 0 },
		{ "MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\n", 2 },
		{ "MIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\n\n", 1 },
		{ "MIME-Version: 1.0\n\n", 0 },
		{ "MIME-Version: 1.0\nContent-Transfer-Encoding: binary\n\n", 0 },
		{ "MIME-Version: 1.0\nContent-Transfer-Encoding: "
		  "quoted-printable\n\n", 2 },
		{ "MIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\n", 0 },
		{ "MIME-Version: 1.0\nContent-Type: multipart/mixed; b=x\n"
		  "Content-Transfer-Encoding: 7bit\n\n", 2 },
		{ "MIME-Version: 2.0\nContent-Transfer-Encoding: 8bit\n\n", 0 },
		{ "Content-Transfer-Encoding: 8BIT\nMIME-Version:1.0 (c)\n\n", 2 },
		{ "MIME-Version: 1.0\nContent-Transfer-Encoding:\n 8bit\n\n", 2 },
	};
	struct msg_opts	o = defopts();
	size_t		i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		readmsg(&o, t[i].text, false, 0);
		ok(info->body8 == t[i].body8, "body8 #%zu (%d)", i, info->body8);
	}
	readmsg(&o, "X-IMAP: 1234 5678\nFrom: a@x\n\n", false, 0);
	ok(info->x_imap, "X-IMAP");
	readmsg(&o, "From: a@x\n\n", false, 0);
	ok(!info->x_imap, "no X-IMAP");
}

static void
test_source(void)
{
	struct msg_opts	o = defopts();
	struct memsrc	s = { "From: a@x\nTo: b\n\n", NULL, false, 0, 2, 0 };
	struct msgsrc	src = { mem_next, &s };
	char		*big;
	size_t		 n = 3000;

	s.end = s.p + strlen(s.p);
	msg_free(cur);
	cur = msg_new(&o);
	ok(msg_read_header(cur, &src, &info) == -1, "source error");
	ok(strlen(msg_error(cur)) > 0, "... with a reason");
	msg_reset(cur);
	s.p = "From: a@x\n\n";
	s.end = s.p + strlen(s.p);
	s.fail_at = 0;
	ok(msg_read_header(cur, &src, &info) == 0, "reset, then read");
	ok(msg_read_header(cur, &src, &info) == -1, "second read refused");
	big = malloc(n + 64);
	memset(big, 'x', n + 64);
	memcpy(big, "To: ", 4);
	memcpy(big + n, "\nSubject: s\n\n", 14);
	g_piece = 100;
	ok(strlen(field(&o, big, "To:")) == n + 16, "long line in pieces "
	    "joined and rewritten");
	g_piece = 0;
	free(big);
}

/* Header limits and linear time on hostile input. */
static void
test_limits(void)
{
	struct msg_opts	 o = defopts();
	size_t		 n = 10u * 1024 * 1024, i;
	char		*big, host[101];
	clock_t		 t0;
	double		 secs;

	big = malloc(MSG_HEADER_MAX + 16);
	memcpy(big, "To: a", 5);
	for (i = 5; i + 4 <= n; i += 4)
		memcpy(big + i, ", ,,", 4);
	memcpy(big + i, "\n\n", 3);
	t0 = clock();
	ok(readmsg(&o, big, false, 65536) == 0, "a 10 MB field of \", ,,\"");
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	ok(secs < 5.0, "... in linear time (%.2f s)", secs);
	memset(host, 'h', 100);
	host[100] = '\0';
	o.truename = host;
	memcpy(big, "To: ", 4);
	for (i = 4; i + 3 <= n; i += 3)
		memcpy(big + i, "bb,", 3);
	memcpy(big + i, "\n\n", 3);
	t0 = clock();
	ok(readmsg(&o, big, false, 65536) == -1, "rewriting past the limit");
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	ok(secs < 5.0, "... stops in time (%.2f s)", secs);
	ok(strstr(msg_error(cur), "too long") != NULL, "... header too long");
	o.truename = "pop.example.com";
	for (i = 0; i < 100000; i++)
		memcpy(big + i * 8, "Cc: bob\n", 8);
	memcpy(big + i * 8, "\n", 2);
	t0 = clock();
	ok(readmsg(&o, big, false, 0) == 0, "100 000 fields");
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	ok(secs < 5.0, "... in linear time (%.2f s)", secs);
	memcpy(big, "X: ", 3);
	memset(big + 3, 'y', MSG_HEADER_MAX);
	memcpy(big + MSG_HEADER_MAX, "\n\n", 3);
	ok(readmsg(&o, big, false, 1 << 20) == -1, "over MSG_HEADER_MAX");
	free(big);
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	outb = buf_create(256u * 1024 * 1024);
	test_basic();
	test_received();
	test_date();
	test_return_path();
	test_sender_order();
	test_extract();
	test_smtp_sender();
	test_rewrite();
	test_lf();
	test_drop();
	test_bad();
	test_headerless();
	test_nul();
	test_facts();
	test_source();
	test_limits();
	msg_free(cur);
	buf_free(outb);
	return done_testing();
}
