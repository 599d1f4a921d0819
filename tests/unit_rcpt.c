/*
 * unit_rcpt.c: the address scanners (src/addr.c) and multidrop recipient
 * discovery (src/rcpt.c).  TAP output.
 *
 * The last part is differential: every message of tests/multidrop/msgs
 * goes through msg.c's header processing and rcpt_find() under each
 * rcfile of tests/multidrop/rc, and the RCPT TO list, the -v -v lines and
 * the warning must equal what fetchmail 6.4.37 did with the same input
 * (tests/multidrop/expected, recorded by tests/multidrop-record.sh).
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "buf.h"
#include "cfg.h"
#include "conn.h"
#include "dnscache.h"
#include "msg.h"
#include "rcpt.h"
#include "tap.h"
#include "xmalloc.h"

/* ------------------------------------------------------------ helpers */

/* All compatible-scanner addresses of s joined with "|" (static). */
static const char *
iter_all(const char *s, bool has_name)
{
	static struct buf	*res;
	struct addr_iter	 it;
	struct buf		*a = buf_create(1 << 26);
	size_t			 k = 0;

	if (res == NULL)
		res = buf_create(1 << 26);
	buf_reset(res);
	addr_iter_init(&it, s, strlen(s), has_name);
	while (addr_iter_next(&it, a) == 1) {
		if (k++ > 0)
			buf_append(res, "|", 1);
		buf_append(res, buf_data(a), buf_len(a));
	}
	buf_free(a);
	buf_append(res, "", 0);
	return buf_data(res);
}

/* All RFC 5322 addr-specs of s as "local@domain" joined with "|". */
static const char *
rfc_all(const char *s)
{
	static struct buf	*res;
	struct addr_list	 l = { NULL, 0, 0 };
	size_t			 i;

	if (res == NULL)
		res = buf_create(1 << 26);
	buf_reset(res);
	addr_parse_list(s, strlen(s), &l, 0);
	for (i = 0; i < l.n; i++) {
		if (i > 0)
			buf_append(res, "|", 1);
		buf_append(res, l.v[i].local, strlen(l.v[i].local));
		if (l.v[i].domain != NULL) {
			buf_append(res, "@", 1);
			buf_append(res, l.v[i].domain,
			    strlen(l.v[i].domain));
		}
	}
	addr_list_free(&l);
	buf_append(res, "", 0);
	return buf_data(res);
}

/* Fields from "\n"-separated lines (continuations start with blanks). */
struct fields {
	struct rcpt_field	*f;
	size_t			 n;
	char			*text;
};

static void
fields_split(struct fields *fs, const char *hdr)
{
	char	*p, *start;
	size_t	 cap = 0;

	fs->text = xstrdup(hdr);
	fs->f = NULL;
	fs->n = 0;
	for (p = start = fs->text; *p != '\0'; p++) {
		if (*p != '\n')
			continue;
		if (p[1] == ' ' || p[1] == '\t')
			continue;
		if (fs->n == cap) {
			cap = cap ? cap * 2 : 16;
			fs->f = xreallocarray(fs->f, cap, sizeof(*fs->f));
		}
		fs->f[fs->n].text = start;
		fs->f[fs->n].len = (size_t)(p + 1 - start);
		fs->n++;
		start = p + 1;
	}
}

static void
fields_free(struct fields *fs)
{
	free(fs->f);
	free(fs->text);
}

/* The recipients of res joined with " " (static). */
static const char *
locals(const struct rcpt_result *r)
{
	static char	b[4096];
	size_t		i;

	b[0] = '\0';
	for (i = 0; i < r->nlocal; i++) {
		if (i > 0)
			strncat(b, " ", sizeof(b) - strlen(b) - 1);
		strncat(b, r->local[i], sizeof(b) - strlen(b) - 1);
	}
	return b;
}

/* Whether res has the log line want. */
static bool
has_log(const struct rcpt_result *r, const char *want)
{
	size_t	i;

	for (i = 0; i < r->nlog; i++)
		if (strcmp(r->log[i], want) == 0)
			return true;
	return false;
}

static const char *const names3[] = { "alice", "bob", "carol" };
static const char *const maps3[] = { NULL, NULL, "caroline" };
static const char *const aka1[] = { "mx.example.org" };
static const char *const ld1[] = { "example.net" };

static struct rcpt_opts
base_opts(void)
{
	struct rcpt_opts	o;

	memset(&o, 0, sizeof(o));
	o.truename = "pop.example.org";
	o.aka = aka1;
	o.naka = 1;
	o.names = names3;
	o.maps = maps3;
	o.nnames = 3;
	o.postmaster = "pm";
	o.want_log = true;
	return o;
}

/* rcpt_find over the "\n"-separated header hdr; recipients joined. */
static const char *
run(const struct rcpt_opts *o, const char *hdr, struct rcpt_result *r)
{
	struct fields	fs;

	fields_split(&fs, hdr);
	rcpt_find(fs.f, fs.n, o, r);
	fields_free(&fs);
	return locals(r);
}

/* ------------------------------------------------------------ addr.c */

