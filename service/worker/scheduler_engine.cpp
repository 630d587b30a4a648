// SchedulerEngine (see scheduler_engine.h).
#include "service/worker/scheduler_engine.h"

#include <algorithm>
#include <filesystem>

namespace zinfer::worker {

Result<std::unique_ptr<SchedulerEngine>> SchedulerEngine::create(
    const LlmOptions& llm_options, const sched::SchedulerConfig& sched_config) {
  auto engine = std::unique_ptr<SchedulerEngine>(new SchedulerEngine());
  LlmOptions opt = llm_options;
  opt.n_seq_max = std::max(opt.n_seq_max, sched_config.max_running);
  ZINFER_ASSIGN_OR_RETURN(engine->llm_, Llm::load(opt));
  ZINFER_ASSIGN_OR_RETURN(engine->sched_, sched::Scheduler::create(*engine->llm_, sched_config));

  const Llm& llm = *engine->llm_;
  EngineInfo& info = engine->info_;
  info.model = llm.hparams().name.empty()
                   ? std::filesystem::path(opt.model_path).filename().string()
                   : llm.hparams().name;
  info.architecture = llm.hparams().arch;
  info.quant_types = llm.tensor_types();
  info.device = llm.device_report().name;
  info.context_length = llm.options().n_ctx;
  info.vocab_size = llm.hparams().n_vocab;
  info.capacity = sched_config.max_running;
  const model::DeviceReport mem = llm.device_report();
  info.device_bytes_used = mem.device_bytes;
  info.vram_resident = mem.vram_resident;
  info.tokenizer = &llm.tokenizer();
  return engine;
}

}  // namespace zinfer::worker
