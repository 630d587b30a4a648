// `zinfer serve --nats` (see serve_nats.h).
#include "service/cli/serve_nats.h"

#include <filesystem>

#if ZINFER_HAVE_NATS
#include "service/nats/jetstream_ingress.h"
#endif

namespace zinfer::cli {

void add_serve_nats_flags(CLI::App* sub, nats::JetStreamConfig& c) {
  sub->add_option("--nats", c.url,
                  "Also take jobs from this NATS JetStream server (nats://host:port); see "
                  "schemas/PROTOCOL.md §9");
  sub->add_option("--nats-model", c.model,
                  "Subject token of this model's queue (default: the model file's stem)");
  sub->add_option("--nats-stream", c.stream, "Work-queue stream of jobs")->capture_default_str();
  sub->add_option("--nats-subject", c.subject_prefix,
                  "Jobs arrive on SUBJECT.MODEL.{high,normal,low}")
      ->capture_default_str();
  sub->add_option("--nats-ack-wait", c.ack_wait_s,
                  "Seconds without an ack before JetStream redelivers a job (in-progress acks "
                  "keep running jobs)")
      ->capture_default_str();
  sub->add_option("--nats-max-deliver", c.max_deliver,
                  "Deliveries of a job before it is dead-lettered")
      ->capture_default_str();
  sub->add_option("--nats-nak-delay", c.nak_delay_s,
                  "Seconds before a job this worker hands back (drain) is redelivered")
      ->capture_default_str();
}

Result<std::unique_ptr<worker::JobSource>> make_nats_source(nats::JetStreamConfig config,
                                                            const std::string& model_path) {
  if (config.url.empty()) return std::unique_ptr<worker::JobSource>();
#if ZINFER_HAVE_NATS
  if (config.model.empty()) {
    config.model = nats::subject_token(std::filesystem::path(model_path).stem().string());
  }
  auto ingress = nats::JetStreamIngress::create(config);
  if (!ingress.ok()) return ingress.error();
  return std::unique_ptr<worker::JobSource>(std::move(*ingress));
#else
  (void)model_path;
  return make_error(ErrorCode::kInvalidParameter,
                    "--nats: this zinfer was built without libnats (install libnats-dev and "
                    "rebuild)");
#endif
}

}  // namespace zinfer::cli
