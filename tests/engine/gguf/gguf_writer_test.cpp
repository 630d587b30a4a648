// GgufWriter: byte-identical to the `gguf` Python package's GGUFWriter on a file with every
// value type (tests/data/synthetic/writer_all_types.gguf, scripts/golden/gguf_writer_fixture.py),
// round trip through our reader, chunked streaming, and a table of invalid uses.
#include "engine/gguf/gguf_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "tests/test_util.h"

namespace zinfer::gguf {
namespace {

using quant::GgmlType;

std::vector<std::uint8_t> to_bytes(const std::vector<float>& v) {
  std::vector<std::uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// The content scripts/golden/gguf_writer_fixture.py writes, in the same order.
void fill_reference_content(GgufWriter& w) {
  w.set_string("general.architecture", "testarch");
  ASSERT_TRUE(w.set_alignment(64).ok());
  w.set("t.u8", meta_u8(200));
  w.set("t.i8", meta_i8(-100));
  w.set("t.u16", meta_u16(60000));
  w.set("t.i16", meta_i16(-30000));
  w.set("t.u32", meta_u32(4000000000u));
  w.set("t.i32", meta_i32(-2000000000));
  w.set("t.f32", meta_f32(3.25f));
  w.set("t.u64", meta_u64((std::uint64_t{1} << 63) + 5));
  w.set("t.i64", meta_i64(-(std::int64_t{1} << 62)));
  w.set("t.f64", meta_f64(2.5e-300));
  w.set("t.bool", meta_bool(true));
  w.set("t.str", meta_string("h\xc3\xa9llo \xe2\x9c\x93"));
  w.set("t.arr_u8", meta_array(ValueType::kUInt8, {meta_u8(1), meta_u8(2), meta_u8(255)}));
  w.set("t.arr_i16", meta_array(ValueType::kInt16, {meta_i16(-1), meta_i16(300)}));
  w.set("t.arr_u64",
        meta_array(ValueType::kUInt64, {meta_u64(7), meta_u64(std::uint64_t{1} << 40)}));
  w.set("t.arr_f64", meta_array(ValueType::kFloat64, {meta_f64(0.125), meta_f64(-8.0)}));
  const std::vector<float> f32s = {0.5f, -1.5f};
  w.set("t.arr_f32", meta_f32_array(f32s));
  const std::vector<std::int32_t> i32s = {-7, 0, 7};
  w.set("t.arr_i32", meta_i32_array(i32s));
  w.set("t.arr_bool", meta_array(ValueType::kBool, {meta_bool(true), meta_bool(false)}));
  const std::vector<std::string> strs = {"a", "", "\xc3\x9f"};
  w.set("t.arr_str", meta_string_array(strs));
  w.set("t.arr_nested",
        meta_array(ValueType::kArray, {meta_array(ValueType::kInt32, {meta_i32(1), meta_i32(2)}),
                                       meta_array(ValueType::kInt32, {meta_i32(3)})}));
  const std::int64_t ne_a[] = {3};
  const std::int64_t ne_b[] = {4, 2};
  const std::int64_t ne_c[] = {32, 2};
  ASSERT_TRUE(w.add_tensor("a", GgmlType::kF32, ne_a).ok());
  ASSERT_TRUE(w.add_tensor("b", GgmlType::kF16, ne_b).ok());
  ASSERT_TRUE(w.add_tensor("c", GgmlType::kQ8_0, ne_c).ok());
}

std::vector<std::uint8_t> reference_tensor_bytes(int i) {
  if (i == 0) return to_bytes({1.0f, -2.0f, 3.5f});
  std::vector<std::uint8_t> b;
  if (i == 1) {  // float16 0..7: exact small integers
    const std::uint16_t h[8] = {0x0000, 0x3C00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600, 0x4700};
    b.resize(16);
    std::memcpy(b.data(), h, 16);
    return b;
  }
  for (int row = 0; row < 2; ++row) {  // Q8_0 rows: d = 1.0, qs = 0..31
    b.push_back(0x00);
    b.push_back(0x3C);
    for (int k = 0; k < 32; ++k) b.push_back(static_cast<std::uint8_t>(k));
  }
  return b;
}

TEST(GgufWriter, ByteIdenticalToPythonGgufWriter) {
  const std::string expected =
      testing::read_file(testing::data_path("synthetic/writer_all_types.gguf"));
  ASSERT_FALSE(expected.empty());
  GgufWriter w;
  fill_reference_content(w);
  const std::string path = testing::temp_dir() + "/writer_all_types.gguf";
  ASSERT_TRUE(w.open(path).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.write_data(reference_tensor_bytes(i)).ok());
  ASSERT_TRUE(w.close().ok());
  const std::string got = testing::read_file(path);
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_EQ(w.file_size(), expected.size());
  EXPECT_TRUE(got == expected) << "first difference at byte "
                               << std::mismatch(got.begin(), got.end(), expected.begin()).first -
                                      got.begin();
}

TEST(GgufWriter, RoundTripThroughReader) {
  GgufWriter w;
  fill_reference_content(w);
  w.set("t.empty", meta_array(ValueType::kString, {}));
  w.set("t.u8", meta_u8(17));  // replacing keeps the key's position and count
  const std::string path = testing::temp_dir() + "/writer_roundtrip.gguf";
  ASSERT_TRUE(w.open(path).ok());
  // Stream the data in awkward chunks spanning tensor boundaries.
  std::vector<std::uint8_t> all;
  for (int i = 0; i < 3; ++i) {
    auto b = reference_tensor_bytes(i);
    all.insert(all.end(), b.begin(), b.end());
  }
  for (std::size_t off = 0; off < all.size(); off += 5) {
    std::size_t n = std::min<std::size_t>(5, all.size() - off);
    ASSERT_TRUE(w.write_data(std::span(all).subspan(off, n)).ok());
  }
  ASSERT_TRUE(w.close().ok());

  auto file = GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const GgufFile& f = **file;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset(), w.data_offset());
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.metadata().size(), w.metadata_count());
  EXPECT_EQ(*f.get_u32("t.u8"), 17u);
  EXPECT_EQ(f.find("t.i8")->i, -100);
  EXPECT_EQ(f.find("t.u16")->u, 60000u);
  EXPECT_EQ(f.find("t.i16")->i, -30000);
  EXPECT_EQ(*f.get_u32("t.u32"), 4000000000u);
  EXPECT_EQ(*f.get_i64("t.i32"), -2000000000);
  EXPECT_EQ(*f.get_f32("t.f32"), 3.25f);
  EXPECT_EQ(f.find("t.u64")->u, (std::uint64_t{1} << 63) + 5);
  EXPECT_EQ(*f.get_i64("t.i64"), -(std::int64_t{1} << 62));
  EXPECT_EQ(f.find("t.f64")->f, 2.5e-300);
  EXPECT_TRUE(*f.get_bool("t.bool"));
  EXPECT_EQ(*f.get_string("t.str"), "h\xc3\xa9llo \xe2\x9c\x93");
  EXPECT_EQ(*f.get_string("general.architecture"), "testarch");
  EXPECT_EQ(f.find("t.arr_u8")->elem_type, ValueType::kUInt8);
  EXPECT_EQ(f.find("t.arr_u8")->arr.at(2).u, 255u);
  EXPECT_EQ(f.find("t.arr_i16")->arr.at(0).i, -1);
  EXPECT_EQ(f.find("t.arr_u64")->arr.at(1).u, std::uint64_t{1} << 40);
  EXPECT_EQ(f.find("t.arr_f64")->arr.at(1).f, -8.0);
  EXPECT_EQ(*f.get_f32_array("t.arr_f32"), (std::vector<float>{0.5f, -1.5f}));
  EXPECT_EQ(*f.get_i32_array("t.arr_i32"), (std::vector<std::int32_t>{-7, 0, 7}));
  EXPECT_EQ(f.find("t.arr_bool")->arr.at(1).u, 0u);
  EXPECT_EQ(*f.get_string_array("t.arr_str"), (std::vector<std::string>{"a", "", "\xc3\x9f"}));
  const MetaValue* nested = f.find("t.arr_nested");
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->elem_type, ValueType::kArray);
  ASSERT_EQ(nested->arr.size(), 2u);
  EXPECT_EQ(nested->arr[0].arr.at(1).i, 2);
  EXPECT_EQ(nested->arr[1].arr.at(0).i, 3);
  EXPECT_TRUE(f.find("t.empty")->arr.empty());

