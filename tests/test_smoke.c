/* The shim itself works and the static libraries link. */
#include <string.h>

#include "hakmem/hakmem.h"
#include "shim/hak_test.h"

HAK_TEST(Smoke, MallocFreeRoundTrip) {
    char *p = hak_malloc(100);
    HAK_ASSERT(p != NULL);
    memset(p, 0xab, 100);
    HAK_EXPECT(hak_usable_size(p) >= 100);
    hak_free(p);
}