static void
test_iter(void)
{
	is_str(iter_all("To: a@b, c@d", true), "a@b|c@d", "iter: list");
	is_str(iter_all("To: Alice <a@b> Bob <c@d>", true), "a@b|c@d",
	    "iter: angle addresses without comma");
	is_str(iter_all("To: a@b c@d", true), "a@bc@d",
	    "iter: bare addresses run together (blanks vanish)");
	is_str(iter_all("To: team: a@b, c@d;", true), "team:a@b|c@d;",
	    "iter: group name sticks to the first member");
	is_str(iter_all("To: undisclosed-recipients:;", true),
	    "undisclosed-recipients:;", "iter: empty group");
	is_str(iter_all("To: a@b (x (y) z), (c) d@e", true), "a@b|d@e",
	    "iter: nested comments dropped");
	is_str(iter_all("To: \"a\"@b", true), "\"a\"@b",
	    "iter: quoted local part kept with quotes");
	is_str(iter_all("To: \"x, <y@z>\" <a@b>", true), "a@b",
	    "iter: display name with comma and brackets");
	is_str(iter_all("To: <@r.example:a@b>", true), "@r.example:a@b",
	    "iter: route kept");
	is_str(iter_all("To: \"a@b, c@d", true), "\"a@b, c@d",
	    "iter: unbalanced quote runs to the end");
	is_str(iter_all("To: a@b (x, c@d", true), "a@b",
	    "iter: unbalanced comment swallows the rest");
	is_str(iter_all("To: <a@b, c@d", true), "a@b, c@d",
	    "iter: unclosed angle gives its content");
	is_str(iter_all("To: a@b>, c@d", true), "a@b>|c@d",
	    "iter: stray > is part of a bare address");
	is_str(iter_all("To: a\\,b@c, d@e", true), "a\\,b@c|d@e",
	    "iter: backslash keeps the next byte");
	is_str(iter_all("To: a@b,\r\n c@d,\n\te@f\r\nCc: x@y", true),
	    "a@b|c@d|e@f", "iter: folding; a line end without blank ends");
	is_str(iter_all("To: <>, a@b", true), "|a@b", "iter: <> is empty");
	is_str(iter_all("To: \"a\r\n b\"@c, d@e", true), "d@e",
	    "iter: quoted string across a line break is skipped");
	is_str(iter_all("a@b, c@d", false), "a@b|c@d", "iter: bare body");
	is_str(iter_all("To:", true), "", "iter: empty field");
	is_str(iter_all("To: (only)", true), "", "iter: only a comment");
	is_str(iter_all("To: <a<b@c>", true), "b@c", "iter: nested < restarts");
}

static void
test_rfc(void)
{
	is_str(rfc_all("a@b, c@d"), "a@b|c@d", "rfc: list");
	is_str(rfc_all("undisclosed-recipients:;"), "", "rfc: empty group");
	is_str(rfc_all("list: a@b, \"C D\" <c@d>;, e@f"), "a@b|c@d|e@f",
	    "rfc: group members and a following address");
	is_str(rfc_all("a@b (A (nested) B), (x) c@d"), "a@b|c@d",
	    "rfc: nested comments");
	is_str(rfc_all("\"a b\"@c, \"x\"@y"), "\"a b\"@c|x@y",
	    "rfc: quoted local parts (quoted only when needed)");
	is_str(rfc_all("=?UTF-8?Q?J=C3=B6rg?= <j@x>, "
	    "=?ISO-8859-1?Q?M=FCller=2C_A?= <m@x>"), "j@x|m@x",
	    "rfc: display names with encoded words");
	is_str(rfc_all("<@r1.example,@r2.example:a@b>"), "a@b",
	    "rfc: obsolete route dropped");
	is_str(rfc_all("Alice <a@b> Bob <c@d>"), "a@b|c@d",
	    "rfc: missing comma between name-addrs");
	is_str(rfc_all("a@b c@d"), "a@b|c@d",
	    "rfc: missing comma between addr-specs");
	is_str(rfc_all("a . b @ c . d"), "a.b@c.d", "rfc: obsolete CFWS");
	is_str(rfc_all("bob, alice"), "bob|alice", "rfc: bare local parts");
	is_str(rfc_all("John Smith"), "", "rfc: a phrase is no address");
	is_str(rfc_all("b@[127.0.0.1]"), "b@[127.0.0.1]", "rfc: literal");
	is_str(rfc_all("\"a@b, c@d"), "\"a@b, c@d\"",
	    "rfc: unbalanced quote ends at the end");
	is_str(rfc_all("<a@b, c@d"), "a@b|c@d",
	    "rfc: unclosed angle: comma still separates");
	is_str(rfc_all("a@b>, c@d)"), "a@b|c@d", "rfc: stray closers");
	is_str(rfc_all("a@b (x, c@d"), "a@b", "rfc: unclosed comment");
	is_str(rfc_all("\"a\\\"b\"@c"), "\"a\\\"b\"@c", "rfc: quoted-pair");
}

/* ------------------------------------------------------------ rcpt.c */

