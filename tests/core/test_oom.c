/* Out of memory from the OS returns NULL with ENOMEM; it never crashes. Each case runs in
 * a forked child under RLIMIT_AS. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

/* Under an address-space limit, allocation eventually fails with NULL/ENOMEM (never a
 * crash), and after freeing everything the same size can be allocated again. Each size runs
 * in its own child so that caches kept for one size cannot starve the next. */
struct oom_arg {
    const char *policy;
    size_t size;
};

static int oom_child(void *argp) {
    const struct oom_arg *arg = argp;
    if (hak_config_set("large.policy", arg->policy) != 0)
        return 10;
    enum { MAXP = 1 << 20 };
    void **ptrs = mmap(NULL, MAXP * sizeof(void *), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ptrs == MAP_FAILED)
        return 11;
    /* Warm up so that metadata exists before the limit. */
    void *w = hak_malloc(arg->size);
    if (!w)
        return 12;
    hak_free(w);

    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f || fscanf(f, "%lu", &pages) != 1)
        return 13;
    fclose(f);
    size_t vm = pages * 4096ul;
    struct rlimit rl = {vm + (256ul << 20), vm + (256ul << 20)};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        return 14;

    size_t n = 0;
    int got_null = 0;
    while (n < MAXP) {
        errno = 0;
        char *p = hak_malloc(arg->size);
        if (!p) {
            if (errno != ENOMEM)
                return 20;
            got_null = 1;
            break;
        }
        p[0] = 1;
        p[arg->size - 1] = 2;
        ptrs[n++] = p;
    }
    if (!got_null)
        return 30; /* MAXP blocks exceed the limit several times over */
    if (n == 0)
        return 31; /* the limit left 256 MiB: some blocks must fit */
    for (size_t i = 0; i < n; i++)
        hak_free(ptrs[i]);
    void *again = hak_malloc(arg->size);
    if (!again)
        return 40;
    hak_free(again);
    return 0;
}

static void oom_case(const char *policy) {
    static const size_t sizes[] = {1 << 20, 100000, 4000, 1000};
    for (int s = 0; s < 4; s++) {
        struct oom_arg arg = {policy, sizes[s]};
        hak_proc p;
        HAK_ASSERT_EQ(hak_fork_run(oom_child, &arg, 0, 120, &p), 0);
        char what[64];
        if (!(p.exited && p.exit_code == 0))
            hak_test_note("policy %s size %zu: child %s; stderr: %.300s", policy, sizes[s],
                          hak_proc_describe(&p, what, sizeof what), p.err);
        HAK_EXPECT(p.exited);
        HAK_EXPECT_EQ(p.exit_code, 0);
        hak_proc_free(&p);
    }
}

HAK_TEST(Errors, OutOfAddressSpaceReturnsNullMallocPolicy) {
    oom_case("malloc");
}

HAK_TEST(Errors, OutOfAddressSpaceReturnsNullMmapPolicy) {
    oom_case("mmap");
}

/* Pressure: what one size freed is cached for reuse (here nothing goes back on its own: no
 * purge clock, no budget), yet another size must get it when the OS refuses memory. Small
 * blocks fill the address space, are freed, then a 50 MiB block and 1 MiB blocks must fit:
 * the refused mapping releases every cache (empty SuperSlabs, slabs, the batch) and is
 * retried. */
static int pressure_child(void *unused) {
    (void)unused;
    if (hak_config_set("large.policy", "mmap") != 0 ||
        hak_config_set("large.purge_delay_ms", "-1") != 0 ||
        hak_config_set("tiny.purge_delay_ms", "-1") != 0 ||
        hak_config_set("tiny.unmap_delay_ms", "-1") != 0 ||
        hak_config_set("core.retain_pct", "10000") != 0)
        return 10;
    enum { MAXP = 1 << 23 };
    void **ptrs = mmap(NULL, MAXP * sizeof(void *), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ptrs == MAP_FAILED)
        return 11;
    hak_free(hak_malloc(64));
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f || fscanf(f, "%lu", &pages) != 1)
        return 13;
    fclose(f);
    size_t vm = pages * 4096ul, room = 256ul << 20;
    struct rlimit rl = {vm + room, vm + room};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        return 14;
    size_t n = 0;
    while (n < MAXP && (ptrs[n] = hak_malloc(64)) != NULL)
        *(char *)ptrs[n++] = 1;
    if (n == MAXP || n < 1000)
        return 20;
    for (size_t i = 0; i < n; i++)
        hak_free(ptrs[i]);
    uint64_t pressure = hak_ctr("purge_pressure");
    char *big = hak_malloc(50ul << 20);
    if (!big)
        return 30;
    big[0] = big[(50ul << 20) - 1] = 1;
    hak_free(big);
    if (hak_ctr("purge_pressure") <= pressure)
        return 31; /* it fitted without releasing anything: the test proves nothing */
    size_t m = 0;
    while (m < MAXP && (ptrs[m] = hak_malloc(1ul << 20)) != NULL)
        *(char *)ptrs[m++] = 1;
    printf("64 B blocks: %zu; then 1 MiB blocks: %zu\n", n, m);
    fflush(stdout);
    /* Most of the room: what the small blocks held was given back. */
    if (m < (room >> 20) * 3 / 4)
        return 40;
    return 0;
}

HAK_TEST(Errors, PressureReleasesCachesForAnotherSize) {
    hak_proc p;
    HAK_ASSERT_EQ(hak_fork_run(pressure_child, NULL, 0, 120, &p), 0);
    char what[64];
    hak_test_note("child %s; stdout: %.200s", hak_proc_describe(&p, what, sizeof what), p.out);
    HAK_EXPECT(p.exited);
    HAK_EXPECT_EQ(p.exit_code, 0);
    hak_proc_free(&p);
}
