/* tap.h: a tiny TAP producer for unit tests. */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) do {						\
	tap_n++;							\
	if (cond)							\
		printf("ok %d - ", tap_n);				\
	else {								\
		printf("not ok %d - ", tap_n);				\
		tap_failed++;						\
	}								\
	printf(__VA_ARGS__);						\
	printf("\n");							\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *g_ = (got), *w_ = (want);				\
	int eq_ = (g_ == NULL && w_ == NULL) ||				\
	    (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0);		\
	ok(eq_, __VA_ARGS__);						\
	if (!eq_)							\
		printf("#   got '%s', want '%s'\n", g_ ? g_ : "(null)",	\
		    w_ ? w_ : "(null)");				\
} while (0)

#define done_testing() (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)

#endif