  ASSERT_EQ(f.tensors().size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const TensorInfo& t = f.tensors()[i];
    EXPECT_EQ(t.name, w.tensors()[i].name);
    EXPECT_EQ(t.type, w.tensors()[i].type);
    EXPECT_EQ(t.offset, w.tensors()[i].offset);
    EXPECT_EQ(t.offset % 64, 0u);
    auto ref = reference_tensor_bytes(i);
    ASSERT_EQ(t.nbytes, ref.size());
    EXPECT_EQ(std::memcmp(t.data, ref.data(), ref.size()), 0) << t.name;
  }
  EXPECT_EQ(f.tensors()[1].ne[0], 4);
  EXPECT_EQ(f.tensors()[1].ne[1], 2);
}

// skip_data leaves holes: a 4 GiB tensor costs no disk, reads back as zeros, and the file
// has exactly the declared length (the tail is a hole, so close() must set the size).
TEST(GgufWriter, SkipDataWritesSparseZeros) {
  GgufWriter w;
  w.set_string("general.architecture", "testarch");
  const std::int64_t small[] = {8};
  const std::int64_t big[] = {std::int64_t{1} << 20, 1024};  // F32: 4 GiB
  ASSERT_TRUE(w.add_tensor("a", quant::GgmlType::kF32, small).ok());
  ASSERT_TRUE(w.add_tensor("b", quant::GgmlType::kF32, big).ok());
  const std::string path = testing::temp_dir() + "/writer_sparse.gguf";
  ASSERT_TRUE(w.open(path).ok());
  const float a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(w.write_data(std::span(reinterpret_cast<const std::uint8_t*>(a), sizeof a)).ok());
  ASSERT_TRUE(w.skip_data(std::uint64_t{4} << 30).ok());
  EXPECT_FALSE(w.skip_data(1).ok());  // past the last tensor
  ASSERT_TRUE(w.close().ok());
  auto file = GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const TensorInfo& tb = (*file)->tensors().at(1);
  EXPECT_EQ(tb.nbytes, std::uint64_t{4} << 30);
  EXPECT_EQ(w.file_size(), tb.offset + (*file)->data_offset() + tb.nbytes);
  EXPECT_EQ(std::memcmp((*file)->tensors().at(0).data, a, sizeof a), 0);
  const auto* bytes = static_cast<const std::uint8_t*>(tb.data);
  for (std::uint64_t off : {std::uint64_t{0}, std::uint64_t{1} << 31, tb.nbytes - 1})
    EXPECT_EQ(bytes[off], 0) << off;
}

