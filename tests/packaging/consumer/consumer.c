/* One-file hakmem user, built by check_install.sh through CMake (hakmem::hakmem,
 * hakmem::shared) and through pkg-config (hakmem, hakmem-shared). With every component
 * linked: small blocks come from tiny, large ones from the large room, large.policy switches
 * between malloc and mmap and refuses unknown names. With CONSUMER_SHARED the program links
 * libhakmem.so, whose malloc replaces the C library's: plain malloc must return hakmem blocks.
 * Exits 0 only if every check passes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hakmem/hakmem.h>

static int failures;

#define CHECK(cond)                                                               \
    do {                                                                          \
        if (!(cond)) {                                                            \
            failures++;                                                           \
            fprintf(stderr, "FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #cond, errno); \
        }                                                                         \
    } while (0)

static uint64_t counter(const char *name) {
    uint64_t v = 0;
    CHECK(hak_counter_get(name, &v) == 0);
    return v;
}

static void *use(size_t n) {
    char *p = hak_malloc(n);
    CHECK(p != NULL);
    if (p) {
        memset(p, 0x5a, n);
        CHECK(hak_usable_size(p) >= n);
        printf("hak_malloc(%zu): usable %zu\n", n, hak_usable_size(p));
    }
    return p;
}

int main(void) {
    CHECK(hak_config_set("large.policy", "malloc") == 0);
    uint64_t slabs = counter("slab_new"), by_malloc = counter("large_alloc_malloc");
    uint64_t by_mmap = counter("large_alloc_mmap");

    void *small = use(100), *large = use(1 << 20);
    CHECK(counter("slab_new") > slabs);                 /* tiny is linked */
    CHECK(counter("large_alloc_malloc") == by_malloc + 1); /* so is the large room */

    CHECK(hak_config_set("large.policy", "mmap") == 0);
    void *mapped = use(1 << 20);
    CHECK(counter("large_alloc_mmap") == by_mmap + 1);
    CHECK(hak_config_set("large.policy", "no-such-policy") != 0);
    CHECK(strcmp(hak_policy_current(HAK_SLOT_LARGE), "mmap") == 0);
    CHECK(hak_config_set("large.policy", "malloc") == 0);
    hak_free(small);
    hak_free(large);
    hak_free(mapped);

#ifdef CONSUMER_SHARED
    void *volatile p = malloc(100); /* the override of libhakmem.so */
    CHECK(p != NULL && hak_usable_size(p) >= 100);
    printf("malloc(100) is a hakmem block: usable %zu\n", hak_usable_size(p));
    free(p);
#endif

    if (failures) {
        fprintf(stderr, "consumer: %d check(s) failed\n", failures);
        return 1;
    }
    printf("consumer: all checks passed (hakmem %d.%d.%d)\n", HAKMEM_VERSION_MAJOR,
           HAKMEM_VERSION_MINOR, HAKMEM_VERSION_PATCH);
    return 0;
}
