/*
 * fuzz_pop3.c: libFuzzer target for the POP3 reply parsers: every input
 * line goes through each parser.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pop3_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char		*p = (const char *)data, *end = p + len, *nl;
	const char		*t;
	size_t			 n, skip;
	unsigned long		 u;
	unsigned long long	 o;
	struct pop3_caps	 caps;

	memset(&caps, 0, sizeof(caps));
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (pop3_status(p, n, &t, &skip) != POP3_BAD) {
			(void)pop3_errclass(t, skip);
			(void)pop3_parse_stat(t, skip, &u, &o);
		}
		(void)pop3_parse_list(p, n, &u, &o);
		(void)pop3_parse_uidl(p, n, &u, &t, &skip);
		pop3_parse_capa(&caps, p, n);
		(void)pop3_apop_timestamp(p, n, &t, &skip);
		(void)pop3_multiline_end(p, n, &skip);
	}
	return 0;
}
