/* The built-in policies of the large slot: always malloc, always mmap. */
#include "large/large.h"

static hak_large_backend choose_malloc(void *ctx, size_t size, size_t alignment, uintptr_t site) {
    (void)ctx, (void)size, (void)alignment, (void)site;
    return HAK_BACKEND_MALLOC;
}

static hak_large_backend choose_mmap(void *ctx, size_t size, size_t alignment, uintptr_t site) {
    (void)ctx, (void)size, (void)alignment, (void)site;
    return HAK_BACKEND_MMAP;
}

static const hak_policy malloc_policy = {
    .name = "malloc",
    .help = "large blocks from the C library's allocator",
    .slot = HAK_SLOT_LARGE,
    .large_choose = choose_malloc,
};

static const hak_policy mmap_policy = {
    .name = "mmap",
    .help = "large blocks from anonymous mappings",
    .slot = HAK_SLOT_LARGE,
    .large_choose = choose_mmap,
};

void hak_large_register_policies(void) {
    hak_policy_register(&malloc_policy);
    hak_policy_register(&mmap_policy);
}
