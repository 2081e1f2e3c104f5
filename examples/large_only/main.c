/* large_only: a program linked with hakmem::core and hakmem::large only.
 *
 * Without the tiny room every request, small ones included, goes to the large room, which
 * asks the registry's "large" policy for a backend: "malloc" (the C library) or "mmap"
 * (anonymous mappings). The program switches between the two through hak_config_set, checks
 * that blocks made under one policy are freed correctly under the other, and that an unknown
 * policy name is refused. It exits 0 only if every check passes. */
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

static const size_t sizes[] = {8, 24, 100, 4000, 32768,                 /* small */
                               40000, 256 << 10, 1 << 20, 4 << 20};    /* large */
#define NBLOCKS (sizeof sizes / sizeof sizes[0])

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

static void alloc_blocks(void **blocks, int tag) {
    printf("  %-12s %10s %10s\n", "policy", "request", "usable");
    for (size_t i = 0; i < NBLOCKS; i++) {
        size_t n = sizes[i];
        char *p = hak_malloc(n);
        blocks[i] = p;
        CHECK(p != NULL, "hak_malloc(%zu) failed: %s", n, strerror(errno));
        if (!p)
            continue;
        size_t align = n <= 8 ? 8 : 16; /* 8 is enough for requests of 8 bytes or less */
        CHECK((uintptr_t)p % align == 0, "hak_malloc(%zu) = %p is not %zu-byte aligned", n,
              (void *)p, align);
        size_t usable = hak_usable_size(p);
        CHECK(usable >= n, "usable size %zu < request %zu", usable, n);
        memset(p, tag, n);
        printf("  %-12s %10zu %10zu\n", current_policy(), n, usable);
    }
}

static void free_blocks(void **blocks, int tag) {
    for (size_t i = 0; i < NBLOCKS; i++) {
        unsigned char *p = blocks[i];
        if (!p)
            continue;
        CHECK(p[0] == tag && p[sizes[i] - 1] == tag, "block of %zu bytes was overwritten", sizes[i]);
        hak_free(p);
    }
}

int main(void) {
    void *made_by_malloc[NBLOCKS], *made_by_mmap[NBLOCKS];

    /* Start from a known state whatever HAKMEM_* variables say. */
    CHECK(hak_config_set("large.force_mmap", "0") == 0, "%s", strerror(errno));
    CHECK(hak_config_set("large.policy", "malloc") == 0, "%s", strerror(errno));

    const char *names[16];
    size_t count = hak_policy_list(HAK_SLOT_LARGE, names, 16);
    int has_malloc = 0, has_mmap = 0;
    printf("large policies registered:");
    for (size_t i = 0; i < count && i < 16; i++) {
        printf(" %s", names[i]);
        has_malloc |= strcmp(names[i], "malloc") == 0;
        has_mmap |= strcmp(names[i], "mmap") == 0;
    }
    printf("\n");
    CHECK(has_malloc && has_mmap, "the large room registers \"malloc\" and \"mmap\"");

    /* 1. policy "malloc": small and large blocks alike come from the malloc backend. */
    uint64_t by_malloc = counter("large_alloc_malloc"), by_mmap = counter("large_alloc_mmap");
    uint64_t slabs = counter("slab_new"), freed = counter("large_free");
    printf("large.policy = %s\n", current_policy());
    CHECK(strcmp(current_policy(), "malloc") == 0, "policy is %s", current_policy());
    alloc_blocks(made_by_malloc, 0x11);
    CHECK(counter("large_alloc_malloc") - by_malloc == NBLOCKS,
          "the malloc backend served %llu of %zu blocks (small ones must take the large path)",
          (unsigned long long)(counter("large_alloc_malloc") - by_malloc), NBLOCKS);
    CHECK(counter("large_alloc_mmap") == by_mmap, "the mmap backend served blocks under malloc");
    CHECK(counter("slab_new") == slabs, "a slab was made although tiny is not linked");

    /* 2. switch to "mmap": new blocks come from anonymous mappings. */
    CHECK(hak_config_set("large.policy", "mmap") == 0, "switch to mmap: %s", strerror(errno));
    printf("large.policy = %s\n", current_policy());
    CHECK(strcmp(current_policy(), "mmap") == 0, "policy is %s", current_policy());
    CHECK(strcmp(hak_policy_current(HAK_SLOT_LARGE), "mmap") == 0, "registry disagrees");
    alloc_blocks(made_by_mmap, 0x22);
    CHECK(counter("large_alloc_mmap") - by_mmap == NBLOCKS,
          "the mmap backend served %llu of %zu blocks",
          (unsigned long long)(counter("large_alloc_mmap") - by_mmap), NBLOCKS);

    /* 3. blocks made under "malloc" are freed by the malloc backend although "mmap" is active. */
    free_blocks(made_by_malloc, 0x11);
    free_blocks(made_by_mmap, 0x22);
    CHECK(counter("large_free") - freed == 2 * NBLOCKS, "large_free counted %llu of %zu frees",
          (unsigned long long)(counter("large_free") - freed), 2 * NBLOCKS);

    /* 4. names the registry does not know are refused, and the active policy stays. */
    errno = 0;
    int rc = hak_config_set("large.policy", "no-such-policy");
    printf("hak_config_set(large.policy, no-such-policy) = %d (%s)\n", rc, strerror(errno));
    CHECK(rc != 0, "an unknown policy name was accepted");
    CHECK(strcmp(current_policy(), "mmap") == 0, "a refused switch changed the policy to %s",
          current_policy());
    CHECK(hak_config_set("large.policy", "Not A Name!") != 0, "a malformed name was accepted");
    errno = 0;
    CHECK(hak_config_set("large.no_such_option", "1") != 0 && errno == ENOENT,
          "an unknown key was not refused with ENOENT");

    /* 5. realloc across sizes, then back to the default policy. */
    char *p = hak_realloc(NULL, 16);
    CHECK(p != NULL, "hak_realloc(NULL, 16)");
    if (p) {
        memcpy(p, "hakmem", 7);
        char *q = hak_realloc(p, 2 << 20);
        CHECK(q != NULL && strcmp(q, "hakmem") == 0, "grown block lost its contents");
        if (q) {
            printf("realloc 16 -> %d bytes: usable %zu\n", 2 << 20, hak_usable_size(q));
            hak_free(q);
        }
    }
    CHECK(hak_config_set("large.policy", "malloc") == 0, "switch back: %s", strerror(errno));
    printf("large.policy = %s\n", current_policy());

    if (failures) {
        fprintf(stderr, "large_only: %d check(s) failed\n", failures);
        return 1;
    }
    printf("large_only: all checks passed\n");
    return 0;
}
