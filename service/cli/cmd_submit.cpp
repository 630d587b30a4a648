// `zinfer submit`: send a JSONL batch of jobs to a worker over a DEALER socket with a bounded
// in-flight window; write one JSON line per finished job (or per frame with --stream, or the
// streamed text with --format text). Input lines carry the wire submit fields as JSON
// (schemas/PROTOCOL.md §4.1); "v", "type" and "job_id" are filled in when absent.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "service/cli/commands.h"
#include "service/cli/exit_codes.h"
#include "service/cli/job_files.h"
#include "service/cli/jsonl_job.h"
#include "service/cli/operations_flags.h"
#include "service/cli/submit_nats.h"
#include "service/client/fanout_client.h"
#include "service/protocol/codec.h"

namespace zinfer::cli {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct SubmitArgs {
  std::vector<std::string> connect;  // one or more workers (fan-out)
  std::string input = "-";
  std::string output = "-";
  std::string format = "json";
  bool stream = false;
  int window = 32;
  int retries = 50;
  double timeout_s = 600.0;
  ClientCurveArgs curve;
  double worker_timeout_s = 10.0;  // a worker silent this long with jobs in flight is lost
  NatsSubmitArgs nats;             // --nats: publish to a JetStream queue instead
};

struct Job {
  std::string job_id;
  std::string frame;  // msgpack submit
  int attempts = 0;
  std::size_t index = 0;  // input order: result lines are written in it
  Clock::time_point retry_at;
  std::string text;
  std::string reasoning;  // harmony jobs: the analysis channel
  json tokens = json::array();
  json logprobs = json::array();
  std::string line;  // --format text: the unfinished line
};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

class Session {
 public:
  // expected_jobs: the input's job count when known in advance (a file), for the ETA.
  Session(const SubmitArgs& a, std::istream& in, std::ostream& out, std::size_t expected_jobs = 0)
      : a_(a), in_(in), out_(out), expected_(expected_jobs) {}

  int run() {
    client::FanoutOptions options;
    options.dealer.linger_ms = 1000;
    options.lost_after_s = a_.worker_timeout_s;
    if (Status st = apply_client_curve(a_.curve, options.dealer); !st.ok()) {
      std::cerr << "error: " << st.error().message << "\n";
      return kExitBadInput;
    }
    auto connected = client::FanoutClient::connect(a_.connect, options);
    if (!connected.ok()) {
      std::cerr << "error: " << connected.error().message << "\n";
      return kExitBadInput;
    }
    client_ = std::move(*connected);
    const bool tty = isatty(STDERR_FILENO) != 0;
    last_frame_ = Clock::now();
    started_ = Clock::now();
    int rc = 0;
    while (true) {
      if (!fill_window(rc)) break;
      if (in_flight_.empty() && retry_.empty() && input_done_) break;
      for (int wait_ms = 100; receive_one(wait_ms); wait_ms = 0) {
      }
      for (const std::string& id : client_->tick()) worker_lost(id);
      if ((!in_flight_.empty() || !retry_.empty()) &&
          Clock::now() - last_frame_ > std::chrono::duration<double>(a_.timeout_s)) {
        // Nothing moved for --timeout (no worker reachable, or none answering): give up.
        const std::string why =
            "no frame from any worker for " + std::to_string(a_.timeout_s) + " s";
        for (auto& [id, job] : in_flight_) finish_error(job, "WORKER_LOST", why, true);
        for (const Job& job : retry_) finish_error(job, "WORKER_LOST", why, true);
        in_flight_.clear();
        retry_.clear();
        rc = 3;
        break;
      }
      if (tty) progress(false);
    }
    if (tty) progress(true);
    flush_lines(true);
    out_.flush();
    if (lost_retried_ > 0) {
      std::fprintf(stderr, "[submit] %zu jobs resubmitted after their worker was lost\n",
                   lost_retried_);
    }
    client_.reset();  // waits up to the linger for unsent frames
    if (rc != 0) return rc;
    return failed_ > 0 ? 1 : 0;
  }

 private:
  // Reads the next job line; nullopt at end of input. Bad lines end the run (rc 2).
  std::optional<Job> next_job(int& rc) {
    std::string line;
    while (std::getline(in_, line)) {
      ++line_no_;
      std::string problem;
      std::optional<JsonlJob> parsed =
          parse_jsonl_job(line, line_no_, a_.input, a_.stream, problem);
      if (!problem.empty()) {
        std::cerr << "error: " << problem << "\n";
        rc = kExitBadInput;
        return std::nullopt;
      }
      if (!parsed) continue;
      Job job;
      job.job_id = std::move(parsed->job_id);
      job.frame = std::move(parsed->frame);
      job.index = total_++;
      return job;
    }
    input_done_ = true;
    return std::nullopt;
  }

