// `zinfer submit --nats` (see submit_nats.h).
#include "service/cli/submit_nats.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "service/cli/exit_codes.h"
#include "service/cli/job_files.h"
#include "service/cli/jsonl_job.h"

#if ZINFER_HAVE_NATS
#include "service/nats/jetstream_config.h"
#include "service/nats/jetstream_connection.h"
#endif

namespace zinfer::cli {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// What the producer knows of one job.
struct JobState {
  JsonlJob job;
  bool finished = false;
  std::uint64_t attempt = 0;  // the attempt whose token frames are being collected
  std::string text;
  std::string reasoning;
  json tokens = json::array();
  json result;  // the output line
};

#if ZINFER_HAVE_NATS

std::string random_id() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                      static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()));
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(gen()));
  return buf;
}

class NatsSubmit {
 public:
  explicit NatsSubmit(const NatsSubmitArgs& a) : a_(a) {
    c_.url = a.url;
    c_.model = a.model;
    c_.stream = a.stream;
    c_.subject_prefix = a.subject_prefix;
  }

  int run(std::istream& in, std::ostream& out) {
    if (Status st = nats::validate(c_); !st.ok()) {
      std::cerr << "error: " << st.error().message << "\n";
      return kExitBadInput;
    }
    if (int rc = read_jobs(in); rc != 0) return rc;
    auto conn = nats::JetStreamConnection::connect(c_.url, "zinfer-submit");
    if (!conn.ok()) {
      std::cerr << "error: " << conn.error().message << "\n";
      return kExitFailed;
    }
    conn_ = std::move(*conn);
    const std::string id = random_id();
    reply_ = c_.results_prefix + "." + id;
    durable_ = "zinfer-results-" + id;
    Status st =
        conn_->ensure_stream(nats::StreamSpec{c_.stream, {c_.subject_prefix + ".>"}, true, 0});
    if (st.ok()) {
      st = conn_->ensure_stream(nats::StreamSpec{
          c_.results_stream, {c_.results_prefix + ".>"}, false, c_.results_max_age_s});
    }
    if (st.ok()) {
      st = conn_->ensure_consumer(
          nats::ConsumerSpec{c_.results_stream, durable_, reply_, 30.0, -1, true});
    }
    if (st.ok()) {
      auto sub = conn_->bind_pull(c_.results_stream, durable_, reply_);
      if (sub.ok()) {
        sub_ = *sub;
      } else {
        st = sub.error();
      }
    }
    if (st.ok()) st = publish_all();
    int rc = st.ok() ? 0 : kExitFailed;
    if (!st.ok()) std::cerr << "error: " << st.error().message << "\n";
    if (rc == 0) collect();
    write_results(out);
    cleanup();
    if (rc != 0) return rc;
    return failed_ + lost_ > 0 ? kExitFailed : kExitOk;
  }

