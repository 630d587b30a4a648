// prepare_submit(): a decoded submit checked against the loaded model and turned into the
// engine's job: prompt text or chat messages tokenized (as `zinfer generate` does), token ids
// and vocabulary-dependent parameters checked, prompt length checked against the context.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/error.h"
#include "service/protocol/messages.h"
#include "service/worker/job_engine.h"

namespace zinfer::worker {

// The prompt token ids of a submit. Errors (schemas/ERRORS.md): kInvalidRequest (token ids
// outside the vocabulary, a prompt that tokenizes to nothing, a text form this worker cannot
// tokenize), kInvalidParameter (no chat template, vocabulary-dependent sampling values:
// logit_bias / stop_token_ids ids), kPromptTooLong (prompt ≥ context length).
// Messages name the field ("submit.prompt_tokens[3]: ...").
Result<std::vector<std::int32_t>> prepare_submit(const protocol::SubmitMsg& submit, const EngineInfo& info);

}  // namespace zinfer::worker
