// encode() and encode_client(): message structs → one msgpack map each, with the keys and
// value types documented in schemas/PROTOCOL.md (key order: v, type, then as documented).
#include <cstdint>
#include <string>
#include <variant>

#include "service/protocol/codec.h"
#include "service/protocol/msgpack_writer.h"

namespace zinfer::protocol {
namespace {

using detail::MsgWriter;

void write_tokens(MsgWriter& w, const std::vector<std::int32_t>& tokens) {
  w.array(static_cast<std::uint32_t>(tokens.size()));
  for (std::int32_t t : tokens) w.i64(t);
}

// [{token, logprob, top: [{token, logprob}, ...]}, ...]
void write_logprobs(MsgWriter& w, const std::vector<TokenLogprob>& lps) {
  w.array(static_cast<std::uint32_t>(lps.size()));
  for (const TokenLogprob& lp : lps) {
    w.map(3);
    w.key("token");
    w.i64(lp.token);
    w.key("logprob");
    w.f32(lp.logprob);
    w.key("top");
    w.array(static_cast<std::uint32_t>(lp.top.size()));
    for (const auto& [token, logprob] : lp.top) {
      w.map(2);
      w.key("token");
      w.i64(token);
      w.key("logprob");
      w.f32(logprob);
    }
  }
}

void write(MsgWriter& w, const AcceptedMsg& m) {
  w.map(4);
  w.header("accepted");
  w.key("job_id");
  w.str(m.job_id);
  w.key("queue_position");
  w.i64(m.queue_position);
}

void write(MsgWriter& w, const TokenMsg& m) {
  const bool lp = !m.logprobs.empty();
  w.map(6 + (lp ? 1 : 0) + (m.reasoning ? 1 : 0));
  w.header("token");
  w.key("job_id");
  w.str(m.job_id);
  w.key("seq");
  w.u64(m.seq);
  w.key("tokens");
  write_tokens(w, m.tokens);
  w.key("text");
  w.str(m.text);
  if (m.reasoning) {
    w.key("reasoning");
    w.str(*m.reasoning);
  }
  if (lp) {
    w.key("logprobs");
    write_logprobs(w, m.logprobs);
  }
}

void write(MsgWriter& w, const DoneMsg& m) {
  const bool lp = !m.logprobs.empty();
  w.map(9 + (lp ? 1 : 0) + (m.reasoning ? 1 : 0));
  w.header("done");
  w.key("job_id");
  w.str(m.job_id);
  w.key("seq");
  w.u64(m.seq);
  w.key("finish_reason");
  w.str(sched::finish_reason_name(m.finish_reason));
  w.key("text");
  w.str(m.text);
  if (m.reasoning) {
    w.key("reasoning");
    w.str(*m.reasoning);
  }
  w.key("tokens");
  write_tokens(w, m.tokens);
  if (lp) {
    w.key("logprobs");
    write_logprobs(w, m.logprobs);
  }
  w.key("usage");
  w.map(2);
  w.key("prompt_tokens");
  w.i64(m.usage.prompt_tokens);
  w.key("completion_tokens");
  w.i64(m.usage.completion_tokens);
  w.key("timings");
  w.map(4);
  w.key("queue_ms");
  w.f64(m.timings.queue_ms);
  w.key("ttft_ms");
  w.f64(m.timings.ttft_ms);
  w.key("decode_ms");
  w.f64(m.timings.decode_ms);
  w.key("tokens_per_s");
  w.f64(m.timings.tokens_per_s);
}

void write(MsgWriter& w, const ErrorMsg& m) {
  w.map(5 + (m.job_id ? 1 : 0));
  w.header("error");
  if (m.job_id) {
    w.key("job_id");
    w.str(*m.job_id);
  }
  w.key("code");
  w.str(error_code_name(m.code));
  w.key("message");
  w.str(m.message);
  w.key("retriable");
  w.boolean(m.retriable);
}

void write(MsgWriter& w, const HealthReply& m) {
  w.map(16);
  w.header("health");
  w.key("status");
  w.str(m.status);
  w.key("model");
  w.str(m.model);
  w.key("architecture");
  w.str(m.architecture);
  w.key("quant_types");
  w.array(static_cast<std::uint32_t>(m.quant_types.size()));
  for (const std::string& q : m.quant_types) w.str(q);
  w.key("context_length");
  w.i64(m.context_length);
  w.key("device");
  w.str(m.device);
  w.key("vram_used_bytes");
  w.u64(m.vram_used_bytes);
  w.key("vram_resident");
  w.boolean(m.vram_resident);
  w.key("queue_depth");
  w.i64(m.queue_depth);
  w.key("active_jobs");
  w.i64(m.active_jobs);
  w.key("capacity");
  w.i64(m.capacity);
  w.key("uptime_s");
  w.f64(m.uptime_s);
  w.key("engine_steps");
  w.u64(m.engine_steps);
  w.key("last_step_age_s");
  w.f64(m.last_step_age_s);
}

void write(MsgWriter& w, const StatsReply& m) {
  w.map(16);
  w.header("stats");
  const std::pair<const char*, std::uint64_t> counters[] = {
      {"jobs_accepted", m.jobs_accepted},   {"jobs_completed", m.jobs_completed},
      {"jobs_cancelled", m.jobs_cancelled}, {"jobs_failed", m.jobs_failed},
      {"jobs_rejected", m.jobs_rejected},   {"tokens_generated", m.tokens_generated},
      {"prompt_tokens", m.prompt_tokens},   {"prompt_tokens_cached", m.prompt_tokens_cached}};
  for (const auto& [name, value] : counters) {
    w.key(name);
    w.u64(value);
  }
  w.key("queue_depth");
  w.i64(m.queue_depth);
  w.key("active_jobs");
  w.i64(m.active_jobs);
  w.key("kv_blocks_used");
  w.i64(m.kv_blocks_used);
  w.key("kv_blocks_total");
  w.i64(m.kv_blocks_total);
  w.key("engine_steps");
  w.u64(m.engine_steps);
  w.key("uptime_s");
  w.f64(m.uptime_s);
}

void write(MsgWriter& w, const SubmitMsg& m) {
  const sample::SamplingParams& p = m.params.sampling;
  const bool has_bias = !p.logit_bias.empty();
  const bool has_stop = !m.params.stop.empty();
  const bool has_stop_ids = !m.params.stop_token_ids.empty();
  // v, type, job_id, prompt form, 8 sampling scalars, max_tokens, ignore_eos, priority, stream.
  std::uint32_t n = 4 + 8 + 4;
  n += (has_bias ? 1 : 0) + (m.seed_given ? 1 : 0) + (m.logprobs ? 1 : 0) + (has_stop ? 1 : 0) +
       (has_stop_ids ? 1 : 0) + (m.deadline_ms ? 1 : 0);
  w.map(n);
  w.header("submit");
  w.key("job_id");
  w.str(m.job_id);
  if (m.prompt_tokens) {
    w.key("prompt_tokens");
    write_tokens(w, *m.prompt_tokens);
  } else if (m.messages) {
    w.key("messages");
    w.array(static_cast<std::uint32_t>(m.messages->size()));
    for (const tok::ChatMessage& msg : *m.messages) {
      w.map(2);
      w.key("role");
      w.str(msg.role);
      w.key("content");
      w.str(msg.content);
    }
  } else {
    w.key("prompt");
    w.str(m.prompt.value_or(""));
  }
  // float32 carries a float parameter exactly; the decoder widens it to double and back.
  const std::pair<const char*, float> floats[] = {{"temperature", p.temperature},
                                                  {"top_p", p.top_p},
                                                  {"min_p", p.min_p},
                                                  {"repetition_penalty", p.repetition_penalty},
                                                  {"presence_penalty", p.presence_penalty},
                                                  {"frequency_penalty", p.frequency_penalty}};
  for (const auto& [name, value] : floats) {
    w.key(name);
    w.f32(value);
  }
  w.key("top_k");
  w.i64(p.top_k);
  w.key("penalty_last_n");
  w.i64(p.penalty_last_n);
  if (has_bias) {
    w.key("logit_bias");
    w.map(static_cast<std::uint32_t>(p.logit_bias.size()));
    // Decimal-string keys: the form a JSON client writes, and readable by msgpack libraries
    // that only take string keys. The decoder also accepts integer keys.
    for (const auto& [token, bias] : p.logit_bias) {
      w.key(std::to_string(token));
      w.f32(bias);
    }
  }
  if (m.seed_given) {
    w.key("seed");
    w.u64(p.seed);
  }
  if (m.logprobs) {
    w.key("logprobs");
    w.i64(p.top_logprobs);
  }
  w.key("max_tokens");
  w.i64(m.params.max_tokens);
  if (has_stop) {
    w.key("stop");
    w.array(static_cast<std::uint32_t>(m.params.stop.size()));
    for (const std::string& s : m.params.stop) w.str(s);
  }
  if (has_stop_ids) {
    w.key("stop_token_ids");
    write_tokens(w, m.params.stop_token_ids);
  }
  w.key("ignore_eos");
  w.boolean(m.params.ignore_eos);
  w.key("priority");
  w.i64(m.priority);
  if (m.deadline_ms) {
    w.key("deadline_ms");
    w.i64(*m.deadline_ms);
  }
  w.key("stream");
  w.boolean(m.stream);
}

void write(MsgWriter& w, const CancelMsg& m) {
  w.map(3);
  w.header("cancel");
  w.key("job_id");
  w.str(m.job_id);
}

void write(MsgWriter& w, const HealthMsg&) {
  w.map(2);
  w.header("health");
}

void write(MsgWriter& w, const StatsMsg&) {
  w.map(2);
  w.header("stats");
}

}  // namespace

std::string encode(const WorkerMessage& msg) {
  MsgWriter w;
  std::visit([&w](const auto& m) { write(w, m); }, msg);
  return w.take();
}

std::string encode_client(const ClientMessage& msg) {
  MsgWriter w;
  std::visit([&w](const auto& m) { write(w, m); }, msg);
  return w.take();
}

}  // namespace zinfer::protocol
