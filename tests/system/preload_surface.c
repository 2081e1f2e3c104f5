/* glibc's extensions and C23's sized frees, run with and without LD_PRELOAD=libhakmem.so by
 * test_preload.c. stdout must be the same under both allocators (mallopt's answers,
 * malloc_info's refusal, whether mallinfo2 moves); what only hakmem has (free_sized, which
 * glibc 2.36 lacks) goes to stderr.
 *   preload_surface [report XML_PATH]  the comparison (malloc_info(0) written to XML_PATH)
 *   preload_surface wrong-size         free_sized with a size above the block's
 *   preload_surface wrong-align        free_aligned_sized with an alignment it lacks */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*free_sized_fn)(void *, size_t);
typedef void (*free_aligned_sized_fn)(void *, size_t, size_t);

static void report_mallopt(void) {
    int params[] = {M_MXFAST,     M_TRIM_THRESHOLD, M_TOP_PAD,   M_MMAP_THRESHOLD,
                    M_MMAP_MAX,   M_CHECK_ACTION,   M_PERTURB,   M_ARENA_TEST,
                    M_ARENA_MAX,  12345,            -100};
    int values[] = {-1, 0, 1, 64, 160, 161, 1 << 20, 32 << 20, (32 << 20) + 1, INT_MAX};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        printf("mallopt(%d, ...):", params[i]);
        for (size_t j = 0; j < sizeof values / sizeof values[0]; j++)
            printf(" %d", mallopt(params[i], values[j]));
        printf("\n");
    }
    /* Back to defaults that keep the rest of the run ordinary. */
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    mallopt(M_TOP_PAD, 0);
    mallopt(M_PERTURB, 0);
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

static void report_mallinfo(void) {
    struct mallinfo2 m0 = mallinfo2();
    size_t big = 10u << 20;
    char *p = malloc(big);
    memset(p, 1, big);
    struct mallinfo2 m1 = mallinfo2();
    printf("mallinfo2 sees a 10 MiB block: %s\n",
           m1.hblkhd >= m0.hblkhd + big && m1.hblks >= m0.hblks + 1 ? "yes" : "no");
    free(p);
    struct mallinfo2 m2 = mallinfo2();
    printf("mallinfo2 sees it freed: %s\n",
           m2.hblkhd + big <= m1.hblkhd && m2.hblks + 1 <= m1.hblks ? "yes" : "no");
    struct mallinfo m = mallinfo();
    printf("mallinfo agrees: %s\n",
           m.hblks == (int)(m2.hblks > INT_MAX ? INT_MAX : m2.hblks) ? "yes" : "no");

    enum { N = 4000 };
    static void *small[N];
    struct mallinfo2 s0 = mallinfo2();
    for (int i = 0; i < N; i++) {
        small[i] = malloc(1000);
        memset(small[i], 2, 1000);
    }
    struct mallinfo2 s1 = mallinfo2();
    printf("mallinfo2 sees 4 MB of small blocks: %s\n",
           s1.uordblks >= s0.uordblks + (size_t)N * 1000 / 2 ? "yes" : "no");
    for (int i = 0; i < N; i++)
        free(small[i]);
    struct mallinfo2 s2 = mallinfo2();
    printf("mallinfo2 sees them freed: %s\n", s2.uordblks < s1.uordblks ? "yes" : "no");
    fprintf(stderr, "mallinfo2: arena %zu uordblks %zu fordblks %zu hblks %zu hblkhd %zu "
                    "keepcost %zu\n",
            s2.arena, s2.uordblks, s2.fordblks, s2.hblks, s2.hblkhd, s2.keepcost);
}

static void report_sized_frees(void) {
    free_sized_fn fs = (free_sized_fn)dlsym(RTLD_DEFAULT, "free_sized");
    free_aligned_sized_fn fas = (free_aligned_sized_fn)dlsym(RTLD_DEFAULT, "free_aligned_sized");
    if (!fs || !fas) {
        fprintf(stderr, "free_sized: absent\n");
        return;
    }
    for (size_t n = 1; n <= (8u << 20); n *= 3) {
        fs(malloc(n), n);
        fas(aligned_alloc(64, (n + 63) & ~(size_t)63), 64, (n + 63) & ~(size_t)63);
    }
    fs(NULL, 10);
    fprintf(stderr, "free_sized: called\n");
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "report";
    if (strcmp(mode, "wrong-size") == 0 || strcmp(mode, "wrong-align") == 0) {
        free_sized_fn fs = (free_sized_fn)dlsym(RTLD_DEFAULT, "free_sized");
        free_aligned_sized_fn fas =
            (free_aligned_sized_fn)dlsym(RTLD_DEFAULT, "free_aligned_sized");
        if (!fs || !fas)
            return 3;
        if (mode[6] == 's') {
            fs(malloc(100), 5000);
            fs(malloc(1 << 20), 4 << 20);
        } else {
            char *p = malloc(256);
            while ((uintptr_t)p % 4096 == 0)
                p = malloc(256); /* one that lacks the alignment claimed below */
            fas(p, 4096, 256);
        }
        printf("not reported\n");
        return 0;
    }
    report_mallopt();
    errno = 0;
    printf("malloc_info(1, stdout) = %d, errno %d\n", malloc_info(1, stdout), errno);
    report_mallinfo();
    report_sized_frees();
    if (argc > 2) {
        FILE *f = fopen(argv[2], "w");
        if (!f)
            return 2;
        printf("malloc_info(0, file) = %d\n", malloc_info(0, f));
        fclose(f);
    }
    malloc_stats();
    printf("malloc_trim(0) ran\n");
    malloc_trim(0);
    return 0;
}
