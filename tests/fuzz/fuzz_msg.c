/*
 * fuzz_msg.c: libFuzzer target for the header processing: the first
 * byte picks options, the rest is a message read in small pieces
 * ("\r\n" or "\n" ends a line), then written out.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fsrc {
	const char	*p, *end;
};

/* msgsrc over the input: lines, long ones in pieces of 7 bytes. */
static int
fnext(void *ctx, struct buf *line, int *eol)
{
	struct fsrc	*s = ctx;
	const char	*nl;
	size_t		 n;

	if (s->p >= s->end)
		return 0;
	nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
	n = nl != NULL ? (size_t)(nl - s->p) : (size_t)(s->end - s->p);
	if (n > 7) {
		buf_set(line, s->p, 7);
		s->p += 7;
		*eol = CONN_EOL_NONE;
		return 1;
	}
	*eol = nl == NULL ? CONN_EOL_NONE : CONN_EOL_LF;
	if (nl != NULL && n > 0 && s->p[n - 1] == '\r') {
		n--;
		*eol = CONN_EOL_CRLF;
	}
	buf_set(line, s->p, n);
	s->p = nl != NULL ? nl + 1 : s->end;
	return 1;
}

static int
fout(void *arg, const char *line, size_t len, int eol)
{
	(void)arg;
	(void)line;
	(void)len;
	(void)eol;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct msg_opts		 o = { 0 };
	struct msg_received	 rcv = { "a@b", "single-drop", 0, "w" };
	struct fsrc		 s;
	struct msgsrc		 src = { fnext, &s };
	const struct msg_info	*info;
	struct msg		*m;
	char			*snd;

	if (len == 0)
		return 0;
	o.truename = data[0] & 1 ? "127.0.0.1" : "pop.example.com";
	o.localhost = "vm";
	o.proto = "POP3";
	o.remote = "user";
	o.rewrite = (data[0] & 2) == 0;
	o.keep_return_path = data[0] & 4;
	o.dropstatus = data[0] & 8;
	o.tracepolls = data[0] & 16;
	s.p = (const char *)data + 1;
	s.end = (const char *)data + len;
	m = msg_new(&o);
	if (msg_read_header(m, &src, &info) == 0) {
		(void)msg_write_header(m, &rcv, fout, NULL);
		snd = msg_smtp_sender(info, &o);
		free(snd);
	}
	msg_free(m);
	return 0;
}
