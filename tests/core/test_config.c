/* The options table through the config API (hak_config_*). The environment is tested in
 * test_env.c. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/test_util.h"
#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

static const char *const required_keys[] = {
    "stats", "core.foreign_free", "large.policy", "large.force_mmap",
    "tiny.enabled", "tiny.use_superslab", "tiny.cache_bytes", "tiny.checks",
};
#define N_REQUIRED (sizeof required_keys / sizeof required_keys[0])

static int find_info(const char *key, hak_option_info *out) {
    size_t n = hak_config_count();
    for (size_t i = 0; i < n; i++)
        if (hak_config_info(i, out) == 0 && strcmp(out->key, key) == 0)
            return 0;
    return -1;
}

static int get_str(const char *key, char *buf, size_t len) {
    buf[0] = '\0';
    return hak_config_get(key, buf, len);
}

HAK_TEST(Config, EveryKeyHasHelpEnvAndType) {
    size_t n = hak_config_count();
    HAK_ASSERT(n >= N_REQUIRED);
    for (size_t i = 0; i < n; i++) {
        hak_option_info info;
        memset(&info, 0, sizeof info);
        HAK_ASSERT_EQ(hak_config_info(i, &info), 0);
        HAK_ASSERT(info.key != NULL);
        HAK_EXPECT(info.key[0] != '\0');
        HAK_EXPECT(info.help != NULL && info.help[0] != '\0');
        HAK_EXPECT(info.default_value != NULL);
        HAK_ASSERT(info.type != NULL);
        int action = strcmp(info.type, "action") == 0;
        HAK_EXPECT(strcmp(info.type, "bool") == 0 || strcmp(info.type, "size") == 0 ||
                   strcmp(info.type, "int") == 0 || strcmp(info.type, "enum") == 0 ||
                   strcmp(info.type, "string") == 0 || action);
        if (strcmp(info.type, "enum") == 0)
            HAK_EXPECT(info.choices != NULL && strchr(info.choices, '|') != NULL);
        HAK_EXPECT(info.runtime == 0 || info.runtime == 1);
        /* Every option has its environment variable HAKMEM_<KEY> ('.' -> '_', upper case);
         * actions (do something now, e.g. large.flush) have none (hakmem.h). */
        if (action) {
            HAK_EXPECT(info.runtime == 1);
        } else {
            HAK_EXPECT(info.env != NULL && info.env[0] != '\0');
            char want[128] = "HAKMEM_";
            size_t k = strlen(want);
            for (const char *c = info.key; *c && k < sizeof want - 1; c++)
                want[k++] = *c == '.' ? '_' : (char)toupper((unsigned char)*c);
            want[k] = '\0';
            if (info.env)
                HAK_EXPECT(strcmp(info.env, want) == 0);
        }
        /* Keys are unique. */
        for (size_t j = 0; j < i; j++) {
            hak_option_info other;
            HAK_ASSERT_EQ(hak_config_info(j, &other), 0);
            HAK_EXPECT(strcmp(other.key, info.key) != 0);
        }
        /* And every key can be read. */
        char value[128];
        HAK_EXPECT_EQ(get_str(info.key, value, sizeof value), 0);
        HAK_EXPECT(value[0] != '\0');
    }
    hak_option_info past;
    HAK_EXPECT_EQ(hak_config_info(n, &past), -1);
    HAK_EXPECT_EQ(hak_config_info((size_t)-1, &past), -1);
}

HAK_TEST(Config, RequiredKeysAndOriginalNamesExist) {
    for (size_t i = 0; i < N_REQUIRED; i++) {
        hak_option_info info;
        HAK_EXPECT_EQ(find_info(required_keys[i], &info), 0);
    }
    hak_option_info info;
    HAK_ASSERT_EQ(find_info("large.force_mmap", &info), 0);
    HAK_ASSERT(info.env_alias != NULL);
    HAK_EXPECT(strcmp(info.env_alias, "HAKO_HAKMEM_LARGE_MMAP") == 0);
    HAK_ASSERT_EQ(find_info("tiny.use_superslab", &info), 0);
    HAK_EXPECT(strcmp(info.env, "HAKMEM_TINY_USE_SUPERSLAB") == 0);
    HAK_ASSERT_EQ(find_info("large.policy", &info), 0);
    HAK_EXPECT(strcmp(info.env, "HAKMEM_LARGE_POLICY") == 0);
    HAK_EXPECT_EQ(info.runtime, 1);
}

