/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Page faults taken in bulk, for openhook run's start-up.
 *
 * On our VM each page fault is an exception that costs 13-30 us, and
 * run, and the broker it forks, fault in the code they run 64 KiB at a
 * time (a fork does not copy the page tables of file mappings nobody
 * wrote to: the broker faults them in again) and their stacks a page at
 * a time.  madvise(MADV_POPULATE_READ, _WRITE) maps a whole range in one
 * system call: openhook's text, touched window by window, took
 * 260-420 us; populated at once, 35-90 us; 16 pages of stack 200-230 us
 * one by one, 12-20 us at once.  Only a hint: a kernel before 5.14
 * refuses it, and then the pages fault in as before. */
#include <link.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "confine.h"
#include "run.h"
#include "util.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

/* Found by run's call, and kept for the broker's: it then runs no code
 * it would fault in first. */
static struct {
        uintptr_t page;
        size_t n;
        struct { uintptr_t start, end; } ro[4];
} prefault;

/* The executable is the first object; its read-only segments are its
 * code and constant data. */
static int find_executable(struct dl_phdr_info *info, size_t size, void *data)
{
        for (size_t i = 0; i < info->dlpi_phnum && prefault.n < ELEMENTSOF(prefault.ro); i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

                if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
                        continue;
                uintptr_t start = info->dlpi_addr + ph->p_vaddr;
                prefault.ro[prefault.n].start = start & ~(prefault.page - 1);
                prefault.ro[prefault.n++].end = start + ph->p_memsz;
        }
        return 1;
}

/* The heap malloc() has taken from the kernel so far (its first 132 KiB
 * at least), where run's start-up allocates. */
static void populate_heap(void)
{
        struct mallinfo2 mi;

        if (OH_ASAN)
                return;         /* malloc() is ASan's, not on this heap */
        free(malloc(1));
        mi = mallinfo2();
        uintptr_t end = (uintptr_t)sbrk(0);
        if (mi.arena == 0 || end == (uintptr_t)-1 || end < mi.arena)
                return;
        uintptr_t start = (end - mi.arena) & ~(prefault.page - 1);
        (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

void run_prefault(size_t stack, bool heap)
{
        if (!prefault.page) {
                prefault.page = (uintptr_t)sysconf(_SC_PAGESIZE);
                dl_iterate_phdr(find_executable, NULL);
        }
        for (size_t i = 0; i < prefault.n; i++)
                (void)madvise((void *)prefault.ro[i].start, prefault.ro[i].end - prefault.ro[i].start,
                              MADV_POPULATE_READ);
        /* Below our frame, within the 128 KiB the kernel maps beneath a
         * new program's stack (a range that is not mapped fails whole). */
        uintptr_t top = (uintptr_t)__builtin_frame_address(0) & ~(prefault.page - 1);
        if (stack)
                (void)madvise((void *)(top - stack), stack, MADV_POPULATE_WRITE);
        if (heap)
                populate_heap();
}
