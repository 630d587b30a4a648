// Backend's default sample(): the host Sampler over logits copied from the backend.
#include "engine/backend/backend.h"

#include <cassert>

namespace zinfer::model {

Result<std::vector<Result<sample::SampleResult>>> Backend::sample(Tensor logits,
                                                                  std::span<const SampleRow> rows) {
  const auto cols = static_cast<std::size_t>(logits.cols);
  std::vector<float> host(static_cast<std::size_t>(logits.rows) * cols);
  ZINFER_RETURN_IF_ERROR(ops().to_host(logits, host.data()));
  std::vector<Result<sample::SampleResult>> out;
  out.reserve(rows.size());
  for (const SampleRow& r : rows) {
    assert(r.request.params != nullptr && r.logit_row >= 0 && r.logit_row < logits.rows);
    const std::span<float> row(host.data() + static_cast<std::size_t>(r.logit_row) * cols, cols);
    out.push_back(
        sample::sample_logits(*r.request.params, row, r.request.history, r.request.position));
  }
  return out;
}

}  // namespace zinfer::model
