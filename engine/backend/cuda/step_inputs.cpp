// StepInputs (see step_inputs.h).
#include "engine/backend/cuda/step_inputs.h"

#include <algorithm>
#include <string>

#include "kernels/cuda_check.h"

namespace zinfer::cuda {
namespace {

Error batch_error(const std::string& what) {
  return make_error(ErrorCode::kInferenceFailed, "batch: " + what);
}

}  // namespace

Status StepInputs::reserve(std::size_t ints) {
  const std::size_t bytes = ints * sizeof(std::int32_t);
  if (host_ && host_.size() >= bytes) return ok_status();
  const std::size_t cap = std::max<std::size_t>(bytes * 2, std::size_t{1} << 16);
  ZINFER_ASSIGN_OR_RETURN(PinnedBuffer h, PinnedBuffer::allocate(cap));
  ZINFER_ASSIGN_OR_RETURN(DeviceBuffer d, DeviceBuffer::allocate(ledger_, cap, "step inputs"));
  host_ = std::move(h);
  device_ = std::move(d);
  ++generation_;
  return ok_status();
}

Status StepInputs::prepare(const model::Batch& batch, std::span<const std::int32_t> logit_rows) {
  prepared_ = false;
  const std::size_t n = batch.tokens.size();
  const std::size_t m = logit_rows.size();
  if (batch.positions.size() != n) return batch_error("positions and tokens differ in length");
  std::size_t longest = 1;
  for (const auto& s : batch.seqs) longest = std::max(longest, s.block_table.size());
  std::size_t width = 4;
  while (width < longest) width *= 2;
  const std::size_t ints = 4 * n + m + batch.seqs.size() * width;
  ZINFER_RETURN_IF_ERROR(reserve(ints));

  std::int32_t* h = host_.as<std::int32_t>();
  std::int32_t* tokens = h;
  std::int32_t* positions = h + n;
  std::int32_t* slots = h + 2 * n;
  std::int32_t* offsets = h + 3 * n;
  std::int32_t* rows = h + 4 * n;
  std::int32_t* tables = rows + m;
  std::copy(batch.tokens.begin(), batch.tokens.end(), tokens);
  std::copy(batch.positions.begin(), batch.positions.end(), positions);
  std::fill(slots, slots + n, -1);
  for (std::size_t i = 0; i < m; ++i) {
    if (logit_rows[i] < 0 || static_cast<std::size_t>(logit_rows[i]) >= n) {
      return batch_error("logit row out of range");
    }
    rows[i] = logit_rows[i];
  }
  const std::int32_t bs = block_size_;
  for (std::size_t si = 0; si < batch.seqs.size(); ++si) {
    const model::SeqSpan& s = batch.seqs[si];
    std::int32_t* table = tables + si * width;
    std::fill(table, table + width, 0);
    for (std::size_t b = 0; b < s.block_table.size(); ++b) {
      const std::int32_t blk = s.block_table[b];
      if (blk < 0 || blk >= n_blocks_) return batch_error("block id out of range");
      table[b] = blk;
    }
    for (std::int32_t t = 0; t < s.n_tokens; ++t) {
      const std::int64_t row = static_cast<std::int64_t>(s.row_start) + t;
      const std::int32_t pos = s.n_past + t;
      if (row < 0 || static_cast<std::size_t>(row) >= n || slots[row] != -1) {
        return batch_error("sequence rows overlap or fall outside the batch");
      }
      const auto bi = static_cast<std::size_t>(pos / bs);
      if (pos < 0 || bi >= s.block_table.size()) return batch_error("block table too short");
      if (positions[row] != pos)
        return batch_error("positions disagree with the sequences' n_past");
      slots[row] = s.block_table[bi] * bs + pos % bs;
      offsets[row] = static_cast<std::int32_t>(si * width);
    }
  }
  for (std::size_t r = 0; r < n; ++r) {
    if (slots[r] < 0) return batch_error("a token row belongs to no sequence");
  }
  const std::int32_t* d = device_.as<std::int32_t>();
  dev_ = Device{d, d + n, d + 2 * n, d + 3 * n, d + 4 * n, d + 4 * n + m};
  used_ints_ = ints;
  tokens_host_ = batch.tokens.data();
  positions_host_ = batch.positions.data();
  rows_host_ = logit_rows.data();
  n_ = n;
  m_ = m;
  width_ = static_cast<std::int32_t>(width);
  prepared_ = true;
  return ok_status();
}

Status StepInputs::upload(cudaStream_t stream) const {
  if (!prepared_) return batch_error("upload before prepare");
  ZINFER_CUDA_CHECK(cudaMemcpyAsync(device_.data(), host_.data(), used_ints_ * sizeof(std::int32_t),
                                    cudaMemcpyHostToDevice, stream));
  return ok_status();
}

}  // namespace zinfer::cuda
