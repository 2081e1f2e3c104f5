/* tiny_only: a program linked with hakmem::core, hakmem::tiny and hakmem::superslab only.
 *
 * Small requests come from tiny's per-thread caches over SuperSlabs. The large room is not
 * linked, so large requests go to core's fallback (the C library, behind a small header), and
 * neither is the policy registry: hak_config_set("large.policy", ...) is refused, whatever the
 * name. The program exits 0 only if every check passes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <hakmem/hakmem.h>

static int failures;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

static const size_t small_sizes[] = {8, 24, 100, 1000, 4000, 32768};
static const size_t large_sizes[] = {40000, 256 << 10, 1 << 20, 4 << 20};
#define NSMALL (sizeof small_sizes / sizeof small_sizes[0])
#define NLARGE (sizeof large_sizes / sizeof large_sizes[0])

static uint64_t counter(const char *name) {
    uint64_t v = 0;
    CHECK(hak_counter_get(name, &v) == 0, "unknown counter %s", name);
    return v;
}

static const char *current_policy(void) {
    static char buf[64];
    if (hak_config_get("large.policy", buf, sizeof buf) != 0)
        snprintf(buf, sizeof buf, "? (%s)", strerror(errno));
    return buf;
}

static void alloc_blocks(const char *kind, const size_t *sizes, size_t n, void **blocks, int tag) {
    for (size_t i = 0; i < n; i++) {
        char *p = hak_malloc(sizes[i]);
        blocks[i] = p;
        CHECK(p != NULL, "hak_malloc(%zu) failed: %s", sizes[i], strerror(errno));
        if (!p)
            continue;
        size_t align = sizes[i] <= 8 ? 8 : 16; /* 8 is enough for requests of 8 bytes or less */
        CHECK((uintptr_t)p % align == 0, "hak_malloc(%zu) = %p is not %zu-byte aligned", sizes[i],
              (void *)p, align);
        size_t usable = hak_usable_size(p);
        CHECK(usable >= sizes[i], "usable size %zu < request %zu", usable, sizes[i]);
        memset(p, tag, sizes[i]);
        printf("  %-6s %10zu %10zu\n", kind, sizes[i], usable);
    }
}

static void free_blocks(const size_t *sizes, size_t n, void **blocks, int tag) {
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = blocks[i];
        if (!p)
            continue;
        CHECK(p[0] == tag && p[sizes[i] - 1] == tag, "block of %zu bytes was overwritten", sizes[i]);
        hak_free(p);
    }
}

int main(void) {
    void *small[NSMALL], *large[NLARGE];

    /* 1. small blocks: tiny, over slabs from the superslab provider. */
    printf("  %-6s %10s %10s\n", "path", "request", "usable");
    uint64_t slabs = counter("slab_new");
    alloc_blocks("tiny", small_sizes, NSMALL, small, 0x33);
    CHECK(counter("slab_new") > slabs, "no slab was made: small requests did not reach tiny");

    /* 2. large blocks: core's fallback, since the large room is absent. */
    alloc_blocks("large", large_sizes, NLARGE, large, 0x44);
    CHECK(counter("large_alloc_malloc") == 0 && counter("large_alloc_mmap") == 0,
          "the large room served blocks although it is not linked");

    free_blocks(small_sizes, NSMALL, small, 0x33);
    free_blocks(large_sizes, NLARGE, large, 0x44);

    /* 3. realloc across the small maximum: tiny -> fallback -> tiny. */
    char *p = hak_malloc(32);
    CHECK(p != NULL, "hak_malloc(32)");
    if (p) {
        strcpy(p, "hakmem");
        char *q = hak_realloc(p, 1 << 20);
        CHECK(q != NULL && strcmp(q, "hakmem") == 0, "grown block lost its contents");
        char *r = q ? hak_realloc(q, 64) : NULL;
        CHECK(r != NULL && strcmp(r, "hakmem") == 0, "shrunk block lost its contents");
        hak_free(r ? r : q);
    }

    /* 4. no registry: every large.policy switch is refused and the value stays. */
    char before[32];
    snprintf(before, sizeof before, "%s", current_policy());
    printf("large.policy = %s (the policy room is not linked)\n", before);
    errno = 0;
    int rc = hak_config_set("large.policy", "mmap");
    printf("hak_config_set(large.policy, mmap) = %d (%s)\n", rc, strerror(errno));
    CHECK(rc != 0, "a policy switch succeeded without the policy room");
    errno = 0;
    rc = hak_config_set("large.policy", "no-such-policy");
    printf("hak_config_set(large.policy, no-such-policy) = %d (%s)\n", rc, strerror(errno));
    CHECK(rc != 0, "an unknown policy name was accepted");
    CHECK(strcmp(current_policy(), before) == 0, "policy reads %s", current_policy());

    /* Options that do not need the registry still work. */
    CHECK(hak_config_set("core.foreign_free", "abort") == 0, "%s", strerror(errno));

    if (failures) {
        fprintf(stderr, "tiny_only: %d check(s) failed\n", failures);
        return 1;
    }
    printf("tiny_only: all checks passed\n");
    return 0;
}
