// Harmony (gpt-oss) chat jobs through a real worker over ipc://, without a model: an engine
// double with gpt-oss's real tokenizer (o200k_harmony.gguf, scripts/fetch_models.sh o200k)
// runs each job's Sequence over a scripted completion. Checks the whole service path: the
// `messages` prompt is openai-harmony's rendering token for token, the frames' `text` is the
// final channel and `reasoning` the analysis channel (PROTOCOL.md §6.3.1), streamed and not,
// and a plain `prompt` job on the same model has no `reasoning` field.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/sched/job_map_engine.h"
#include "engine/sched/sequence.h"
#include "tests/engine/tokenizer/golden_fixture.h"
#include "tests/service/worker/worker_harness.h"
#include "tests/test_util.h"

namespace zinfer::worker::testing {
namespace {

constexpr const char* kCompletion =
    "<|channel|>analysis<|message|>The user greets. Reply briefly.<|end|><|start|>assistant"
    "<|channel|>final<|message|>Hi! 👋 How can I help?<|return|>";

struct ScriptedJob {
  std::unique_ptr<sched::Sequence> seq;
  std::size_t next;
};

// Each job is a real Sequence fed one scripted token per step.
class ScriptedEngine final : public sched::JobMapEngine<ScriptedJob> {
 public:
  explicit ScriptedEngine(const tok::Tokenizer& tok)
      : JobMapEngine("scripted-gpt-oss", "gpt-oss", /*context_length=*/4096, tok.vocab_size(),
                     /*capacity=*/8),
        tok_(tok) {
    info_.tokenizer = &tok;
    script_ = tok.encode(kCompletion, false, true);
  }
  Status add(sched::JobSpec spec) override {
    prompts.push_back(spec.prompt());
    harmony_flags.push_back(spec.params().harmony_channels);
    jobs_.emplace(spec.id, ScriptedJob{std::make_unique<sched::Sequence>(tok_, spec), 0});
    return ok_status();
  }
  std::optional<sched::JobEvent> cancel(sched::JobId id, sched::FinishReason reason) override {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    sched::StepOutput out = it->second.seq->finish(reason);
    sched::JobEvent ev = event(id, it->second, std::move(out));
    jobs_.erase(it);
    return ev;
  }
  std::vector<sched::JobEvent> step(sched::Clock::time_point) override {
    std::vector<sched::JobEvent> events;
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      ScriptedJob& j = it->second;
      sample::SampleResult s;
      s.token = script_[j.next++ % script_.size()];
      auto out = j.seq->accept_sample(s);
      EXPECT_TRUE(out.ok());
      sched::JobEvent ev = event(it->first, j, std::move(*out));
      const bool end = ev.terminal();
      events.push_back(std::move(ev));
      it = end ? jobs_.erase(it) : std::next(it);
    }
    return events;
  }

  std::vector<std::vector<std::int32_t>> prompts;  // as each job reached the engine
  std::vector<bool> harmony_flags;

 private:
  static sched::JobEvent event(sched::JobId id, const ScriptedJob& j, sched::StepOutput out) {
    sched::JobEvent ev = started_event(id, static_cast<std::int32_t>(j.seq->prompt().size()),
                                       static_cast<std::int32_t>(j.seq->generated().size()));
    ev.tokens = std::move(out.tokens);
    ev.text = std::move(out.text);
    ev.reasoning = std::move(out.reasoning);
    ev.samples = std::move(out.samples);
    ev.finish = out.finish;
    return ev;
  }

