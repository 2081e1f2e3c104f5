#include "core/components.h"

const hak_component hak_component_batch = {.name = "batch"};