 private:
  int read_jobs(std::istream& in) {
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      std::string problem;
      auto job = parse_jsonl_job(line, line_no, a_.input, a_.stream_tokens, problem);
      if (!problem.empty()) {
        std::cerr << "error: " << problem << "\n";
        return kExitBadInput;
      }
      if (!job) continue;
      if (!index_.emplace(job->job_id, jobs_.size()).second) {
        // The job id is the message id: a second job with it would be dropped as a duplicate.
        std::cerr << "error: " << a_.input << ":" << line_no << ": job_id \"" << job->job_id
                  << "\" appears twice (with --nats the job id is the de-duplication key)\n";
        return kExitBadInput;
      }
      JobState state;
      state.job = std::move(*job);
      jobs_.push_back(std::move(state));
    }
    return 0;
  }

  Status publish_all() {
    for (JobState& s : jobs_) {
      const std::string subject = c_.jobs_subject(nats::priority_class(s.job.priority));
      natsMsg* msg = nullptr;
      natsStatus ns = natsMsg_Create(&msg, subject.c_str(), nullptr, s.job.frame.data(),
                                     static_cast<int>(s.job.frame.size()));
      if (ns == NATS_OK) ns = natsMsgHeader_Set(msg, nats::kHeaderMsgId, s.job.job_id.c_str());
      if (ns == NATS_OK) ns = natsMsgHeader_Set(msg, nats::kHeaderReply, reply_.c_str());
      if (ns != NATS_OK) {
        natsMsg_Destroy(msg);
        return nats::nats_error(ns, static_cast<jsErrCode>(0), "job " + s.job.job_id);
      }
      auto st = conn_->publish_durable(msg, 60.0);
      natsMsg_Destroy(msg);
      if (!st.ok()) return st.error();
      if (*st) {
        // The stream already had this id (within its de-duplication window, 2 min by
        // default): that earlier job runs and answers its own producer, not this one.
        s.finished = true;
        ++finished_;
        ++failed_;
        s.result = {{"job_id", s.job.job_id},
                    {"error",
                     {{"code", "DUPLICATE_JOB"},
                      {"message",
                       "the stream already holds a job with this id (the job id is "
                       "the message id; de-duplication window 2 min)"},
                      {"retriable", false}}}};
      }
    }
    return ok_status();
  }

  void collect() {
    auto last_progress = Clock::now();
    while (finished_ < jobs_.size() &&
           Clock::now() - last_progress < std::chrono::duration<double>(a_.timeout_s)) {
      natsMsgList list{nullptr, 0};
      const natsStatus s = natsSubscription_Fetch(&list, sub_, 256, 500, nullptr);
      if (s != NATS_OK) {
        natsMsgList_Destroy(&list);
        // A timeout waited already; anything else (the server is restarting) fails at once.
        if (s != NATS_TIMEOUT) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      for (int i = 0; i < list.Count; ++i) {
        const std::size_t before = finished_;
        on_frame(list.Msgs[i]);
        if (finished_ != before) last_progress = Clock::now();
      }
      natsMsgList_Destroy(&list);
    }
    lost_ = jobs_.size() - finished_;
  }

  void on_frame(natsMsg* msg) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(msg));
    json f = json::from_msgpack(data, data + natsMsg_GetDataLength(msg), true, false);
    if (f.is_discarded() || !f.is_object()) return;
    auto it = index_.find(f.value("job_id", ""));
    if (it == index_.end()) return;
    JobState& s = jobs_[it->second];
    const std::uint64_t attempt = f.value("attempt", std::uint64_t{1});
    const std::string type = f.value("type", "");
    const bool terminal = type == "done" || type == "error";
    if (s.finished) {
      if (terminal) ++duplicates_;  // a later attempt's result: the first one stands
      return;
    }
    if (attempt != s.attempt) {  // frames of an attempt that never finished are discarded
      s.attempt = attempt;
      s.text.clear();
      s.reasoning.clear();
      s.tokens = json::array();
    }
    if (type == "token" || type == "done") {
      s.text += f.value("text", "");
      s.reasoning += f.value("reasoning", "");
      for (const auto& t : f["tokens"]) s.tokens.push_back(t);
    }
    if (!terminal) return;
    s.finished = true;
    ++finished_;
    if (attempt > 1) ++redelivered_;
    if (type == "done") {
      s.result = done_record(f, s.text, s.reasoning, s.tokens);
    } else {
      ++failed_;
      s.result = {{"job_id", s.job.job_id},
                  {"attempt", attempt},
                  {"error",
                   {{"code", f.value("code", "")},
                    {"message", f.value("message", "")},
                    {"retriable", f.value("retriable", false)}}}};
    }
  }

  void write_results(std::ostream& out) {
    for (const JobState& s : jobs_) {
      if (s.finished) {
        out << dump(s.result) << "\n";
      } else if (conn_) {
        json rec = {{"job_id", s.job.job_id},
                    {"error",
                     {{"code", "WORKER_LOST"},
                      {"message",
                       "no terminal frame within --timeout " + std::to_string(a_.timeout_s) + " s"},
                      {"retriable", true}}}};
        out << dump(rec) << "\n";
      }
    }
    out.flush();
    std::cerr << "[submit] " << jobs_.size() << " jobs: " << finished_ - failed_ << " done, "
              << failed_ << " failed, " << lost_ << " lost, " << duplicates_
              << " duplicated (extra terminal frames discarded), " << redelivered_
              << " redelivered (finished on a later attempt)\n";
  }

  void cleanup() {
    if (!conn_) return;
    if (sub_ != nullptr) natsSubscription_Destroy(sub_);
    js_DeleteConsumer(conn_->js(), c_.results_stream.c_str(), durable_.c_str(), nullptr, nullptr);
    jsOptions o;
    jsOptions_Init(&o);
    o.Stream.Purge.Subject = reply_.c_str();
    js_PurgeStream(conn_->js(), c_.results_stream.c_str(), &o, nullptr);
  }

  const NatsSubmitArgs& a_;
  nats::JetStreamConfig c_;
  std::unique_ptr<nats::JetStreamConnection> conn_;
  natsSubscription* sub_ = nullptr;
  std::string reply_, durable_;
  std::vector<JobState> jobs_;
  std::unordered_map<std::string, std::size_t> index_;
  std::size_t finished_ = 0, failed_ = 0, lost_ = 0, duplicates_ = 0, redelivered_ = 0;
};

#endif  // ZINFER_HAVE_NATS

}  // namespace

int run_submit_nats(const NatsSubmitArgs& a) {
#if ZINFER_HAVE_NATS
  if (a.model.empty()) {
    std::cerr << "error: --nats needs --nats-model (the workers' queue, e.g. the model file's "
                 "stem)\n";
    return kExitBadInput;
  }
  JobFiles files;
  if (!files.open(a.input, a.output)) return kExitBadInput;
  NatsSubmit s(a);
  return s.run(files.in(), files.out());
#else
  (void)a;
  std::cerr << "error: --nats: this zinfer was built without libnats (install libnats-dev and "
               "rebuild)\n";
  return kExitBadInput;
#endif
}

}  // namespace zinfer::cli
