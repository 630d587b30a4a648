// JetStreamConfig: where a worker's durable job queue lives on a NATS server and how it is
// consumed (schemas/PROTOCOL.md §9). One plain struct, defaults for every field, validated once
// at start-up with messages that name the flag. Also the names derived from it: stream
// subjects, the durable consumer per priority class, the headers every job and frame carries.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/error.h"

namespace zinfer::nats {

// Headers (NATS message headers) of jobs and frames.
inline constexpr const char* kHeaderMsgId = "Nats-Msg-Id";       // job: the job id (de-dup)
inline constexpr const char* kHeaderReply = "Zinfer-Reply";      // job: subject for its frames
inline constexpr const char* kHeaderJobId = "Zinfer-Job-Id";     // frame: the job it belongs to
inline constexpr const char* kHeaderAttempt = "Zinfer-Attempt";  // frame: delivery attempt (1…)
inline constexpr const char* kHeaderWorker = "Zinfer-Worker";    // frame: who produced it
inline constexpr const char* kHeaderError = "Zinfer-Error";      // dead letter: error code name

// Jobs are published to <subject_prefix>.<model>.<class>; workers fetch high, then normal,
// then low (a job's own `priority` still orders it inside the worker).
inline const std::vector<std::string>& priority_classes() {
  static const std::vector<std::string> kClasses = {"high", "normal", "low"};
  return kClasses;
}
// The class a submit's priority maps to: > 0 high, 0 normal, < 0 low.
std::string priority_class(std::int32_t priority);

struct JetStreamConfig {
  std::string url;                                // --nats: e.g. nats://127.0.0.1:4222
  std::string model;                              // --nats-model: subject token naming the model
  std::string stream = "ZINFER_JOBS";             // --nats-stream: work-queue stream of jobs
  std::string subject_prefix = "zinfer.jobs";     // --nats-subject: jobs go to PREFIX.MODEL.CLASS
  std::string results_stream = "ZINFER_RESULTS";  // stream that keeps frames for producers
  std::string results_prefix = "zinfer.results";  // producers' reply subjects live under it
  std::string dead_stream = "ZINFER_DEAD";        // stream of dead letters
  std::string dead_prefix = "zinfer.dead";        // dead letters go to PREFIX.MODEL
  double ack_wait_s = 30.0;          // --nats-ack-wait: redelivery after this long without an ack
  std::int64_t max_deliver = 5;      // --nats-max-deliver: deliveries before the dead letter
  double nak_delay_s = 1.0;          // --nats-nak-delay: redelivery delay of a job handed back
  double results_max_age_s = 86400;  // frames are kept this long for late producers
  std::string worker_name;           // Zinfer-Worker header (default: host:pid)

  // Derived names.
  std::string jobs_subject(const std::string& cls) const {
    return subject_prefix + "." + model + "." + cls;
  }
  std::string consumer_name(const std::string& cls) const { return "zinfer-" + model + "-" + cls; }
  std::string dead_subject() const { return dead_prefix + "." + model; }
};

// kInvalidParameter naming the flag. Subject tokens may not hold '.', '*', '>' or spaces.
Status validate(const JetStreamConfig& config);

// A subject token made from a model name: lower-case, [a-z0-9_-] kept, the rest '-'.
std::string subject_token(const std::string& name);

}  // namespace zinfer::nats
