/*
 * fuzz_rcpt.c: libFuzzer target for the address scanners and multidrop
 * recipient discovery.  The first byte picks the options (envelope kind,
 * envskip, wildcard, qvirtual, localdomains, dedup, DNS answers), the rest
 * is a header block: "\n" ends a line, a line starting with a blank
 * continues the field before it.  Every field also goes through both
 * address readers, and the results are checked for basic sanity.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "rcpt.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const names[] = { "alice", "bob", "carol", "j@x.example" };
static const char *const maps[] = { NULL, NULL, "caroline", "joe" };
static const char *const aka[] = { "mx.example.org", "b" };
static const char *const ld[] = { "example.org", "a" };
static const char *const envs[] = {
	NULL, "Received", "X-Original-To", "Delivered-To", "To:", "X"
};

/* Fake resolver: the answer depends on the name's first byte. */
static enum rcpt_alias
fdns(void *arg, const char *name)
{
	(void)arg;
	return (enum rcpt_alias)((unsigned char)name[0] % 3);
}

/* Cut data into fields (continuation lines join the field before). */
static size_t
split(const char *p, size_t n, struct rcpt_field **fp)
{
	struct rcpt_field	*f = NULL;
	size_t			 nf = 0, i, start = 0;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 < n && (p[i + 1] == ' ' || p[i + 1] == '\t'))
			continue;
		f = xreallocarray(f, nf + 1, sizeof(*f));
		f[nf].text = p + start;
		f[nf].len = i + 1 - start;
		nf++;
		start = i + 1;
	}
	if (start < n) {
		f = xreallocarray(f, nf + 1, sizeof(*f));
		f[nf].text = p + start;
		f[nf].len = n - start;
		nf++;
	}
	*fp = f;
	return nf;
}

/* Both address readers over one field; the compatible one must end. */
static void
readers(const struct rcpt_field *f, struct buf *a)
{
	struct addr_iter	it;
	struct addr_list	l = { NULL, 0, 0 };
	size_t			k = 0, i;

	addr_iter_init(&it, f->text, f->len, true);
	while (addr_iter_next(&it, a) == 1)
		if (++k > f->len + 1)
			abort();	/* more addresses than bytes */
	addr_parse_list(f->text, f->len, &l, 0);
	for (i = 0; i < l.n; i++)
		if (l.v[i].local == NULL || l.v[i].local[0] == '\0')
			abort();
	addr_list_free(&l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rcpt_opts	 o;
	struct rcpt_result	 r;
	struct rcpt_field	*f;
	struct buf		*a;
	size_t			 nf, i;
	uint8_t			 opt;

	if (size < 1)
		return 0;
	opt = data[0];
	memset(&o, 0, sizeof(o));
	o.truename = "pop.example.org";
	o.aka = aka;
	o.naka = 2;
	o.localdomains = ld;
	o.nlocaldomains = (opt & 0x40) ? 2 : 0;
	o.names = names;
	o.maps = maps;
	o.nnames = (opt & 0x08) ? 1 : 4;
	o.wildcard = (opt & 0x10) != 0;
	o.envelope = envs[opt % 6];
	o.no_envelope = (opt & 0x07) == 7;
	o.envskip = (opt >> 5) & 1;
	o.qvirtual = (opt & 0x20) ? "pre-" : NULL;
	o.dropdelivered = (opt & 0x80) != 0;
	o.postmaster = "pm";
	o.dns = (opt & 0x04) ? fdns : NULL;
	o.want_log = (opt & 0x02) != 0;
	o.dedup = (opt & 0x01) != 0;
	nf = split((const char *)data + 1, size - 1, &f);
	rcpt_find(f, nf, &o, &r);
	if (r.nlocal == 0 && nf > 0)
		abort();		/* always someone: a name or postmaster */
	if (r.warning != NULL && strlen(r.warning) > RCPT_WARNING_MAX)
		abort();
	for (i = 0; i < r.nlocal; i++)
		if (strlen(r.local[i]) > RCPT_ADDR_MAX)
			abort();
	rcpt_result_free(&r);
	a = buf_create(size + 16);
	for (i = 0; i < nf; i++)
		readers(&f[i], a);
	buf_free(a);
	free(f);
	return 0;
}
