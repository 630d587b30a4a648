// Registry of supported architectures: adding a family is one row here plus its file.
#include "engine/model/architecture.h"

#include <array>

namespace zinfer::model {
namespace {

const std::array<ArchitectureEntry, 6> kArchitectures = {{
    {"llama", create_llama},
    {"qwen2", create_qwen2},
    {"gemma3", create_gemma3},
    {"phi3", create_phi3},
    {"gpt2", create_gpt2},
    {"gpt-oss", create_gpt_oss},
}};

}  // namespace

Result<std::unique_ptr<Architecture>> create_architecture(const Hparams& hp,
                                                          WeightSource& weights) {
  for (const auto& entry : kArchitectures) {
    if (entry.name == hp.arch) return entry.create(hp, weights);
  }
  return make_error(ErrorCode::kModelLoadFailed,
                    "general.architecture '" + hp.arch +
                        "' is not supported (supported: " + supported_architectures() + ")");
}

std::string supported_architectures() {
  std::string out;
  for (const auto& entry : kArchitectures) {
    if (!out.empty()) out += ", ";
    out += entry.name;
  }
  return out;
}

}  // namespace zinfer::model
