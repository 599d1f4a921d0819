/*
 * fuzz_imap.c: libFuzzer target for the IMAP response parsers: every
 * input line goes through the response parser, the capability parser
 * and, as a FETCH piece, the resumable FETCH parser (pieces after a
 * literal continue the same FETCH, as the client feeds them).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imap_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char		*p = (const char *)data, *end = p + len, *nl;
	struct imap_resp	 r;
	struct imap_caps	 caps;
	struct imap_fetch	 f;
	uint64_t		 lit, v;
	size_t			 n;
	int			 k = 0;

	imap_fetch_init(&f);
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (imap_parse_response(p, n, &r) == 0 && r.code != NULL)
			(void)imap_number(r.codearg, r.codearglen, UINT32_MAX,
			    &v);
		imap_parse_caps(&caps, p, n);
		(void)imap_line_literal(p, n, &lit);
		if (k != 1)
			imap_fetch_init(&f);
		k = imap_fetch_parse(&f, p, n, &lit);
	}
	return 0;
}