static enum rcpt_alias
fake_dns(void *arg, const char *name)
{
	int	*calls = arg;

	(*calls)++;
	if (strcasecmp(name, "mx2.example.org") == 0)
		return RCPT_ALIAS_YES;
	if (strcasecmp(name, "broken.example") == 0)
		return RCPT_ALIAS_TEMPFAIL;
	return RCPT_ALIAS_NO;
}

static void
test_rcpt_basic(void)
{
	struct rcpt_opts	o = base_opts();
	struct rcpt_result	r;
	static const char *const single[] = { "solo" };
	static const char *const full[] = { "alice", "joe@other.example" };
	static const char *const fullmap[] = { NULL, "joe" };

	is_str(run(&o, "To: alice@mx.example.org, carol@pop.example.org\n"
	    "Cc: x@nowhere.example\n", &r), "alice caroline",
	    "guess: aka and true name, carol mapped");
	ok(r.nrejected == 1 && strcmp(r.rejected[0], "x@nowhere.example") == 0,
	    "guess: foreign address rejected");
	ok(r.warning == NULL && !r.to_postmaster, "no warning when matched");
	ok(has_log(&r, "mapped carol to local caroline"), "mapped log line");
	rcpt_result_free(&r);

	is_str(run(&o, "To: x@nowhere.example\n", &r), "pm",
	    "postmaster fallback");
	is_str(r.warning, "recipient address x@nowhere.example didn't match "
	    "any local name", "warning names the one rejected address");
	ok(r.to_postmaster && has_log(&r, "no local matches, forwarding to pm"),
	    "postmaster log line");
	rcpt_result_free(&r);

	is_str(run(&o, "To: x@a.example, y@b.example\n", &r), "pm",
	    "two rejected");
	is_str(r.warning, "no recipient addresses matched declared local names",
	    "warning for several rejected");
	rcpt_result_free(&r);

	is_str(run(&o, "To: a@sub.mx.example.org, b@xmx.example.org\n", &r),
	    "pm", "aka subdomain matches only on a label boundary");
	ok(r.nrejected == 1, "xmx.example.org rejected");
	rcpt_result_free(&r);

	is_str(run(&o, "To: alice@mx.example.org\nResent-Cc: bob@mx.example.org\n",
	    &r), "bob", "Resent-* fields win over To");
	rcpt_result_free(&r);

	is_str(run(&o, "To: alice@mx.example.org, alice@mx.example.org\n", &r),
	    "alice alice", "repeats are kept as the reference keeps them");
	rcpt_result_free(&r);
	o.dedup = true;
	o.wildcard = true;
	is_str(run(&o, "To: alice@mx.example.org, Bob@mx.example.org, "
	    "ALICE@mx.example.org\nCc: bob@mx.example.org, z@mx.example.org, "
	    "Z@mx.example.org\n", &r), "alice bob z",
	    "dedup: repeats dropped, first spelling kept");
	ok(has_log(&r, "mapped ALICE to local alice"),
	    "dedup: every mapping still logged");
	rcpt_result_free(&r);
	o.dedup = o.wildcard = false;

	is_str(run(&o, "Subject: none\n", &r), "pm", "no address fields");
	ok(has_log(&r, "No envelope recipient found, resorting to header "
	    "guessing."), "header guessing announced");
	rcpt_result_free(&r);

	rcpt_find(NULL, 0, &o, &r);
	is_str(locals(&r), "pm", "headerless: postmaster");
	rcpt_result_free(&r);

	o.names = single;
	o.maps = NULL;
	o.nnames = 1;
	is_str(run(&o, "To: x@nowhere.example\n", &r), "solo",
	    "single-drop: the one name, header not read");
	ok(r.nlog == 0 && r.warning == NULL, "single-drop: no log, no warning");
	rcpt_result_free(&r);
	o.wildcard = true;
	is_str(run(&o, "To: zed@mx.example.org\n", &r), "zed",
	    "one name plus * is multidrop; * keeps the name");
	rcpt_result_free(&r);

	o = base_opts();
	o.names = full;
	o.maps = fullmap;
	o.nnames = 2;
	o.localdomains = ld1;
	o.nlocaldomains = 1;
	o.qvirtual = "pre-";
	is_str(run(&o, "To: PRE-Joe@Other.Example, pre-u@x.example.net, "
	    "v@badexample.net\n", &r), "joe u@x.example.net",
	    "qvirtual (case folded), full-address map, localdomains");
	ok(has_log(&r, "mapped address Joe@Other.Example to local joe") &&
	    has_log(&r, "passed through u@x.example.net matching example.net"),
	    "log lines use the stripped address");
	ok(r.nrejected == 1 && strcmp(r.rejected[0], "v@badexample.net") == 0,
	    "localdomains match on a label boundary only");
	rcpt_result_free(&r);
	is_str(run(&o, "To: bob@mx.example.org\n", &r), "pm",
	    "a name not in the list is ignored, not rejected");
	ok(r.nrejected == 0, "ignored address not counted as rejected");
	rcpt_result_free(&r);
}

