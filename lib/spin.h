/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Adaptive busy-polling for the request/response hot path.
 *
 * A delegated open is two wake-ups (client -> broker -> client).  On a VM a
 * wake-up of a sleeping CPU costs tens of microseconds, far more than the
 * work itself, so right after activity each side polls without sleeping for
 * a short while (OPENHOOK_SPIN_US, default OH_SPIN_US_DEFAULT) before it
 * blocks.  Polling only ever follows activity: an idle broker sleeps.  With
 * one usable CPU the peer cannot run while we poll, so there it is off.
 *
 * Header-only so the library, the shim and the seccomp supervisor share it
 * without a new build target; each user keeps its own cached setting. */
#ifndef OH_SPIN_H
#define OH_SPIN_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define OH_SPIN_US_DEFAULT 50u
/* Longer polls cost more CPU than any wake-up they could save. */
#define OH_SPIN_US_MAX 1000u

static inline uint64_t oh_spin_now_ns(void)
{
        struct timespec ts;

        /* vDSO: no syscall, unlike everything else the pollers call. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Polling is pointless when we may run on one CPU only: the peer needs
 * it.  The affinity mask says so without opening a file (sysconf() reads
 * /sys/devices/system/cpu/online, an open every confined program would pay
 * a seccomp notification for at start). */
static inline bool single_cpu(void)
{
        cpu_set_t set;

        return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) == 1;
}

static inline uint64_t oh_spin_compute_ns(void)
{
        const char *env = getenv("OPENHOOK_SPIN_US");
        unsigned long us = OH_SPIN_US_DEFAULT;

        if (env && *env) {
                char *end;
                unsigned long v = strtoul(env, &end, 10);
                if (*end == '\0')
                        us = v < OH_SPIN_US_MAX ? v : OH_SPIN_US_MAX;
        }
        if (us == 0 || single_cpu())
                return 0;
        return (uint64_t) us * 1000u;
}

/* How long to poll after activity, in ns; 0: never.  Computed on first use
 * (cheap to call again); racing first calls compute the same value. */
static inline uint64_t oh_spin_ns(void)
{
        static uint64_t cached = UINT64_MAX;
        uint64_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);

        if (v == UINT64_MAX) {
                v = oh_spin_compute_ns();
                __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
        }
        return v;
}

/* How long one poller polls, learnt from how its polls end.  A poll that
 * ends without the awaited event (a miss) means the peer did not get to
 * run in time: most often it shares our CPU with us, or the machine is
 * busy, and then polling only delays it.  Each miss halves the window;
 * below a sixteenth of the maximum polling stops, except for one probe at
 * full length every OH_SPIN_PROBE_EVERY rounds; a hit restores it all.
 * Fields are updated with relaxed atomics: many threads may share one
 * state, and an approximate count is all it needs. */
#define OH_SPIN_PROBE_EVERY 64u

struct oh_spin_state {
        uint64_t window;        /* ns; 0 once backed off */
        unsigned int rounds;    /* polls skipped since backing off */
        bool started;
};

/* Returns the time to poll now (ns), 0 to block at once. */
static inline uint64_t oh_spin_begin(struct oh_spin_state *s)
{
        uint64_t max = oh_spin_ns();

        if (max == 0)
                return 0;
        if (!__atomic_load_n(&s->started, __ATOMIC_RELAXED)) {
                __atomic_store_n(&s->window, max, __ATOMIC_RELAXED);
                __atomic_store_n(&s->started, true, __ATOMIC_RELAXED);
        }
        uint64_t w = __atomic_load_n(&s->window, __ATOMIC_RELAXED);
        if (w > 0)
                return w;
        if (__atomic_add_fetch(&s->rounds, 1, __ATOMIC_RELAXED) % OH_SPIN_PROBE_EVERY != 0)
                return 0;
        return max;
}

/* Records how a poll begun with oh_spin_begin() ended. */
static inline void oh_spin_end(struct oh_spin_state *s, bool hit)
{
        uint64_t max = oh_spin_ns();
        uint64_t w = __atomic_load_n(&s->window, __ATOMIC_RELAXED);

        if (hit)
                w = max;
        else
                w = w / 2 < max / 16 ? 0 : w / 2;
        __atomic_store_n(&s->window, w, __ATOMIC_RELAXED);
}

/* A loop that waits for events with a timeout (epoll_wait, poll): after
 * work it polls (timeout 0) for the learnt window, then sleeps (-1). */
struct oh_poller {
        struct oh_spin_state state;
        uint64_t until;                 /* polling until then (ns); 0: not */
};

static inline void oh_spin_pause(void);

/* The timeout for the next wait.  Past the window the poll was a miss. */
static inline int oh_poller_timeout(struct oh_poller *p)
{
        if (p->until == 0)
                return -1;
        if (oh_spin_now_ns() < p->until) {
                oh_spin_pause();
                return 0;
        }
        oh_spin_end(&p->state, false);
        p->until = 0;
        return -1;
}

/* An event arrived: a hit if we were polling for it. */
static inline void oh_poller_woke(struct oh_poller *p)
{
        if (p->until)
                oh_spin_end(&p->state, true);
}

/* Work is done: opens the next window.  Returns whether we now poll. */
static inline bool oh_poller_start(struct oh_poller *p)
{
        uint64_t window = oh_spin_begin(&p->state);

        p->until = window ? oh_spin_now_ns() + window : 0;
        return p->until != 0;
}

/* Between two polls: a peer that is runnable on our CPU (woken there by
 * our own message) gets it now instead of after our window; with nothing
 * else to run this returns at once. */
static inline void oh_spin_pause(void)
{
        sched_yield();
}

#endif
