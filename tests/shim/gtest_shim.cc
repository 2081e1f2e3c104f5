// Registers the C tests (HAK_TEST) with GoogleTest and runs them.
#include <gtest/gtest.h>

#include <cstdarg>
#include <cstdio>
#include <vector>

#include "hak_test.h"

namespace {

struct CTest {
    const char *suite;
    const char *name;
    hak_test_fn fn;
    const char *file;
    int line;
};

std::vector<CTest> &registry() {
    static std::vector<CTest> tests;
    return tests;
}

class CTestCase : public ::testing::Test {
  public:
    explicit CTestCase(hak_test_fn fn) : fn_(fn) {}
    void TestBody() override { fn_(); }

  private:
    hak_test_fn fn_;
};

} // namespace

extern "C" void hak_test_register(const char *suite, const char *name, hak_test_fn fn,
                                  const char *file, int line) {
    registry().push_back({suite, name, fn, file, line});
}

extern "C" int hak_test_check(int ok, const char *expr, const char *file, int line) {
    if (!ok)
        ADD_FAILURE_AT(file, line) << "expected: " << expr;
    return ok;
}

extern "C" int hak_test_check_eq(int64_t a, int64_t b, const char *ea, const char *eb,
                                 const char *file, int line) {
    if (a != b)
        ADD_FAILURE_AT(file, line) << "expected " << ea << " == " << eb << ", got " << a
                                   << " and " << b;
    return a == b;
}

extern "C" void hak_test_skip(const char *why, const char *file, int line) {
    GTEST_MESSAGE_AT_(file, line, why, ::testing::TestPartResult::kSkip);
}

extern "C" void hak_test_note(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ::testing::Test::RecordProperty("note", buf);
    std::fprintf(stderr, "[ note     ] %s\n", buf);
}

int main(int argc, char **argv) {
    for (const CTest &t : registry()) {
        hak_test_fn fn = t.fn;
        ::testing::RegisterTest(t.suite, t.name, nullptr, nullptr, t.file, t.line,
                                [fn]() -> ::testing::Test * { return new CTestCase(fn); });
    }
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