static void
test_rcpt_envelope(void)
{
	struct rcpt_opts	o = base_opts();
	struct rcpt_result	r;
	int			calls = 0;

	o.envelope = "X-Original-To";
	is_str(run(&o, "X-Original-To-Extra: bob@mx.example.org\n"
	    "X-Original-To: alice@mx.example.org\nTo: carol@mx.example.org\n",
	    &r), "bob", "envelope name is a prefix match");
	ok(has_log(&r, "Parsing envelope \"X-Original-To\" names "
	    "\"X-Original-To-Extra: bob@mx.example.org\""), "envelope log");
	ok(r.envelope_found, "envelope_found");
	rcpt_result_free(&r);
	o.envskip = 1;
	is_str(run(&o, "X-Original-To: bob@mx.example.org\n"
	    "X-Original-To: alice@mx.example.org\n", &r), "alice",
	    "envskip passes over matches");
	rcpt_result_free(&r);
	is_str(run(&o, "X-Original-To: bob@mx.example.org\n"
	    "To: carol@mx.example.org\n", &r), "caroline",
	    "too few envelope fields: header guessing");
	rcpt_result_free(&r);
	o.envskip = 0;
	is_str(run(&o, "X-Original-To:\nTo: alice@mx.example.org\n", &r), "pm",
	    "an empty envelope field still counts (no guessing)");
	rcpt_result_free(&r);

	o.envelope = "Delivered-To";
	o.dropdelivered = true;
	is_str(run(&o, "Delivered-To: Bob <bob@mx.example.org>\n"
	    "Delivered-To: alice@mx.example.org\n", &r), "bob",
	    "dropdelivered keeps the first Delivered-To as the envelope");
	ok(has_log(&r, "Parsing envelope \"Delivered-To\" names "
	    "\"Bob <bob@mx.example.org>\""), "dropped envelope log: value");
	rcpt_result_free(&r);
	o.envelope = "Delivered-To:";
	is_str(run(&o, "Delivered-To: bob@mx.example.org\n"
	    "To: alice@mx.example.org\n", &r), "alice",
	    "dropdelivered with \"Delivered-To:\": not an envelope");
	rcpt_result_free(&r);
	o.dropdelivered = false;

	o.envelope = NULL;
	is_str(run(&o, "Received: from a by mx.example.org with SMTP\n"
	    "\tfor <@relay:bob@mx.example.org>; Mon, 1 Jan 2024\n"
	    "To: alice@mx.example.org\n", &r), "bob",
	    "Received for (route skipped, folded)");
	ok(has_log(&r, "found Received address `bob@mx.example.org'") &&
	    has_log(&r, "line accepted, mx.example.org is an alias of the "
	    "mailserver"), "Received log lines");
	rcpt_result_free(&r);
	is_str(run(&o, "Received: from a by relay.example with SMTP for "
	    "<bob@mx.example.org>;\nTo: alice@mx.example.org\n", &r), "alice",
	    "Received by a foreign host is not an envelope");
	ok(has_log(&r, "line rejected, relay.example is not an alias of the "
	    "mailserver"), "rejected line logged");
	rcpt_result_free(&r);
	is_str(run(&o, "Received: by mx.example.org for alice; for "
	    "<bob@mx.example.org>\n", &r), "bob",
	    "a for token without @ is passed over");
	rcpt_result_free(&r);
	is_str(run(&o, "Received: by mx.example.org for <bob @mx.example.org>\n"
	    "To: alice@mx.example.org\n", &r), "alice",
	    "blank inside the angle: no Received address");
	rcpt_result_free(&r);
	o.no_envelope = true;
	is_str(run(&o, "Received: by mx.example.org for <bob@mx.example.org>\n"
	    "To: alice@mx.example.org\n", &r), "alice",
	    "no envelope: header guessing only");
	rcpt_result_free(&r);
	o.no_envelope = false;

	o.dns = fake_dns;
	o.dns_arg = &calls;
	is_str(run(&o, "To: alice@mx2.example.org, bob@mx.example.org, "
	    "x@nowhere.example\n", &r), "alice bob", "dns hook: MX alias");
	ok(calls == 2, "dns hook not asked for true name or aka (%d calls)",
	    calls);
	ok(!r.dns_error, "no dns error");
	rcpt_result_free(&r);
	is_str(run(&o, "To: alice@broken.example, bob@mx.example.org\n", &r),
	    "alice bob", "dns failure: taken as an alias, as 6.4.37 does");
	ok(r.dns_error && has_log(&r, "forwarding and deletion suppressed due "
	    "to DNS errors"), "dns failure reported and logged");
	rcpt_result_free(&r);
	o.want_log = false;
	run(&o, "To: alice@mx.example.org\n", &r);
	ok(r.nlog == 0, "want_log false: no log lines");
	rcpt_result_free(&r);
}

#define BIG	(10u * 1024 * 1024)

