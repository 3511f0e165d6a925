/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Adaptive polling (lib/spin.h): how long a poller polls, and how it learns
 * to stop.  spin.h reads OPENHOOK_SPIN_US once per process, so each
 * scenario runs in a child with its own environment. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spin.h"
#include "tap.h"
#include "util.h"

/* Runs FN in a child with OPENHOOK_SPIN_US=SPIN_US (NULL: unset); returns
 * its number of failed checks (tap_case_failed in the child). */
static int in_child(const char *spin_us, void (*fn)(void))
{
        int status;
        pid_t pid = fork();

        if (pid == 0) {
                if (spin_us)
                        setenv("OPENHOOK_SPIN_US", spin_us, 1);
                else
                        unsetenv("OPENHOOK_SPIN_US");
                fflush(stdout);
                fn();
                fflush(stdout);
                _exit(tap_case_failed);
        }
        if (pid < 0 || waitpid(pid, &status, 0) != pid)
                return 1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static bool multi_cpu(void)
{
        return sysconf(_SC_NPROCESSORS_ONLN) > 1;
}

static void default_window(void)
{
        CHECK_EQ(oh_spin_ns(), multi_cpu() ? OH_SPIN_US_DEFAULT * 1000u : 0);
}

static void zero(void)
{
        struct oh_spin_state s = {};

        CHECK_EQ(oh_spin_ns(), 0);
        CHECK_EQ(oh_spin_begin(&s), 0);
}

static void huge(void)
{
        CHECK_EQ(oh_spin_ns(), multi_cpu() ? OH_SPIN_US_MAX * 1000u : 0);
}

static void garbage(void)
{
        CHECK_EQ(oh_spin_ns(), multi_cpu() ? OH_SPIN_US_DEFAULT * 1000u : 0);
}

static void polling_defaults_to_50us_on_several_cpus_and_off_on_one(void)
{
        CHECK_EQ(in_child(NULL, default_window), 0);
}

static void openhook_spin_us_0_turns_polling_off(void)
{
        CHECK_EQ(in_child("0", zero), 0);
}

static void openhook_spin_us_is_capped_and_garbage_ignored(void)
{
        CHECK_EQ(in_child("100000", huge), 0);
        CHECK_EQ(in_child("12x", garbage), 0);
}

/* 160 us: halving gives 80, 40, 20, then 10 = a sixteenth, the last
 * window; the next miss stops polling. */
static void backs_off(void)
{
        struct oh_spin_state s = {};

        if (!multi_cpu())
                return;
        CHECK_EQ(oh_spin_begin(&s), 160000);
        uint64_t expect[] = { 80000, 40000, 20000, 10000, 0 };
        for (size_t i = 0; i < ELEMENTSOF(expect); i++) {
                oh_spin_end(&s, false);
                CHECK_EQ(oh_spin_begin(&s), expect[i]);
        }
}

static void each_miss_halves_the_window_until_polling_stops(void)
{
        CHECK_EQ(in_child("160", backs_off), 0);
}

static void probes(void)
{
        struct oh_spin_state s = {};
        unsigned int polls = 0;

        if (!multi_cpu())
                return;
        (void) oh_spin_begin(&s);
        for (int i = 0; i < 8; i++)
                oh_spin_end(&s, false);
        for (unsigned int i = 0; i < 10 * OH_SPIN_PROBE_EVERY; i++) {
                uint64_t w = oh_spin_begin(&s);
                CHECK(w == 0 || w == 160000);
                polls += w > 0;
                if (w)
                        oh_spin_end(&s, false);
        }
        CHECK_EQ(polls, 10);
        /* A probe that is answered in time brings polling back whole. */
        while (oh_spin_begin(&s) == 0)
                ;
        oh_spin_end(&s, true);
        CHECK_EQ(oh_spin_begin(&s), 160000);
}

static void backed_off_it_probes_once_in_64_rounds_and_a_hit_restores_it(void)
{
        CHECK_EQ(in_child("160", probes), 0);
}

static void poller(void)
{
        struct oh_poller p = {};

        CHECK_EQ(oh_poller_timeout(&p), -1);    /* idle: sleep */
        if (!multi_cpu())
                return;
        /* Taken before the window opens, so a pause in between can only
         * make the measured time longer, never shorter than the window. */
        uint64_t start = oh_spin_now_ns();
        CHECK(oh_poller_start(&p));
        CHECK_EQ(oh_poller_timeout(&p), 0);     /* just worked: poll */
        while (oh_poller_timeout(&p) == 0)
                CHECK(oh_spin_now_ns() - start < 1000 * 1000 * 1000);
        /* Past the window it sleeps, and it counted a miss. */
        CHECK(oh_spin_now_ns() - start >= 150000);
        CHECK_EQ(oh_poller_timeout(&p), -1);
        CHECK_EQ(p.state.window, 100000);
        /* An event while polling is a hit. */
        CHECK(oh_poller_start(&p));
        oh_poller_woke(&p);
        CHECK_EQ(p.state.window, 200000);
}

static void a_poller_polls_only_for_its_window_after_work(void)
{
        CHECK_EQ(in_child("200", poller), 0);
}

int main(void)
{
        RUN(polling_defaults_to_50us_on_several_cpus_and_off_on_one);
        RUN(openhook_spin_us_0_turns_polling_off);
        RUN(openhook_spin_us_is_capped_and_garbage_ignored);
        RUN(each_miss_halves_the_window_until_polling_stops);
        RUN(backed_off_it_probes_once_in_64_rounds_and_a_hit_restores_it);
        RUN(a_poller_polls_only_for_its_window_after_work);
        return TAP_DONE();
}
