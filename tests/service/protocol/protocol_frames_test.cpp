// Frames from the C++ encoders, validated against the JSON Schemas in schemas/ by
// tests/service/python/test_schemas.py (jsonschema, draft 2020-12); and frames from the Python
// client (clients/python) decoded by the C++ decoder. Needs python3 with msgpack + jsonschema
// (clients/python/requirements.txt): skipped without them, failed without them under CI=true.
//
// With ZINFER_PROTOCOL_FRAMES_OUT=<dir> the test only writes the frames there (how
// test_schemas.py gets them when run on its own).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "service/protocol/codec.h"
#include "tests/test_util.h"

namespace zinfer::protocol {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> client_frames() {
  std::map<std::string, std::string> f;
  SubmitMsg full;
  full.job_id = "c++-full";
  full.prompt = "Hello, wörld";
  full.params.sampling = {
      0.5f, 40, 0.9f, 0.05f, 1.1f, 0.5f, -0.5f, 128, {{50256, -100.0f}, {7, 2.5f}}, 42, 3};
  full.logprobs = true;
  full.seed_given = true;
  full.params.max_tokens = 100;
  full.params.stop = {"\n\n", "###"};
  full.params.stop_token_ids = {2};
  full.params.ignore_eos = true;
  full.priority = 5;
  full.deadline_ms = 5000;
  full.stream = false;
  f["submit_full"] = encode_client(full);
  SubmitMsg minimal;
  minimal.job_id = "m";
  minimal.prompt = "";
  f["submit_minimal"] = encode_client(minimal);
  SubmitMsg tokens;
  tokens.job_id = "tokens";
  tokens.prompt_tokens = std::vector<std::int32_t>{1, 2, 3};
  f["submit_tokens"] = encode_client(tokens);
  SubmitMsg chat;
  chat.job_id = "chat";
  chat.messages = std::vector<tok::ChatMessage>{{"system", "Be brief."}, {"user", "Hi"}};
  f["submit_messages"] = encode_client(chat);
  f["cancel"] = encode_client(CancelMsg{"c++-full"});
  f["health"] = encode_client(HealthMsg{});
  f["stats"] = encode_client(StatsMsg{});
  return f;
}

std::map<std::string, std::string> worker_frames() {
  std::map<std::string, std::string> f;
  f["accepted"] = encode(AcceptedMsg{"j1", 0});
  f["accepted_queued"] = encode(AcceptedMsg{std::string(128, '~'), 17});
  TokenMsg token{"j1", 0, {9906}, "Hello", {}, std::nullopt};
  f["token"] = encode(token);
  token.seq = 1;
  token.tokens = {11, 1917};
  token.text = "";  // bytes held back
  token.logprobs = {{11, -0.25f, {{11, -0.25f}, {13, -2.5f}}},
                    {1917, -1.0f, {{1917, -1.0f}, {4, -1.5f}}}};
  f["token_logprobs"] = encode(token);
  TokenMsg thinking{"j1", 2, {12845, 668}, "", {}, std::nullopt};
  thinking.reasoning = "Let me";  // harmony chat job (PROTOCOL.md §6.3.1)
  f["token_reasoning"] = encode(thinking);
  const sched::FinishReason reasons[] = {sched::FinishReason::kStop, sched::FinishReason::kLength,
                                         sched::FinishReason::kCancelled,
                                         sched::FinishReason::kDeadline};
  for (sched::FinishReason r : reasons) {
    DoneMsg d;
    d.job_id = "j1";
    d.seq = 2;
    d.finish_reason = r;
    d.text = "tail ✓";
    d.tokens = {2};
    d.usage = {5, 3};
    d.timings = {0.5, 12.0, 30.0, 66.7};
    f[std::string("done_") + sched::finish_reason_name(r)] = encode(d);
  }
  DoneMsg whole;
  whole.job_id = "nostream";
  whole.finish_reason = sched::FinishReason::kLength;
  whole.text = "all of it";
  whole.tokens = {1, 2, 3};
  whole.logprobs = {{1, -0.5f, {}}, {2, -0.75f, {}}, {3, -3.0f, {}}};
  whole.usage = {4, 3};
  f["done_nostream_logprobs"] = encode(whole);
  DoneMsg harmony;
  harmony.job_id = "gpt-oss";
  harmony.text = "2 + 2 = 4.";
  harmony.reasoning = "The user asks 2+2.";
  harmony.tokens = {200005, 35644, 200008};
  harmony.usage = {70, 3};
  f["done_reasoning"] = encode(harmony);
  const ErrorCode codes[] = {ErrorCode::kInvalidDevice,
                             ErrorCode::kOutOfMemory,
                             ErrorCode::kModelLoadFailed,
                             ErrorCode::kInferenceFailed,
                             ErrorCode::kInvalidParameter,
                             ErrorCode::kKernelLaunchFailed,
                             ErrorCode::kVramResidencyFailed,
                             ErrorCode::kDeviceNotFound,
                             ErrorCode::kUnknown,
                             ErrorCode::kInvalidRequest,
                             ErrorCode::kUnsupportedVersion,
                             ErrorCode::kPromptTooLong,
                             ErrorCode::kDuplicateJob,
                             ErrorCode::kQueueFull,
                             ErrorCode::kDraining,
                             ErrorCode::kDeadlineExceeded,
                             ErrorCode::kWorkerLost,
                             ErrorCode::kInternal};
  for (ErrorCode c : codes) {
    f["error_" + std::string(error_code_name(c))] =
        encode(error_reply(make_error(c, "something about submit.field"), std::string("j1")));
  }
  // A real decoder error, without job_id.
  ClientDecodeResult bad =
      decode_client(as_bytes(std::string("\x93\x01\x02\x03", 4)), DecodeLimits{});
  f["error_no_job_id"] = encode(error_reply(bad));
  f["health"] = encode(HealthReply{"ready",
                                   "SmolLM2-135M-Instruct",
                                   "llama",
                                   {"Q4_1", "Q8_0", "F32"},
                                   8192,
                                   "cpu",
                                   0,
                                   0,
                                   1,
                                   8,
                                   3.25});
  f["stats"] = encode(StatsReply{3, 1, 1, 0, 2, 77, 30, 0, 1, 12, 1024, 80, 3.5});
  return f;
}

void write_frames(const fs::path& dir) {
  for (const auto& [sub, frames] :
       {std::pair{"client", client_frames()}, std::pair{"worker", worker_frames()}}) {
    fs::create_directories(dir / sub);
    for (const auto& [name, bytes] : frames) {
      std::ofstream(dir / sub / (name + ".msgpack"), std::ios::binary) << bytes;
    }
  }
}

TEST(ProtocolFrames, CppFramesMatchSchemasAndPythonFramesDecode) {
  if (const char* out = std::getenv("ZINFER_PROTOCOL_FRAMES_OUT")) {
    write_frames(out);
    GTEST_SKIP() << "frames written to " << out;
  }
  const fs::path dir = fs::path(testing::temp_dir()) / "protocol_frames";
  write_frames(dir);
  ZINFER_REQUIRE_PYTHON_CLIENT_MODULES();
  const fs::path log = dir / "python.log";
  const std::string cmd = "ZINFER_PROTOCOL_FRAMES_DIR='" + dir.string() + "' python3 '" +
                          std::string(ZINFER_SOURCE_DIR) +
                          "/tests/service/python/test_schemas.py' -v > '" + log.string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << testing::read_file(log.string());

  // The Python client's own frames (written by test_schemas.py) through the C++ decoder.
  const std::string full = testing::read_file((dir / "python" / "submit_full.msgpack").string());
  ASSERT_FALSE(full.empty()) << "test_schemas.py wrote no Python frames";
  ClientDecodeResult r = decode_client(as_bytes(full), DecodeLimits{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const SubmitMsg& s = std::get<SubmitMsg>(r.value());
  EXPECT_EQ(s.job_id, "py-full");
  EXPECT_EQ(s.messages->at(1).content, "Bonjour ✓");
  EXPECT_EQ(s.params.sampling.temperature, 0.25f);
  EXPECT_EQ(s.params.sampling.top_k, 7);
  const std::vector<std::pair<std::int32_t, float>> bias = {{50256, -100.0f}, {13, 1.5f}};
  EXPECT_EQ(s.params.sampling.logit_bias, bias);
  EXPECT_EQ(s.params.sampling.seed, 1234u);
  EXPECT_TRUE(s.seed_given);
  EXPECT_TRUE(s.logprobs);
  EXPECT_EQ(s.params.sampling.top_logprobs, 2);
  EXPECT_EQ(s.params.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(s.params.max_tokens, 12);
  EXPECT_EQ(s.deadline_ms, std::optional<std::int64_t>(60000));
  EXPECT_FALSE(s.stream);
  for (const char* name : {"cancel", "health", "stats", "submit_tokens"}) {
    const std::string frame =
        testing::read_file((dir / "python" / (std::string(name) + ".msgpack")).string());
    ClientDecodeResult ok = decode_client(as_bytes(frame), DecodeLimits{});
    EXPECT_TRUE(ok.ok()) << name << ": " << (ok.ok() ? "" : ok.error().message);
  }
}

}  // namespace
}  // namespace zinfer::protocol