/* Hostile input: bounded time, no crash (ASan in the strict build). */
static void
test_hostile(void)
{
	struct rcpt_opts	 o = base_opts();
	struct rcpt_result	 r;
	struct rcpt_field	 f;
	struct buf		*b = buf_create(64u << 20);
	struct addr_list	 l = { NULL, 0, 0 };
	size_t			 i, n;
	clock_t			 t0, t1;
	char			*big = xmalloc(BIG + 4);
	static const char *const pat[] = {
		",", "\"", "(", "<", ">", "\\", "@", ":", ";", ")"
	};

	buf_append(b, "To: ", 4);
	for (i = 0; i < 100000; i++)
		buf_printf(b, "%s@mx.example.org,", i % 2 ? "alice" : "u");
	f.text = buf_data(b);
	f.len = buf_len(b);
	t0 = clock();
	o.want_log = false;
	rcpt_find(&f, 1, &o, &r);
	ok(r.nlocal == 50000, "100 000 addresses: %zu recipients", r.nlocal);
	rcpt_result_free(&r);
	o.dedup = true;
	rcpt_find(&f, 1, &o, &r);
	ok(r.nlocal == 1, "100 000 addresses, dedup: %zu recipient", r.nlocal);
	rcpt_result_free(&r);
	buf_reset(b);
	buf_append(b, "To: ", 4);
	o.wildcard = true;
	for (i = 0; i < 100000; i++)
		buf_printf(b, "u%zu@mx.example.org,", i % 50000);
	f.text = buf_data(b);
	f.len = buf_len(b);
	rcpt_find(&f, 1, &o, &r);
	ok(r.nlocal == 50000, "dedup of 100 000 wildcard names: %zu",
	    r.nlocal);
	rcpt_result_free(&r);
	o.dedup = o.wildcard = false;
	n = addr_parse_list(f.text + 4, f.len - 4, &l, 0);
	ok(n == 100000, "rfc parser: 100 000 addresses (%zu)", n);
	addr_list_free(&l);
	for (i = 0; i < sizeof(pat) / sizeof(pat[0]); i++) {
		memcpy(big, "To: ", 4);
		memset(big + 4, pat[i][0], BIG);
		f.text = big;
		f.len = BIG + 4;
		t1 = clock();
		rcpt_find(&f, 1, &o, &r);
		ok(r.nlocal >= 1, "10 MB of '%s': done (%.2f s)", pat[i],
		    (double)(clock() - t1) / CLOCKS_PER_SEC);
		rcpt_result_free(&r);
		t1 = clock();
		n = addr_parse_list(f.text, f.len, &l, 1000);
		ok(n <= 1000, "rfc parser on 10 MB of '%s': %zu (%.2f s)",
		    pat[i], n, (double)(clock() - t1) / CLOCKS_PER_SEC);
		addr_list_free(&l);
	}
	ok((double)(clock() - t0) / CLOCKS_PER_SEC < 60.0,
	    "hostile inputs took %.2f s of CPU",
	    (double)(clock() - t0) / CLOCKS_PER_SEC);
	free(big);
	buf_free(b);
}

/* ------------------------------------------------------------ corpus */

static char *
slurp(const char *path, size_t *len)
{
	FILE	*fp;
	char	*p;
	long	 n;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	p = xmalloc((size_t)n + 1);
	*len = fread(p, 1, (size_t)n, fp);
	p[*len] = '\0';
	fclose(fp);
	return p;
}

/* A msgsrc over a memory buffer, lines served with CRLF ends. */
struct memsrc {
	const char	*p, *end;
};

static int
mem_next(void *ctx, struct buf *line, int *eol)
{
	struct memsrc	*s = ctx;
	const char	*nl;
	size_t		 n;

	if (s->p >= s->end)
		return 0;
	nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
	n = nl != NULL ? (size_t)(nl - s->p) : (size_t)(s->end - s->p);
	buf_set(line, s->p, n > 0 && s->p[n - 1] == '\r' ? n - 1 : n);
	*eol = nl == NULL ? CONN_EOL_NONE : CONN_EOL_CRLF;
	s->p += n + (nl != NULL);
	return 1;
}

static int
collect(void *arg, const char *line, size_t len, int eol)
{
	struct buf	*b = arg;

	(void)eol;
	buf_append(b, line, len);
	buf_append(b, "\n", 1);
	return 0;
}

/* tests/multidrop/dns.zone: "NAME TYPE [VALUE]" records. */
struct zone {
	char	**name, **type, **value;
	size_t	  n;
};

static void
zone_load(struct zone *z, const char *path)
{
	char	*text, *line, *save = NULL, *f[3];
	size_t	 len, k;

	memset(z, 0, sizeof(*z));
	if ((text = slurp(path, &len)) == NULL)
		return;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strchr(line, '#') != NULL)
			*strchr(line, '#') = '\0';
		f[0] = strtok(line, " \t");
		f[1] = f[0] ? strtok(NULL, " \t") : NULL;
		f[2] = f[1] ? strtok(NULL, " \t") : NULL;
		if (f[1] == NULL)
			continue;
		k = z->n++;
		z->name = xreallocarray(z->name, z->n, sizeof(char *));
		z->type = xreallocarray(z->type, z->n, sizeof(char *));
		z->value = xreallocarray(z->value, z->n, sizeof(char *));
		z->name[k] = xstrdup(f[0]);
		z->type[k] = xstrdup(f[1]);
		z->value[k] = xstrdup(f[2] ? f[2] : "");
	}
	free(text);
}

