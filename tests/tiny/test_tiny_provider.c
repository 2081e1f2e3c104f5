/* The slab provider is chosen at start-up by HAKMEM_TINY_USE_SUPERSLAB: under "0" every
 * slab is its own 64 KiB mapping and no SuperSlab is ever mapped; without it tiny slabs
 * come from SuperSlabs. Checked in fresh processes (tiny_provider_probe) and in this one,
 * which ctest runs both with and without the variable (tests/tiny/CMakeLists.txt). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

/* The number after "<key>=" in the line starting with prefix, or -1. */
static long long probe_value(const char *out, const char *prefix, const char *key) {
    const char *line = strstr(out, prefix);
    if (!line)
        return -1;
    const char *end = strchr(line, '\n');
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *k = strstr(line, pat);
    if (!k || (end && k > end))
        return -1;
    return strtoll(k + strlen(pat), NULL, 10);
}

static void run_probe(const char *const env[], const char *want, int superslabs) {
    const char *argv[] = {HAKMEM_TEST_BIN_DIR "/tiny_provider_probe", NULL};
    hak_proc p;
    HAK_ASSERT_EQ(hak_run(argv, env, NULL, 60, &p), 0);
    char what[64];
    if (!(p.exited && p.exit_code == 0))
        hak_test_note("probe %s, stdout: %.400s stderr: %.400s",
                      hak_proc_describe(&p, what, sizeof what), p.out, p.err);
    HAK_EXPECT(p.exited);
    HAK_EXPECT_EQ(p.exit_code, 0);
    char line[64];
    snprintf(line, sizeof line, "use_superslab=%s\n", want);
    HAK_EXPECT(strstr(p.out, line) != NULL);
    HAK_EXPECT(strstr(p.out, "\nok\n") != NULL);
    long long before = probe_value(p.out, "before", "superslab_new");
    long long after = probe_value(p.out, "after", "superslab_new");
    long long slabs = probe_value(p.out, "after", "slab_new");
    hak_test_note("use_superslab=%s: superslab_new %lld -> %lld, slab_new %lld", want, before,
                  after, slabs);
    HAK_EXPECT(before >= 0 && after >= 0);
    HAK_EXPECT(slabs > 0); /* 8 MiB of blocks needs slabs from some provider */
    if (superslabs) {
        HAK_EXPECT(after > 0);
    } else {
        HAK_EXPECT_EQ(before, 0);
        HAK_EXPECT_EQ(after, 0);
    }
    HAK_EXPECT_EQ(p.err_len, 0); /* the variable is accepted without a complaint */
    hak_proc_free(&p);
}

HAK_TEST(TinyProvider, PlainPagesUnderTheVariable) {
    const char *const plain[] = {"HAKMEM_TINY_USE_SUPERSLAB=0", NULL};
    run_probe(plain, "0", 0);
    run_probe(NULL, "1", 1);
}

/* In this process: whichever way ctest started it, the provider matches the variable. */
HAK_TEST(TinyProvider, ThisProcessFollowsTheVariable) {
    const char *env = getenv("HAKMEM_TINY_USE_SUPERSLAB");
    int plain = env && strcmp(env, "0") == 0;
    if (env && !plain && strcmp(env, "1") != 0)
        HAK_SKIP("HAKMEM_TINY_USE_SUPERSLAB is neither unset, 0 nor 1");
    char v[32] = "";
    HAK_ASSERT_EQ(hak_config_get("tiny.use_superslab", v, sizeof v), 0);
    HAK_EXPECT(strcmp(v, plain ? "0" : "1") == 0);

    enum { N = 2048 };
    static unsigned char *p[N];
    uint64_t slabs0 = hak_ctr("slab_new"), maps0 = hak_ctr("os_mmap");
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        size_t n = (size_t)16 << (i % 12);
        p[i] = hak_malloc(n);
        HAK_ASSERT(p[i] != NULL);
        memset(p[i], (int)(i & 0xff), n);
        if (plain && i % 256 == 255)
            HAK_EXPECT_EQ(hak_ctr("superslab_new"), 0); /* stays 0 all along */
    }
    for (size_t i = 0; i < N; i++) {
        size_t n = (size_t)16 << (i % 12);
        bad += !hak_all_bytes(p[i], n, (unsigned char)(i & 0xff));
        hak_free(p[i]);
    }
    HAK_EXPECT_EQ(bad, 0);
    uint64_t ss = hak_ctr("superslab_new");
    hak_test_note("use_superslab=%s: superslab_new %llu, slab_new +%llu, os_mmap +%llu", v,
                  (unsigned long long)ss, (unsigned long long)(hak_ctr("slab_new") - slabs0),
                  (unsigned long long)(hak_ctr("os_mmap") - maps0));
    HAK_EXPECT(hak_ctr("slab_new") > slabs0);
    if (plain) {
        HAK_EXPECT_EQ(ss, 0);
        /* Every slab is a mapping of its own: at least one mmap per new slab. */
        HAK_EXPECT(hak_ctr("os_mmap") - maps0 >= hak_ctr("slab_new") - slabs0);
    } else {
        HAK_EXPECT(ss > 0);
    }
}