TEST(GgufWriter, RejectsInvalidUse) {
  const std::int64_t ne_ok[] = {32};
  const std::int64_t ne_33[] = {33};
  const std::int64_t ne_zero[] = {32, 0};
  const std::int64_t ne_5d[] = {1, 1, 1, 1, 1};
  {
    GgufWriter w;
    ASSERT_TRUE(w.add_tensor("x", GgmlType::kQ4_0, ne_ok).ok());
    auto dup = w.add_tensor("x", GgmlType::kF32, ne_ok);
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, ErrorCode::kInvalidParameter);
    EXPECT_NE(dup.error().message.find("'x'"), std::string::npos);
    auto bad_block = w.add_tensor("q", GgmlType::kQ4_K, ne_33);
    ASSERT_FALSE(bad_block.ok());
    EXPECT_NE(bad_block.error().message.find("'q'"), std::string::npos);
    EXPECT_FALSE(w.add_tensor("z", GgmlType::kF32, ne_zero).ok());
    EXPECT_FALSE(w.add_tensor("d5", GgmlType::kF32, ne_5d).ok());
    EXPECT_FALSE(w.add_tensor("d0", GgmlType::kF32, std::span<const std::int64_t>()).ok());
    EXPECT_FALSE(w.set_alignment(48).ok());
    EXPECT_FALSE(w.set_alignment(0).ok());
    EXPECT_FALSE(w.write_data(std::vector<std::uint8_t>(4)).ok());  // before open
  }
  {
    GgufWriter w;
    ASSERT_TRUE(w.add_tensor("x", GgmlType::kF32, ne_ok).ok());
    ASSERT_TRUE(w.open(testing::temp_dir() + "/writer_overflow.gguf").ok());
    EXPECT_FALSE(w.write_data(std::vector<std::uint8_t>(32 * 4 + 1)).ok());  // past the last tensor
  }
  {
    GgufWriter w;
    ASSERT_TRUE(w.add_tensor("x", GgmlType::kF32, ne_ok).ok());
    ASSERT_TRUE(w.open(testing::temp_dir() + "/writer_short.gguf").ok());
    ASSERT_TRUE(w.write_data(std::vector<std::uint8_t>(8)).ok());
    auto st = w.close();
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("'x'"), std::string::npos);
  }
  {
    GgufWriter w;
    w.set("mixed", meta_array(ValueType::kInt32, {meta_i32(1), meta_u8(2)}));
    auto st = w.open(testing::temp_dir() + "/writer_mixed.gguf");
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("mixed"), std::string::npos);
  }
  {
    GgufWriter w;
    auto st = w.open(testing::temp_dir() + "/no/such/dir/x.gguf");
    EXPECT_FALSE(st.ok());
  }
}

}  // namespace
}  // namespace zinfer::gguf
