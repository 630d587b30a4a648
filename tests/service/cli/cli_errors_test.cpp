// The zinfer CLI as a newcomer meets it, run as a process: the same mistake reads and exits
// the same in every command (a missing model file: one line, exit 2), endpoints are checked
// before libzmq sees them (a wrapping TCP port, garbage) and its errors say what is wrong,
// `health` prints durations as written and prefixes errors "error:", `submit` passes on the
// JSON parser's message with its column, `generate` names the device it chose and ends its
// text with a newline before the statistics line, and the numerics flags exclude each other.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/service/cli/zinfer_process.h"
#include "tests/test_util.h"

namespace {

// `zinfer <args>` (args may redirect, e.g. "2>&1 >/dev/null" keeps stderr only).
using zinfer::testing::RunResult;
RunResult run(const std::string& args) { return zinfer::testing::run_zinfer(args); }

TEST(CliErrors, MissingModelFileIsTheSameLineAndExitCodeInEveryCommand) {
  const std::string missing = zinfer::testing::temp_dir() + "/no-such-model.gguf";
  const std::string expected =
      "error: MODEL_LOAD_FAILED: " + missing + ": cannot open: No such file or directory\n";
  for (const std::string& cmd :
       {"inspect " + missing, "generate --model " + missing + " -p hi --device cpu",
        "serve --model " + missing + " --device cpu --bind tcp://127.0.0.1:0",
        "bench --model " + missing + " --device cpu"}) {
    SCOPED_TRACE(cmd);
    const RunResult r = run(cmd + " 2>&1 >/dev/null");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, expected);
  }
}

TEST(CliErrors, ServeRejectsAPortThatWouldWrapBeforeLoadingTheModel) {
  const RunResult r = run("serve --model /nonexistent.gguf --bind tcp://127.0.0.1:99999 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out,
            "error: --bind tcp://127.0.0.1:99999: port \"99999\" is not a TCP port: expected "
            "1..65535 (or 0 or * for "
            "any free port)\n");
}

TEST(CliErrors, HealthNamesWhatIsWrongWithTheEndpointAndExits2) {
  RunResult r = run("health --connect garbage 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out,
            "error: --connect garbage: not an endpoint: expected tcp://HOST:PORT, ipc://PATH or "
            "inproc://NAME\n");
  r = run("health --connect tcp://127.0.0.1 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "error: --connect tcp://127.0.0.1: no port: expected tcp://HOST:PORT\n");
}

TEST(CliErrors, HealthTimeoutReadsAsWrittenWithTheErrorPrefix) {
  const std::string ep = "ipc://" + zinfer::testing::temp_dir() + "/nobody-listens.sock";
  const RunResult r = run("health --connect " + ep + " --timeout 0.2 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "error: no health reply from " + ep + " within 0.2 s\n");
}

TEST(CliErrors, SubmitReportsTheJsonParsersMessageAndColumn) {
  const std::string input = zinfer::testing::temp_dir() + "/bad_jobs.jsonl";
  {
    std::ofstream f(input);
    f << "{\"prompt\": \"ok\"}\n{\"prompt\": \"hi\", max_tokens: 3}\n";
  }
  const std::string ep = "ipc://" + zinfer::testing::temp_dir() + "/nobody-listens-submit.sock";
  RunResult r =
      run("submit --connect " + ep + " --input " + input + " --timeout 1 2>&1 >/dev/null");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(
      r.out,
      "error: " + input +
          ":2: column 18: syntax error while parsing object key - invalid literal; last read: "
          "'\"hi\", m'; expected string literal\n");
  {
    std::ofstream f(input);
    f << "[1, 2]\n";
  }
  r = run("submit --connect " + ep + " --input " + input + " 2>&1 >/dev/null");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out,
            "error: " + input + ":1: expected a JSON object (one submit per line), got an array\n");
}

TEST(CliErrors, GenerateNamesTheDeviceItChoseAndEndsTheTextWithANewline) {
  const std::string model = zinfer::testing::temp_dir() + "/cli_tiny_llama.gguf";
  ASSERT_EQ(run("mkmodel --preset tiny-llama --type Q8_0 --out " + model + " >/dev/null").exit_code,
            0);
  // --device auto on a machine without a GPU chooses cpu; on one with a GPU, cuda:0.
  const RunResult r =
      run("generate --model " + model + " -p hello -n 3 --ignore-eos --device auto 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto stats = r.out.rfind("\n[");
  ASSERT_NE(stats, std::string::npos) << r.out;
  const std::string line = r.out.substr(stats + 1);
  EXPECT_TRUE(line.rfind("[cpu] ", 0) == 0 || line.rfind("[cuda:0] ", 0) == 0) << line;
  EXPECT_EQ(line.find("[auto]"), std::string::npos);
  EXPECT_NE(line.find("| finish: length"), std::string::npos) << line;
}

// The engine bench's decode steps sample greedily unless --temp / --top-p / --top-k is given;
// then with them (the report says which, and the top logprobs asked for); a bad value is
// refused before the model loads.
TEST(CliErrors, EngineBenchSamplesWithTheGivenTemperatureAndTopP) {
  const struct {
    const char* flags;
    const char* error;
  } refused[] = {
      {"--top-p 1.5", "top_p must be in (0, 1], got 1.5"},
      {"--e2e --top-k -1", "top_k must be >= 0 (0 disables), got -1"},  // before serve starts
      {"--top-logprobs 21", "top_logprobs must be in [0, 20], got 21"},
  };
  RunResult r;
  for (const auto& c : refused) {
    r = run(std::string("bench --model m.gguf ") + c.flags + " 2>&1");
    EXPECT_EQ(r.exit_code, 2) << c.flags;
    EXPECT_EQ(r.out,
              std::string("error: --temp / --top-p / --top-k / --top-logprobs: ") + c.error + "\n");
  }
  const std::string model = zinfer::testing::temp_dir() + "/cli_bench_tiny_llama.gguf";
  ASSERT_EQ(run("mkmodel --preset tiny-llama --type Q8_0 --out " + model + " >/dev/null").exit_code,
            0);
  const std::string bench =
      "bench --model " + model +
      " --device cpu --prompt-tokens 8 --decode-tokens 2 --repeats 1 --batch 2";
  r = run(bench + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("decode steps end with a greedy token sampled"), std::string::npos) << r.out;
  r = run(bench + " --temp 0.7 --top-p 0.9 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("decode steps end with a token sampled (temperature 0.70, top-p 0.90)"),
            std::string::npos)
      << r.out;
  r = run(bench + " --top-k 5 --top-logprobs 3 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("decode steps end with a token sampled (temperature 0.80, top-p 1.00, "
                       "top-k 5) and its 3 top logprobs"),
            std::string::npos)
      << r.out;
  r = run(bench + " --top-p 0.5 --json 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("\"temperature\":0.8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"top_p\":0.5"), std::string::npos) << r.out;
}

TEST(CliErrors, ExactExcludesTheQuantizedActivationFlagsInEveryModelCommand) {
  for (const std::string& cmd :
       {std::string("generate --model m.gguf -p hi"), std::string("serve --model m.gguf"),
        std::string("bench --model m.gguf")}) {
    for (const char* other : {"--q8-act", "--q16-act"}) {
      SCOPED_TRACE(cmd + " " + other);
      const RunResult r = run(cmd + " --exact " + other + " 2>&1");
      EXPECT_EQ(r.exit_code, 2);
      EXPECT_NE(r.out.find("excludes"), std::string::npos) << r.out;
    }
  }
}

}  // namespace
