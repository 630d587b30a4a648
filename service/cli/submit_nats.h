// `zinfer submit --nats URL`: publishes a JSONL batch to a JetStream work queue (the job id as
// the message id: the stream drops a re-published duplicate), collects every job's frames
// from its reply subject (kept by the results stream, so a restarted server or a slow
// producer loses nothing), keeps the first terminal frame of each job, writes the results in
// input order and reports lost / duplicated / redelivered counts (schemas/PROTOCOL.md §9).
#pragma once

#include <string>

namespace zinfer::cli {

struct NatsSubmitArgs {
  std::string url;
  std::string model;  // --nats-model: the workers' queue token
  std::string stream = "ZINFER_JOBS";
  std::string subject_prefix = "zinfer.jobs";
  std::string input = "-";
  std::string output = "-";
  bool stream_tokens = false;  // --stream: ask for token frames (collected, not printed)
  double timeout_s = 600.0;    // no new terminal frame for this long: the rest count as lost
};

// Exit status: 0 every job done, 1 some failed or were lost, 2 bad flags or input.
int run_submit_nats(const NatsSubmitArgs& args);

}  // namespace zinfer::cli
