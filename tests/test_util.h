// Shared test helpers: where fixtures and real models live.
#pragma once

#include <optional>
#include <string>

namespace zinfer::testing {

// tests/data/<rel>
std::string data_path(const std::string& rel);
// Directory holding real GGUF models: $ZINFER_MODELS, else <source>/.models.
std::string models_dir();
// Full path of a real model file if present. When absent: nullopt, unless
// ZINFER_REQUIRE_MODELS=1 (CI), in which case the calling test must fail, not skip.
std::optional<std::string> find_model(const std::string& file_name);
bool models_required();
// Reads a whole file; empty on failure.
std::string read_file(const std::string& path);
// A fresh temporary directory for this test process.
std::string temp_dir();
// Copies a GGUF file to temp_dir()/out_name with the string value of metadata key `key`
// replaced by `value`, which must have the old value's length (so no offset moves): a
// synthetic file with, e.g., an unknown tokenizer.ggml.pre. Returns the path, or "" (and a
// test failure) if the file or the value is not found.
std::string copy_with_gguf_string(const std::string& path, const std::string& key,
                                  const std::string& value, const std::string& out_name);

}  // namespace zinfer::testing

// Skips (or fails under ZINFER_REQUIRE_MODELS=1) when the model is missing.
#define ZINFER_REQUIRE_MODEL(var, file)                                            \
  auto var##_opt = ::zinfer::testing::find_model(file);                            \
  if (!var##_opt) {                                                                \
    if (::zinfer::testing::models_required()) FAIL() << "missing model " << file;  \
    GTEST_SKIP() << "model " << file << " not found; run scripts/fetch_models.sh"; \
  }                                                                                \
  const std::string var = *var##_opt
