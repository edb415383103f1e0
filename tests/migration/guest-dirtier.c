/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest's workload during a migration test: writes to every page of a
 * 96 MiB buffer, round after round, forever. Pre-copy cannot converge against
 * it at a capped bandwidth, so the migration really goes through post-copy.
 *
 * Once a second it prints "DIRTIER-ALIVE <seconds> <rounds>" on its standard
 * output (the guest's serial console), so a test sees where the guest runs.
 * It also checks that every page still holds what it wrote last round: a
 * mismatch means guest RAM was lost in flight and is printed as
 * "DIRTIER-CORRUPT".
 *
 * Built static (gcc -static -O2) by build-guest.sh; runs as a child of /init.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BUFFER_SIZE (96UL << 20)

static double
now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
main(void)
{
        long page = sysconf(_SC_PAGESIZE);
        size_t pages = BUFFER_SIZE / (size_t) page;
        volatile uint64_t *buf;
        uint64_t round = 0, corrupt = 0;
        double start = now_s(), last = start;

        buf = mmap(NULL, BUFFER_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (buf == MAP_FAILED) {
                perror("DIRTIER-ERROR mmap");
                return 1;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        printf("DIRTIER-START %zu pages of %ld bytes\n", pages, page);
        for (;;) {
                double t;

                for (size_t i = 0; i < pages; i++) {
                        volatile uint64_t *p = buf + i * ((size_t) page / sizeof(uint64_t));

                        /* Round 0 finds zero pages; later rounds their own mark. */
                        if (*p != (round ? ((round - 1) << 32 | i) : 0))
                                corrupt++;
                        *p = round << 32 | i;
                }
                round++;
                t = now_s();
                if (t - last >= 1.0) {
                        last = t;
                        printf("DIRTIER-ALIVE %.0f %llu\n", t - start, (unsigned long long) round);
                        if (corrupt) {
                                printf("DIRTIER-CORRUPT %llu pages\n",
                                       (unsigned long long) corrupt);
                                corrupt = 0;
                        }
                }
        }
}
