// JobSpec::check (see job_spec.h): the only range checks of prompt token ids and generation
// parameters in the tree.
#include "engine/sched/job_spec.h"

namespace zinfer::sched {

Status validate(const GenerationParams& params, std::int32_t n_vocab) {
  if (params.max_tokens < 1) {
    return make_error(ErrorCode::kInvalidParameter,
                      "max_tokens must be ≥ 1, got " + std::to_string(params.max_tokens));
  }
  for (std::size_t i = 0; i < params.stop.size(); ++i) {
    if (params.stop[i].empty()) {
      return make_error(ErrorCode::kInvalidParameter,
                        "stop[" + std::to_string(i) + "] must not be empty");
    }
  }
  for (std::size_t i = 0; i < params.stop_token_ids.size(); ++i) {
    const std::int32_t id = params.stop_token_ids[i];
    if (id < 0 || id >= n_vocab) {
      return make_error(ErrorCode::kInvalidParameter, "stop_token_ids[" + std::to_string(i) +
                                                          "] = " + std::to_string(id) +
                                                          " is outside the vocabulary");
    }
  }
  return sample::validate(params.sampling, n_vocab);
}

Result<JobSpec> JobSpec::check(std::vector<std::int32_t> prompt, GenerationParams params,
                               const JobLimits& limits) {
  if (prompt.empty()) return make_error(ErrorCode::kInvalidRequest, "prompt: is empty");
  for (std::size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] < 0 || prompt[i] >= limits.n_vocab) {
      return make_error(ErrorCode::kInvalidRequest, "prompt[" + std::to_string(i) + "]: token id " +
                                                        std::to_string(prompt[i]) +
                                                        " is outside the vocabulary [0, " +
                                                        std::to_string(limits.n_vocab) + ")");
    }
  }
  if (static_cast<std::int64_t>(prompt.size()) >= limits.n_ctx) {
    return make_error(ErrorCode::kPromptTooLong, "prompt: " + std::to_string(prompt.size()) +
                                                     " tokens; the context holds " +
                                                     std::to_string(limits.n_ctx) +
                                                     " and at least one must be left to generate");
  }
  ZINFER_RETURN_IF_ERROR(validate(params, limits.n_vocab));
  return JobSpec(std::move(prompt), std::move(params), limits);
}

}  // namespace zinfer::sched
