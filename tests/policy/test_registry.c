/* The policy registry: built-in large policies, user-registered vtables, selection by name
 * through hak_policy_select and through hak_config_set("large.policy", ...), and the
 * errors of each call. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

/* Registered now or by an earlier test of this process (ctest runs each test alone, a plain
 * run of the binary runs them all in one process). */
static int ensure_registered(const hak_policy *p) {
    errno = 0;
    return hak_policy_register(p) == 0 || errno == EEXIST;
}

static int listed(const char *name) {
    const char *names[256];
    size_t n = hak_policy_list(HAK_SLOT_LARGE, names, 256);
    for (size_t i = 0; i < n && i < 256; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

static int current_is(const char *name) {
    const char *cur = hak_policy_current(HAK_SLOT_LARGE);
    return cur != NULL && strcmp(cur, name) == 0;
}

static int config_policy_is(const char *name) {
    char buf[64];
    return hak_config_get("large.policy", buf, sizeof buf) == 0 && strcmp(buf, name) == 0;
}

/* ---- a user policy: mmap for 1 MiB and more, malloc below ---- */
static atomic_int choose_calls, select_calls;
static _Atomic size_t last_size, last_alignment;
static void *_Atomic last_ctx;
static int user_ctx_marker;

static hak_large_backend choose_by_size(void *ctx, size_t size, size_t alignment,
                                        uintptr_t site) {
    (void)site;
    atomic_fetch_add(&choose_calls, 1);
    atomic_store(&last_size, size);
    atomic_store(&last_alignment, alignment);
    atomic_store(&last_ctx, ctx);
    return size >= (1u << 20) ? HAK_BACKEND_MMAP : HAK_BACKEND_MALLOC;
}

static void on_select_count(void *ctx) {
    (void)ctx;
    atomic_fetch_add(&select_calls, 1);
}

static const hak_policy by_size = {
    .name = "test-by-size",
    .help = "test: mmap from 1 MiB, malloc below",
    .slot = HAK_SLOT_LARGE,
    .large_choose = choose_by_size,
    .on_select = on_select_count,
    .ctx = &user_ctx_marker,
};

HAK_TEST(Registry, BuiltinPoliciesListed) {
    size_t n = hak_policy_list(HAK_SLOT_LARGE, NULL, 0);
    HAK_EXPECT(n >= 2);
    HAK_EXPECT(listed("malloc"));
    HAK_EXPECT(listed("mmap"));
    /* A short array gets only what fits; the count is still the total. */
    const char *one[2] = {NULL, (const char *)&one};
    HAK_EXPECT_EQ(hak_policy_list(HAK_SLOT_LARGE, one, 1), n);
    HAK_EXPECT(one[0] != NULL);
    HAK_EXPECT(one[1] == (const char *)&one);
    /* Names are unique. */
    const char *names[256];
    size_t m = hak_policy_list(HAK_SLOT_LARGE, names, 256);
    HAK_ASSERT(m == n && m <= 256);
    for (size_t i = 0; i < m; i++)
        for (size_t j = i + 1; j < m; j++)
            HAK_EXPECT(strcmp(names[i], names[j]) != 0);
}

/* Without the environment, the large slot holds the table's default policy. */
HAK_TEST(Registry, DefaultPolicyIsTheTableDefault) {
    if (getenv("HAKMEM_LARGE_POLICY") || getenv("HAKO_HAKMEM_LARGE_MMAP") ||
        getenv("HAKMEM_LARGE_FORCE_MMAP"))
        HAK_SKIP("a large policy is set in the test environment");
    void *p = hak_malloc(1); /* initialised */
    hak_free(p);
    const char *def = NULL;
    hak_option_info info;
    for (size_t i = 0; i < hak_config_count(); i++)
        if (hak_config_info(i, &info) == 0 && strcmp(info.key, "large.policy") == 0)
            def = info.default_value;
    HAK_ASSERT(def != NULL);
    HAK_EXPECT(listed(def));
    HAK_EXPECT(current_is(def));
    HAK_EXPECT(config_policy_is(def));
}

HAK_TEST(Registry, UserPolicyRegisteredAndSelectedByName) {
    HAK_ASSERT(ensure_registered(&by_size));
    HAK_EXPECT(listed("test-by-size"));
    int selects = atomic_load(&select_calls);
    HAK_ASSERT_EQ(hak_policy_select(HAK_SLOT_LARGE, "test-by-size"), 0);
    HAK_EXPECT(atomic_load(&select_calls) == selects + 1);
    HAK_EXPECT(current_is("test-by-size"));
    HAK_EXPECT(config_policy_is("test-by-size"));

    uint64_t mm = hak_ctr("large_alloc_mmap"), ml = hak_ctr("large_alloc_malloc");
    int calls = atomic_load(&choose_calls);
    unsigned char *small_large = hak_malloc(100000);
    HAK_ASSERT(small_large != NULL);
    HAK_EXPECT(atomic_load(&choose_calls) > calls);
    HAK_EXPECT(atomic_load(&last_size) >= 100000);
    HAK_EXPECT(atomic_load(&last_ctx) == &user_ctx_marker);
    HAK_EXPECT_EQ(hak_ctr("large_alloc_malloc"), ml + 1);
    unsigned char *big = hak_malloc(3 << 20);
    HAK_ASSERT(big != NULL);
    HAK_EXPECT_EQ(hak_ctr("large_alloc_mmap"), mm + 1);
    hak_fill(small_large, 100000, 1);
    hak_fill(big, 3 << 20, 2);
    HAK_EXPECT(hak_check(small_large, 100000, 1));
    HAK_EXPECT(hak_check(big, 3 << 20, 2));

    /* The policy sees the alignment it has to serve. */
    void *al = hak_aligned_alloc(65536, 200000);
    HAK_ASSERT(al != NULL);
    HAK_EXPECT(((uintptr_t)al & 65535) == 0);
    HAK_EXPECT(atomic_load(&last_alignment) >= 65536);

    /* Small requests never consult the large slot. */
    calls = atomic_load(&choose_calls);
    void *tiny = hak_malloc(64);
    HAK_ASSERT(tiny != NULL);
    HAK_EXPECT_EQ(atomic_load(&choose_calls), calls);

    /* Back to a built-in: the user policy's blocks are still freed by their backends. */
    HAK_ASSERT_EQ(hak_policy_select(HAK_SLOT_LARGE, "malloc"), 0);
    HAK_EXPECT(current_is("malloc"));
    uint64_t freed = hak_ctr("large_free");
    hak_free(small_large);
    hak_free(big);
    hak_free(al);
    hak_free(tiny);
    HAK_EXPECT_EQ(hak_ctr("large_free"), freed + 3);
}

static hak_large_backend choose_mmap_always(void *ctx, size_t size, size_t alignment,
                                            uintptr_t site) {
    (void)ctx, (void)size, (void)alignment, (void)site;
    return HAK_BACKEND_MMAP;
}

static const hak_policy via_config = {
    .name = "test_via_config-1",
    .help = "test: always mmap, selected through the config API",
    .slot = HAK_SLOT_LARGE,
    .large_choose = choose_mmap_always,
};

HAK_TEST(Registry, UserPolicySelectedThroughConfigSet) {
    HAK_ASSERT(ensure_registered(&via_config));
    HAK_ASSERT_EQ(hak_config_set("large.policy", "test_via_config-1"), 0);
    HAK_EXPECT(current_is("test_via_config-1"));
    HAK_EXPECT(config_policy_is("test_via_config-1"));
    uint64_t mm = hak_ctr("large_alloc_mmap");
    void *p = hak_malloc(50000);
    HAK_ASSERT(p != NULL);
    HAK_EXPECT_EQ(hak_ctr("large_alloc_mmap"), mm + 1);
    hak_free(p);
    HAK_ASSERT_EQ(hak_config_set("large.policy", "malloc"), 0);
    HAK_EXPECT(current_is("malloc"));
}

HAK_TEST(Registry, DuplicateNameEEXIST) {
    HAK_ASSERT(ensure_registered(&by_size));
    errno = 0;
    HAK_EXPECT_EQ(hak_policy_register(&by_size), -1);
    HAK_EXPECT_EQ(errno, EEXIST);
    /* Another vtable with a taken name. */
    static const hak_policy same_name = {
        .name = "test-by-size", .help = "dup", .slot = HAK_SLOT_LARGE,
        .large_choose = choose_mmap_always};
    errno = 0;
    HAK_EXPECT_EQ(hak_policy_register(&same_name), -1);
    HAK_EXPECT_EQ(errno, EEXIST);
    static const hak_policy builtin_name = {
        .name = "mmap", .help = "dup of a built-in", .slot = HAK_SLOT_LARGE,
        .large_choose = choose_mmap_always};
    errno = 0;
    HAK_EXPECT_EQ(hak_policy_register(&builtin_name), -1);
    HAK_EXPECT_EQ(errno, EEXIST);
    /* The original registration is the one that stays. */
    HAK_ASSERT_EQ(hak_policy_select(HAK_SLOT_LARGE, "test-by-size"), 0);
    uint64_t ml = hak_ctr("large_alloc_malloc");
    void *p = hak_malloc(40000);
    HAK_ASSERT(p != NULL);
    HAK_EXPECT_EQ(hak_ctr("large_alloc_malloc"), ml + 1);
    hak_free(p);
    hak_policy_select(HAK_SLOT_LARGE, "malloc");
}

HAK_TEST(Registry, BadVtableEINVAL) {
    errno = 0;
    HAK_EXPECT_EQ(hak_policy_register(NULL), -1);
    HAK_EXPECT_EQ(errno, EINVAL);
    static const char *const bad_names[] = {
        "", "Upper", "has space", "dot.name", "slash/name", "tab\tname", "ümlaut",
        "a23456789012345678901234567890123", /* 33 characters */
        "a2345678901234567890123456789012",  /* 32 characters */
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        hak_policy p = {.name = bad_names[i], .help = "bad", .slot = HAK_SLOT_LARGE,
                        .large_choose = choose_mmap_always};
        errno = 0;
        HAK_EXPECT_EQ(hak_policy_register(&p), -1);
        HAK_EXPECT_EQ(errno, EINVAL);
        HAK_EXPECT(!listed(bad_names[i]));
    }
    hak_policy no_name = {.name = NULL, .help = "x", .slot = HAK_SLOT_LARGE,
                          .large_choose = choose_mmap_always};
    errno = 0;
    HAK_EXPECT_EQ(hak_policy_register(&no_name), -1);
    HAK_EXPECT_EQ(errno, EINVAL);
    hak_policy no_fn = {.name = "test-no-fn", .help = "x", .slot = HAK_SLOT_LARGE};
    errno = 0;
    HAK_EXPECT_EQ(hak_policy_register(&no_fn), -1);
    HAK_EXPECT_EQ(errno, EINVAL);
    hak_policy bad_slot = {.name = "test-bad-slot", .help = "x", .slot = HAK_SLOT_COUNT,
                           .large_choose = choose_mmap_always};
    errno = 0;
    HAK_EXPECT_EQ(hak_policy_register(&bad_slot), -1);
    HAK_EXPECT_EQ(errno, EINVAL);
    HAK_EXPECT(!listed("test-no-fn"));
    HAK_EXPECT(!listed("test-bad-slot"));
    /* 31 characters is the longest valid name. */
    static const hak_policy longest = {.name = "a234567890123456789012345678901", .help = "x",
                                       .slot = HAK_SLOT_LARGE,
                                       .large_choose = choose_mmap_always};
    HAK_EXPECT(ensure_registered(&longest));
    HAK_EXPECT(listed("a234567890123456789012345678901"));
}

HAK_TEST(Registry, UnknownNameRefused) {
    HAK_ASSERT_EQ(hak_policy_select(HAK_SLOT_LARGE, "mmap"), 0);
    errno = 0;
    HAK_EXPECT_EQ(hak_policy_select(HAK_SLOT_LARGE, "no-such-policy"), -1);
    HAK_EXPECT_EQ(errno, ENOENT);
    HAK_EXPECT(current_is("mmap"));
    errno = 0;
    HAK_EXPECT_EQ(hak_config_set("large.policy", "no-such-policy"), -1);
    HAK_EXPECT_EQ(errno, EINVAL);
    HAK_EXPECT(current_is("mmap"));
    HAK_EXPECT(config_policy_is("mmap"));
    HAK_EXPECT_EQ(hak_policy_select(HAK_SLOT_LARGE, NULL), -1);
    HAK_EXPECT_EQ(hak_policy_select(HAK_SLOT_LARGE, ""), -1);
    HAK_EXPECT_EQ(hak_policy_select(HAK_SLOT_COUNT, "malloc"), -1);
    HAK_EXPECT_EQ(hak_policy_select((hak_slot)-1, "malloc"), -1);
    HAK_EXPECT(hak_policy_current(HAK_SLOT_COUNT) == NULL);
    HAK_EXPECT_EQ(hak_policy_list(HAK_SLOT_COUNT, NULL, 0), 0);
    HAK_EXPECT(current_is("mmap"));
    HAK_ASSERT_EQ(hak_policy_select(HAK_SLOT_LARGE, "malloc"), 0);
}

/* A policy answering with no valid backend must not break allocation. */
static hak_large_backend choose_nonsense(void *ctx, size_t size, size_t alignment,
                                         uintptr_t site) {
    (void)ctx, (void)size, (void)alignment, (void)site;
    return (hak_large_backend)77;
}

static const hak_policy nonsense = {
    .name = "test-nonsense", .help = "returns no valid backend", .slot = HAK_SLOT_LARGE,
    .large_choose = choose_nonsense};

HAK_TEST(Registry, PolicyWithInvalidAnswerStillAllocates) {
    HAK_ASSERT(ensure_registered(&nonsense));
    HAK_ASSERT_EQ(hak_policy_select(HAK_SLOT_LARGE, "test-nonsense"), 0);
    uint64_t freed = hak_ctr("large_free");
    for (size_t n = 40000; n < (8u << 20); n *= 3) {
        unsigned char *p = hak_malloc(n);
        HAK_ASSERT(p != NULL);
        hak_fill(p, n, n);
        HAK_EXPECT(hak_check(p, n, n));
        hak_free(p);
    }
    HAK_EXPECT(hak_ctr("large_free") > freed);
    hak_policy_select(HAK_SLOT_LARGE, "malloc");
}

/* Registration stops with ENOSPC when the table is full; everything registered before
 * stays listed and selectable. */
HAK_TEST(Registry, FullTableENOSPC) {
    enum { TRY = 300 };
    static char names[TRY][32];
    static hak_policy pols[TRY];
    size_t before = hak_policy_list(HAK_SLOT_LARGE, NULL, 0);
    int ok = 0, nospc = 0, other = 0;
    for (int i = 0; i < TRY; i++) {
        snprintf(names[i], sizeof names[i], "test-fill-%d", i);
        pols[i] = (hak_policy){.name = names[i], .help = "fill", .slot = HAK_SLOT_LARGE,
                               .large_choose = choose_mmap_always};
        errno = 0;
        if (hak_policy_register(&pols[i]) == 0) {
            ok++;
            HAK_EXPECT_EQ(nospc, 0); /* no success after the table was full */
        } else if (errno == ENOSPC) {
            nospc++;
        } else {
            other++;
        }
    }
    HAK_EXPECT(nospc > 0);
    HAK_EXPECT_EQ(other, 0);
    HAK_EXPECT_EQ(hak_policy_list(HAK_SLOT_LARGE, NULL, 0), before + (size_t)ok);
    if (ok > 0) {
        HAK_EXPECT_EQ(hak_policy_select(HAK_SLOT_LARGE, names[ok - 1]), 0);
        HAK_EXPECT(current_is(names[ok - 1]));
        void *p = hak_malloc(100000);
        HAK_EXPECT(p != NULL);
        hak_free(p);
    }
    HAK_EXPECT_EQ(hak_policy_select(HAK_SLOT_LARGE, "malloc"), 0);
}
