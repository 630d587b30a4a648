// JobSource: a way jobs reach a worker other than its ROUTER socket — a durable queue in front
// of many workers (service/nats/jetstream_ingress.h). The worker's I/O thread takes the jobs
// the source has fetched, admits them like ROUTER submits (same decoder, same checks, same
// engine), and hands every frame of such a job back to the source instead of a ROUTER peer.
// The source decides what a frame means for its queue (publish, ack, terminate, redeliver).
//
// Threading: every method but counters() is called from the worker's I/O thread. A source may
// run threads of its own; it signals new jobs by making wake_fd() readable, and
// on_frame()/on_rejected() must not block (they queue work for those threads).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "service/worker/engine_loop.h"

namespace zinfer::worker {

// One fetched job: `ticket` names it towards the source for the rest of its life.
struct SourcedJob {
  std::uint64_t ticket = 0;
  std::string payload;  // the msgpack submit message, exactly as over ZeroMQ
};

// What a source did with its queue's messages since it started (serve --metrics exports them
// as zinfer_jetstream_*; see metrics.h).
struct QueueCounters {
  std::uint64_t deliveries = 0;        // messages fetched, every attempt
  std::uint64_t redeliveries = 0;      // of those, with a delivery attempt > 1
  std::uint64_t acks = 0;              // settled as finished
  std::uint64_t naks = 0;              // handed back for another delivery
  std::uint64_t terms = 0;             // terminated: never delivered again
  std::uint64_t in_progress_acks = 0;  // "still working" signals that kept deliveries alive
  std::uint64_t dead_letters = 0;      // jobs out of deliveries, moved to the dead-letter subject
  std::uint64_t settle_failures = 0;   // acks/naks/terms the server did not take
  std::uint64_t unsettled = 0;         // now: fetched by this worker and not yet settled
};

class JobSource {
 public:
  virtual ~JobSource() = default;
  // Starts fetching; `capacity` is the engine's number of concurrent jobs (the source keeps
  // no more than that many jobs live at once).
  virtual Status start(std::int32_t capacity) = 0;
  // A file descriptor that polls readable while take() has jobs (level or edge: the worker
  // calls take() after each wake-up until it is empty).
  virtual int wake_fd() const = 0;
  virtual std::vector<SourcedJob> take() = 0;
  // The job was admitted: its frames follow through on_frame (token*, then one terminal).
  virtual void on_accepted(std::uint64_t ticket, const std::string& job_id) = 0;
  // A frame of an admitted job (f.terminal() ends it; the ticket is then retired).
  virtual void on_frame(std::uint64_t ticket, const OutFrame& frame) = 0;
  // The job was refused before admission (bad request, prompt too long, draining, …): the
  // error frame the ROUTER path would have sent. Retires the ticket.
  virtual void on_rejected(std::uint64_t ticket, const Error& error,
                           const std::optional<std::string>& job_id) = 0;
  // The worker started draining: fetch nothing more.
  virtual void begin_drain() = 0;
  // Every job has ended: finish what is queued (publishes, acks) within `timeout_s`, then stop.
  virtual void close(double timeout_s) = 0;
  // Any thread (the metrics' scrape threads), cheap.
  virtual QueueCounters counters() const { return {}; }
};

}  // namespace zinfer::worker
