// GgufFile::from_memory on hand-built GGUF bytes: one valid file whose every field is known
// by construction, a table of deliberately corrupt variants that must each fail with
// kModelLoadFailed and a message naming the problem, and the typed metadata getters.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"

namespace zinfer::gguf {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Little-endian byte appender for building GGUF files field by field.
struct Enc {
  Bytes b;
  template <typename T>
  Enc& put(T v) {
    std::uint8_t raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    b.insert(b.end(), raw, raw + sizeof(T));
    return *this;
  }
  Enc& str(std::string_view s) {
    put<std::uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Enc& raw(const Bytes& more) {
    b.insert(b.end(), more.begin(), more.end());
    return *this;
  }
};

constexpr std::uint32_t kTU8 = 0, kTI8 = 1, kTU16 = 2, kTI16 = 3, kTU32 = 4, kTI32 = 5, kTF32 = 6,
                        kTBool = 7, kTStr = 8, kTArr = 9, kTU64 = 10, kTI64 = 11, kTF64 = 12;
constexpr std::uint32_t kF32 = 0, kQ4_0 = 2, kQ8_0 = 8;

// One encoded kv pair: key, type id, then the value payload.
Bytes kv(std::string_view key, std::uint32_t type, const Bytes& payload) {
  return Enc{}.str(key).put(type).raw(payload).b;
}
template <typename T>
Bytes kv_scalar(std::string_view key, std::uint32_t type, T v) {
  return kv(key, type, Enc{}.put(v).b);
}
Bytes kv_string(std::string_view key, std::string_view s) { return kv(key, kTStr, Enc{}.str(s).b); }

struct TensorSpec {
  std::string name;
  std::vector<std::uint64_t> dims;
  std::uint32_t type = kF32;
  std::uint64_t offset = 0;
};

// Hand-derived byte sizes: F32 4 bytes/elem; Q4_0 18 and Q8_0 34 bytes per 32 elements.
std::uint64_t tensor_bytes(const TensorSpec& t) {
  std::uint64_t n = 1;
  for (std::uint64_t d : t.dims) n *= d;
  if (t.type == kQ4_0) return n / 32 * 18;
  if (t.type == kQ8_0) return n / 32 * 34;
  return n * 4;
}

struct FileSpec {
  char magic[4] = {'G', 'G', 'U', 'F'};
  std::uint32_t version = 3;
  std::optional<std::uint64_t> tensor_count;  // override of tensors.size()
  std::optional<std::uint64_t> kv_count;      // override of kvs.size()
  std::vector<Bytes> kvs;
  std::vector<TensorSpec> tensors;
  std::uint64_t alignment = 32;            // padding used before the data section
  std::optional<std::uint64_t> data_size;  // default: up to the end of the last tensor
};

struct Built {
  Bytes bytes;
  std::uint64_t data_offset = 0;
};

Built build(const FileSpec& s) {
  Enc e;
  e.b.insert(e.b.end(), s.magic, s.magic + 4);
  e.put(s.version);
  e.put<std::uint64_t>(s.tensor_count.value_or(s.tensors.size()));
  e.put<std::uint64_t>(s.kv_count.value_or(s.kvs.size()));
  for (const Bytes& k : s.kvs) e.raw(k);
  for (const TensorSpec& t : s.tensors) {
    e.str(t.name).put<std::uint32_t>(static_cast<std::uint32_t>(t.dims.size()));
    for (std::uint64_t d : t.dims) e.put(d);
    e.put(t.type).put(t.offset);
  }
  while (e.b.size() % s.alignment != 0) e.put<std::uint8_t>(0);
  Built out;
  out.data_offset = e.b.size();
  std::uint64_t data = 0;
  for (const TensorSpec& t : s.tensors) data = std::max(data, t.offset + tensor_bytes(t));
  data = s.data_size.value_or(data);
  for (std::uint64_t k = 0; k < data; ++k)
    e.put<std::uint8_t>(static_cast<std::uint8_t>(k * 7 + 1));
  out.bytes = std::move(e.b);
  return out;
}

// An array value payload: element type, count, then the encoded elements.
Bytes array_payload(std::uint32_t elem_type, std::uint64_t count, const Bytes& elems) {
  return Enc{}.put(elem_type).put(count).raw(elems).b;
}

// `levels` arrays nested in each other, the innermost holding one uint8.
Bytes nested_array_payload(int levels) {
  Bytes p = array_payload(kTU8, 1, Bytes{42});
  for (int k = 1; k < levels; ++k) p = array_payload(kTArr, 1, p);
  return p;
}

// A valid file using all 13 value types, a nested array and three tensors of three types.
FileSpec valid_spec() {
  FileSpec s;
  s.kvs = {
      kv_string("general.architecture", "llama"),
      kv_scalar<std::uint8_t>("t.u8", kTU8, 200),
      kv_scalar<std::int8_t>("t.i8", kTI8, -100),
      kv_scalar<std::uint16_t>("t.u16", kTU16, 60000),
      kv_scalar<std::int16_t>("t.i16", kTI16, -30000),
      kv_scalar<std::uint32_t>("t.u32", kTU32, 4000000000u),
      kv_scalar<std::int32_t>("t.i32", kTI32, -2000000000),
      kv_scalar<float>("t.f32", kTF32, 0.15625f),
      kv_scalar<std::uint8_t>("t.bool", kTBool, 1),
      kv_scalar<std::uint64_t>("t.u64", kTU64, 1ull << 40),
      kv_scalar<std::int64_t>("t.i64", kTI64, -(1ll << 40)),
      kv_scalar<double>("t.f64", kTF64, -2.5e-300),
      kv("t.strs", kTArr, array_payload(kTStr, 2, Enc{}.str("ab").str("").b)),
      kv("t.i32s", kTArr,
         array_payload(kTI32, 3, Enc{}.put<std::int32_t>(-1).put(7).put(1 << 30).b)),
      kv("t.f32s", kTArr, array_payload(kTF32, 2, Enc{}.put(1.5f).put(-0.25f).b)),
      kv("t.empty", kTArr, array_payload(kTU16, 0, {})),
      kv("t.nested8", kTArr, nested_array_payload(8)),
      kv("t.matrix", kTArr,
         array_payload(kTArr, 2,
                       Enc{}
                           .raw(array_payload(kTU32, 2, Enc{}.put(1u).put(2u).b))
                           .raw(array_payload(kTStr, 1, Enc{}.str("x").b))
                           .b)),
      kv_scalar<std::uint32_t>("general.alignment", kTU32, 32),
  };
  s.tensors = {
      {"tok.weight", {32, 3}, kQ8_0, 0},    // 3 * 34 = 102 bytes
      {"norm.weight", {8}, kF32, 128},      // 32 bytes
      {"blk.0.w", {64, 2, 1}, kQ4_0, 160},  // 2 * 2 * 18 = 72 bytes
  };
  return s;
}

std::span<const std::uint8_t> span_of(const Bytes& b) { return {b.data(), b.size()}; }

TEST(GgufMemoryTest, ValidFileParsesEveryField) {
  const Built built = build(valid_spec());
  auto file = GgufFile::from_memory(span_of(built.bytes));
  ASSERT_TRUE(file.ok()) << file.error().message;
  const GgufFile& f = **file;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset(), built.data_offset);
  EXPECT_EQ(f.file_size(), built.bytes.size());
  EXPECT_EQ(f.metadata().size(), 19u);

