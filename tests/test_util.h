// Shared test helpers: where fixtures and real models live, and small synthetic models to load.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "engine/quant/ggml_type.h"
#include "engine/synthetic/synthetic_model.h"

namespace zinfer::testing {

// tests/data/<rel>
std::string data_path(const std::string& rel);
// Directory holding real GGUF models: $ZINFER_MODELS, else <source>/.models.
std::string models_dir();
// Full path of a real model file if present. When absent: nullopt, unless
// ZINFER_REQUIRE_MODELS=1 (CI), in which case the calling test must fail, not skip.
std::optional<std::string> find_model(const std::string& file_name);
bool models_required();
// CI=true in the environment.
bool running_in_ci();
// python3 imports msgpack, jsonschema, referencing and zmq (what clients/python needs).
bool python_client_modules_present();
// Reads a whole file; empty on failure.
std::string read_file(const std::string& path);
// A fresh temporary directory for this test process.
std::string temp_dir();
// The built CLI: <build>/bin/zinfer.
std::string zinfer_binary();
// Runs the Python unittest file tests/service/python/<script> (-v) with ZINFER_BIN set to
// zinfer_binary() (which must be built) and the further environment assignments `env`
// ("NAME='value' ..."), its output kept in temp_dir(); expects exit status 0, "OK" and no
// skipped test, prints the output and returns it.
std::string expect_python_tests_pass(const std::string& script, const std::string& env = "");
// Copies a GGUF file to temp_dir()/out_name with the string value of metadata key `key`
// replaced by `value`, which must have the old value's length (so no offset moves): a
// synthetic file with, e.g., an unknown tokenizer.ggml.pre. Returns the path, or "" (and a
// test failure) if the file or the value is not found.
std::string copy_with_gguf_string(const std::string& path, const std::string& key,
                                  const std::string& value, const std::string& out_name);

// Writes the synthetic model `o` to temp_dir()/file_name and returns its path; "" (and a test
// failure with the writer's message) when it cannot be written.
std::string write_synthetic(const model::SyntheticOptions& o, const std::string& file_name);
// The same for `preset` with every weight in `type` (the preset's layers).
std::string write_synthetic(const std::string& preset, quant::GgmlType type,
                            const std::string& file_name, std::uint64_t seed = 0);
// The synthetic writer's plan for `preset` with default options; nullopt (and a test failure
// with the writer's message) when there is none.
std::optional<model::SyntheticPlan> synthetic_plan(const std::string& preset);
// Options to load a small test model: the file, n_ctx and n_seq_max; the rest are defaults
// (device "cpu", exact matmul).
LlmOptions llm_options(const std::string& path, std::int32_t n_ctx, std::int32_t n_seq_max);
// The smallest model to load: tiny-llama in Q8_0 written to temp_dir()/file_name, with options
// for n_ctx 64 and one sequence; model_path is "" (after a test failure) if it was not written.
LlmOptions tiny_llama_options(const std::string& file_name);
// rows × cols weights of `type` from the synthetic writer's generator (scale 0.2, row r seeded
// from seed and r): a matrix for op-level tests.
std::vector<std::uint8_t> synth_matrix(quant::GgmlType type, std::int64_t rows, std::int64_t cols,
                                       std::uint64_t seed);

}  // namespace zinfer::testing

// Skips when python3 cannot import the client's modules (clients/python/requirements.txt:
// msgpack, jsonschema, referencing, zmq); fails instead under CI=true, where setup installs them.
#define ZINFER_REQUIRE_PYTHON_CLIENT_MODULES()                                \
  if (!::zinfer::testing::python_client_modules_present()) {                  \
    if (::zinfer::testing::running_in_ci())                                   \
      FAIL() << "python3 lacks msgpack/jsonschema/pyzmq: pip install -r "     \
                "clients/python/requirements.txt";                            \
    GTEST_SKIP() << "python3 lacks msgpack/jsonschema/pyzmq (pip install -r " \
                    "clients/python/requirements.txt)";                       \
  }

// Skips (or fails under ZINFER_REQUIRE_MODELS=1) when the model is missing.
#define ZINFER_REQUIRE_MODEL(var, file)                                            \
  auto var##_opt = ::zinfer::testing::find_model(file);                            \
  if (!var##_opt) {                                                                \
    if (::zinfer::testing::models_required()) FAIL() << "missing model " << file;  \
    GTEST_SKIP() << "model " << file << " not found; run scripts/fetch_models.sh"; \
  }                                                                                \
  const std::string var = *var##_opt
