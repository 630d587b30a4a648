// moe_group_kernel (moe.h): one block of kThreads (launched with launch_pdl, pdl.h). Warp w takes
// experts w, w + 32, ...; it scans the routing ids 32 slots at a time, a ballot marking its
// expert's slots, so
//   pass 1 counts each expert's slots,
//   thread 0 turns the counts into each expert's first slot entry and first tile,
//   pass 2 writes each expert's slots in ascending order (rank in a ballot = the set bits
//   below the lane) and its tiles, and the tiles past the last are marked -1.
// The result depends only on the ids, never on scheduling: the same grouping every run.
#include <string>

#include "kernels/cuda_check.h"
#include "kernels/moe.h"
#include "kernels/pdl.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;

__device__ __forceinline__ int slot_expert(const float* ids, std::int64_t stride, int k,
                                           std::int64_t s, int n_expert) {
  return moe_expert_id(ids[(s / k) * stride + s % k], n_expert);
}

__global__ void __launch_bounds__(kThreads)
    moe_group_kernel(const float* ids, std::int64_t ids_stride, MoeRouting r) {
  __shared__ int s_count[kMoeMaxExperts];
  __shared__ int s_first[kMoeMaxExperts];  // first entry of the expert's slots
  __shared__ int s_tile[kMoeMaxExperts];   // its first tile
  __shared__ int s_n_tiles;
  pdl_wait();
  pdl_launch_dependents();
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const unsigned below = (1u << lane) - 1u;

  for (int e = warp; e < r.n_expert; e += kWarps) {
    int count = 0;
    for (std::int64_t s0 = 0; s0 < r.n_slots; s0 += 32) {
      const std::int64_t s = s0 + lane;
      const bool mine = s < r.n_slots && slot_expert(ids, ids_stride, r.k, s, r.n_expert) == e;
      count += __popc(__ballot_sync(0xffffffffu, mine));
    }
    if (lane == 0) s_count[e] = count;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int first = 0, tiles = 0;
    for (int e = 0; e < r.n_expert; ++e) {
      s_first[e] = first;
      s_tile[e] = tiles;
      first += s_count[e];
      tiles += (s_count[e] + kMoeTileRows - 1) / kMoeTileRows;
    }
    s_n_tiles = tiles;  // <= r.max_tiles (moe_max_tiles)
  }
  __syncthreads();
  for (int e = warp; e < r.n_expert; e += kWarps) {
    int at = s_first[e];
    for (std::int64_t s0 = 0; s0 < r.n_slots; s0 += 32) {
      const std::int64_t s = s0 + lane;
      const bool mine = s < r.n_slots && slot_expert(ids, ids_stride, r.k, s, r.n_expert) == e;
      const unsigned mask = __ballot_sync(0xffffffffu, mine);
      if (mine) r.slots[at + __popc(mask & below)] = static_cast<std::int32_t>(s);
      at += __popc(mask);
    }
    const int count = s_count[e];
    for (int t = lane; t * kMoeTileRows < count; t += 32) {
      const int ti = s_tile[e] + t;
      r.tile_expert[ti] = e;
      r.tile_begin[ti] = s_first[e] + t * kMoeTileRows;
      r.tile_count[ti] = min(kMoeTileRows, count - t * kMoeTileRows);
    }
  }
  for (std::int64_t t = s_n_tiles + static_cast<std::int64_t>(threadIdx.x); t < r.max_tiles;
       t += kThreads) {
    r.tile_expert[t] = -1;
  }
}

}  // namespace

Status launch_moe_group(MatrixView ids, const MoeRouting& r, cudaStream_t stream) {
  if (r.k <= 0 || r.n_expert <= 0 || r.n_expert > kMoeMaxExperts || r.k > r.n_expert ||
      ids.cols != r.k || ids.rows * r.k != r.n_slots || r.n_slots > 0x7fffffff ||
      r.max_tiles != moe_max_tiles(r.n_slots, r.n_expert)) {
    return make_error(ErrorCode::kInferenceFailed,
                      "moe_group: bad routing shape (ids [" + std::to_string(ids.rows) + "," +
                          std::to_string(ids.cols) + "], " + std::to_string(r.n_expert) +
                          " experts, at most " + std::to_string(kMoeMaxExperts) + ")");
  }
  if (r.n_slots == 0) return ok_status();
  launch_pdl(moe_group_kernel, dim3(1), dim3(kThreads), 0, stream, ids.data, ids.stride, r);
  ZINFER_CUDA_LAUNCH_CHECK("moe_group_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
