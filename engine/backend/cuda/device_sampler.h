// DeviceSampler: the CUDA backend's sample() — sampling on the device with only the results
// coming back. Each call lays the rows' parameters, logit-bias lists and penalty counts out in
// page-locked memory (StepInputs' discipline: one image, one async copy into a fixed VRAM
// buffer that grows only between steps), launches sample_rows on the logits the forward pass
// left in VRAM, and copies back one small SampleRowResult per row: ~200 bytes instead of
// the row's n_vocab floats.
//
// Layout of the uploaded image: [SampleRowParams n][bias ids B][bias values B]
// [penalty ids P][penalty counts P]; a second device buffer holds the results [n] and the
// kernels' scratch (raw logits of the edited ids, B + P floats; the raw pass's partials).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/core/error.h"
#include "engine/sample/logits_processor.h"
#include "kernels/device_buffer.h"
#include "kernels/matrix_view.h"
#include "kernels/sample_rows.h"
#include "kernels/vram_ledger.h"

namespace zinfer::cuda {

class DeviceSampler {
 public:
  explicit DeviceSampler(VramLedger& ledger) : ledger_(ledger) {}

  // Samples rows of `logits` (edited in place) on `stream` and waits for the results. Per
  // row: what sample::sample_logits returns for it, errors included (kInvalidParameter for a
  // history id outside the vocabulary is found here, on the host, like the host sampler).
  // The call fails only on a device error.
  Result<std::vector<Result<sample::SampleResult>>> sample(MatrixView logits,
                                                           std::span<const model::SampleRow> rows,
                                                           cudaStream_t stream);

  // The three parts of sample(), for tests and for capture: prepare() writes the host image
  // (and grows the buffers: never inside a capture), record() queues the upload, the kernel
  // and the copy back (no allocation, fixed addresses), results() reads the copied results
  // once the stream has finished.
  Status prepare(std::span<const model::SampleRow> rows, std::int64_t vocab);
  Status record(MatrixView logits, cudaStream_t stream);
  std::vector<Result<sample::SampleResult>> results() const;

 private:
  Status reserve(std::size_t image_bytes, std::size_t scratch_bytes, std::size_t result_bytes);

  VramLedger& ledger_;
  PinnedBuffer host_image_;      // the uploaded image
  DeviceBuffer device_image_;    // its VRAM copy
  DeviceBuffer device_scratch_;  // results + the kernel's edit scratch
  PinnedBuffer host_results_;    // [launched_] SampleRowResult, copied back
  std::size_t image_bytes_ = 0;
  // Byte offsets in the image and in the scratch buffer.
  std::size_t params_offset_ = 0, bias_ids_offset_ = 0, bias_values_offset_ = 0;
  std::size_t penalty_ids_offset_ = 0, penalty_counts_offset_ = 0;
  std::size_t results_offset_ = 0, bias_raw_offset_ = 0, penalty_raw_offset_ = 0;
  std::size_t stats_offset_ = 0;
  std::int32_t launched_ = 0;  // rows sent to the kernel
  std::int32_t bias_total_ = 0;
  std::int32_t penalty_total_ = 0;
  // Per requested row: its index among the launched rows, or -1 with its host-side error.
  std::vector<std::int32_t> slot_;
  std::vector<std::optional<Error>> early_;
  std::vector<std::vector<sample::PenaltyCount>> counts_;
};

}  // namespace zinfer::cuda
