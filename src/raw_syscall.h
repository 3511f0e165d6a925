/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* System calls made without the C library: for code that runs in memory
 * it shares with a process that goes on using that library (CLONE_VM),
 * where syscall() would write errno, a variable of the other process's
 * thread.  Returns the kernel's value: the result or -errno.
 *
 * OH_HAVE_RAW_SYSCALL is 0 for processors whose convention is not written
 * out here (x32 and aarch64's ILP32 included: long is 32 bits there), and
 * in a build with sanitizers (OH_SANITIZED, from meson: their
 * instrumentation of a caller reaches their runtime's per-thread state,
 * which is no safer to share); oh_raw_syscall6() is then syscall(), and
 * its callers must not share memory. */
#ifndef OH_RAW_SYSCALL_H
#define OH_RAW_SYSCALL_H

#if (defined(__x86_64__) || defined(__aarch64__)) && !defined(__ILP32__) && !defined(OH_SANITIZED) && \
        !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define OH_HAVE_RAW_SYSCALL 1
#else
#define OH_HAVE_RAW_SYSCALL 0
#endif

#if OH_HAVE_RAW_SYSCALL && defined(__x86_64__)
static inline long oh_raw_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
        register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
        long ret;

        __asm__ volatile("syscall"
                         : "=a"(ret)
                         : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                         : "rcx", "r11", "memory");
        return ret;
}
#elif OH_HAVE_RAW_SYSCALL && defined(__aarch64__)
static inline long oh_raw_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
        register long x8 __asm__("x8") = nr, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c,
                      x3 __asm__("x3") = d, x4 __asm__("x4") = e, x5 __asm__("x5") = f;

        __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
        return x0;
}
#else
#include <errno.h>
#include <unistd.h>

static inline long oh_raw_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
        long ret = syscall(nr, a, b, c, d, e, f);

        return ret < 0 ? -errno : ret;
}
#endif

#endif
