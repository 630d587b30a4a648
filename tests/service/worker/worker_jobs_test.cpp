// The worker on the real SmolLM2 model, over real sockets: several clients with concurrent
// jobs over TCP (ephemeral port) and IPC (temp dir) — each job's tokens and text must equal a
// standalone generation of the same prompt/params/seed through Llm::forward + Sequence (the
// `zinfer generate` path), each client must get only its own frames, in order, with exactly one
// terminal frame per job. Then cancel mid-stream and client disconnect mid-stream.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/sched/scheduler.h"
#include "tests/service/worker/worker_harness.h"
#include "tests/test_util.h"

namespace zinfer::worker::testing {
namespace {

struct Spec {
  std::string form;  // prompt | messages | prompt_tokens
  std::string text;
  std::string system;
  std::vector<std::int32_t> ids;
  float temperature = 0.0f;
  std::uint64_t seed = 0;
  std::int32_t max_tokens = 8;
  float top_p = 1.0f;
  std::int32_t top_k = 0;
  float repetition_penalty = 1.0f;
  std::vector<std::string> stop = {};  // (a default keeps -Wmissing-field-initializers quiet)
  int logprobs = -1;                   // -1: not requested
};

std::vector<Spec> specs() {
  std::vector<Spec> s(10);
  s[0] = {"messages", "What is the capital of France?", "", {}, 0.0f, 0, 10};
  s[1] = {"prompt", "The quick brown fox", "", {}, 0.0f, 0, 8};
  s[2] = {"prompt", "Once upon a time", "", {}, 0.8f, 1, 10, 0.9f};
  s[3] = {"messages", "Write a haiku about rain.", "", {}, 0.7f, 42, 12, 1.0f, 40};
  s[4] = {"prompt_tokens", "", "", {1, 504, 3458, 314, 253, 1130}, 0.0f, 0, 8};
  s[5] = {"prompt", "Count: 1, 2, 3, 4,", "", {}, 0.0f, 0, 12, 1.0f, 0, 1.0f, {" 8"}};
  s[6] = {"messages", "Name three colors.", "", {}, 1.0f, 7, 10, 1.0f, 0, 1.2f};
  s[7] = {"prompt", "In 1969, the first", "", {}, 0.5f, 99, 8};
  std::string long_text;
  for (int i = 0; i < 6; ++i)
    long_text += "The history of the printing press begins in the fifteenth century. ";
  s[8] = {"prompt", long_text, "", {}, 0.0f, 0, 8};
  s[9] = {"messages", "Explain gravity.", "You are terse.", {}, 0.0f, 0, 10};
  s[9].logprobs = 2;
  return s;
}

json to_wire(const Spec& s) {
  json j;
  if (s.form == "prompt") j["prompt"] = s.text;
  if (s.form == "prompt_tokens") j["prompt_tokens"] = s.ids;
  if (s.form == "messages") {
    j["messages"] = json::array();
    if (!s.system.empty()) j["messages"].push_back({{"role", "system"}, {"content", s.system}});
    j["messages"].push_back({{"role", "user"}, {"content", s.text}});
  }
  j["temperature"] = s.temperature;
  j["seed"] = s.seed;
  j["max_tokens"] = s.max_tokens;
  j["top_p"] = s.top_p;
  j["top_k"] = s.top_k;
  j["repetition_penalty"] = s.repetition_penalty;
  if (!s.stop.empty()) j["stop"] = s.stop;
  if (s.logprobs >= 0) j["logprobs"] = s.logprobs;
  return j;
}

sched::GenerationParams to_params(const Spec& s) {
  sched::GenerationParams p;
  p.sampling.temperature = s.temperature;
  p.sampling.seed = s.seed;
  p.sampling.top_p = s.top_p;
  p.sampling.top_k = s.top_k;
  p.sampling.repetition_penalty = s.repetition_penalty;
  p.sampling.top_logprobs = std::max(s.logprobs, 0);
  p.max_tokens = s.max_tokens;
  p.stop = s.stop;
  return p;
}

// Tokenized as `zinfer generate` does: --chat through the template with special tokens parsed;
// plain text with the BOS rule and (per the protocol) no special-token parsing.
std::vector<std::int32_t> tokenize(const Spec& s, const tok::Tokenizer& tok) {
  if (s.form == "prompt_tokens") return s.ids;
  if (s.form == "prompt") return tok.encode(s.text, true, false);
  std::vector<tok::ChatMessage> msgs;
  if (!s.system.empty()) msgs.push_back({"system", s.system});
  msgs.push_back({"user", s.text});
  auto text = tok.apply_chat_template(msgs, true);
  EXPECT_TRUE(text.ok());
  return tok.encode(text.ok() ? *text : std::string(), false, true);
}

// Standalone generations of specs(), computed once per process (ctest runs each test in its
// own process, so only the test that needs them pays for them).
const std::vector<JobOutput>& reference(const std::string& model) {
  static const std::vector<JobOutput> ref = [&] {
    std::vector<JobOutput> out;
    auto llm = Llm::load(model_options(model, 512, /*n_seq_max=*/1));
    EXPECT_TRUE(llm.ok()) << llm.error().message;
    if (!llm.ok()) return out;
    for (const Spec& s : specs())
      out.push_back(generate_alone(**llm, tokenize(s, (*llm)->tokenizer()), to_params(s)));
    return out;
  }();
  return ref;
}

std::unique_ptr<WorkerThread> start_worker(const std::string& model, const std::string& bind,
                                           int max_running = 16) {
  sched::SchedulerConfig sc;
  sc.prefix_cache = true;  // outputs must not change with it (checked against standalone runs)
  sc.max_running = max_running;
  sc.max_step_tokens = 96;  // long prompts arrive in chunks, interleaved with decodes
  return start_model_worker(model_options(model, 512), sc, bound_to(bind));
}

std::string bind_endpoint(const std::string& transport) {
  if (transport == "tcp") return "tcp://127.0.0.1:0";
  static int n = 0;  // short names: ipc paths are limited to ~100 bytes
  return "ipc://" + zinfer::testing::temp_dir() + "/jobs" + std::to_string(n++) + ".sock";
}

class WorkerJobs : public ::testing::TestWithParam<std::string> {
 protected:
  std::string bind_endpoint() const { return testing::bind_endpoint(GetParam()); }
};

// 3 clients × 10 concurrent jobs (client c's job j runs specs()[j]).
void run_three_clients(const std::string& model, const std::string& transport,
                       const std::vector<JobOutput>& ref) {
  Context ctx;
  auto w = start_worker(model, bind_endpoint(transport));
  ASSERT_NE(w, nullptr);
  if (transport == "tcp") {
    EXPECT_EQ(w->endpoint().rfind("tcp://127.0.0.1:", 0), 0u) << w->endpoint();
  }
  EXPECT_EQ(w->endpoint().find(":0"), std::string::npos)
      << "ephemeral port not resolved: " << w->endpoint();

  const std::vector<Spec> all = specs();
  std::vector<std::unique_ptr<Client>> clients;
  for (int c = 0; c < 3; ++c) clients.push_back(std::make_unique<Client>(ctx.get(), w->endpoint()));
  for (std::size_t j = 0; j < all.size(); ++j) {
    for (int c = 0; c < 3; ++c) {
      clients[static_cast<std::size_t>(c)]->send(
          submit("c" + std::to_string(c) + "-j" + std::to_string(j), to_wire(all[j])));
    }
  }
  auto all_done = [&] {
    for (int c = 0; c < 3; ++c) {
      for (std::size_t j = 0; j < all.size(); ++j) {
        if (!clients[static_cast<std::size_t>(c)]->has_terminal("c" + std::to_string(c) + "-j" +
                                                                std::to_string(j))) {
          return false;
        }
      }
    }
    return true;
  };
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (!all_done() && Clock::now() < deadline) {
    for (auto& cl : clients) cl->recv(5);
  }
  ASSERT_TRUE(all_done()) << "not every job finished in time";

  for (int c = 0; c < 3; ++c) {
    Client& cl = *clients[static_cast<std::size_t>(c)];
    const std::string prefix = "c" + std::to_string(c) + "-";
    EXPECT_EQ(cl.jobs.size(), all.size())
        << "client " << c << " got frames of jobs it does not own";
    for (const auto& [id, frames] : cl.jobs)
      EXPECT_EQ(id.rfind(prefix, 0), 0u) << "foreign job " << id;
    for (std::size_t j = 0; j < all.size(); ++j) {
      const std::string id = prefix + "j" + std::to_string(j);
      expect_job_invariant(cl.jobs[id], id);
      const JobOutput got = collect(cl.jobs[id]);
      EXPECT_EQ(got.tokens, ref[j].tokens) << id;
      EXPECT_EQ(got.text, ref[j].text) << id;
      EXPECT_EQ(got.finish, ref[j].finish) << id;
      const json& done = cl.jobs[id].back();
      EXPECT_EQ(done["usage"]["completion_tokens"].get<std::size_t>(), ref[j].tokens.size());
      if (all[j].logprobs >= 0) {
        for (const json& f : cl.jobs[id]) {
          if (f["type"] != "token") continue;
          ASSERT_TRUE(f.contains("logprobs")) << f.dump();
          ASSERT_EQ(f["logprobs"].size(), f["tokens"].size());
          EXPECT_EQ(f["logprobs"][0]["top"].size(), 2u);
          EXPECT_LE(f["logprobs"][0]["logprob"].get<double>(), 0.0);
        }
      }
    }
  }
  const json stats = clients[0]->ask("stats");
  EXPECT_EQ(stats["jobs_accepted"], 30);
  EXPECT_EQ(stats["jobs_completed"], 30);
  EXPECT_EQ(stats["active_jobs"], 0);
  EXPECT_EQ(stats["queue_depth"], 0);
  EXPECT_EQ(stats["kv_blocks_used"], 0);
  EXPECT_GT(stats["kv_blocks_total"].get<int>(), 0);
  // 16 run at once, so the last 14 jobs start after identical prompts (same specs, other
  // clients) stored their blocks: the prefix cache served them, and outputs stayed equal.
  EXPECT_GT(stats["prompt_tokens_cached"].get<int>(), 0);
}

TEST(WorkerJobsBatch, ThreeClientsTenJobsEachMatchStandaloneGenerationOverTcpAndIpc) {
  ZINFER_REQUIRE_MODEL(model, kModelFile);
  const std::vector<JobOutput>& ref = reference(model);
  ASSERT_EQ(ref.size(), 10u);
  for (const char* transport : {"tcp", "ipc"}) {
    SCOPED_TRACE(transport);
    run_three_clients(model, transport, ref);
  }
}

TEST_P(WorkerJobs, CancelMidStreamFreesResourcesAndIsIdempotent) {
  ZINFER_REQUIRE_MODEL(model, kModelFile);
  Context ctx;
  auto w = start_worker(model, bind_endpoint());
  ASSERT_NE(w, nullptr);
  Client cl(ctx.get(), w->endpoint());
  cl.send(submit("long", {{"prompt", "Tell me a long story about a dragon."},
                          {"max_tokens", 400},
                          {"ignore_eos", true}}));
  ASSERT_TRUE(cl.pump_until([&] { return cl.count("long", "token") >= 2; }));
  cl.send(cancel("long"));
  ASSERT_TRUE(cl.pump_until([&] { return cl.has_terminal("long"); }));
  expect_job_invariant(cl.jobs["long"], "long");
  const json& done = cl.last("long");
  EXPECT_EQ(done["type"], "done");
  EXPECT_EQ(done["finish_reason"], "cancelled");
  EXPECT_LT(done["usage"]["completion_tokens"].get<int>(), 400);
  json stats = cl.ask("stats");
  EXPECT_EQ(stats["active_jobs"], 0);
  EXPECT_EQ(stats["kv_blocks_used"], 0) << "the cancelled job's KV blocks must be back";
  EXPECT_EQ(stats["jobs_cancelled"], 1);

  // Cancelling it again, or a job that never existed, sends nothing and harms nothing.
  cl.send(cancel("long"));
  cl.send(cancel("never-existed"));
  cl.send(submit("after", {{"prompt", "Hello"}, {"max_tokens", 3}, {"temperature", 0}}));
  ASSERT_TRUE(cl.pump_until([&] { return cl.has_terminal("after"); }));
  expect_job_invariant(cl.jobs["after"], "after");
  EXPECT_EQ(cl.last("after")["type"], "done");
  EXPECT_EQ(cl.jobs.count("never-existed"), 0u);
  expect_job_invariant(cl.jobs["long"], "long");  // still exactly one terminal frame
}

TEST_P(WorkerJobs, ClientDisconnectCancelsItsJobsWithinAStep) {
  ZINFER_REQUIRE_MODEL(model, kModelFile);
  Context ctx;
  auto w = start_worker(model, bind_endpoint());
  ASSERT_NE(w, nullptr);
  auto gone = std::make_unique<Client>(ctx.get(), w->endpoint());
  Client stays(ctx.get(), w->endpoint());
  for (int j = 0; j < 3; ++j) {
    gone->send(submit(
        "job-" + std::to_string(j),
        {{"prompt", "Write a poem about the ocean."}, {"max_tokens", 400}, {"ignore_eos", true}}));
  }
  // The same job id on the other client: ids are scoped per client.
  stays.send(submit("job-0", {{"prompt", "Describe a forest."},
                              {"max_tokens", 24},
                              {"ignore_eos", true},
                              {"temperature", 0}}));
  ASSERT_TRUE(gone->pump_until([&] { return gone->count("job-2", "token") >= 1; }));
  ASSERT_TRUE(stays.pump_until([&] { return stays.count("job-0", "token") >= 1; }));
  const json before = stays.ask("stats");
  EXPECT_EQ(before["active_jobs"], 4);
  gone->close();  // linger 0: the connection drops now
  const auto closed_at_step = before["engine_steps"].get<std::uint64_t>();

  json after;
  ASSERT_TRUE(stays.pump_until(
      [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        after = stays.ask("stats");
        return after["active_jobs"].get<int>() <= 1;
      },
      30000))
      << "the disconnected client's jobs kept running";
  // Detection happens on the first send to the gone peer (next step), the cancel before the
  // step after: allow for the step in flight and ZeroMQ noticing the closed connection.
  EXPECT_LE(after["engine_steps"].get<std::uint64_t>(), closed_at_step + 4);
  EXPECT_EQ(after["jobs_cancelled"], 3);

  ASSERT_TRUE(stays.pump_until([&] { return stays.has_terminal("job-0"); }));
  expect_job_invariant(stays.jobs["job-0"], "job-0");
  EXPECT_EQ(stays.last("job-0")["finish_reason"], "length");
  EXPECT_EQ(collect(stays.jobs["job-0"]).tokens.size(), 24u);
  const json final_stats = stays.ask("stats");
  EXPECT_EQ(final_stats["active_jobs"], 0);
  EXPECT_EQ(final_stats["kv_blocks_used"], 0);
}

INSTANTIATE_TEST_SUITE_P(Transports, WorkerJobs, ::testing::Values("tcp", "ipc"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace zinfer::worker::testing
