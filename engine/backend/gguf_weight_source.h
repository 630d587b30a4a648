// GgufWeightSource: the part of a backend's WeightSource that does not depend on where the
// weights live. It finds each tensor an architecture asks for in the GGUF tensor table and
// checks it once — present (unless optional), shape [ne1][ne0] (higher dims count as rows), a
// type this backend reads, F32 for vectors — then lets the backend place it (CPU: a pointer
// into the file mapping; CUDA: an upload to VRAM).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/architecture.h"
#include "engine/quant/ggml_type.h"

namespace zinfer::model {

class GgufWeightSource : public WeightSource {
 public:
  // Errors are kModelLoadFailed naming the tensor (and `backend` for an unsupported type).
  Result<Weight> get(const std::string& name, std::int64_t ne0, std::int64_t ne1) final;
  Result<Weight> get_optional(const std::string& name, std::int64_t ne0, std::int64_t ne1) final;
  Result<Weight> get_stacked(const std::string& name, std::int64_t ne0, std::int64_t ne1,
                             std::int64_t n) final;

 protected:
  using TypeSupported = bool (*)(quant::GgmlType);
  GgufWeightSource(const gguf::GgufFile& file, std::string_view backend,
                   TypeSupported type_supported)
      : file_(file), backend_(backend), type_supported_(type_supported) {}

  // Places a tensor that passed the checks; the Weight says where its data are.
  virtual Result<Weight> place(const gguf::TensorInfo& t, std::int64_t ne0, std::int64_t ne1) = 0;

  const gguf::GgufFile& file_;

 private:
  Result<Weight> check_and_place(const gguf::TensorInfo& t, std::int64_t ne0, std::int64_t ne1);

  std::string_view backend_;  // "CPU", "CUDA": in the unsupported-type message
  TypeSupported type_supported_;
};

}  // namespace zinfer::model
