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

#include "service/cli/commands.h"
#include "service/cli/exit_codes.h"
#include "service/cli/operations_flags.h"
#include "service/client/dealer_client.h"
#include "service/protocol/codec.h"

namespace zinfer::cli {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct SubmitArgs {
  std::string connect;
  std::string input = "-";
  std::string output = "-";
  std::string format = "json";
  bool stream = false;
  int window = 32;
  int retries = 50;
  double timeout_s = 600.0;
  ClientCurveArgs curve;
};

struct Job {
  std::string job_id;
  std::string frame;  // msgpack submit
  int attempts = 0;
  Clock::time_point retry_at;
  std::string text;
  json tokens = json::array();
  json logprobs = json::array();
  std::string line;  // --format text: the unfinished line
};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The parser's own message with its column, minus the library's prefix: "column 7: syntax
// error while parsing object key - invalid literal; last read: '{"a":1,x'; expected string
// literal".
std::string parse_error_text(const json::parse_error& e) {
  std::string what = e.what();
  if (const auto at = what.find("column "); at != std::string::npos) return what.substr(at);
  if (const auto at = what.find("] "); at != std::string::npos) return what.substr(at + 2);
  return what;
}

class Session {
 public:
  // expected_jobs: the input's job count when known in advance (a file), for the ETA.
  Session(const SubmitArgs& a, std::istream& in, std::ostream& out, std::size_t expected_jobs = 0)
      : a_(a), in_(in), out_(out), expected_(expected_jobs) {}

  int run() {
    client::DealerOptions options;
    options.linger_ms = 1000;
    if (Status st = apply_client_curve(a_.curve, options); !st.ok()) {
      std::cerr << "error: " << st.error().message << "\n";
      return kExitBadInput;
    }
    auto connected = client::DealerClient::connect(a_.connect, options);
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
      if (!in_flight_.empty() &&
          Clock::now() - last_frame_ > std::chrono::duration<double>(a_.timeout_s)) {
        for (auto& [id, job] : in_flight_) {
          finish_error(job, "WORKER_LOST",
                       "no frame from the worker for " + std::to_string(a_.timeout_s) + " s", true);
        }
        in_flight_.clear();
        rc = 3;
        break;
      }
      if (tty) progress(false);
    }
    if (tty) progress(true);
    out_.flush();
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
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json j;
      try {
        j = json::parse(line);
      } catch (const json::parse_error& e) {
        std::cerr << "error: " << a_.input << ":" << line_no_ << ": " << parse_error_text(e)
                  << "\n";
        rc = kExitBadInput;
        return std::nullopt;
      }
      if (!j.is_object()) {
        std::cerr << "error: " << a_.input << ":" << line_no_
                  << ": expected a JSON object (one submit per line), got "
                  << (j.is_array() ? "an array" : j.type_name()) << "\n";
        rc = kExitBadInput;
        return std::nullopt;
      }
      if (!j.contains("v")) j["v"] = protocol::kProtocolVersion;
      if (!j.contains("type")) j["type"] = "submit";
      if (!j.contains("job_id")) j["job_id"] = "job-" + std::to_string(line_no_);
      if (!j.contains("stream")) j["stream"] = a_.stream;
      if (j["type"] != "submit" || !j["job_id"].is_string()) {
        std::cerr << "error: " << a_.input << ":" << line_no_
                  << ": expected a submit with a string job_id\n";
        rc = kExitBadInput;
        return std::nullopt;
      }
      Job job;
      job.job_id = j["job_id"].get<std::string>();
      const std::vector<std::uint8_t> bytes = json::to_msgpack(j);
      job.frame.assign(bytes.begin(), bytes.end());
      ++total_;
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
      ++job->attempts;
      client_->send(job->frame);
      in_flight_.emplace(job->job_id, std::move(*job));
    }
    return true;
  }

  // Handles one frame if one arrives within wait_ms.
  bool receive_one(int wait_ms) {
    client::Frame msg;
    if (!client_->recv(msg, wait_ms)) return false;
    last_frame_ = Clock::now();
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
    if (it == in_flight_.end()) return true;
    Job& job = it->second;
    const std::string type = frame.value("type", "");
    if (type == "token" || type == "done") {
      const std::string text = frame.value("text", "");
      job.text += text;
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
        json rec = frame;
        rec.erase("v");
        rec.erase("type");
        rec.erase("seq");
        rec["text"] = job.text;
        rec["tokens"] = job.tokens;
        if (!job.logprobs.empty()) rec["logprobs"] = job.logprobs;
        clear_progress();
        out_ << dump(rec) << "\n" << std::flush;
      }
      ++done_;
      in_flight_.erase(it);
    } else if (type == "error") {
      const std::string code = frame.value("code", "");
      if (code == "QUEUE_FULL" && job.attempts <= a_.retries) {
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

  void finish_error(const Job& job, const std::string& code, const std::string& message,
                    bool retriable) {
    clear_progress();
    if (a_.format == "text") {
      out_ << "[" << job.job_id << "] -- error " << code << ": " << message << "\n" << std::flush;
      return;
    }
    json rec = {{"job_id", job.job_id},
                {"error", {{"code", code}, {"message", message}, {"retriable", retriable}}}};
    out_ << dump(rec) << "\n";
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
      const double left_s = static_cast<double>(total - finished) * s / finished;
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
  std::unique_ptr<client::DealerClient> client_;
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
  if (a.window < 1) {
    std::cerr << "error: --window must be ≥ 1, got " << a.window << "\n";
    return kExitBadInput;
  }
  if (a.format != "json" && a.format != "text") {
    std::cerr << "error: --format must be json or text, got '" << a.format << "'\n";
    return kExitBadInput;
  }
  std::ifstream in_file;
  if (a.input != "-") {
    in_file.open(a.input);
    if (!in_file) {
      std::cerr << "error: --input " << a.input << ": cannot open\n";
      return kExitBadInput;
    }
  }
  std::ofstream out_file;
  if (a.output != "-") {
    out_file.open(a.output);
    if (!out_file) {
      std::cerr << "error: --output " << a.output << ": cannot open\n";
      return kExitBadInput;
    }
  }
  const bool tty = isatty(STDERR_FILENO) != 0;
  Session s(a, a.input == "-" ? std::cin : in_file, a.output == "-" ? std::cout : out_file,
            tty && a.input != "-" ? count_jobs(a.input) : 0);
  return s.run();
}

}  // namespace

Command register_submit(CLI::App& app) {
  auto a = std::make_shared<SubmitArgs>();
  CLI::App* sub = app.add_subcommand(
      "submit", "Send a JSONL batch of jobs to a worker and collect the results");
  sub->add_option("--connect", a->connect, "Worker endpoint, e.g. tcp://127.0.0.1:5555")
      ->required();
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
  sub->add_option("--retries", a->retries, "Resubmissions of a job answered QUEUE_FULL")
      ->capture_default_str();
  sub->add_option("--timeout", a->timeout_s,
                  "Seconds without any frame before in-flight jobs count as lost")
      ->capture_default_str();
  add_client_curve_flags(sub, a->curve);
  return Command{sub, [a] { return run_submit(*a); }};
}

}  // namespace zinfer::cli