static void
zone_free(struct zone *z)
{
	size_t	i;

	for (i = 0; i < z->n; i++) {
		free(z->name[i]);
		free(z->type[i]);
		free(z->value[i]);
	}
	free(z->name);
	free(z->type);
	free(z->value);
}

/* The k-th (from 0) value of NAME's TYPE records, or NULL. */
static const char *
zone_get(const struct zone *z, const char *name, const char *type, size_t k)
{
	size_t	i;

	for (i = 0; i < z->n; i++)
		if (strcasecmp(z->name[i], name) == 0 &&
		    strcmp(z->type[i], type) == 0 && k-- == 0)
			return z->value[i];
	return NULL;
}

/* Canonical name of name (CNAMEs followed) if it has an address. */
static const char *
zone_canon(const struct zone *z, const char *name)
{
	struct in_addr	ia;
	const char	*t;
	int		 i;

	if (inet_aton(name, &ia))
		return name;
	for (i = 0; i < 8 && (t = zone_get(z, name, "CNAME", 0)); i++)
		name = t;
	return zone_get(z, name, "A", 0) ? name : NULL;
}

/* Whether a and b (names) share an address. */
static bool
zone_same_addr(const struct zone *z, const char *a, const char *b)
{
	const char	*ca = zone_canon(z, a), *cb = zone_canon(z, b), *x, *y;
	size_t		 i, j;

	if (ca == NULL || cb == NULL)
		return false;
	for (i = 0; (x = inet_addr(ca) != INADDR_NONE ? (i ? NULL : ca) :
	    zone_get(z, ca, "A", i)) != NULL; i++)
		for (j = 0; (y = inet_addr(cb) != INADDR_NONE ? (j ? NULL :
		    cb) : zone_get(z, cb, "A", j)) != NULL; j++)
			if (strcmp(x, y) == 0)
				return true;
	return false;
}

/* The log lines of one message, rcpt's and the fake resolver's. */
struct lines {
	char	**v;
	size_t	  n;
};

static void
lines_add(struct lines *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(char *));
	l->v[l->n++] = xstrdup(s);
}

