// The CPU backend: CpuOps plus a WeightSource that points straight into the GGUF mapping.
#include <memory>
#include <string>

#include "engine/backend/backend.h"
#include "engine/backend/cpu/cpu_ops.h"

namespace zinfer::model {
namespace {

class MappedWeights final : public WeightSource {
 public:
  explicit MappedWeights(const gguf::GgufFile& file) : file_(file) {}

  Result<Weight> get(const std::string& name, std::int64_t ne0, std::int64_t ne1) override {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (t == nullptr)
      return make_error(ErrorCode::kModelLoadFailed, "tensor '" + name + "' is missing");
    return check(*t, ne0, ne1);
  }

  Result<Weight> get_optional(const std::string& name, std::int64_t ne0,
                              std::int64_t ne1) override {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (t == nullptr) return Weight{};
    return check(*t, ne0, ne1);
  }

 private:
  static Result<Weight> check(const gguf::TensorInfo& t, std::int64_t ne0, std::int64_t ne1) {
    const std::int64_t rows = t.ne[1] * t.ne[2] * t.ne[3];
    if (t.ne[0] != ne0 || rows != ne1) {
      return make_error(ErrorCode::kModelLoadFailed,
                        "tensor '" + t.name + "' has shape [" + std::to_string(t.ne[0]) + ", " +
                            std::to_string(rows) + "], expected [" + std::to_string(ne0) + ", " +
                            std::to_string(ne1) + "]");
    }
    if (!quant::traits(t.type).weight_type) {
      return make_error(ErrorCode::kModelLoadFailed,
                        "tensor '" + t.name + "' has type " +
                            std::string(quant::type_name(t.type)) +
                            ", which the CPU backend does not support");
    }
    if (ne1 == 1 && t.type != quant::GgmlType::kF32) {
      return make_error(ErrorCode::kModelLoadFailed,
                        "tensor '" + t.name + "': vectors (norms, biases) must be F32");
    }
    return Weight{t.type, ne0, ne1, t.data};
  }

  const gguf::GgufFile& file_;
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
           (cfg_.exact_matmul ? "float matmul" : "q8 activations") + ")";
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
  cfg.n_layer = config.n_layer;
  cfg.n_embd_kv = config.n_embd_kv;
  cfg.n_blocks = config.kv_blocks;
  cfg.block_size = config.kv_block_size;
  return std::unique_ptr<Backend>(std::make_unique<CpuBackend>(file, cfg));
}

}  // namespace zinfer::model