  EXPECT_EQ(f.find("t.u8")->u, 200u);
  EXPECT_EQ(f.find("t.i8")->i, -100);
  EXPECT_EQ(f.find("t.u16")->u, 60000u);
  EXPECT_EQ(f.find("t.i16")->i, -30000);
  EXPECT_EQ(f.find("t.u32")->u, 4000000000u);
  EXPECT_EQ(f.find("t.i32")->i, -2000000000);
  EXPECT_EQ(f.find("t.f32")->f, 0.15625);
  EXPECT_EQ(f.find("t.bool")->type, ValueType::kBool);
  EXPECT_EQ(f.find("t.u64")->u, 1ull << 40);
  EXPECT_EQ(f.find("t.i64")->i, -(1ll << 40));
  EXPECT_EQ(f.find("t.f64")->f, -2.5e-300);
  EXPECT_EQ(f.find("t.empty")->elem_type, ValueType::kUInt16);
  EXPECT_TRUE(f.find("t.empty")->arr.empty());

  const MetaValue* nested = f.find("t.nested8");
  for (int level = 1; level < 8; ++level) {
    ASSERT_EQ(nested->elem_type, ValueType::kArray) << level;
    ASSERT_EQ(nested->arr.size(), 1u);
    nested = &nested->arr[0];
  }
  ASSERT_EQ(nested->elem_type, ValueType::kUInt8);
  EXPECT_EQ(nested->arr.at(0).u, 42u);

