/* Policy registry: a fixed table of registered vtables and one atomic pointer per slot.
 * Registration takes a lock (rare); selection is an atomic store; readers never lock. */
#include <errno.h>
#include <string.h>

#include "core/compiler.h"
#include "core/components.h"
#include "core/lock.h"
#include "counters/counters.h"
#include "policy/elo.h"
#include "policy/policy.h"

#define MAX_POLICIES 32
#define MAX_NAME     31

const hak_policy *_Atomic hak_policy_slots[HAK_SLOT_COUNT];

static const hak_policy *_Atomic registered[MAX_POLICIES];
static atomic_int registered_count;
static hak_lock register_lock = HAK_LOCK_INIT;

static int valid_name(const char *name) {
    if (!name)
        return 0;
    size_t n = strlen(name);
    if (n == 0 || n > MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static const hak_policy *find(hak_slot slot, const char *name) {
    int n = atomic_load_explicit(&registered_count, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        const hak_policy *p = atomic_load_explicit(&registered[i], memory_order_acquire);
        if (p && p->slot == slot && strcmp(p->name, name) == 0)
            return p;
    }
    return NULL;
}

HAK_API int hak_policy_register(const hak_policy *policy) {
    if (!policy || !valid_name(policy->name) || (unsigned)policy->slot >= HAK_SLOT_COUNT ||
        (policy->slot == HAK_SLOT_LARGE && !policy->large_choose)) {
        errno = EINVAL;
        return -1;
    }
    hak_lock_acquire(&register_lock);
    int rc = 0;
    int n = atomic_load(&registered_count);
    if (find(policy->slot, policy->name)) {
        errno = EEXIST;
        rc = -1;
    } else if (n >= MAX_POLICIES) {
        errno = ENOSPC;
        rc = -1;
    } else {
        atomic_store_explicit(&registered[n], policy, memory_order_release);
        atomic_store_explicit(&registered_count, n + 1, memory_order_release);
    }
    hak_lock_release(&register_lock);
    return rc;
}

HAK_API int hak_policy_select(hak_slot slot, const char *name) {
    if ((unsigned)slot >= HAK_SLOT_COUNT || !name) {
        errno = EINVAL;
        return -1;
    }
    const hak_policy *p = find(slot, name);
    if (!p) {
        errno = ENOENT;
        return -1;
    }
    if (p->on_select)
        p->on_select(p->ctx);
    atomic_store_explicit(&hak_policy_slots[slot], p, memory_order_release);
    HAK_COUNT(policy_switch);
    return 0;
}

HAK_API const char *hak_policy_current(hak_slot slot) {
    if ((unsigned)slot >= HAK_SLOT_COUNT)
        return NULL;
    const hak_policy *p = hak_policy_active(slot);
    return p ? p->name : NULL;
}

HAK_API size_t hak_policy_list(hak_slot slot, const char **names, size_t max) {
    size_t found = 0;
    int n = atomic_load_explicit(&registered_count, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        const hak_policy *p = atomic_load_explicit(&registered[i], memory_order_acquire);
        if (!p || p->slot != slot)
            continue;
        if (names && found < max)
            names[found] = p->name;
        found++;
    }
    return found;
}

static void policy_init(void) {
    hak_elo_policy_register();
}

static void policy_fork_child(void) {
    hak_lock_reset(&register_lock);
    hak_elo_fork_child();
}

const hak_component hak_component_policy = {
    .name = "policy",
    .init = policy_init,
    .fork_child = policy_fork_child,
};
