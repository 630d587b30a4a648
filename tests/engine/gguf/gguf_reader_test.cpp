// GgufFile on the real SmolLM2 model and on the fuzz seed files, checked against what the
// `gguf` Python package reads from the same files (JSON made by scripts/golden/gguf_dump.py:
// tests/data/gguf/smollm2_tensors.json and tests/data/gguf/corpus_ref/*.json).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/gguf/gguf_file.h"
#include "tests/test_util.h"

namespace zinfer::gguf {
namespace {

using nlohmann::json;

constexpr const char* kModel = "SmolLM2-135M-Instruct.Q4_1.gguf";

json load_json(const std::string& rel) {
  return json::parse(zinfer::testing::read_file(zinfer::testing::data_path(rel)));
}

std::string hex_of(const std::uint8_t* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (std::size_t k = 0; k < n; ++k) {
    s += kHex[p[k] >> 4];
    s += kHex[p[k] & 15];
  }
  return s;
}

// Compares one value with the reference's JSON: scalars by type, arrays (dumped whole as
// {"elem_type_id", "items"}) element by element, recursing into nested arrays.
void expect_value(const std::string& where, ValueType type, const MetaValue& v, const json& ref) {
  SCOPED_TRACE(where);
  ASSERT_EQ(v.type, type);
  switch (type) {
    case ValueType::kArray: {
      const auto elem = static_cast<ValueType>(ref["elem_type_id"].get<std::uint32_t>());
      ASSERT_EQ(v.elem_type, elem);
      const json& items = ref["items"];
      ASSERT_EQ(v.arr.size(), items.size());
      for (std::size_t k = 0; k < items.size(); ++k) {
        expect_value(where + "[" + std::to_string(k) + "]", elem, v.arr[k], items[k]);
      }
      break;
    }
    case ValueType::kString:
      EXPECT_EQ(v.s, ref.get<std::string>());
      break;
    case ValueType::kBool:
      EXPECT_EQ(v.u != 0, ref.get<bool>());
      break;
    case ValueType::kFloat32:
    case ValueType::kFloat64:
      EXPECT_EQ(v.f, ref.get<double>());  // the reference prints the exact stored value
      break;
    case ValueType::kUInt8:
    case ValueType::kUInt16:
    case ValueType::kUInt32:
    case ValueType::kUInt64:
      EXPECT_EQ(v.u, ref.get<std::uint64_t>());
      break;
    default:
      EXPECT_EQ(v.i, ref.get<std::int64_t>());
      break;
  }
}

void expect_header(const GgufFile& f, const json& g) {
  EXPECT_EQ(f.version(), g["version"].get<std::uint32_t>());
  EXPECT_EQ(f.file_size(), g["file_size"].get<std::uint64_t>());
  EXPECT_EQ(f.alignment(), g["alignment"].get<std::uint64_t>());
  EXPECT_EQ(f.data_offset(), g["data_offset"].get<std::uint64_t>());
  EXPECT_EQ(f.metadata().size(), g["kv_count"].get<std::size_t>());
  EXPECT_EQ(f.tensors().size(), g["tensor_count"].get<std::size_t>());
}

void expect_metadata(const GgufFile& f, const json& g) {
  const json& meta = g["metadata"];
  ASSERT_EQ(f.metadata().size(), meta.size());
  for (const auto& [key, ref] : meta.items()) {
    const MetaValue* v = f.find(key);
    ASSERT_NE(v, nullptr) << "missing key " << key;
    const auto type = static_cast<ValueType>(ref["type_id"].get<std::uint32_t>());
    ASSERT_EQ(v->type, type) << key;
    EXPECT_EQ(value_type_name(type), ref["type"].get<std::string>()) << key;
    if (type != ValueType::kArray) {
      expect_value(key, type, *v, ref["value"]);
      continue;
    }
    const auto elem = static_cast<ValueType>(ref["elem_type_id"].get<std::uint32_t>());
    ASSERT_EQ(v->elem_type, elem) << key;
    EXPECT_EQ(value_type_name(elem), ref["elem_type"].get<std::string>()) << key;
    ASSERT_EQ(v->arr.size(), ref["len"].get<std::size_t>()) << key;
    if (ref.contains("value")) {
      expect_value(key, type, *v, ref["value"]);
      continue;
    }
    const json& head = ref["head"];
    for (std::size_t k = 0; k < head.size(); ++k) {
      expect_value(key + "[" + std::to_string(k) + "]", elem, v->arr[k], head[k]);
    }
    expect_value(key + "[last]", elem, v->arr.back(), ref["last"]);
  }
}

// `base` is the first byte of the file as the reader saw it.
void expect_tensors(const GgufFile& f, const json& g, const std::uint8_t* base) {
  const json& tensors = g["tensors"];
  ASSERT_EQ(f.tensors().size(), tensors.size());
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const json& ref = tensors[k];
    const TensorInfo& t = f.tensors()[k];
    SCOPED_TRACE(ref["name"].get<std::string>());
    EXPECT_EQ(t.name, ref["name"].get<std::string>());
    EXPECT_EQ(static_cast<std::uint32_t>(t.type), ref["type_id"].get<std::uint32_t>());
    EXPECT_EQ(quant::type_name(t.type), ref["type"].get<std::string>());
    const json& ne = ref["ne"];
    ASSERT_EQ(t.n_dims, static_cast<int>(ne.size()));
    for (int d = 0; d < 4; ++d) {
      const std::int64_t expected = d < t.n_dims ? ne[d].get<std::int64_t>() : 1;
      EXPECT_EQ(t.ne[d], expected) << "dim " << d;
    }
    EXPECT_EQ(t.offset, ref["offset"].get<std::uint64_t>());
    EXPECT_EQ(t.nbytes, ref["n_bytes"].get<std::uint64_t>());
    EXPECT_EQ(t.n_elements(), ref["n_elements"].get<std::int64_t>());
    ASSERT_EQ(t.data, base + f.data_offset() + t.offset);
    const std::string head = ref["head_hex"].get<std::string>();
    EXPECT_EQ(hex_of(t.data, head.size() / 2), head);
    EXPECT_EQ(f.find_tensor(t.name), &t);
  }
  EXPECT_EQ(f.find_tensor("no.such.tensor"), nullptr);
}

class GgufReaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { golden_ = new json(load_json("gguf/smollm2_tensors.json")); }
  static void TearDownTestSuite() {
    delete golden_;
    golden_ = nullptr;
  }
  static json* golden_;
};
json* GgufReaderTest::golden_ = nullptr;

