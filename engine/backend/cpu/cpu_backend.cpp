// The CPU backend: CpuOps plus a WeightSource that points straight into the GGUF mapping.
#include <memory>
#include <string>

#include "engine/backend/backend.h"
#include "engine/backend/cpu/cpu_ops.h"
#include "engine/backend/gguf_weight_source.h"

namespace zinfer::model {
namespace {

// Weights are read in place from the file mapping.
class MappedWeights final : public GgufWeightSource {
 public:
  explicit MappedWeights(const gguf::GgufFile& file)
      : GgufWeightSource(file, "CPU",
                         [](quant::GgmlType t) { return quant::traits(t).weight_type; }) {}

 private:
  Result<Weight> place(const gguf::TensorInfo& t, std::int64_t ne0, std::int64_t ne1) override {
    return Weight{t.type, ne0, ne1, t.data};
  }
};

class CpuBackend final : public Backend {
 public:
  CpuBackend(const gguf::GgufFile& file, const cpu::CpuOpsConfig& cfg)
      : weights_(file), ops_(cfg), cfg_(cfg) {}
  Ops& ops() override { return ops_; }
  WeightSource& weights() override { return weights_; }
  void begin_forward() override { ops_.reset_scratch(); }
  std::int32_t kv_blocks() const override { return cfg_.n_blocks; }
  std::string describe() const override {
    return "cpu (" + std::to_string(cfg_.n_threads) + " threads, " +
           (cfg_.exact_matmul ? (cfg_.fp16_prompts  ? "float matmul, fp16 prompts, q16 generated"
                                 : cfg_.q16_act     ? "float matmul, q16 activations"
                                 : cfg_.fp16_matmul ? "float matmul, fp16 operands"
                                                    : "float matmul")
                              : "q8 activations") +
           ")";
  }

 private:
  MappedWeights weights_;
  cpu::CpuOps ops_;
  cpu::CpuOpsConfig cfg_;
};

}  // namespace

Result<std::unique_ptr<Backend>> create_cpu_backend(const gguf::GgufFile& file,
                                                    const BackendConfig& config) {
  cpu::CpuOpsConfig cfg;
  cfg.n_threads = config.n_threads;
  cfg.exact_matmul = config.exact_matmul;
  cfg.q16_act = config.q16_act;
  cfg.fp16_matmul = config.fp16_matmul;
  cfg.fp16_prompts = config.fp16_prompts;
  cfg.n_layer = config.n_layer;
  cfg.n_embd_kv = config.n_embd_kv;
  cfg.n_blocks = config.kv_blocks;
  cfg.block_size = config.kv_block_size;
  return std::unique_ptr<Backend>(std::make_unique<CpuBackend>(file, cfg));
}

}  // namespace zinfer::model