  const tok::Tokenizer& tok_;
  std::vector<std::int32_t> script_;
};

// "system + user" of tests/data/tokenizer/harmony_vectors.json: openai-harmony's ids.
std::vector<std::int32_t> reference_ids(const json& messages) {
  const json fx = json::parse(
      zinfer::testing::read_file(zinfer::testing::data_path("tokenizer/harmony_vectors.json")));
  for (const json& c : fx["conversations"]) {
    if (c["messages"] == messages && c["options"].empty() && c["add_generation_prompt"] == true)
      return c["ids"].get<std::vector<std::int32_t>>();
  }
  ADD_FAILURE() << "conversation not in the fixture";
  return {};
}

struct Split {
  std::string text, reasoning;
  bool reasoning_in_token_frames = false;
  bool reasoning_in_done = false;
};

Split split(const std::vector<json>& frames) {
  Split s;
  for (const json& f : frames) {
    if (f["type"] != "token" && f["type"] != "done") continue;
    s.text += f["text"].get<std::string>();
    if (f.contains("reasoning")) {
      s.reasoning += f["reasoning"].get<std::string>();
      if (f["type"] == "token") s.reasoning_in_token_frames = true;
      if (f["type"] == "done") s.reasoning_in_done = true;
    }
  }
  return s;
}

// Both tests run on gpt-oss's tokenizer (skipped without the file).
class WorkerHarmony : public ::testing::Test {
 protected:
  void SetUp() override {
    ZINFER_REQUIRE_MODEL(path, "o200k_harmony.gguf");
    tokenizer = tok::golden::load_tokenizer_once(path).tok.get();
    ASSERT_NE(tokenizer, nullptr);
  }
  const tok::Tokenizer* tokenizer = nullptr;
};

TEST_F(WorkerHarmony, ChatJobsReturnFinalTextAndReasoning) {
  Context ctx;
  auto engine = std::make_unique<ScriptedEngine>(*tokenizer);
  ScriptedEngine* eng = engine.get();
  WorkerThread w(bound_to(ipc_endpoint("harmony.sock")), std::move(engine));
  ASSERT_TRUE(w.ok());
  Client cl(ctx.get(), w.endpoint());

  const json messages =
      json::array({{{"role", "system"}, {"content", "You are a terse assistant."}},
                   {{"role", "user"}, {"content", "Hi!"}}});
  cl.send(submit("stream", {{"messages", messages}, {"max_tokens", 100}}));
  cl.send(submit("whole", {{"messages", messages}, {"max_tokens", 100}, {"stream", false}}));
  cl.send(submit("plain", {{"prompt", "Hi!"}, {"max_tokens", 100}}));
  ASSERT_TRUE(cl.pump_until([&] {
    return cl.has_terminal("stream") && cl.has_terminal("whole") && cl.has_terminal("plain");
  }));
  for (const char* id : {"stream", "whole", "plain"}) expect_job_invariant(cl.jobs[id], id);

  // The prompt the engine got is openai-harmony's rendering; the chat jobs are harmony ones.
  ASSERT_EQ(eng->prompts.size(), 3u);
  const std::vector<std::int32_t> want = reference_ids(messages);
  EXPECT_EQ(eng->prompts[0], want);
  EXPECT_EQ(eng->prompts[1], want);
  EXPECT_TRUE(eng->harmony_flags[0]);
  EXPECT_TRUE(eng->harmony_flags[1]);
  EXPECT_FALSE(eng->harmony_flags[2]);

  const std::string answer = "Hi! 👋 How can I help?";
  const std::string thought = "The user greets. Reply briefly.";
  const std::size_t n_tokens = tokenizer->encode(kCompletion, false, true).size();
  for (const char* id : {"stream", "whole"}) {
    SCOPED_TRACE(id);
    const Split s = split(cl.jobs[id]);
    EXPECT_EQ(s.text, answer);
    EXPECT_EQ(s.reasoning, thought);
    EXPECT_TRUE(s.reasoning_in_done);
    EXPECT_EQ(cl.last(id)["finish_reason"], "stop");
    EXPECT_EQ(collect(cl.jobs[id]).tokens.size(), n_tokens);  // every token id is reported
  }
  EXPECT_TRUE(split(cl.jobs["stream"]).reasoning_in_token_frames);
  EXPECT_EQ(cl.count("whole", "token"), 0u);

  // A plain prompt on the same model: raw text, no reasoning field anywhere.
  const Split plain = split(cl.jobs["plain"]);
  EXPECT_FALSE(plain.reasoning_in_token_frames || plain.reasoning_in_done);
  EXPECT_NE(plain.text.find("<|channel|>analysis"), std::string::npos);
}

TEST_F(WorkerHarmony, ToolMessagesAreRefusedByTheDecoder) {
  Context ctx;
  WorkerThread w(bound_to(ipc_endpoint("harmony_tool.sock")),
                 std::make_unique<ScriptedEngine>(*tokenizer));
  ASSERT_TRUE(w.ok());
  Client cl(ctx.get(), w.endpoint());
  cl.send(submit("t", {{"messages", json::array({{{"role", "tool"}, {"content", "{}"}}})}}));
  ASSERT_TRUE(cl.pump_until([&] { return cl.has_terminal("t"); }));
  expect_job_invariant(cl.jobs["t"], "t", /*accepted_expected=*/false);
  EXPECT_EQ(cl.last("t")["code"], "INVALID_REQUEST");
}

}  // namespace
}  // namespace zinfer::worker::testing
