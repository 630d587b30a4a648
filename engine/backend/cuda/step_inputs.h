// StepInputs: a forward pass's per-step metadata — token ids, positions, KV slots, logit
// rows and block tables — laid out once per pass in page-locked host memory and sent to
// VRAM by a single copy into a buffer whose address does not change between passes. A
// captured CUDA graph records that copy and the device addresses, so replaying it for the
// next step only needs prepare() to write the new values into the same host layout.
//
// Layout (int32): [tokens n][positions n][slots n][bt_offsets n][logit_rows m]
// [block tables: one row of `width` ids per sequence], width = the longest table in the
// batch rounded up to a power of two (so it changes rarely and is part of a graph's key).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <span>

#include "engine/core/error.h"
#include "engine/model/ops.h"
#include "kernels/device_buffer.h"
#include "kernels/vram_ledger.h"

namespace zinfer::cuda {

class StepInputs {
 public:
  struct Device {
    const std::int32_t* tokens = nullptr;        // [n]
    const std::int32_t* positions = nullptr;     // [n]
    const std::int32_t* slots = nullptr;         // [n] KV slot of each new token
    const std::int32_t* bt_offsets = nullptr;    // [n] start of its table in block_tables
    const std::int32_t* logit_rows = nullptr;    // [m]
    const std::int32_t* block_tables = nullptr;  // [n_seqs][width]
  };

  StepInputs(VramLedger& ledger, std::int32_t n_blocks, std::int32_t block_size)
      : ledger_(ledger), n_blocks_(n_blocks), block_size_(block_size) {}

  // Validates the batch (rows, positions and block tables consistent, block ids in the
  // pool) and writes its image into host memory; kInferenceFailed naming what is wrong.
  // The previous pass's copy must have completed (the caller synchronizes the stream).
  Status prepare(const model::Batch& batch, std::span<const std::int32_t> logit_rows);
  // Queues the host → device copy of the prepared image on `stream`.
  Status upload(cudaStream_t stream) const;

  // Valid after prepare(): device pointers into the fixed buffer.
  const Device& device() const { return dev_; }
  // Whether tokens/rows are the spans the last prepare() saw (so ops can use the uploaded
  // copies instead of uploading again).
  bool is_tokens(std::span<const std::int32_t> s) const {
    return prepared_ && s.data() == tokens_host_ && s.size() == n_;
  }
  bool is_positions(std::span<const std::int32_t> s) const {
    return prepared_ && s.data() == positions_host_ && s.size() == n_;
  }
  bool is_logit_rows(std::span<const std::int32_t> s) const {
    return prepared_ && s.data() == rows_host_ && s.size() == m_;
  }
  bool prepared() const { return prepared_; }
  void clear() { prepared_ = false; }
  std::int32_t width() const { return width_; }
  // Changes whenever the buffers move (graphs recorded before then are stale).
  std::uint64_t generation() const { return generation_; }

 private:
  Status reserve(std::size_t ints);

  VramLedger& ledger_;
  std::int32_t n_blocks_;
  std::int32_t block_size_;
  PinnedBuffer host_;
  DeviceBuffer device_;
  std::size_t used_ints_ = 0;
  Device dev_;
  bool prepared_ = false;
  const std::int32_t* tokens_host_ = nullptr;
  const std::int32_t* positions_host_ = nullptr;
  const std::int32_t* rows_host_ = nullptr;
  std::size_t n_ = 0, m_ = 0;
  std::int32_t width_ = 0;
  std::uint64_t generation_ = 0;
};

}  // namespace zinfer::cuda
