/* Tests are written in C against the C API; this header registers each one with
 * GoogleTest (shim/gtest_shim.cc) so gtest runs them and ctest lists each by name.
 *
 *   HAK_TEST(Suite, Name) { HAK_ASSERT(p != NULL); HAK_EXPECT_EQ(n, 3); }
 *
 * HAK_EXPECT_* record a failure and go on; HAK_ASSERT_* record it and return from the test.
 * HAK_SKIP("why") marks the test skipped. */
#ifndef HAKMEM_TESTS_HAK_TEST_H
#define HAKMEM_TESTS_HAK_TEST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*hak_test_fn)(void);
void hak_test_register(const char *suite, const char *name, hak_test_fn fn, const char *file,
                       int line);
/* Records a failure when ok is 0; returns ok. */
int  hak_test_check(int ok, const char *expr, const char *file, int line);
int  hak_test_check_eq(int64_t a, int64_t b, const char *ea, const char *eb, const char *file,
                       int line);
void hak_test_skip(const char *why, const char *file, int line);
void hak_test_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef __cplusplus
}
#endif

#define HAK_TEST(suite, name)                                                                \
    static void hak_test_##suite##_##name(void);                                             \
    __attribute__((constructor)) static void hak_test_reg_##suite##_##name(void) {           \
        hak_test_register(#suite, #name, hak_test_##suite##_##name, __FILE__, __LINE__);     \
    }                                                                                        \
    static void hak_test_##suite##_##name(void)

#define HAK_EXPECT(cond) ((void)hak_test_check(!!(cond), #cond, __FILE__, __LINE__))
#define HAK_ASSERT(cond)                                                                     \
    do {                                                                                     \
        if (!hak_test_check(!!(cond), #cond, __FILE__, __LINE__))                            \
            return;                                                                          \
    } while (0)
#define HAK_EXPECT_EQ(a, b)                                                                  \
    ((void)hak_test_check_eq((int64_t)(a), (int64_t)(b), #a, #b, __FILE__, __LINE__))
#define HAK_ASSERT_EQ(a, b)                                                                  \
    do {                                                                                     \
        if (!hak_test_check_eq((int64_t)(a), (int64_t)(b), #a, #b, __FILE__, __LINE__))     \
            return;                                                                          \
    } while (0)
#define HAK_SKIP(why)                                                                        \
    do {                                                                                     \
        hak_test_skip((why), __FILE__, __LINE__);                                            \
        return;                                                                              \
    } while (0)

#endif
