/* The policy registry: vtables by name, one active policy per slot (interface of the policy
 * room; the public half is in hakmem/hakmem.h). */
#ifndef HAKMEM_POLICY_POLICY_H
#define HAKMEM_POLICY_POLICY_H

#include <stdatomic.h>

#include "hakmem/hakmem.h"

extern const hak_policy *_Atomic hak_policy_slots[HAK_SLOT_COUNT];

/* The active policy of a slot: one acquire load (NULL before any selection). */
static inline const hak_policy *hak_policy_active(hak_slot slot) {
    return atomic_load_explicit(&hak_policy_slots[slot], memory_order_acquire);
}

#endif
