/*
 * fuzz_uidstore.c: libFuzzer target for the idfile loader.  Whatever is
 * loaded must save to a file that loads back cleanly to the same store
 * (same bytes when saved again).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uidstore.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct uid_store *a = uid_create(NULL), *b = uid_create(NULL);
	char		*d1, *d2;
	size_t		 l1, l2;

	uid_load_mem(a, data, len);
	uid_save_mem(a, &d1, &l1);
	uid_load_mem(b, d1, l1);
	uid_save_mem(b, &d2, &l2);
	if (l1 != l2 || memcmp(d1, d2, l1) != 0 || uid_nwarnings(b) != 0 ||
	    uid_count(a, NULL) != uid_count(b, NULL))
		abort();
	free(d1);
	free(d2);
	uid_free(a);
	uid_free(b);
	return 0;
}