/* The original hakmem shipped tiny.use_superslab off by mistake; the default is on. */
HAK_TEST(Config, TinyUseSuperslabDefaultsToOne) {
    hak_option_info info;
    HAK_ASSERT_EQ(find_info("tiny.use_superslab", &info), 0);
    HAK_EXPECT(strcmp(info.default_value, "1") == 0);
    if (getenv("HAKMEM_TINY_USE_SUPERSLAB"))
        HAK_SKIP("HAKMEM_TINY_USE_SUPERSLAB is set in the test environment");
    char value[16];
    HAK_ASSERT_EQ(get_str("tiny.use_superslab", value, sizeof value), 0);
    HAK_EXPECT(strcmp(value, "1") == 0);
}

/* Bool forms, enums, policies: set then get. */
HAK_TEST(Config, RuntimeKeysRoundTrip) {
    static const struct {
        const char *key, *set, *get;
    } cases[] = {
        {"stats", "1", "1"},
        {"stats", "0", "0"},
        {"stats", "true", "1"},
        {"stats", "off", "0"},
        {"stats", "on", "1"},
        {"stats", "false", "0"},
        {"tiny.checks", "0", "0"},
        {"tiny.checks", "1", "1"},
        {"core.foreign_free", "ignore", "ignore"},
        {"core.foreign_free", "abort", "abort"},
        {"large.policy", "mmap", "mmap"},
        {"large.policy", "malloc", "malloc"},
        {"large.force_mmap", "0", "0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        errno = 0;
        HAK_EXPECT_EQ(hak_config_set(cases[i].key, cases[i].set), 0);
        char value[64];
        HAK_EXPECT_EQ(get_str(cases[i].key, value, sizeof value), 0);
        if (strcmp(value, cases[i].get) != 0)
            hak_test_note("%s=%s reads back as '%s'", cases[i].key, cases[i].set, value);
        HAK_EXPECT(strcmp(value, cases[i].get) == 0);
    }
}

HAK_TEST(Config, ForceMmapSelectsMmap) {
    HAK_ASSERT_EQ(hak_config_set("large.force_mmap", "1"), 0);
    char value[64];
    HAK_ASSERT_EQ(get_str("large.force_mmap", value, sizeof value), 0);
    HAK_EXPECT(strcmp(value, "1") == 0);
    uint64_t mm = hak_ctr("large_alloc_mmap"), ml = hak_ctr("large_alloc_malloc");
    /* Whatever the policy says, the kill switch wins. */
    hak_config_set("large.policy", "malloc");
    void *p = hak_malloc(1 << 20);
    HAK_ASSERT(p != NULL);
    hak_free(p);
    HAK_EXPECT_EQ(hak_ctr("large_alloc_mmap"), mm + 1);
    HAK_EXPECT_EQ(hak_ctr("large_alloc_malloc"), ml);
    HAK_EXPECT_EQ(hak_config_set("large.force_mmap", "0"), 0);
}

HAK_TEST(Config, BadValuesEINVALAndUnchanged) {
    static const struct {
        const char *key, *bad;
    } cases[] = {
        {"stats", "2"},          {"stats", "maybe"},          {"stats", ""},
        {"stats", "1x"},         {"stats", "-1"},             {"tiny.checks", "yes please"},
        {"core.foreign_free", "crash"}, {"core.foreign_free", ""}, 
        {"large.policy", ""},    {"large.policy", "Bad Name"}, {"large.policy", "no-such-policy"},
        {"large.policy", "mmap "}, {"large.policy", "0123456789012345678901234567890123456789"},
        {"large.force_mmap", "x"}, {"large.force_mmap", "10"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char before[64], after[64];
        HAK_ASSERT_EQ(get_str(cases[i].key, before, sizeof before), 0);
        errno = 0;
        HAK_EXPECT_EQ(hak_config_set(cases[i].key, cases[i].bad), -1);
        if (errno != EINVAL)
            hak_test_note("%s=\"%s\": errno %d", cases[i].key, cases[i].bad, errno);
        HAK_EXPECT_EQ(errno, EINVAL);
        HAK_ASSERT_EQ(get_str(cases[i].key, after, sizeof after), 0);
        HAK_EXPECT(strcmp(before, after) == 0);
    }
    errno = 0;
    HAK_EXPECT_EQ(hak_config_set("stats", NULL), -1);
    HAK_EXPECT_EQ(errno, EINVAL);
}

HAK_TEST(Config, UnknownKeyENOENT) {
    static const char *const unknown[] = {"nope", "", "large", "large.", "LARGE.POLICY",
                                          "large.policy.x", "tiny.use_superslab "};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        char buf[64];
        errno = 0;
        HAK_EXPECT_EQ(hak_config_set(unknown[i], "1"), -1);
        HAK_EXPECT_EQ(errno, ENOENT);
        errno = 0;
        HAK_EXPECT_EQ(hak_config_get(unknown[i], buf, sizeof buf), -1);
        HAK_EXPECT_EQ(errno, ENOENT);
    }
    errno = 0;
    HAK_EXPECT_EQ(hak_config_set(NULL, "1"), -1);
    HAK_EXPECT_EQ(errno, ENOENT);
}

/* Start-up-only options cannot change once hakmem runs, even to a valid value. */
HAK_TEST(Config, StartupOnlyKeysEPERMAfterInit) {
    void *p = hak_malloc(10); /* hakmem is certainly initialised now */
    HAK_ASSERT(p != NULL);
    hak_free(p);
    size_t n = hak_config_count();
    size_t startup_only = 0;
    for (size_t i = 0; i < n; i++) {
        hak_option_info info;
        HAK_ASSERT_EQ(hak_config_info(i, &info), 0);
        if (info.runtime)
            continue;
        startup_only++;
        char before[64], after[64];
        HAK_ASSERT_EQ(get_str(info.key, before, sizeof before), 0);
        errno = 0;
        HAK_EXPECT_EQ(hak_config_set(info.key, info.default_value), -1);
        HAK_EXPECT_EQ(errno, EPERM);
        errno = 0;
        HAK_EXPECT_EQ(hak_config_set(info.key, before), -1);
        HAK_EXPECT_EQ(errno, EPERM);
        HAK_ASSERT_EQ(get_str(info.key, after, sizeof after), 0);
        HAK_EXPECT(strcmp(before, after) == 0);
    }
    /* tiny.enabled, tiny.use_superslab, tiny.cache_bytes at least. */
    HAK_EXPECT(startup_only >= 3);
    errno = 0;
    HAK_EXPECT_EQ(hak_config_set("tiny.cache_bytes", "128K"), -1);
    HAK_EXPECT_EQ(errno, EPERM);
    errno = 0;
    HAK_EXPECT_EQ(hak_config_set("tiny.use_superslab", "0"), -1);
    HAK_EXPECT_EQ(errno, EPERM);
}

HAK_TEST(Config, GetWithSmallBufferERANGE) {
    HAK_ASSERT_EQ(hak_config_set("large.policy", "malloc"), 0);
    char buf[64];
    memset(buf, 'x', sizeof buf);
    for (size_t len = 0; len <= strlen("malloc"); len++) {
        errno = 0;
        HAK_EXPECT_EQ(hak_config_get("large.policy", len ? buf : NULL, len), -1);
        HAK_EXPECT_EQ(errno, ERANGE);
    }
    HAK_EXPECT_EQ(hak_config_get("large.policy", buf, strlen("malloc") + 1), 0);
    HAK_EXPECT(strcmp(buf, "malloc") == 0);

    char size[64];
    HAK_ASSERT_EQ(get_str("tiny.cache_bytes", size, sizeof size), 0);
    size_t need = strlen(size) + 1;
    errno = 0;
    HAK_EXPECT_EQ(hak_config_get("tiny.cache_bytes", buf, need - 1), -1);
    HAK_EXPECT_EQ(errno, ERANGE);
    HAK_EXPECT_EQ(hak_config_get("tiny.cache_bytes", buf, need), 0);
    errno = 0;
    HAK_EXPECT_EQ(hak_config_get("core.foreign_free", buf, 2), -1);
    HAK_EXPECT_EQ(errno, ERANGE);
}

HAK_TEST(Config, PrintListsEveryKey) {
    int fds[2];
    HAK_ASSERT_EQ(pipe(fds), 0);
    hak_config_print(fds[1]); /* a few hundred bytes fit the pipe buffer */
    close(fds[1]);
    char out[65536];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof out - 1 && (r = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)r;
    close(fds[0]);
    out[len] = '\0';
    size_t n = hak_config_count();
    HAK_EXPECT(hak_count_lines(out, len) >= n);
    for (size_t i = 0; i < n; i++) {
        hak_option_info info;
        HAK_ASSERT_EQ(hak_config_info(i, &info), 0);
        /* Each key starts a line. */
        char needle[128];
        snprintf(needle, sizeof needle, "\n%s ", info.key);
        int at_start = strncmp(out, info.key, strlen(info.key)) == 0;
        HAK_EXPECT(at_start || strstr(out, needle) != NULL);
        HAK_EXPECT(strstr(out, info.help) != NULL);
    }
}

/* Action keys (large.flush): setting 1 does the action now, the key reads as 0, a bad
 * value is EINVAL. */
HAK_TEST(Config, ActionKeysReadAsZero) {
    size_t n = hak_config_count();
    size_t actions = 0;
    for (size_t i = 0; i < n; i++) {
        hak_option_info info;
        HAK_ASSERT_EQ(hak_config_info(i, &info), 0);
        if (strcmp(info.type, "action") != 0)
            continue;
        actions++;
        HAK_EXPECT_EQ(hak_config_set(info.key, "1"), 0);
        char value[16];
        HAK_EXPECT_EQ(get_str(info.key, value, sizeof value), 0);
        HAK_EXPECT(strcmp(value, "0") == 0);
        errno = 0;
        HAK_EXPECT_EQ(hak_config_set(info.key, "now please"), -1);
        HAK_EXPECT_EQ(errno, EINVAL);
    }
    hak_test_note("%zu action keys", actions);
}

/* Every run-time option takes its own default and (enums) each of its choices, reads them
 * back, and is restored afterwards. */
HAK_TEST(Config, EveryRuntimeKeyAcceptsDefaultAndChoices) {
    size_t n = hak_config_count();
    for (size_t i = 0; i < n; i++) {
        hak_option_info info;
        HAK_ASSERT_EQ(hak_config_info(i, &info), 0);
        if (!info.runtime || strcmp(info.type, "action") == 0)
            continue;
        char orig[128], now[128];
        HAK_ASSERT_EQ(get_str(info.key, orig, sizeof orig), 0);
        if (strcmp(info.type, "enum") == 0 && info.choices) {
            char choices[256];
            snprintf(choices, sizeof choices, "%s", info.choices);
            char *save = NULL;
            for (char *c = strtok_r(choices, "|", &save); c; c = strtok_r(NULL, "|", &save)) {
                HAK_EXPECT_EQ(hak_config_set(info.key, c), 0);
                HAK_EXPECT_EQ(get_str(info.key, now, sizeof now), 0);
                HAK_EXPECT(strcmp(now, c) == 0);
            }
        }
        if (strcmp(info.key, "large.force_mmap") != 0) { /* 1 selects mmap: tested apart */
            errno = 0;
            int rc = hak_config_set(info.key, info.default_value);
            if (rc != 0)
                hak_test_note("%s = default '%s' refused: errno %d", info.key,
                              info.default_value, errno);
            HAK_EXPECT_EQ(rc, 0);
        }
        HAK_EXPECT_EQ(hak_config_set(info.key, orig), 0);
        HAK_EXPECT_EQ(get_str(info.key, now, sizeof now), 0);
        HAK_EXPECT(strcmp(now, orig) == 0);
    }
}
