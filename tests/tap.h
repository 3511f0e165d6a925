/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A few lines of TAP so meson counts every case.  Each test function is a
 * scenario; CHECK records a failure with file:line and goes on. */
#ifndef OH_TAP_H
#define OH_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed_total, tap_case_failed;
static char tap_skip_reason[256];       /* set by SKIP: the case did not run */

/* In a test function: this case cannot run here (a kernel feature it needs
 * is missing); REASON, printf-style, says why.  Return right after it. */
#define SKIP(...) snprintf(tap_skip_reason, sizeof tap_skip_reason, __VA_ARGS__)

#define CHECK(cond) do { \
        if (!(cond)) { \
                printf("#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                tap_case_failed = 1; \
        } \
} while (0)

#define CHECK_EQ(a, b) do { \
        long long _a = (long long)(a), _b = (long long)(b); \
        if (_a != _b) { \
                printf("#   %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, _a, #b, _b); \
                tap_case_failed = 1; \
        } \
} while (0)

#define CHECK_STREQ(a, b) do { \
        const char *_a = (a), *_b = (b); \
        if (!_a || !_b || strcmp(_a, _b) != 0) { \
                printf("#   %s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)"); \
                tap_case_failed = 1; \
        } \
} while (0)

#define RUN(fn) do { \
        tap_case_failed = 0; \
        tap_skip_reason[0] = '\0'; \
        fn(); \
        tap_count++; \
        tap_failed_total += tap_case_failed; \
        if (!tap_case_failed && tap_skip_reason[0]) \
                printf("ok %d - %s # SKIP %s\n", tap_count, #fn, tap_skip_reason); \
        else \
                printf("%s %d - %s\n", tap_case_failed ? "not ok" : "ok", tap_count, #fn); \
        fflush(stdout); \
} while (0)

#define TAP_DONE() (printf("1..%d\n", tap_count), tap_failed_total ? 1 : 0)

#endif
