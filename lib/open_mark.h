/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mark on the shim's own read-only opens of the direct set.
 *
 * In seccomp mode every open() would be a user notification, tens of
 * microseconds, even where the supervisor then only lets the kernel go
 * on (a read of the direct set).  The shim sets this open flag bit, which
 * the kernel ignores (open(2) and openat(2) drop flags they do not know),
 * on a read-only open it leaves to the kernel, and the filter lets such
 * an open through without a notification.  Landlock stays the wall: a
 * program that forges the mark reaches nothing more than its direct set,
 * read-only -- what a notified read of it is let through to anyway.  The
 * filter lets the mark through only where Landlock is applied. */
#ifndef OH_OPEN_MARK_H
#define OH_OPEN_MARK_H

/* Bit 30: no open flag on any architecture, not in the kernel's
 * VALID_OPEN_FLAGS (unlike bit 26, once __FMODE_NONOTIFY). */
#define OH_OPEN_MARK 0x40000000u

#endif