  const MetaValue* m = f.find("t.matrix");
  ASSERT_EQ(m->arr.size(), 2u);
  EXPECT_EQ(m->arr[0].elem_type, ValueType::kUInt32);
  EXPECT_EQ(m->arr[0].arr[1].u, 2u);
  EXPECT_EQ(m->arr[1].elem_type, ValueType::kString);
  EXPECT_EQ(m->arr[1].arr[0].s, "x");

  ASSERT_EQ(f.tensors().size(), 3u);
  const TensorInfo* q4 = f.find_tensor("blk.0.w");
  ASSERT_NE(q4, nullptr);
  EXPECT_EQ(q4->type, quant::GgmlType::kQ4_0);
  EXPECT_EQ(q4->n_dims, 3);
  EXPECT_EQ(q4->ne, (std::array<std::int64_t, 4>{64, 2, 1, 1}));
  EXPECT_EQ(q4->nbytes, 72u);
  EXPECT_EQ(q4->data, built.bytes.data() + built.data_offset + 160);
  EXPECT_EQ(f.find_tensor("tok.weight")->nbytes, 102u);
  EXPECT_EQ(f.find_tensor("norm.weight")->n_elements(), 8);
  // The data section ends exactly at the end of the last tensor.
  EXPECT_EQ(q4->data + q4->nbytes, built.bytes.data() + built.bytes.size());
}

TEST(GgufMemoryTest, VersionTwoAndCustomAlignmentAndNoTensors) {
  FileSpec s = valid_spec();
  s.version = 2;
  s.alignment = 64;
  s.kvs.back() = kv_scalar<std::uint32_t>("general.alignment", kTU32, 64);
  s.tensors = {{"a", {16}, kF32, 0}, {"b", {16}, kF32, 64}};
  const Built built = build(s);
  auto file = GgufFile::from_memory(span_of(built.bytes));
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ((*file)->version(), 2u);
  EXPECT_EQ((*file)->alignment(), 64u);
  EXPECT_EQ((*file)->data_offset() % 64, 0u);
  EXPECT_EQ((*file)->data_offset(), built.data_offset);

  FileSpec bare;
  bare.kvs = {kv_string("general.architecture", "gpt2")};
  const Built none = build(bare);
  auto empty = GgufFile::from_memory(span_of(none.bytes));
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE((*empty)->tensors().empty());
}

struct CorruptCase {
  std::string name;
  Bytes bytes;
  std::string expect;  // substring of the error message
};

std::vector<CorruptCase> corrupt_cases() {
  std::vector<CorruptCase> cases;
  auto add = [&](std::string name, const FileSpec& s, std::string expect) {
    cases.push_back({std::move(name), build(s).bytes, std::move(expect)});
  };
  const FileSpec v = valid_spec();
  const Bytes valid = build(v).bytes;
  const std::uint64_t huge = std::numeric_limits<std::uint64_t>::max();

  FileSpec s = v;
  s.magic[3] = 'X';
  add("bad_magic", s, "bad magic");
  cases.push_back({"too_small", Bytes{'G', 'G'}, "too small"});
  s = v, s.version = 1;
  add("version_1", s, "version 1 is not supported");
  s = v, s.version = 4;
  add("version_4", s, "unsupported GGUF version 4");
  s = v, s.version = 0x03000000;
  add("big_endian", s, "big-endian");
  cases.push_back(
      {"truncated_header", Bytes(valid.begin(), valid.begin() + 14), "truncated header"});
  {  // The kv block ends two bytes into a uint32 value.
    Bytes b = Enc{Bytes{'G', 'G', 'U', 'F'}}.put(3u).put<std::uint64_t>(0).put<std::uint64_t>(1).b;
    Bytes k = kv_scalar<std::uint32_t>("llama.block_count", kTU32, 30);
    b.insert(b.end(), k.begin(), k.end() - 2);
    cases.push_back(
        {"truncated_kv", b, "metadata key 'llama.block_count': truncated uint32 value"});
  }
  s = v, s.tensor_count = huge;
  add("huge_tensor_count", s, "tensor_count 18446744073709551615 cannot fit");
  s = v, s.kv_count = 1ull << 40;
  add("huge_kv_count", s, "kv_count 1099511627776 cannot fit");
  s = v, s.tensor_count = 4;  // plausible at the header, impossible after the metadata
  add("tensor_count_after_metadata", s, "tensor info 3");
  s = v, s.kvs[0] = Enc{}.put<std::uint64_t>(1ull << 40).b;
  add("key_length_past_end", s, "key length 1099511627776");
  s = v, s.kvs[0] = kv_string(std::string(65536, 'k'), "x");
  add("key_longer_than_spec", s, "key length 65536 exceeds the format's limit of 65535");
  s = v, s.kvs[0] = kv("general.architecture", kTStr, Enc{}.put<std::uint64_t>(huge).b);
  add("string_length_past_end", s, "string value length 18446744073709551615");
  s = v, s.kvs[1] = kv_scalar<std::uint8_t>("t.u8", 13, 0);
  add("unknown_value_type", s, "metadata key 't.u8': unknown value type 13");
  s = v, s.kvs[1] = kv("t.arr", kTArr, array_payload(77, 0, {}));
  add("unknown_array_elem_type", s, "unknown array element type 77");
  s = v, s.kvs[1] = kv("t.arr", kTArr, array_payload(kTU64, 1ull << 61, {}));
  add("huge_array_count", s, "array of 2305843009213693952 uint64");
  s = v, s.kvs[1] = kv("t.deep", kTArr, nested_array_payload(9));
  add("nesting_too_deep", s, "nested deeper than the limit of 8");
  s = v, s.kvs[8] = kv_scalar<std::uint8_t>("t.bool", kTBool, 2);
  add("bool_not_0_or_1", s, "bool value 2");
  s = v, s.tensors[1].dims = {};
  add("n_dims_0", s, "tensor 'norm.weight': n_dims 0 is outside [1, 4]");
  s = v, s.tensors[1].dims = {8, 1, 1, 1, 1};
  add("n_dims_5", s, "n_dims 5 is outside [1, 4]");
  s = v, s.tensors[1].dims = {1ull << 32, 1ull << 32}, s.data_size = 4096;
  add("dims_product_overflow", s,
      "element count of shape [4294967296, 4294967296] overflows int64");
  s = v, s.tensors[1].dims = {8, 1ull << 63}, s.data_size = 4096;
  add("negative_dim", s, "dimension 1 (9223372036854775808) does not fit in int64");
  s = v, s.tensors[1].dims = {1ull << 62}, s.data_size = 4096;
  add("nbytes_overflow", s, "byte size of shape [4611686018427387904] overflows uint64");
  s = v, s.tensors[2].dims = {33, 2}, s.data_size = 4096;
  add("ne0_not_block_multiple", s,
      "tensor 'blk.0.w': ne[0]=33 is not a multiple of the Q4_0 block size 32");
  s = v, s.tensors[1].type = 4, s.data_size = 4096;
  add("unknown_ggml_type", s, "tensor 'norm.weight': unknown ggml type 4");
  s = v, s.tensors[2].offset = 4096, s.data_size = 232;
  add("offset_past_end", s, "tensor 'blk.0.w': data [");
  {
    const Built b = build(v);
    Bytes cut(b.bytes.begin(), b.bytes.end() - 1);
    const std::string expect = "tensor 'blk.0.w': data [" + std::to_string(b.data_offset + 160) +
                               ", " + std::to_string(b.data_offset + 232) + ") exceeds file size " +
                               std::to_string(cut.size());
    cases.push_back({"last_tensor_one_byte_short", cut, expect});
  }
  s = v, s.tensors[1].offset = 132;
  add("misaligned_offset", s,
      "tensor 'norm.weight': data offset 132 is not a multiple of the alignment 32");
  s = v, s.kvs.back() = kv_scalar<std::uint32_t>("general.alignment", kTU32, 48);
  add("alignment_not_power_of_two", s, "general.alignment 48 is not a non-zero power of two");
  s = v, s.kvs.back() = kv_scalar<std::uint32_t>("general.alignment", kTU32, 0);
  add("alignment_zero", s, "general.alignment 0 is not a non-zero power of two");
  s = v, s.kvs.back() = kv_scalar<std::uint64_t>("general.alignment", kTU64, 32);
  add("alignment_wrong_type", s, "general.alignment must be uint32, found uint64");
  s = v, s.kvs.push_back(kv_string("general.architecture", "qwen2"));
  add("duplicate_key", s, "duplicate metadata key 'general.architecture'");
  s = v, s.tensors[2].name = "tok.weight";
  add("duplicate_tensor_name", s, "duplicate tensor name 'tok.weight'");
  s = v, s.tensors[1].offset = 96;  // tok.weight occupies [0, 102)
  add("overlapping_tensors", s,
      "tensor 'norm.weight': data at offset 96 overlaps tensor 'tok.weight' [0, 102)");
  {  // Tensor infos end exactly at end of file: no room for the padded data section.
    FileSpec t;
    t.tensors = {{"z", {0}, kF32, 0}};
    t.alignment = 1;  // the builder writes no padding; the reader still aligns to 32
    add("data_section_past_end", t, "data section would start at 64, past the file size 57");
  }
  return cases;
}

TEST(GgufCorruptTest, EveryCorruptFileFailsWithNamedProblem) {
  const auto cases = corrupt_cases();
  ASSERT_GE(cases.size(), 14u);
  for (const CorruptCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto file = GgufFile::from_memory(span_of(c.bytes));
    ASSERT_FALSE(file.ok());
    EXPECT_EQ(file.error().code, ErrorCode::kModelLoadFailed);
    EXPECT_NE(file.error().message.find(c.expect), std::string::npos)
        << "message: " << file.error().message << "\nexpected to contain: " << c.expect;
  }
}

TEST(GgufCorruptTest, EveryTruncationOfValidFileFails) {
  const Bytes valid = build(valid_spec()).bytes;
  ASSERT_TRUE(GgufFile::from_memory(span_of(valid)).ok());
  for (std::size_t n = 0; n < valid.size(); ++n) {
    // A fresh allocation of exactly n bytes so ASan sees any read past its end.
    Bytes prefix(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(n));
    auto file = GgufFile::from_memory(span_of(prefix));
    ASSERT_FALSE(file.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_EQ(file.error().code, ErrorCode::kModelLoadFailed);
  }
}

TEST(GgufGetterTest, TypedGettersNameTheKey) {
  const Bytes bytes = build(valid_spec()).bytes;
  auto parsed = GgufFile::from_memory(span_of(bytes));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const GgufFile& f = **parsed;

  auto expect_error = [](const auto& r, const std::string& substr) {
    ASSERT_FALSE(r.ok()) << "expected error containing " << substr;
    EXPECT_EQ(r.error().code, ErrorCode::kModelLoadFailed);
    EXPECT_NE(r.error().message.find(substr), std::string::npos) << r.error().message;
  };

  EXPECT_EQ(*f.get_u32("t.u8"), 200u);
  EXPECT_EQ(*f.get_u32("t.u16"), 60000u);
  EXPECT_EQ(*f.get_u32("t.u32"), 4000000000u);
  expect_error(f.get_u32("t.i8"), "metadata key 't.i8' value -100 does not fit in uint32");
  expect_error(f.get_u32("t.u64"),
               "metadata key 't.u64' value 1099511627776 does not fit in uint32");
  expect_error(f.get_u32("t.f32"), "metadata key 't.f32' has type float32, expected an integer");
  expect_error(f.get_u32("nope"), "metadata key 'nope' is missing");
  EXPECT_EQ(*f.get_i64("t.i64"), -(1ll << 40));
  EXPECT_EQ(*f.get_i64("t.i16"), -30000);
  expect_error(f.get_i64("t.strs"),
               "metadata key 't.strs' has type array[string], expected an integer");
  EXPECT_EQ(*f.get_f32("t.f32"), 0.15625f);
  EXPECT_EQ(*f.get_f32("t.f64"), static_cast<float>(-2.5e-300));
  expect_error(f.get_f32("t.u32"),
               "metadata key 't.u32' has type uint32, expected float32 or float64");
  EXPECT_TRUE(*f.get_bool("t.bool"));
  expect_error(f.get_bool("t.u8"), "metadata key 't.u8' has type uint8, expected bool");
  EXPECT_EQ(*f.get_string("general.architecture"), "llama");
  expect_error(f.get_string("t.u8"), "metadata key 't.u8' has type uint8, expected string");

  auto strs = f.get_string_array("t.strs");
  ASSERT_TRUE(strs.ok());
  EXPECT_EQ(*strs, (std::vector<std::string>{"ab", ""}));
  expect_error(f.get_string_array("t.i32s"),
               "metadata key 't.i32s' has type array[int32], expected array[string]");
  auto i32s = f.get_i32_array("t.i32s");
  ASSERT_TRUE(i32s.ok());
  EXPECT_EQ(*i32s, (std::vector<std::int32_t>{-1, 7, 1 << 30}));
  expect_error(f.get_i32_array("t.strs"), "metadata key 't.strs' has type array[string]");
  expect_error(f.get_i32_array("t.matrix"), "has type array[array]");
  auto f32s = f.get_f32_array("t.f32s");
  ASSERT_TRUE(f32s.ok());
  EXPECT_EQ(*f32s, (std::vector<float>{1.5f, -0.25f}));
  expect_error(f.get_f32_array("t.u8"),
               "metadata key 't.u8' has type uint8, expected array[float32]");

  EXPECT_EQ(*f.get_u32_or("missing.key", 7), 7u);
  EXPECT_EQ(*f.get_u32_or("t.u16", 7), 60000u);
  expect_error(f.get_u32_or("general.architecture", 7),
               "metadata key 'general.architecture' has type string");
  EXPECT_EQ(*f.get_f32_or("missing.key", 2.5f), 2.5f);
  EXPECT_FALSE(*f.get_bool_or("missing.key", false));
  expect_error(f.get_bool_or("t.u8", true), "expected bool");
  EXPECT_EQ(*f.get_string_or("missing.key", "dflt"), "dflt");
  expect_error(f.get_string_or("t.i32", "dflt"),
               "metadata key 't.i32' has type int32, expected string");
}

TEST(GgufGetterTest, OutOfRangeArrayElementsAreErrors) {
  FileSpec s = valid_spec();
  s.kvs.push_back(
      kv("t.big_u32s", kTArr, array_payload(kTU32, 2, Enc{}.put(5u).put(3000000000u).b)));
  s.kvs.push_back(kv("t.big_f64", kTF64, Enc{}.put(1e300).b));
  s.kvs.push_back(kv("t.f64s", kTArr, array_payload(kTF64, 2, Enc{}.put(0.5).put(-1e39).b)));
  const Bytes bytes = build(s).bytes;
  auto parsed = GgufFile::from_memory(span_of(bytes));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  auto i32s = (*parsed)->get_i32_array("t.big_u32s");
  ASSERT_FALSE(i32s.ok());
  EXPECT_NE(
      i32s.error().message.find("'t.big_u32s' element 1 value 3000000000 does not fit in int32"),
      std::string::npos)
      << i32s.error().message;
  auto big = (*parsed)->get_f32("t.big_f64");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("'t.big_f64' value"), std::string::npos)
      << big.error().message;
  auto f64s = (*parsed)->get_f32_array("t.f64s");
  ASSERT_FALSE(f64s.ok());
  EXPECT_NE(f64s.error().message.find("'t.f64s' element 1 is out of float32 range"),
            std::string::npos)
      << f64s.error().message;
}

TEST(GgufValueTypeTest, NamesCoverAllTypes) {
  EXPECT_EQ(value_type_name(ValueType::kUInt8), "uint8");
  EXPECT_EQ(value_type_name(ValueType::kInt16), "int16");
  EXPECT_EQ(value_type_name(ValueType::kFloat32), "float32");
  EXPECT_EQ(value_type_name(ValueType::kBool), "bool");
  EXPECT_EQ(value_type_name(ValueType::kString), "string");
  EXPECT_EQ(value_type_name(ValueType::kArray), "array");
  EXPECT_EQ(value_type_name(ValueType::kUInt64), "uint64");
  EXPECT_EQ(value_type_name(ValueType::kFloat64), "float64");
  EXPECT_EQ(value_type_name(static_cast<ValueType>(99)), "unknown");
}

}  // namespace
}  // namespace zinfer::gguf
