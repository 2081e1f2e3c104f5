/* pagecost: what touching a page costs on this machine, by the state the page is in. The
 * large-block design choices (when to give pages back, whether to grow a kept range with
 * mremap, huge pages) trade one of these against another, and the ratios differ a lot
 * between bare metal and virtual machines, so they are measured rather than assumed.
 *
 * For a 64 MiB anonymous range, one byte written per 4 KiB page, time per 4 KiB:
 *   fresh        first touch of a new mapping (a page fault and a zeroed page each);
 *   resident     touched again (no fault);
 *   moved        after mremap moved the range (its pages kept, their page tables moved);
 *   dontneed     after madvise(MADV_DONTNEED) (faulted and zeroed again);
 *   free         after madvise(MADV_FREE), memory not short (the pages are still there);
 *   huge fresh / huge moved   the same on a 2 MiB-aligned range advised MADV_HUGEPAGE.
 * Output: one line per state, "pagecost: STATE us_per_4k=X", the median of --rounds. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define RANGE ((size_t)64 << 20)
#define HUGE ((size_t)2 << 20)
#define PAGES (RANGE / 4096)

enum { FRESH, RESIDENT, MOVED, DONTNEED, LAZYFREE, HUGE_FRESH, HUGE_MOVED, STATES };
static const char *const names[STATES] = {"fresh",    "resident", "moved",      "dontneed",
                                          "free",     "huge_fresh", "huge_moved"};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static volatile unsigned char g_sink;

/* Microseconds per 4 KiB page to write one byte in each. */
static double touch(unsigned char *p) {
    double t = now_s();
    for (size_t i = 0; i < RANGE; i += 4096)
        p[i]++;
    g_sink ^= p[RANGE / 2];
    return (now_s() - t) * 1e6 / (double)PAGES;
}

/* A range of RANGE bytes (2 MiB-aligned and advised MADV_HUGEPAGE when huge) inside a
 * larger mapping *raw of *total bytes, whose rest stays mapped around it, so that growing
 * the range with mremap must move it. */
static unsigned char *map_range(int huge, unsigned char **raw, size_t *total) {
    *total = RANGE + (huge ? HUGE : 0) + 4096;
    *raw = mmap(NULL, *total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (*raw == MAP_FAILED)
        return NULL;
    unsigned char *p = *raw;
    if (huge) {
        p = (unsigned char *)(((uintptr_t)*raw + HUGE - 1) & ~(HUGE - 1));
        madvise(p, RANGE, MADV_HUGEPAGE);
    }
    return p;
}

/* Unmaps what is left of raw around the range that mremap moved away. */
static void unmap_rest(unsigned char *raw, size_t total, unsigned char *p) {
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    munmap(p + RANGE, total - (size_t)(p - raw) - RANGE);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    if (rounds < 1 || rounds > 100) {
        fprintf(stderr, "usage: pagecost [ROUNDS 1-100]\n");
        return 1;
    }
    double v[STATES][100];
    for (int r = 0; r < rounds; r++) {
        for (int huge = 0; huge <= 1; huge++) {
            unsigned char *raw;
            size_t total;
            unsigned char *p = map_range(huge, &raw, &total);
            if (!p) {
                perror("pagecost: mmap");
                return 2;
            }
            v[huge ? HUGE_FRESH : FRESH][r] = touch(p);
            if (!huge)
                v[RESIDENT][r] = touch(p);
            unsigned char *q = mremap(p, RANGE, RANGE + HUGE, MREMAP_MAYMOVE);
            if (q == MAP_FAILED) {
                perror("pagecost: mremap");
                return 2;
            }
            v[huge ? HUGE_MOVED : MOVED][r] = touch(q);
            if (!huge) {
                madvise(q, RANGE, MADV_DONTNEED);
                v[DONTNEED][r] = touch(q);
#ifdef MADV_FREE
                madvise(q, RANGE, MADV_FREE);
                v[LAZYFREE][r] = touch(q);
#else
                v[LAZYFREE][r] = -1;
#endif
            }
            munmap(q, RANGE + HUGE);
            unmap_rest(raw, total, p);
        }
    }
    for (int s = 0; s < STATES; s++) {
        qsort(v[s], (size_t)rounds, sizeof v[s][0], cmp);
        printf("pagecost: %-10s us_per_4k=%.3f\n", names[s], v[s][rounds / 2]);
    }
    return 0;
}