  // Sends retries that are due and new jobs while the window has room; false on input errors.
  bool fill_window(int& rc) {
    const auto now = Clock::now();
    while (static_cast<int>(in_flight_.size()) < a_.window) {
      std::optional<Job> job;
      if (!retry_.empty() && retry_.front().retry_at <= now) {
        job = std::move(retry_.front());
        retry_.pop_front();
      } else if (!input_done_) {
        job = next_job(rc);
        if (rc != 0) return false;
      }
      if (!job) break;
      if (in_flight_.count(job->job_id) != 0) {
        std::cerr << "error: " << a_.input << ":" << line_no_ << ": job_id \"" << job->job_id
                  << "\" is already in flight\n";
        rc = kExitBadInput;
        return false;
      }
      if (!client_->submit(job->job_id, job->frame)) {
        // No worker can take it now (all unreachable): try again on the next turn.
        job->retry_at = now + std::chrono::milliseconds(100);
        retry_.push_front(std::move(*job));
        break;
      }
      ++job->attempts;
      if (in_flight_.empty()) last_frame_ = Clock::now();  // --timeout counts from here
      in_flight_.emplace(job->job_id, std::move(*job));
    }
    return true;
  }

  // Handles one frame if one arrives within wait_ms.
  bool receive_one(int wait_ms) {
    client::Frame msg;
    std::size_t worker = 0;
    if (!client_->recv(msg, worker, wait_ms)) return false;
    const std::span<const std::uint8_t> bytes = msg.bytes();
    auto decoded = protocol::decode_worker(bytes, protocol::DecodeLimits{});
    json frame = json::from_msgpack(bytes, true, false);
    if (!decoded.ok() || frame.is_discarded()) {
      std::cerr << "warning: undecodable frame from the worker: "
                << (decoded.ok() ? std::string("not msgpack") : decoded.error().message) << "\n";
      return true;
    }
    const std::string id = frame.value("job_id", "");
    auto it = in_flight_.find(id);
    if (it == in_flight_.end() || !client_->owns(worker, id)) return true;  // stale or not a job
    last_frame_ = Clock::now();  // heartbeat replies do not count: a job has to move
    Job& job = it->second;
    const std::string type = frame.value("type", "");
    if (type == "token" || type == "done") {
      const std::string text = frame.value("text", "");
      job.text += text;
      job.reasoning += frame.value("reasoning", "");
      for (const auto& t : frame["tokens"]) job.tokens.push_back(t);
      if (frame.contains("logprobs")) {
        for (const auto& l : frame["logprobs"]) job.logprobs.push_back(l);
      }
      tokens_ += frame["tokens"].size();
      if (a_.format == "text" && a_.stream) {
        job.line += text;
        print_lines(job, false);
      }
    }
    if (a_.stream && a_.format == "json") {
      clear_progress();
      out_ << dump(frame) << "\n" << std::flush;
    }
    if (type == "done") {
      if (a_.format == "text") {
        if (!a_.stream) job.line = job.text;
        print_lines(job, true);
        const json& t = frame["timings"];
        char summary[160];
        std::snprintf(summary, sizeof(summary),
                      "[%s] -- %s, %zu tokens, ttft %.0f ms, %.1f tok/s\n", job.job_id.c_str(),
                      frame.value("finish_reason", "").c_str(), job.tokens.size(),
                      t.value("ttft_ms", 0.0), t.value("tokens_per_s", 0.0));
        clear_progress();
        out_ << summary << std::flush;
      } else if (!a_.stream) {
        json rec = done_record(frame, job.text, job.reasoning, job.tokens);
        if (!job.logprobs.empty()) rec["logprobs"] = job.logprobs;
        add_line(job.index, dump(rec));
      }
      ++done_;
      client_->finished(id);
      in_flight_.erase(it);
    } else if (type == "error") {
      const std::string code = frame.value("code", "");
      client_->finished(id);
      // Refused for now: the same job later (QUEUE_FULL), or on another worker (DRAINING).
      const bool retry = code == "QUEUE_FULL" || (code == "DRAINING" && a_.connect.size() > 1);
      if (retry && job.attempts <= a_.retries) {
        // Back off (50 ms doubling, at most 2 s) and send the same frame again.
        const int shift = std::min(job.attempts - 1, 5);
        job.retry_at = Clock::now() + std::chrono::milliseconds(std::min(2000, 50 << shift));
        job.text.clear();
        job.tokens = json::array();
        retry_.push_back(std::move(job));
        in_flight_.erase(it);
        return true;
      }
      if (!a_.stream || a_.format == "text")
        finish_error(job, code, frame.value("message", ""), frame.value("retriable", false));
      ++failed_;
      in_flight_.erase(it);
    }
    return true;
  }