TEST_F(GgufReaderTest, RealModelMatchesReference) {
  ZINFER_REQUIRE_MODEL(path, kModel);
  auto file = GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const GgufFile& f = **file;
  expect_header(f, *golden_);
  expect_metadata(f, *golden_);
  // The mapping's first byte: any tensor's data minus its absolute offset.
  const TensorInfo& first = f.tensors().front();
  expect_tensors(f, *golden_, first.data - first.offset - f.data_offset());
}

// Small files written by the gguf package's GGUFWriter (scripts/gguf_fuzz_seeds.py): every
// value type, nested arrays, F16/Q8_0/Q4_1/Q4_K tensors, version 2, alignment 64.
TEST(GgufSeedFilesTest, FromMemoryMatchesReference) {
  for (const char* name :
       {"metadata_only_v3", "all_value_types_v3", "small_llama_v3", "aligned_64_v2"}) {
    SCOPED_TRACE(name);
    const std::string bytes = zinfer::testing::read_file(
        zinfer::testing::data_path(std::string("gguf/corpus/") + name + ".gguf"));
    ASSERT_FALSE(bytes.empty());
    const json ref = load_json(std::string("gguf/corpus_ref/") + name + ".json");
    const auto* base = reinterpret_cast<const std::uint8_t*>(bytes.data());
    auto file = GgufFile::from_memory({base, bytes.size()});
    ASSERT_TRUE(file.ok()) << file.error().message;
    expect_header(**file, ref);
    expect_metadata(**file, ref);
    expect_tensors(**file, ref, base);
  }
}