static void
lines_free(struct lines *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The fake resolver's state. */
struct fakedns {
	const struct zone	*z;
	const char		*truename, *pollname;
	bool			 checkalias;
	struct lines		*log;
};

/*
 * The alias test as 6.4.37 answers it against dns.zone: canonical name
 * equal to the true name; with checkalias, a shared address; an MX whose
 * canonical name is the true name.  A failing name logs the reference's
 * two lines and is a temporary failure.
 */
static enum rcpt_alias
zone_alias(void *arg, const char *name)
{
	struct fakedns	*d = arg;
	const char	*c, *mx;
	char		*line;
	size_t		 k;

	if (zone_get(d->z, name, "SERVFAIL", 0) != NULL) {
		line = xasprintf("nameserver failure while looking for '%s' "
		    "during poll of %s: Temporary failure in name resolution",
		    name, d->pollname);
		lines_add(d->log, line);
		free(line);
		line = xasprintf("nameserver failure while looking for `%s' "
		    "during poll of %s.", name, d->pollname);
		lines_add(d->log, line);
		free(line);
		return RCPT_ALIAS_TEMPFAIL;
	}
	if ((c = zone_canon(d->z, name)) != NULL &&
	    strcasecmp(c, d->truename) == 0)
		return RCPT_ALIAS_YES;
	if (d->checkalias && zone_same_addr(d->z, name, d->truename))
		return RCPT_ALIAS_YES;
	for (k = 0; (mx = zone_get(d->z, name, "MX", k)) != NULL; k++)
		if ((c = zone_canon(d->z, mx)) != NULL &&
		    strcasecmp(c, d->truename) == 0)
			return RCPT_ALIAS_YES;
	return RCPT_ALIAS_NO;
}

/* rcpt's log hook for the corpus: every level into the lines. */
static void
collect_log(void *arg, int level, const char *line)
{
	(void)level;
	lines_add(arg, line);
}

/* One rcfile variant, as the corpus test needs it. */
struct variant {
	struct cfg		*cfg;
	struct cfg_query	*q;
	struct rcpt_opts	 ro;
	struct msg_opts		 mo;
	const char		**names, **maps, **aka, **ld;
	struct fakedns		 dns;
	struct lines		 log;
};

static int
variant_load(struct variant *v, const char *path, const struct zone *z)
{
	struct cfg_errors	 e = { NULL, 0, 0 };
	struct cfg_opts		*o;
	char			*text, *p;
	size_t			 len, i;

	if ((text = slurp(path, &len)) == NULL)
		return -1;
	while ((p = strstr(text, "@POP3@")) != NULL ||
	    (p = strstr(text, "@SMTP@")) != NULL)
		memcpy(p, "110   ", 6);
	v->cfg = cfg_new();
	if (cfg_parse_buffer(v->cfg, path, text, len, &e, false) != 0 ||
	    v->cfg->queries == NULL) {
		for (i = 0; i < e.n; i++)
			printf("# %s\n", e.msg[i]);
		cfg_errors_free(&e);
		free(text);
		return -1;
	}
	free(text);
	v->q = v->cfg->queries;
	o = &v->q->o;
	memset(&v->ro, 0, sizeof(v->ro));
	v->names = xcalloc(o->localnames.n + 1, sizeof(char *));
	v->maps = xcalloc(o->localnames.n + 1, sizeof(char *));
	for (i = 0; i < o->localnames.n; i++) {
		v->names[i] = o->localnames.v[i];
		v->maps[i] = o->localnames.map ? o->localnames.map[i] : NULL;
	}
	v->aka = xcalloc(o->aka.n + 1, sizeof(char *));
	for (i = 0; i < o->aka.n; i++)
		v->aka[i] = o->aka.v[i];
	v->ld = xcalloc(o->localdomains.n + 1, sizeof(char *));
	for (i = 0; i < o->localdomains.n; i++)
		v->ld[i] = o->localdomains.v[i];
	v->ro.truename = o->via != NULL ? o->via : v->q->pollname;
	memset(&v->log, 0, sizeof(v->log));
	if (o->dns != FLAG_FALSE) {
		if (zone_canon(z, v->ro.truename) != NULL)
			v->ro.truename = zone_canon(z, v->ro.truename);
		v->dns.z = z;
		v->dns.truename = v->ro.truename;
		v->dns.pollname = v->q->pollname;
		v->dns.checkalias = o->checkalias == FLAG_TRUE;
		v->dns.log = &v->log;
		v->ro.dns = zone_alias;
		v->ro.dns_arg = &v->dns;
	}
	v->ro.log = collect_log;
	v->ro.log_arg = &v->log;
	v->ro.aka = v->aka;
	v->ro.naka = o->aka.n;
	v->ro.localdomains = v->ld;
	v->ro.nlocaldomains = o->localdomains.n;
	v->ro.names = v->names;
	v->ro.maps = v->maps;
	v->ro.nnames = o->localnames.n;
	v->ro.wildcard = o->wildcard;
	v->ro.envelope = o->envelope;
	v->ro.no_envelope = o->no_envelope;
	v->ro.envskip = o->envskip.set ? o->envskip.v : 0;
	v->ro.qvirtual = o->qvirtual;
	v->ro.dropdelivered = o->dropdelivered == FLAG_TRUE;
	v->ro.postmaster = v->cfg->g.postmaster;
	v->ro.want_log = true;
	memset(&v->mo, 0, sizeof(v->mo));
	v->mo.truename = v->ro.truename;
	v->mo.localhost = "vm";
	v->mo.proto = "POP3";
	v->mo.pollname = v->q->pollname;
	v->mo.remote = "alice";
	v->mo.user = "alice";
	v->mo.rewrite = o->rewrite != FLAG_FALSE;
	v->mo.keep_return_path = true;
	return 0;
}

static void
variant_free(struct variant *v)
{
	lines_free(&v->log);
	free(v->names);
	free(v->maps);
	free(v->aka);
	free(v->ld);
	cfg_free(v->cfg);
}

/* Our result for one message in the expected files' format, into out. */
static void
corpus_one(struct variant *v, const char *msgtext, size_t len,
    struct buf *out)
{
	struct msg		*m = msg_new(&v->mo);
	struct memsrc		 src = { msgtext, msgtext + len };
	struct msgsrc		 ms = { mem_next, &src };
	const struct msg_info	*info;
	struct buf		*hb = buf_create(1 << 26);
	struct fields		 fs;
	struct rcpt_result	 r;
	const char		*p, *nl;
	size_t			 i;

	if (msg_read_header(m, &ms, &info) != 0 || info->bad_header) {
		buf_printf(out, "log incorrect header line found - see "
		    "manpage for bad-header option\nstatus not-delivered\n");
		goto done;
	}
	if (!info->headerless)
		msg_write_fields(m, collect, hb);
	buf_append(hb, "", 0);
	fields_split(&fs, buf_data(hb));
	lines_free(&v->log);
	rcpt_find(fs.f, fs.n, &v->ro, &r);
	fields_free(&fs);
	if (!r.dns_error)
		for (i = 0; i < r.nlocal; i++)
			buf_printf(out, "rcpt %s%s\n", r.local[i],
			    strchr(r.local[i], '@') ? "" : "@localhost");
	for (i = 0; i < v->log.n; i++) {
		p = v->log.v[i];
		nl = strchr(p, '\n');
		buf_printf(out, "log %.*s\n",
		    (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
		while (nl != NULL) {
			p = nl + 1;
			nl = strchr(p, '\n');
			buf_printf(out, "log   %.*s\n",
			    (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
		}
	}
	if (r.warning != NULL && !r.dns_error)
		buf_printf(out, "warn %s\n", r.warning);
	buf_printf(out, "status %s\n", r.dns_error ? "not-delivered" :
	    "delivered");
	rcpt_result_free(&r);
done:
	buf_free(hb);
	msg_free(m);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The expected block of name (after its "== name" line) in exp, or NULL. */
static char *
expected_block(const char *exp, const char *name)
{
	char		*key = xasprintf("== %s\n", name);
	const char	*p = strstr(exp, key), *e;

	if (p == NULL) {
		free(key);
		return NULL;
	}
	p += strlen(key);
	free(key);
	e = strstr(p, "\n== ");
	return xstrndup(p, e ? (size_t)(e + 1 - p) : strlen(p));
}

static void
test_corpus(void)
{
	const char	*top = getenv("top_srcdir");
	char		*dir, *path, *exp, *msg, *want;
	char		**msgs = NULL, **rcs = NULL;
	size_t		 nmsgs = 0, nrcs = 0, i, j, len, elen, match, total = 0;
	size_t		 all = 0;
	DIR		*d;
	struct dirent	*de;
	struct buf	*got = buf_create(1 << 26);
	struct variant	 v;
	struct zone	 z;

	if (top == NULL)
		top = ".";
	path = xasprintf("%s/tests/multidrop/dns.zone", top);
	zone_load(&z, path);
	free(path);
	dir = xasprintf("%s/tests/multidrop/msgs", top);
	if ((d = opendir(dir)) == NULL) {
		ok(0, "corpus directory %s", dir);
		free(dir);
		buf_free(got);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".eml") != NULL) {
			msgs = xreallocarray(msgs, nmsgs + 1, sizeof(char *));
			msgs[nmsgs++] = xstrdup(de->d_name);
		}
	closedir(d);
	free(dir);
	qsort(msgs, nmsgs, sizeof(char *), cmp_str);
	ok(nmsgs >= 60, "corpus has %zu messages", nmsgs);
	dir = xasprintf("%s/tests/multidrop/rc", top);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strstr(de->d_name, ".rc") != NULL) {
				rcs = xreallocarray(rcs, nrcs + 1,
				    sizeof(char *));
				rcs[nrcs++] = xstrndup(de->d_name,
				    strlen(de->d_name) - 3);
			}
		closedir(d);
	}
	free(dir);
	qsort(rcs, nrcs, sizeof(char *), cmp_str);
	for (i = 0; i < nrcs; i++) {
		path = xasprintf("%s/tests/multidrop/rc/%s.rc", top, rcs[i]);
		if (variant_load(&v, path, &z) != 0) {
			ok(0, "%s loads", path);
			free(path);
			continue;
		}
		free(path);
		path = xasprintf("%s/tests/multidrop/expected/%s.txt", top,
		    rcs[i]);
		exp = slurp(path, &elen);
		free(path);
		match = 0;
		for (j = 0; j < nmsgs; j++) {
			path = xasprintf("%s/tests/multidrop/msgs/%s", top,
			    msgs[j]);
			msg = slurp(path, &len);
			free(path);
			msgs[j][strlen(msgs[j]) - 4] = '\0';
			want = exp ? expected_block(exp, msgs[j]) : NULL;
			buf_reset(got);
			if (msg != NULL)
				corpus_one(&v, msg, len, got);
			buf_append(got, "", 0);
			if (want != NULL && strcmp(want, buf_data(got)) == 0)
				match++;
			else
				printf("# %s %s differs\n# want:\n#  %.600s\n"
				    "# got:\n#  %.600s\n", rcs[i], msgs[j],
				    want ? want : "(none)", buf_data(got));
			msgs[j][strlen(msgs[j])] = '.';
			free(want);
			free(msg);
		}
		ok(match == nmsgs, "corpus %s: %zu of %zu messages as 6.4.37",
		    rcs[i], match, nmsgs);
		total += match;
		all += nmsgs;
		free(exp);
		variant_free(&v);
	}
	ok(nrcs >= 5, "%zu rcfile variants, %zu of %zu cases match", nrcs,
	    total, all);
	for (i = 0; i < nmsgs; i++)
		free(msgs[i]);
	for (i = 0; i < nrcs; i++)
		free(rcs[i]);
	free(msgs);
	free(rcs);
	buf_free(got);
	zone_free(&z);
}

/* The per-poll DNS verdict cache of deliver_md.c. */
static void
test_dnscache(void)
{
	struct dns_cache *c = dnsc_create(3);
	char		  name[32];
	int		  i, kept = 0;

	ok(dnsc_get(c, "a.example") == -1, "dnscache: unknown name");
	dnsc_put(c, "a.example", 1);
	dnsc_put(c, "B.Example", 0);
	ok(dnsc_get(c, "A.EXAMPLE") == 1 && dnsc_get(c, "b.example") == 0,
	    "dnscache: both verdicts, names compared without case");
	dnsc_put(c, "a.example", 0);
	ok(dnsc_get(c, "a.example") == 0, "dnscache: a verdict replaced");
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		dnsc_put(c, name, 1);
	}
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		kept += dnsc_get(c, name) == 1;
	}
	ok(kept == 1 && dnsc_get(c, "b.example") == 0,
	    "dnscache: at most max names kept, the first ones");
	dnsc_free(c);
	dnsc_free(NULL);
}

int
main(void)
{
	test_dnscache();
	test_iter();
	test_rfc();
	test_rcpt_basic();
	test_rcpt_envelope();
	test_hostile();
	test_corpus();
	return done_testing();
}
