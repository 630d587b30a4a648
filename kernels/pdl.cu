// pdl_enabled / set_pdl (see pdl.h).
#include <atomic>

#include "engine/core/env_switch.h"
#include "kernels/pdl.h"

namespace zinfer::cuda {
namespace {

std::atomic<int> g_pdl{-1};

bool device_supports_pdl() {
  int dev = 0, major = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
    return false;
  }
  return major >= 9;
}

}  // namespace

bool pdl_enabled() {
  static const bool env = env_flag("ZINFER_PDL", true);
  static const bool supported = device_supports_pdl();
  const int v = g_pdl.load(std::memory_order_relaxed);
  return supported && (v < 0 ? env : v == 1);
}

void set_pdl(int on) { g_pdl.store(on, std::memory_order_relaxed); }

}  // namespace zinfer::cuda
