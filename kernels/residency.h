// VRAM residency: proves a pointer is plain device memory (cudaMalloc), not managed,
// host-pinned or host-mapped memory that would silently page over PCIe.
#pragma once

#include <string_view>

#include "engine/core/error.h"

namespace zinfer::cuda {

// ok when cudaPointerGetAttributes says cudaMemoryTypeDevice with no host mapping;
// kVramResidencyFailed naming `what` and the memory type otherwise.
Status check_vram_resident(const void* ptr, std::string_view what);

}  // namespace zinfer::cuda
