// Programmatic dependent launch (sm_90+): a kernel launched with launch_pdl may start while
// the kernel before it in the stream is still running — its blocks become resident and run
// what does not depend on that kernel (index math, L2 prefetches of its weights) — and waits
// in pdl_wait() until the earlier kernel has completed and its writes are visible. In a CUDA
// graph captured from the stream the edge stays programmatic. At batch 1 a decode step is
// ~200 small dependent kernels, each paying a launch and a ramp-up before it reads a byte:
// this is what lets one kernel's start overlap the previous one's tail.
//
// The contract of a kernel launched with launch_pdl: pdl_wait() is its first statement, before
// any global read of what earlier kernels wrote, any global write (an earlier kernel may still
// read the buffer) and any early return (a kernel that completed without waiting would let
// the next one run ahead of the kernel before it); pdl_launch_dependents() may follow it. Only
// reads of memory no kernel writes during a step (weights) may come before the wait. Kernels
// launched the ordinary way need nothing: they start after their predecessor completes.
//
// On by default on devices of compute capability 9.0 and later (an H100, 2026-12-06: batch-1
// decode +8% at the 0.5B shape, +2% at 7B, same bits); ZINFER_PDL=0 (or set_pdl(0)) turns it
// off; on older devices launch_pdl is an ordinary launch.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

namespace zinfer::cuda {

// Whether launch_pdl launches with programmatic stream serialization: set_pdl's value, else
// on unless ZINFER_PDL=0; and the current device is sm_90 or later.
bool pdl_enabled();
// Tests: 1 on, 0 off, -1 back to the default (ZINFER_PDL). Set it between steps, not while one is
// queued.
void set_pdl(int on);

#ifdef __CUDACC__
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// One L2 prefetch of the 128-byte line holding p (no register result, no fault semantics
// beyond the address's own).
__device__ __forceinline__ void prefetch_l2(const void* p) {
  asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
}

// kernel<<<grid, block, smem, stream>>>(args...), with programmatic stream serialization when
// pdl_enabled(). Errors surface as a launch's do (ZINFER_CUDA_LAUNCH_CHECK).
template <typename... Params, typename... Args>
void launch_pdl(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem,
                cudaStream_t stream, Args&&... args) {
  if (!pdl_enabled()) {
    kernel<<<grid, block, smem, stream>>>(std::forward<Args>(args)...);
    return;
  }
  cudaLaunchAttribute attr[1] = {};
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  (void)cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
}
#endif

}  // namespace zinfer::cuda
