// Shared test helpers (see test_util.h).
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "engine/quant/ggml_type.h"
#include "engine/synthetic/synthetic_weights.h"

namespace zinfer::testing {

std::string data_path(const std::string& rel) {
  return std::string(ZINFER_TEST_DATA_DIR) + "/" + rel;
}

std::string models_dir() {
  if (const char* env = std::getenv("ZINFER_MODELS"); env != nullptr && *env != '\0') return env;
  return std::string(ZINFER_SOURCE_DIR) + "/.models";
}

bool models_required() {
  const char* env = std::getenv("ZINFER_REQUIRE_MODELS");
  return env != nullptr && std::string(env) == "1";
}

bool running_in_ci() {
  const char* env = std::getenv("CI");
  return env != nullptr && std::string(env) == "true";
}

bool python_client_modules_present() {
  return std::system("python3 -c 'import msgpack, jsonschema, referencing, zmq' >/dev/null 2>&1") ==
         0;
}

std::optional<std::string> find_model(const std::string& file_name) {
  std::string p = models_dir() + "/" + file_name;
  if (std::filesystem::exists(p)) return p;
  return std::nullopt;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_dir() {
  static std::string dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "zinfer_test_XXXXXX").string();
    char* d = mkdtemp(tmpl.data());
    return d != nullptr ? std::string(d) : std::string("/tmp");
  }();
  return dir;
}

std::string zinfer_binary() { return std::string(ZINFER_BINARY_DIR) + "/bin/zinfer"; }

std::string expect_python_tests_pass(const std::string& script, const std::string& env) {
  if (!std::filesystem::exists(zinfer_binary())) {
    ADD_FAILURE() << zinfer_binary() << " not built";
    return "";
  }
  const std::string log = temp_dir() + "/" + script + ".log";
  const std::string cmd = "ZINFER_BIN='" + zinfer_binary() + "' " + env + " python3 '" +
                          std::string(ZINFER_SOURCE_DIR) + "/tests/service/python/" + script +
                          "' -v > '" + log + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::string out = read_file(log);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("OK"), std::string::npos) << out;
  EXPECT_EQ(out.find("skipped"), std::string::npos) << out;
  std::printf("%s", out.c_str());
  return out;
}

std::string copy_with_gguf_string(const std::string& path, const std::string& key,
                                  const std::string& value, const std::string& out_name) {
  std::string bytes = read_file(path);
  // A metadata entry: u64 key length, key, u32 type (8 = string), u64 value length, value.
  const std::size_t k = bytes.find(key);
  const std::size_t v = k == std::string::npos ? k : k + key.size() + 4;
  if (v == std::string::npos || v + 8 > bytes.size()) {
    ADD_FAILURE() << key << " not found in " << path;
    return "";
  }
  std::uint64_t len = 0;
  std::memcpy(&len, bytes.data() + v, 8);
  if (len != value.size() || v + 8 + len > bytes.size()) {
    ADD_FAILURE() << key << " holds " << len << " bytes, not " << value.size();
    return "";
  }
  bytes.replace(v + 8, len, value);
  std::string out = temp_dir() + "/" + out_name;
  std::ofstream(out, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return out;
}

std::string write_synthetic(const model::SyntheticOptions& o, const std::string& file_name) {
  std::string path = temp_dir() + "/" + file_name;
  auto written = model::write_synthetic_model(o, path);
  if (!written.ok()) {
    ADD_FAILURE() << "writing " << o.preset << " to " << path << ": " << written.error().message;
    return "";
  }
  return path;
}

std::string write_synthetic(const std::string& preset, quant::GgmlType type,
                            const std::string& file_name, std::uint64_t seed) {
  model::SyntheticOptions o;
  o.preset = preset;
  o.type = type;
  o.seed = seed;
  return write_synthetic(o, file_name);
}

std::optional<model::SyntheticPlan> synthetic_plan(const std::string& preset) {
  model::SyntheticOptions o;
  o.preset = preset;
  auto plan = model::plan_synthetic_model(o);
  if (!plan.ok()) {
    ADD_FAILURE() << "planning " << preset << ": " << plan.error().message;
    return std::nullopt;
  }
  return std::move(*plan);
}

LlmOptions llm_options(const std::string& path, std::int32_t n_ctx, std::int32_t n_seq_max) {
  LlmOptions lo;
  lo.model_path = path;
  lo.n_ctx = n_ctx;
  lo.n_seq_max = n_seq_max;
  return lo;
}

LlmOptions tiny_llama_options(const std::string& file_name) {
  return llm_options(write_synthetic("tiny-llama", quant::GgmlType::kQ8_0, file_name), 64, 1);
}

std::vector<std::uint8_t> synth_matrix(quant::GgmlType type, std::int64_t rows, std::int64_t cols,
                                       std::uint64_t seed) {
  const std::size_t rs = quant::row_size(type, cols);
  std::vector<std::uint8_t> out(rs * static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    model::SynthRng rng(seed * 1000003u + static_cast<std::uint64_t>(r));
    model::synth_fill_row(type, model::InitKind::kWeight, 0.2f, cols, rng, out.data() + r * rs);
  }
  return out;
}

}  // namespace zinfer::testing
