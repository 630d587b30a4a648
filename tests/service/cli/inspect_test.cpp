// `zinfer inspect` end to end: runs the built binary on the real SmolLM2 model and checks its
// --json output against what the `gguf` Python package reads from the same file
// (tests/data/gguf/smollm2_tensors.json); a corrupt file must exit 2 with a typed error.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/service/cli/zinfer_process.h"
#include "tests/test_util.h"

namespace {

using nlohmann::json;

constexpr const char* kModel = "SmolLM2-135M-Instruct.Q4_1.gguf";

using zinfer::testing::RunResult;
RunResult run(const std::string& args) { return zinfer::testing::run_zinfer(args); }

// Value of a scalar metadata entry of the reference, as JSON.
const json& ref_value(const json& golden, const std::string& key) {
  return golden["metadata"][key]["value"];
}

TEST(InspectCommandTest, JsonMatchesReferenceReader) {
  REQUIRE_ZINFER_BINARY();
  ZINFER_REQUIRE_MODEL(path, kModel);
  const json g = json::parse(
      zinfer::testing::read_file(zinfer::testing::data_path("gguf/smollm2_tensors.json")));
  const RunResult r = run("inspect --json --metadata '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const json d = json::parse(r.out);

  EXPECT_EQ(d["version"], g["version"]);
  EXPECT_EQ(d["file_size"], g["file_size"]);
  EXPECT_EQ(d["alignment"], g["alignment"]);
  EXPECT_EQ(d["data_offset"], g["data_offset"]);
  EXPECT_EQ(d["architecture"], ref_value(g, "general.architecture"));

  const json& hp = d["hyperparameters"];
  for (const char* key : {"llama.block_count", "llama.context_length", "llama.embedding_length",
                          "llama.feed_forward_length", "llama.attention.head_count",
                          "llama.attention.head_count_kv", "llama.vocab_size"}) {
    EXPECT_EQ(hp[key], ref_value(g, key)) << key;
  }
  // Floats are printed as the shortest text of the float32 value; compare as float32.
  for (const char* key : {"llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon"}) {
    EXPECT_EQ(hp[key].get<float>(), ref_value(g, key).get<float>()) << key;
  }

  const json& tok = d["tokenizer"];
  EXPECT_EQ(tok["model"], ref_value(g, "tokenizer.ggml.model"));
  EXPECT_EQ(tok["pre"], ref_value(g, "tokenizer.ggml.pre"));
  EXPECT_EQ(tok["vocab_size"], g["metadata"]["tokenizer.ggml.tokens"]["len"]);
  EXPECT_EQ(tok["chat_template"], true);

  const json& tensors = d["tensors"];
  ASSERT_EQ(tensors.size(), g["tensors"].size());
  std::map<std::string, std::array<std::uint64_t, 2>> totals;  // type -> {tensors, bytes}
  std::uint64_t total_bytes = 0;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const json& ref = g["tensors"][k];
    SCOPED_TRACE(ref["name"].get<std::string>());
    EXPECT_EQ(tensors[k]["name"], ref["name"]);
    EXPECT_EQ(tensors[k]["type"], ref["type"]);
    EXPECT_EQ(tensors[k]["shape"], ref["ne"]);
    EXPECT_EQ(tensors[k]["offset"], ref["offset"]);
    EXPECT_EQ(tensors[k]["bytes"], ref["n_bytes"]);
    auto& t = totals[ref["type"].get<std::string>()];
    t[0] += 1;
    t[1] += ref["n_bytes"].get<std::uint64_t>();
    total_bytes += ref["n_bytes"].get<std::uint64_t>();
  }
  for (const auto& [type, t] : totals) {
    EXPECT_EQ(d["totals"][type]["tensors"].get<std::uint64_t>(), t[0]) << type;
    EXPECT_EQ(d["totals"][type]["bytes"].get<std::uint64_t>(), t[1]) << type;
  }
  EXPECT_EQ(d["totals"]["total"]["bytes"].get<std::uint64_t>(), total_bytes);
  EXPECT_EQ(d["totals"].size(), totals.size() + 1);

  const json& meta = d["metadata"];
  ASSERT_EQ(meta.size(), g["metadata"].size());
  for (const auto& [key, ref] : g["metadata"].items()) {
    ASSERT_TRUE(meta.contains(key)) << key;
    if (ref["type"] == "array") {
      EXPECT_EQ(meta[key]["type"], "array[" + ref["elem_type"].get<std::string>() + "]") << key;
      EXPECT_EQ(meta[key]["value"], ref["elem_type"].get<std::string>() + "[" +
                                        std::to_string(ref["len"].get<int>()) + "]")
          << key;
    } else if (ref["type"] == "float32") {
      EXPECT_EQ(meta[key]["value"].get<float>(), ref["value"].get<float>()) << key;
    } else {
      EXPECT_EQ(meta[key]["type"], ref["type"]) << key;
      EXPECT_EQ(meta[key]["value"], ref["value"]) << key;
    }
  }
}

TEST(InspectCommandTest, TextOutputNamesTheEssentials) {
  REQUIRE_ZINFER_BINARY();
  ZINFER_REQUIRE_MODEL(path, kModel);
  const RunResult r = run("inspect '" + path + "'");
  ASSERT_EQ(r.exit_code, 0);
  for (const char* needle :
       {"gguf version  3", "architecture  llama", "llama.block_count", "smollm",
        "chat template present", "token_embd.weight", "Q8_0", "[576, 49152]", "totals by type"}) {
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle << "\n" << r.out.substr(0, 2000);
  }
}

TEST(InspectCommandTest, CorruptFileExitsTwoWithTypedError) {
  REQUIRE_ZINFER_BINARY();
  const std::string bad = zinfer::testing::temp_dir() + "/inspect_bad.gguf";
  {
    std::ofstream out(bad, std::ios::binary);
    // Valid magic, unsupported version 1.
    out.write("GGUF\x01\x00\x00\x00", 8);
    out.write(std::string(16, '\0').data(), 16);
  }
  const RunResult r = run("inspect --json '" + bad + "'");
  EXPECT_EQ(r.exit_code, 2);
  const json d = json::parse(r.out);
  EXPECT_EQ(d["error"]["code"], "MODEL_LOAD_FAILED");
  EXPECT_NE(d["error"]["message"].get<std::string>().find("version 1 is not supported"),
            std::string::npos);
  EXPECT_EQ(run("inspect '" + zinfer::testing::temp_dir() + "/missing.gguf'").exit_code, 2);
}

}  // namespace
