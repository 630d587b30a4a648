// GgufWeightSource (see gguf_weight_source.h).
#include "engine/backend/gguf_weight_source.h"

namespace zinfer::model {

Result<Weight> GgufWeightSource::get(const std::string& name, std::int64_t ne0, std::int64_t ne1) {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr)
    return make_error(ErrorCode::kModelLoadFailed, "tensor '" + name + "' is missing");
  return check_and_place(*t, ne0, ne1);
}

Result<Weight> GgufWeightSource::get_optional(const std::string& name, std::int64_t ne0,
                                              std::int64_t ne1) {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) return Weight{};
  return check_and_place(*t, ne0, ne1);
}

Result<Weight> GgufWeightSource::get_stacked(const std::string& name, std::int64_t ne0,
                                             std::int64_t ne1, std::int64_t n) {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr)
    return make_error(ErrorCode::kModelLoadFailed, "tensor '" + name + "' is missing");
  if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != n || t->ne[3] != 1) {
    return make_error(ErrorCode::kModelLoadFailed,
                      "tensor '" + name + "' has shape [" + std::to_string(t->ne[0]) + ", " +
                          std::to_string(t->ne[1]) + ", " + std::to_string(t->ne[2]) + ", " +
                          std::to_string(t->ne[3]) + "], expected [" + std::to_string(ne0) + ", " +
                          std::to_string(ne1) + ", " + std::to_string(n) + "]");
  }
  return check_and_place(*t, ne0, ne1 * n);
}

Result<Weight> GgufWeightSource::check_and_place(const gguf::TensorInfo& t, std::int64_t ne0,
                                                 std::int64_t ne1) {
  const std::int64_t rows = t.ne[1] * t.ne[2] * t.ne[3];
  if (t.ne[0] != ne0 || rows != ne1) {
    return make_error(ErrorCode::kModelLoadFailed,
                      "tensor '" + t.name + "' has shape [" + std::to_string(t.ne[0]) + ", " +
                          std::to_string(rows) + "], expected [" + std::to_string(ne0) + ", " +
                          std::to_string(ne1) + "]");
  }
  if (!type_supported_(t.type)) {
    return make_error(ErrorCode::kModelLoadFailed,
                      "tensor '" + t.name + "' has type " + std::string(quant::type_name(t.type)) +
                          ", which the " + std::string(backend_) + " backend does not support");
  }
  if (ne1 == 1 && t.type != quant::GgmlType::kF32) {
    return make_error(ErrorCode::kModelLoadFailed,
                      "tensor '" + t.name + "': vectors (norms, biases) must be F32");
  }
  return place(t, ne0, ne1);
}

}  // namespace zinfer::model
