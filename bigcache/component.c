#include "core/components.h"

const hak_component hak_component_bigcache = {.name = "bigcache"};
