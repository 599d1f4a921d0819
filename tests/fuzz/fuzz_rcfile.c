/*
 * fuzz_rcfile.c: libFuzzer target for the rcfile parser and the resolve
 * and dump steps that follow it.  Build with --enable-fuzzing (clang).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cfg.h"
#include "cfg_resolve.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct cfg_cmdline cmd;
	static const struct cfg_env env = {
		"fuzz", "/nonexistent", "/nonexistent", false, 1000,
		"host.example", "/nonexistent"
	};
	struct cfg		*c = cfg_new();
	struct cfg_errors	 errs = { 0 }, warn = { 0 };
	FILE			*devnull;

	if (cfg_parse_buffer(c, "fuzz.rc", (const char *)data, len, &errs,
	    false) == 0 && cfg_resolve(c, &cmd, &env, &errs, &warn) == 0 &&
	    (devnull = fopen("/dev/null", "w")) != NULL) {
		cfg_dump(devnull, c);
		fclose(devnull);
	}
	cfg_errors_free(&errs);
	cfg_errors_free(&warn);
	cfg_free(c);
	return 0;
}
