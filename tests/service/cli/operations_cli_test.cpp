// The operations side of the CLI as separate processes: `zinfer keygen` writes a CurveZMQ key
// pair (secret file 0600); `zinfer serve` refuses a bind beyond loopback without keys or
// --insecure, naming the flags; a worker whose engine wedges (the hidden test hook) makes
// `zinfer health` report "stalled" and exit 3 within --stall-timeout (also with --live, which
// accepts draining); `zinfer submit` draws its progress line on a terminal (run under
// `script`, a pseudo-terminal) and prints none when piped.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "tests/service/cli/zinfer_process.h"
#include "tests/test_util.h"

namespace zinfer::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf";

// `zinfer serve ARGS...` as a child process, SIGKILLed when the test is done with it.
class ServeChild {
 public:
  explicit ServeChild(std::vector<std::string> args) {
    args.insert(args.begin(), {zinfer_binary(), "serve"});
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~ServeChild() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

// Polls `zinfer health` until pred(exit code, output) holds; false after timeout_s.
template <typename Pred>
bool poll_health(const std::string& args, double timeout_s, Pred pred, RunResult* last) {
  const auto end = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < end) {
    *last = run_zinfer("health --timeout 2 " + args + " 2>&1");
    if (pred(*last)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(OperationsCli, KeygenWritesAPublicAndAPrivateSecretFile) {
  REQUIRE_ZINFER_BINARY();
  const std::string dir = temp_dir() + "/keygen";
  std::filesystem::create_directories(dir);
  RunResult r = run_zinfer("keygen --out " + dir + "/worker 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  struct stat st {};
  ASSERT_EQ(stat((dir + "/worker.key_secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the secret file must be private";
  std::ifstream pub(dir + "/worker.key");
  const std::string text((std::istreambuf_iterator<char>(pub)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("public-key = \""), std::string::npos) << text;
  EXPECT_EQ(text.find("secret-key"), std::string::npos) << "the public file holds no secret";
  RunResult again = run_zinfer("keygen --out " + dir + "/worker 2>&1");
  EXPECT_EQ(again.exit_code, 2) << "never overwrite a key: " << again.out;
}

TEST(OperationsCli, ARemoteBindWithoutKeysOrInsecureRefusesToStart) {
  REQUIRE_ZINFER_BINARY();
  // The flags are checked before the model loads: no model needed.
  for (const char* bind : {"tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://127.0.0.2:5555"}) {
    RunResult r =
        run_zinfer(std::string("serve --model /nonexistent.gguf --bind ") + bind + " 2>&1");
    EXPECT_EQ(r.exit_code, 2) << bind << ": " << r.out;
    EXPECT_NE(r.out.find("needs CurveZMQ: --curve-secret-key"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--insecure"), std::string::npos) << r.out;
  }
  RunResult half = run_zinfer(
      "serve --model /nonexistent.gguf --bind tcp://127.0.0.2:5555 --curve-secret-key x 2>&1");
  EXPECT_EQ(half.exit_code, 2) << half.out;
  EXPECT_NE(half.out.find("--curve-authorized-keys"), std::string::npos) << half.out;
  // Loopback and ipc need nothing; --insecure lets a remote bind through (to the model load).
  for (const char* bind : {"tcp://127.0.0.1:5555", "ipc:///tmp/x.sock"}) {
    RunResult r =
        run_zinfer(std::string("serve --model /nonexistent.gguf --bind ") + bind + " 2>&1");
    EXPECT_NE(r.out.find("MODEL_LOAD_FAILED"), std::string::npos) << bind << ": " << r.out;
  }
  RunResult insecure =
      run_zinfer("serve --model /nonexistent.gguf --bind tcp://0.0.0.0:5555 --insecure 2>&1");
  EXPECT_NE(insecure.out.find("MODEL_LOAD_FAILED"), std::string::npos) << insecure.out;
}

TEST(OperationsCli, CurveClientsOfSubmitAndHealthReachAnAuthenticatedWorker) {
  REQUIRE_ZINFER_BINARY();
  ZINFER_REQUIRE_MODEL(model, kModelFile);
  const std::string dir = temp_dir() + "/curve_cli";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/clients");
  for (const std::string& out : {dir + "/worker", dir + "/clients/producer", dir + "/stranger"}) {
    RunResult k = run_zinfer("keygen --out " + out + " 2>&1");
    ASSERT_EQ(k.exit_code, 0) << k.out;
  }
  // A port of our own on 127.0.0.2 (the bind policy treats it as remote).
  const int port = 20000 + static_cast<int>(getpid() % 20000);
  const std::string ep = "tcp://127.0.0.2:" + std::to_string(port);
  ServeChild serve({"--model", model, "--bind", ep, "--ctx", "256", "--threads", "2", "--log-level",
                    "warn", "--curve-secret-key", dir + "/worker.key_secret",
                    "--curve-authorized-keys", dir + "/clients"});
  const std::string keys = " --curve-server-key " + dir + "/worker.key --curve-secret-key " + dir;
  RunResult r;
  ASSERT_TRUE(poll_health(
      "--connect " + ep + keys + "/clients/producer.key_secret", 60,
      [](const RunResult& x) { return x.exit_code == 0; }, &r))
      << r.out;
  EXPECT_NE(r.out.find("\"status\":\"ready\""), std::string::npos) << r.out;
  {
    std::ofstream jobs(dir + "/jobs.jsonl");
    jobs << R"({"job_id": "c", "prompt": "Hello", "max_tokens": 3})"
         << "\n";
  }
  RunResult sub = run_zinfer("submit --connect " + ep + keys + "/clients/producer.key_secret" +
                             " --input " + dir + "/jobs.jsonl 2>&1");
  EXPECT_EQ(sub.exit_code, 0) << sub.out;
  EXPECT_NE(sub.out.find("\"finish_reason\""), std::string::npos) << sub.out;
  // An unknown key and a plaintext client: no answer at all (exit 1, timed out).
  RunResult stranger =
      run_zinfer("health --timeout 1 --connect " + ep + keys + "/stranger.key_secret 2>&1");
  EXPECT_EQ(stranger.exit_code, 1) << stranger.out;
  RunResult plain = run_zinfer("health --timeout 1 --connect " + ep + " 2>&1");
  EXPECT_EQ(plain.exit_code, 1) << plain.out;
  EXPECT_NE(plain.out.find("no health reply"), std::string::npos) << plain.out;
}

TEST(OperationsCli, AWedgedEngineMakesHealthExitNonZeroWithinTheStallTimeout) {
  REQUIRE_ZINFER_BINARY();
  ZINFER_REQUIRE_MODEL(model, kModelFile);
  const std::string ep = "ipc://" + temp_dir() + "/stall.sock";
  ServeChild serve({"--model", model, "--bind", ep, "--ctx", "256", "--threads", "2", "--log-level",
                    "warn", "--stall-timeout", "1", "--test-stall-after-steps", "5"});
  RunResult r;
  ASSERT_TRUE(poll_health(
      "--connect " + ep, 60, [](const RunResult& x) { return x.exit_code == 0; }, &r))
      << r.out;
  EXPECT_NE(r.out.find("\"status\":\"ready\""), std::string::npos) << r.out;
  // One long job: the engine stalls on its 6th step while the job is live.
  const std::string dir = temp_dir();
  {
    std::ofstream jobs(dir + "/stall_jobs.jsonl");
    jobs
        << R"({"job_id": "long", "prompt": "Tell me a story.", "max_tokens": 200, "ignore_eos": true})"
        << "\n";
  }
  const std::string submit = "'" + zinfer_binary() + "' submit --connect " + ep + " --input " +
                             dir + "/stall_jobs.jsonl --timeout 30 >/dev/null 2>&1 &";
  ASSERT_EQ(std::system(submit.c_str()), 0);
  const auto submitted = Clock::now();
  ASSERT_TRUE(poll_health(
      "--connect " + ep, 30, [](const RunResult& x) { return x.exit_code != 0; }, &r))
      << r.out;
  const double took = std::chrono::duration<double>(Clock::now() - submitted).count();
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_NE(r.out.find("\"status\":\"stalled\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("error: the worker is stalled"), std::string::npos) << r.out;
  // 5 steps of prefill/decode on 2 CPU threads, then the 1 s timeout, then one probe.
  EXPECT_LT(took, 10.0);
  std::printf("[ measured ] health turned non-zero %.2f s after the submit (--stall-timeout 1)\n",
              took);
  RunResult live = run_zinfer("health --live --connect " + ep + " 2>&1");
  EXPECT_EQ(live.exit_code, 3) << "a stalled engine fails the liveness probe too: " << live.out;
}

TEST(OperationsCli, SubmitShowsProgressOnATerminalAndNoneWhenPiped) {
  REQUIRE_ZINFER_BINARY();
  ZINFER_REQUIRE_MODEL(model, kModelFile);
  if (std::system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "no `script`";
  const std::string dir = temp_dir();
  const std::string ep = "ipc://" + dir + "/progress.sock";
  ServeChild serve(
      {"--model", model, "--bind", ep, "--ctx", "256", "--threads", "2", "--log-level", "warn"});
  RunResult r;
  ASSERT_TRUE(poll_health(
      "--connect " + ep, 60, [](const RunResult& x) { return x.exit_code == 0; }, &r))
      << r.out;
  {
    std::ofstream jobs(dir + "/progress_jobs.jsonl");
    for (int i = 0; i < 6; ++i)
      jobs << R"({"prompt": "Count to ten:", "max_tokens": 12, "ignore_eos": true})"
           << "\n";
  }
  const std::string submit = "'" + zinfer_binary() + "' submit --window 2 --connect " + ep +
                             " --input " + dir + "/progress_jobs.jsonl --output " + dir +
                             "/progress_out.jsonl";
  // On a pseudo-terminal: the progress line, redrawn in place, ends with the final tally.
  const std::string on_tty = "script -qec \"" + submit + "\" /dev/null 2>&1";
  std::string out;
  FILE* p = popen(on_tty.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  EXPECT_EQ(WEXITSTATUS(pclose(p)), 0) << out;
  EXPECT_NE(out.find("[submit] 6/6 done, 0 failed"), std::string::npos) << out;
  EXPECT_NE(out.find("tok/s"), std::string::npos) << out;
  // The input is a file: its job count is known up front, so an ETA shows once jobs finish.
  EXPECT_NE(out.find("/6 done"), std::string::npos) << out;
  EXPECT_NE(out.find(", ETA "), std::string::npos) << out;
  EXPECT_NE(out.find("\r\033[K"), std::string::npos) << "redrawn in place: " << out;
  // Piped (stderr is not a terminal): results only, no progress.
  const std::string piped = submit + " 2>&1 | cat";
  RunResult q;
  FILE* p2 = popen(piped.c_str(), "r");
  ASSERT_NE(p2, nullptr);
  while ((n = fread(buf, 1, sizeof(buf), p2)) > 0) q.out.append(buf, n);
  pclose(p2);
  EXPECT_EQ(q.out.find("[submit]"), std::string::npos) << q.out;
  EXPECT_EQ(q.out.find('\r'), std::string::npos) << q.out;
}

}  // namespace
}  // namespace zinfer::testing
