/* Helper program for test_tiny_provider.c: a fresh process that reads
 * HAKMEM_TINY_USE_SUPERSLAB at start-up. It prints the option as hakmem sees it, allocates
 * about 8 MiB of small blocks from 16 B to 32 KiB (checking their contents), and prints the provider
 * counters before and after:
 *     use_superslab=<0|1>
 *     before superslab_new=<n> slab_new=<n>
 *     after superslab_new=<n> slab_new=<n> os_mmap=<n>
 *     ok                          (every block kept its data)
 * Exit status: 0 ok, 1 a check failed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"

int main(void) {
    char v[32] = "?";
    if (hak_config_get("tiny.use_superslab", v, sizeof v) != 0)
        return 1;
    printf("use_superslab=%s\n", v);
    printf("before superslab_new=%llu slab_new=%llu\n",
           (unsigned long long)hak_ctr("superslab_new"), (unsigned long long)hak_ctr("slab_new"));
    enum { N = 1536 };
    static unsigned char *p[N];
    static size_t n[N];
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        size_t pow2 = (size_t)16 << (i % 12); /* 16 B .. 32 KiB */
        n[i] = pow2 - (pow2 > 16 ? i % 16 : 0);
        p[i] = hak_malloc(n[i]);
        if (!p[i])
            return 1;
        hak_fill(p[i], n[i], i);
    }
    printf("after superslab_new=%llu slab_new=%llu os_mmap=%llu\n",
           (unsigned long long)hak_ctr("superslab_new"), (unsigned long long)hak_ctr("slab_new"),
           (unsigned long long)hak_ctr("os_mmap"));
    for (size_t i = 0; i < N; i++) {
        bad += !hak_check(p[i], n[i], i);
        hak_free(p[i]);
    }
    if (bad)
        return 1;
    printf("ok\n");
    return 0;
}
