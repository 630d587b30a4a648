// Architecture: one forward-pass description per model family (llama_family.cpp, gemma3.cpp, ...),
// created through a registry table keyed by general.architecture.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "engine/core/error.h"
#include "engine/model/hparams.h"
#include "engine/model/ops.h"

namespace zinfer::model {

// Hands out weights by GGUF tensor name, checking shapes; the backend decides where they live.
class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // kModelLoadFailed naming the tensor when missing or not [ne1][ne0].
  virtual Result<Weight> get(const std::string& name, std::int64_t ne0, std::int64_t ne1) = 0;
  // Absent tensors give an empty Weight; a present one with the wrong shape is an error.
  virtual Result<Weight> get_optional(const std::string& name, std::int64_t ne0,
                                      std::int64_t ne1) = 0;
  // A stack of n matrices [ne1][ne0] (GGUF ne = [ne0, ne1, n], e.g. a MoE layer's experts),
  // handed out as one weight of n * ne1 rows; all three dimensions are checked.
  virtual Result<Weight> get_stacked(const std::string& name, std::int64_t ne0, std::int64_t ne1,
                                     std::int64_t n) = 0;
};

class Architecture {
 public:
  virtual ~Architecture() = default;
  // Runs the batch; writes logits [logit_rows.size()][n_vocab] for the listed batch rows.
  virtual Status forward(Ops& ops, const Batch& batch, std::span<const std::int32_t> logit_rows,
                         Tensor logits) = 0;
};

using ArchitectureFactory =
    std::function<Result<std::unique_ptr<Architecture>>(const Hparams&, WeightSource&)>;

struct ArchitectureEntry {
  std::string_view name;  // general.architecture value
  ArchitectureFactory create;
};

// Finds the factory for hp.arch; kModelLoadFailed naming the architecture if unsupported.
Result<std::unique_ptr<Architecture>> create_architecture(const Hparams& hp, WeightSource& weights);
// "llama, qwen2, ..." for messages and `zinfer inspect`.
std::string supported_architectures();

// Defined by each architecture file.
Result<std::unique_ptr<Architecture>> create_llama(const Hparams& hp, WeightSource& weights);
Result<std::unique_ptr<Architecture>> create_qwen2(const Hparams& hp, WeightSource& weights);
Result<std::unique_ptr<Architecture>> create_gemma3(const Hparams& hp, WeightSource& weights);
Result<std::unique_ptr<Architecture>> create_phi3(const Hparams& hp, WeightSource& weights);
Result<std::unique_ptr<Architecture>> create_gpt2(const Hparams& hp, WeightSource& weights);
Result<std::unique_ptr<Architecture>> create_gpt_oss(const Hparams& hp, WeightSource& weights);

}  // namespace zinfer::model