  // The worker holding the job stopped answering: run it elsewhere (--retries), or report it.
  void worker_lost(const std::string& id) {
    auto it = in_flight_.find(id);
    if (it == in_flight_.end()) return;
    Job job = std::move(it->second);
    in_flight_.erase(it);
    if (job.attempts <= a_.retries) {
      ++lost_retried_;
      job.retry_at = Clock::now();
      job.text.clear();
      job.tokens = json::array();
      job.logprobs = json::array();
      job.line.clear();
      retry_.push_back(std::move(job));
      return;
    }
    finish_error(job, "WORKER_LOST",
                 "the worker stopped answering for " + std::to_string(a_.worker_timeout_s) +
                     " s (--worker-timeout)",
                 true);
    ++failed_;
  }

  // Result lines (--format json without --stream) go out in input order.
  void add_line(std::size_t index, std::string line) {
    lines_.emplace(index, std::move(line));
    flush_lines(false);
  }
  void flush_lines(bool all) {
    if (!lines_.empty()) clear_progress();
    while (!lines_.empty() && (all || lines_.begin()->first == next_line_)) {
      out_ << lines_.begin()->second << "\n";
      next_line_ = lines_.begin()->first + 1;
      lines_.erase(lines_.begin());
    }
    out_ << std::flush;
  }

  void finish_error(const Job& job, const std::string& code, const std::string& message,
                    bool retriable) {
    clear_progress();
    if (a_.format == "text") {
      out_ << "[" << job.job_id << "] -- error " << code << ": " << message << "\n" << std::flush;
      return;
    }
    json rec = {{"job_id", job.job_id},
                {"error", {{"code", code}, {"message", message}, {"retriable", retriable}}}};
    add_line(job.index, dump(rec));
  }

  // --format text: a job's text goes out a line at a time, prefixed with its id, so answers
  // of concurrent jobs stay readable while they stream; the rest when the job ends.
  void print_lines(Job& job, bool flush) {
    clear_progress();
    std::size_t nl;
    while ((nl = job.line.find('\n')) != std::string::npos) {
      out_ << "[" << job.job_id << "] " << job.line.substr(0, nl) << "\n";
      job.line.erase(0, nl + 1);
    }
    if (flush && !job.line.empty()) {
      out_ << "[" << job.job_id << "] " << job.line << "\n";
      job.line.clear();
    }
    out_ << std::flush;
  }

  // The progress line lives on stderr; erase it before writing results so both stay readable
  // when they share a terminal.
  void clear_progress() {
    if (!progress_shown_) return;
    std::fputs("\r\033[K", stderr);
    progress_shown_ = false;
  }

  void progress(bool final) {
    const auto now = Clock::now();
    if (!final && now - last_progress_ < std::chrono::milliseconds(200)) return;
    last_progress_ = now;
    const double s = std::chrono::duration<double>(now - started_).count();
    progress_shown_ = !final;
    // ETA once the total is known (a counted file, or the whole input read) and a job has
    // finished.
    char eta[32] = "";
    const std::size_t finished = done_ + failed_;
    const bool known = input_done_ || expected_ > 0;
    const std::size_t total = input_done_ ? total_ : std::max(total_, expected_);
    if (!final && known && finished > 0 && finished < total && s > 0) {
      const double left_s =
          static_cast<double>(total - finished) * s / static_cast<double>(finished);
      std::snprintf(eta, sizeof(eta), ", ETA %.0f s", left_s);
    }
    std::fprintf(
        stderr,
        "\r\033[K[submit] %zu/%zu%s done, %zu failed, %zu in flight, %zu tokens, %.1f tok/s%s%s",
        done_, total, known ? "" : "+", failed_, in_flight_.size(), tokens_,
        s > 0 ? static_cast<double>(tokens_) / s : 0.0, eta, final ? "\n" : "");
  }

