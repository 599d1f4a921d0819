/*
 * fuzz_netrc.c: libFuzzer target for the .netrc reader.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cfg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	free(cfg_netrc_lookup((const char *)data, len, "mail.example.com",
	    "user"));
	return 0;
}