TEST_F(GgufReaderTest, TypedGettersOnRealModel) {
  ZINFER_REQUIRE_MODEL(path, kModel);
  auto file = GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const GgufFile& f = **file;
  const json& meta = (*golden_)["metadata"];

  auto blocks = f.get_u32("llama.block_count");
  ASSERT_TRUE(blocks.ok()) << blocks.error().message;
  EXPECT_EQ(*blocks, meta["llama.block_count"]["value"].get<std::uint32_t>());
  auto ctx = f.get_i64("llama.context_length");
  ASSERT_TRUE(ctx.ok());
  EXPECT_EQ(*ctx, meta["llama.context_length"]["value"].get<std::int64_t>());
  auto eps = f.get_f32("llama.attention.layer_norm_rms_epsilon");
  ASSERT_TRUE(eps.ok());
  EXPECT_EQ(*eps, static_cast<float>(
                      meta["llama.attention.layer_norm_rms_epsilon"]["value"].get<double>()));
  auto arch = f.get_string("general.architecture");
  ASSERT_TRUE(arch.ok());
  EXPECT_EQ(*arch, meta["general.architecture"]["value"].get<std::string>());
  auto add_bos = f.get_bool("tokenizer.ggml.add_bos_token");
  ASSERT_TRUE(add_bos.ok());
  EXPECT_EQ(*add_bos, meta["tokenizer.ggml.add_bos_token"]["value"].get<bool>());

  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.error().message;
  const json& tok_ref = meta["tokenizer.ggml.tokens"];
  ASSERT_EQ(tokens->size(), tok_ref["len"].get<std::size_t>());
  EXPECT_EQ(tokens->front(), tok_ref["head"][0].get<std::string>());
  EXPECT_EQ(tokens->back(), tok_ref["last"].get<std::string>());
  auto types = f.get_i32_array("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok()) << types.error().message;
  ASSERT_EQ(types->size(), meta["tokenizer.ggml.token_type"]["len"].get<std::size_t>());
  EXPECT_EQ(types->back(), meta["tokenizer.ggml.token_type"]["last"].get<std::int32_t>());

  auto wrong = f.get_u32("general.architecture");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kModelLoadFailed);
  EXPECT_NE(wrong.error().message.find("'general.architecture'"), std::string::npos)
      << wrong.error().message;
  auto missing = f.get_f32("llama.rope.scaling.factor");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("'llama.rope.scaling.factor' is missing"),
            std::string::npos);
  auto fallback = f.get_f32_or("llama.rope.scaling.factor", 1.5f);
  ASSERT_TRUE(fallback.ok());
  EXPECT_EQ(*fallback, 1.5f);
}

TEST(GgufOpenTest, MissingFileNamesPath) {
  const std::string path = zinfer::testing::temp_dir() + "/does_not_exist.gguf";
  auto file = GgufFile::open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error().code, ErrorCode::kModelLoadFailed);
  EXPECT_NE(file.error().message.find(path), std::string::npos) << file.error().message;
}

TEST(GgufOpenTest, DirectoryAndEmptyFileAreRejected) {
  auto dir = GgufFile::open(zinfer::testing::temp_dir());
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message.find("not a regular file"), std::string::npos)
      << dir.error().message;

  const std::string empty = zinfer::testing::temp_dir() + "/empty.gguf";
  { std::ofstream(empty, std::ios::binary); }
  auto file = GgufFile::open(empty);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error().code, ErrorCode::kModelLoadFailed);
  EXPECT_NE(file.error().message.find("empty"), std::string::npos) << file.error().message;
}

TEST(GgufOpenTest, CorruptFileOnDiskNamesPathAndProblem) {
  const std::string path = zinfer::testing::temp_dir() + "/bad_magic.gguf";
  {
    std::ofstream out(path, std::ios::binary);
    out << "GGML and then some more bytes";
  }
  auto file = GgufFile::open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message.find(path), std::string::npos) << file.error().message;
  EXPECT_NE(file.error().message.find("bad magic"), std::string::npos) << file.error().message;
}

}  // namespace
}  // namespace zinfer::gguf
