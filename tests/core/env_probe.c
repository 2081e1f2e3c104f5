/* Helper program for the environment tests (test_config.c): a fresh process that reads
 * HAKMEM_* variables at start-up. It prints every option as "config <key>=<value>", runs a
 * small workload over tiny and large sizes with integrity checks, prints a few counters as
 * "counter <name>=<value>", and "ok" when everything held.
 *
 *   env_probe [set-malloc]   set-malloc: hak_config_set("large.policy", "malloc") first
 * Exit status: 0 ok, 1 a check failed. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"

static int failures;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                           \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

static void workload(void) {
    /* tiny sizes, every few bytes, a batch live at once */
    enum { BATCH = 64 };
    void *live[BATCH];
    size_t sizes[BATCH];
    size_t k = 0;
    for (size_t n = 1; n <= 32768; n += (n < 1024 ? 7 : 509)) {
        void *p = hak_malloc(n);
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK(n <= 8 || ((uintptr_t)p & 15) == 0);
        CHECK(hak_usable_size(p) >= n);
        hak_fill(p, n, (uint64_t)(uintptr_t)p);
        live[k] = p;
        sizes[k] = n;
        if (++k == BATCH) {
            for (size_t i = 0; i < k; i++) {
                CHECK(hak_check(live[i], sizes[i], (uint64_t)(uintptr_t)live[i]));
                hak_free(live[i]);
            }
            k = 0;
        }
    }
    for (size_t i = 0; i < k; i++) {
        CHECK(hak_check(live[i], sizes[i], (uint64_t)(uintptr_t)live[i]));
        hak_free(live[i]);
    }
    /* large sizes */
    static const size_t large[] = {32769, 65536, 100000, 1 << 20, (3 << 20) + 17, 8 << 20};
    void *lp[6];
    for (int i = 0; i < 6; i++) {
        lp[i] = hak_malloc(large[i]);
        CHECK(lp[i] != NULL);
        if (lp[i]) {
            CHECK(((uintptr_t)lp[i] & 15) == 0);
            CHECK(hak_usable_size(lp[i]) >= large[i]);
            hak_fill(lp[i], large[i], (uint64_t)i);
        }
    }
    for (int i = 0; i < 6; i++) {
        if (!lp[i])
            continue;
        CHECK(hak_check(lp[i], large[i], (uint64_t)i));
        hak_free(lp[i]);
    }
    /* calloc zeroes, realloc keeps contents */
    for (size_t n = 16; n <= (4 << 20); n *= 4) {
        unsigned char *c = hak_calloc(1, n);
        CHECK(c != NULL);
        if (!c)
            continue;
        CHECK(hak_all_bytes(c, n, 0));
        memset(c, 0xa5, n);
        errno = 0;
        unsigned char *r = hak_realloc(c, n * 3);
        if (!r)
            printf("FAIL realloc(%zu -> %zu): errno %d\n", n, n * 3, errno);
        CHECK(r != NULL);
        if (!r) {
            hak_free(c);
            continue;
        }
        CHECK(hak_all_bytes(r, n, 0xa5));
        hak_free(r);
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "set-malloc") == 0) {
        if (hak_config_set("large.policy", "malloc") != 0) {
            printf("FAIL set large.policy=malloc: errno %d\n", errno);
            failures++;
        }
    }
    size_t n = hak_config_count();
    for (size_t i = 0; i < n; i++) {
        hak_option_info info;
        if (hak_config_info(i, &info) != 0)
            continue;
        char value[128];
        if (hak_config_get(info.key, value, sizeof value) != 0)
            snprintf(value, sizeof value, "<error %d>", errno);
        printf("config %s=%s\n", info.key, value);
    }
    workload();
    static const char *const counters[] = {"large_alloc_malloc", "large_alloc_mmap",
                                           "large_free", "foreign_free"};
    for (int i = 0; i < 4; i++)
        printf("counter %s=%llu\n", counters[i], (unsigned long long)hak_ctr(counters[i]));
    if (failures == 0)
        printf("ok\n");
    fflush(stdout);
    return failures ? 1 : 0;
}
