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