  const SubmitArgs& a_;
  std::istream& in_;
  std::ostream& out_;
  std::unique_ptr<client::FanoutClient> client_;
  std::map<std::size_t, std::string> lines_;  // finished, waiting for earlier jobs
  std::size_t next_line_ = 0, lost_retried_ = 0;
  std::map<std::string, Job> in_flight_;
  std::deque<Job> retry_;
  bool input_done_ = false;
  std::size_t line_no_ = 0, total_ = 0, done_ = 0, failed_ = 0, tokens_ = 0;
  Clock::time_point last_frame_, started_, last_progress_;
  bool progress_shown_ = false;
  std::size_t expected_ = 0;
};

// Non-blank lines of a file (the jobs it holds, for the progress line's total and ETA).
std::size_t count_jobs(const std::string& path) {
  std::ifstream f(path);
  std::size_t n = 0;
  std::string line;
  while (std::getline(f, line)) n += line.find_first_not_of(" \t\r") != std::string::npos ? 1 : 0;
  return n;
}

int run_submit(const SubmitArgs& a) {
  if (!a.nats.url.empty() || a.connect.empty()) {
    if (a.nats.url.empty() == a.connect.empty()) {
      std::cerr << "error: give --connect (ZeroMQ workers) or --nats (a JetStream queue)\n";
      return kExitBadInput;
    }
    NatsSubmitArgs n = a.nats;
    n.input = a.input;
    n.output = a.output;
    n.stream_tokens = a.stream;
    n.timeout_s = a.timeout_s;
    return run_submit_nats(n);
  }
  if (a.window < 1) {
    std::cerr << "error: --window must be ≥ 1, got " << a.window << "\n";
    return kExitBadInput;
  }
  if (a.format != "json" && a.format != "text") {
    std::cerr << "error: --format must be json or text, got '" << a.format << "'\n";
    return kExitBadInput;
  }
  JobFiles files;
  if (!files.open(a.input, a.output)) return kExitBadInput;
  Session s(a, files.in(), files.out(), a.input != "-" ? count_jobs(a.input) : 0);
  return s.run();
}

}  // namespace

Command register_submit(CLI::App& app) {
  auto a = std::make_shared<SubmitArgs>();
  CLI::App* sub = app.add_subcommand(
      "submit", "Send a JSONL batch of jobs to a worker and collect the results");
  sub->add_option("--connect", a->connect,
                  "Worker endpoint, e.g. tcp://127.0.0.1:5555; repeat it to spread jobs over "
                  "several workers");
  sub->add_option("--nats", a->nats.url,
                  "Publish to this NATS JetStream server instead (nats://host:port); results are "
                  "written in input order");
  sub->add_option("--nats-model", a->nats.model, "With --nats: the workers' queue (--nats-model)");
  sub->add_option("--nats-stream", a->nats.stream, "With --nats: the work-queue stream")
      ->capture_default_str();
  sub->add_option("--nats-subject", a->nats.subject_prefix,
                  "With --nats: jobs go to SUBJECT.MODEL.{high,normal,low}")
      ->capture_default_str();
  sub->add_option("-i,--input", a->input,
                  "JSONL file of submits (one JSON object per line; - = stdin)")
      ->capture_default_str();
  sub->add_option("-o,--output", a->output, "Where results go (- = stdout)")->capture_default_str();
  sub->add_flag("--stream", a->stream,
                "Stream tokens: one JSON line per frame (text as it comes with --format text)");
  sub->add_option("--format", a->format,
                  "json (machine-readable lines) or text (answers for people)")
      ->capture_default_str();
  sub->add_option("-w,--window", a->window, "Jobs in flight at once")->capture_default_str();
  sub->add_option("--retries", a->retries,
                  "Resubmissions of a job answered QUEUE_FULL, or lost with its worker "
                  "(WORKER_LOST; DRAINING too with several workers); 0 reports them")
      ->capture_default_str();
  sub->add_option("--worker-timeout", a->worker_timeout_s,
                  "Seconds a worker with jobs in flight may stay silent (heartbeats every "
                  "second) before its jobs count as WORKER_LOST")
      ->capture_default_str();
  sub->add_option("--timeout", a->timeout_s,
                  "Seconds without any frame before in-flight jobs count as lost")
      ->capture_default_str();
  add_client_curve_flags(sub, a->curve);
  return Command{sub, [a] { return run_submit(*a); }};
}

}  // namespace zinfer::cli
