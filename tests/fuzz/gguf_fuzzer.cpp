// libFuzzer target for the GGUF reader: arbitrary bytes -> GgufFile::from_memory.
// Beyond "no crash, no out-of-bounds read", it checks the invariants every consumer of a
// successfully parsed file relies on, and runs every typed getter on every key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "engine/gguf/gguf_file.h"

namespace {

using zinfer::gguf::GgufFile;
using zinfer::gguf::TensorInfo;

// Aborts (a libFuzzer finding) when a parsed file breaks a promise of the reader.
void check(bool ok) {
  if (!ok) std::abort();
}

void check_tensor(const TensorInfo& t, const std::uint8_t* data, std::size_t size,
                  std::uint64_t data_offset) {
  check(t.n_dims >= 1 && t.n_dims <= 4);
  const auto& traits = zinfer::quant::traits(t.type);
  check(t.ne[0] >= 0 && t.ne[0] % traits.block_size == 0);
  for (std::int64_t d : t.ne) check(d >= 0);
  check(t.data == data + data_offset + t.offset);
  check(data_offset + t.offset <= size && t.nbytes <= size - data_offset - t.offset);
  if (t.nbytes > 0) {
    // Reading the first and last byte lets ASan catch a data pointer outside the input.
    volatile std::uint8_t sink = t.data[0] ^ t.data[t.nbytes - 1];
    (void)sink;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = GgufFile::from_memory(std::span<const std::uint8_t>(data, size));
  if (!parsed.ok()) {
    check(parsed.error().code == zinfer::ErrorCode::kModelLoadFailed &&
          !parsed.error().message.empty());
    return 0;
  }
  const GgufFile& f = **parsed;
  check(f.version() == 2 || f.version() == 3);
  check(f.alignment() != 0 && (f.alignment() & (f.alignment() - 1)) == 0);
  check(f.data_offset() % f.alignment() == 0);
  for (const TensorInfo& t : f.tensors()) {
    check_tensor(t, data, size, f.data_offset());
    check(f.find_tensor(t.name) == &t);
  }
  for (const auto& [key, value] : f.metadata()) {
    (void)f.get_u32(key);
    (void)f.get_i64(key);
    (void)f.get_f32(key);
    (void)f.get_bool(key);
    (void)f.get_string(key);
    (void)f.get_string_array(key);
    (void)f.get_f32_array(key);
    (void)f.get_i32_array(key);
    check(!f.get_string_or(key, "").ok() || value.type == zinfer::gguf::ValueType::kString);
  }
  return 0;
}
