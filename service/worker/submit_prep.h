// prepare_submit(): a decoded submit turned into the engine's job: prompt text or chat
// messages tokenized (as `zinfer generate` does), then the job checked once against the
// loaded model by sched::JobSpec::check (token ids, prompt length, vocabulary-dependent
// parameters); its messages get the wire field names.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/error.h"
#include "engine/sched/job_engine.h"
#include "engine/sched/job_spec.h"
#include "service/protocol/messages.h"

namespace zinfer::worker {

// The job of a submit (id, priority, deadline and arrival are left for the caller). Errors
// (schemas/ERRORS.md): kInvalidRequest (token ids outside the vocabulary, a prompt that
// tokenizes to nothing, a text form this worker cannot tokenize), kInvalidParameter (no chat
// template, vocabulary-dependent sampling values: logit_bias / stop_token_ids ids),
// kPromptTooLong (prompt ≥ context length). Messages name the field
// ("submit.prompt_tokens[3]: ...").
Result<sched::JobSpec> prepare_submit(const protocol::SubmitMsg& submit,
                                      const sched::EngineInfo& info);

}  // namespace zinfer::worker
