// Worker (see worker.h): admission of the jobs a JobSource fetched. They take the ROUTER
// path's checks (decoder limits, draining, JobSpec) and the same engine; their frames and
// refusals go back to the source, which owns the queue semantics (ack, terminate, redeliver).
#include "service/worker/service_log.h"
#include "service/worker/submit_prep.h"
#include "service/worker/worker.h"

namespace zinfer::worker {
namespace {

// The JobTable key of sourced jobs: a client identity no ROUTER peer can have (a ZeroMQ
// routing id is never empty-prefixed like this) plus the source's ticket.
const std::string kSourceClient("\0source", 7);

}  // namespace

void Worker::on_source() {
  for (SourcedJob& job : source_->take()) handle_sourced(std::move(job));
}

void Worker::reject_sourced(std::uint64_t ticket, const Error& error,
                            const std::optional<std::string>& job_id) {
  ++counters_.rejected;
  if (metrics_) metrics_->job_rejected(error.code);
  service_log().debug("queued job {}: rejected: {}: {}", job_id.value_or("-"),
                      error_code_name(error.code), error.message);
  source_->on_rejected(ticket, error, job_id);
}

void Worker::handle_sourced(SourcedJob&& job) {
  const auto received = std::chrono::steady_clock::now();
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(job.payload.data());
  protocol::ClientDecodeResult decoded =
      protocol::decode_client({bytes, job.payload.size()}, limits_);
  if (!decoded.ok()) {
    reject_sourced(job.ticket, decoded.error(), decoded.job_id());
    return;
  }
  auto* s = std::get_if<protocol::SubmitMsg>(&decoded.value());
  if (s == nullptr) {
    reject_sourced(job.ticket,
                   make_error(ErrorCode::kInvalidRequest,
                              "type: a queued message must be a submit (cancel, health and stats "
                              "go to a worker's ROUTER)"),
                   std::nullopt);
    return;
  }
  if (draining_) {
    reject_sourced(job.ticket,
                   make_error(ErrorCode::kDraining, "the worker is draining; redelivered"),
                   s->job_id);
    return;
  }
  auto spec = prepare_submit(*s, engine_->info());
  if (!spec.ok()) {
    reject_sourced(job.ticket, spec.error(), s->job_id);
    return;
  }
  JobEntry& e = table_.insert(kSourceClient, "#" + std::to_string(job.ticket), false);
  e.ticket = job.ticket;
  e.prompt_tokens = static_cast<std::int32_t>(spec->prompt().size());
  source_->on_accepted(job.ticket, s->job_id);
  start_job(e, *s, std::move(*spec), received, "queue");
}

}  // namespace zinfer::worker
