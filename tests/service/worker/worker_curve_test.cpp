// CurveZMQ on the worker's ROUTER, over TCP on 127.0.0.2 (a loopback address that the bind
// policy treats as remote): a client with an authorized key streams a job; a client with an
// unknown key, and a plaintext client, get nothing at all (no frame, no job), while the local
// plaintext probe endpoint (--probe-bind) answers health; a remote bind
// without keys or --insecure is refused naming the flags; the ZAP handler counts what it
// accepted and refused.
#include <gtest/gtest.h>

#include <filesystem>

#include "service/transport/curve_keys.h"
#include "tests/service/worker/paced_engine.h"
#include "tests/service/worker/worker_harness.h"
#include "tests/test_util.h"

namespace zinfer::worker::testing {
namespace {

struct Keys {
  std::string dir;
  transport::CurveKeyPair server, client, stranger;
};

Keys make_keys() {
  Keys k;
  k.dir = zinfer::testing::temp_dir() + "/curve";
  std::filesystem::remove_all(k.dir);
  std::filesystem::create_directories(k.dir + "/authorized");
  k.server = *transport::curve_generate();
  k.client = *transport::curve_generate();
  k.stranger = *transport::curve_generate();
  EXPECT_TRUE(transport::curve_write(k.dir + "/server", k.server).ok());
  EXPECT_TRUE(transport::curve_write(k.dir + "/authorized/client", k.client).ok());
  // The client's secret file sits beside its public one: it must be skipped, not trusted.
  return k;
}

// A DEALER with the given CurveZMQ client keys (none: plaintext), connected to `ep`.
void* curve_dealer(void* ctx, const std::string& ep, const transport::CurveKeyPair* mine,
                   const std::string& server_pub) {
  void* s = zmq_socket(ctx, ZMQ_DEALER);
  const int linger = 0;
  EXPECT_EQ(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)), 0);
  if (mine != nullptr) {
    EXPECT_EQ(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pub.c_str(), 40), 0);
    EXPECT_EQ(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, mine->public_z85.c_str(), 40), 0);
    EXPECT_EQ(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, mine->secret_z85.c_str(), 40), 0);
  }
  EXPECT_EQ(zmq_connect(s, ep.c_str()), 0);
  return s;
}

// Every frame received within timeout_ms, decoded.
std::vector<json> drain(void* s, int timeout_ms, const std::function<bool(const json&)>& stop) {
  std::vector<json> out;
  const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < end) {
    zmq_pollitem_t item{s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, 20) <= 0) continue;
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, s, 0);
    out.push_back(json::from_msgpack(
        std::string(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m)), true, false));
    zmq_msg_close(&m);
    if (stop(out.back())) break;
  }
  return out;
}

void send_json(void* s, const json& j) {
  const std::string b = pack(j);
  zmq_send(s, b.data(), b.size(), 0);
}

TEST(WorkerCurve, OnlyAuthorizedKeysGetAnswersOnARemoteLookingBind) {
  const Keys k = make_keys();
  WorkerConfig wc;
  wc.bind = "tcp://127.0.0.2:0";
  wc.curve_secret_key_file = k.dir + "/server.key_secret";
  wc.curve_authorized_keys_dir = k.dir + "/authorized";
  wc.probe_bind = "ipc://" + k.dir + "/probe.sock";
  WorkerThread w(wc, std::make_unique<PacedEngine>(4, 1000));
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w.endpoint().rfind("tcp://127.0.0.2:", 0), 0u) << w.endpoint();
  Context ctx;

  // The local probe endpoint (--probe-bind) stays plaintext: a probe needs no key there.
  {
    Client probe(ctx.get(), wc.probe_bind);
    EXPECT_EQ(probe.ask("health")["status"], "ready");
  }

  // Authorized: the job streams and ends with exactly one terminal frame.
  void* good = curve_dealer(ctx.get(), w.endpoint(), &k.client, k.server.public_z85);
  send_json(good, submit("g", {{"prompt_tokens", {1}}, {"max_tokens", 5}}));
  std::vector<json> frames =
      drain(good, 10000, [](const json& f) { return f["type"] == "done" || f["type"] == "error"; });
  ASSERT_FALSE(frames.empty()) << "the authorized client got nothing";
  expect_job_invariant(frames, "g");
  EXPECT_EQ(frames.back()["finish_reason"], "length");
  EXPECT_EQ(collect(frames).tokens.size(), 5u);

  // Unknown key and plaintext: not a single frame, and no job reached the engine.
  void* stranger = curve_dealer(ctx.get(), w.endpoint(), &k.stranger, k.server.public_z85);
  void* plain = curve_dealer(ctx.get(), w.endpoint(), nullptr, "");
  for (void* s : {stranger, plain}) {
    send_json(s, submit("x", {{"prompt_tokens", {1}}, {"max_tokens", 5}}));
    send_json(s, request("health"));
  }
  for (void* s : {stranger, plain}) {
    EXPECT_TRUE(drain(s, 1500, [](const json&) { return false; }).empty());
  }
  send_json(good, request("stats"));
  std::vector<json> st = drain(good, 5000, [](const json& f) { return f["type"] == "stats"; });
  ASSERT_FALSE(st.empty());
  EXPECT_EQ(st.back()["jobs_accepted"], 1) << "only the authorized client's job was accepted";
  EXPECT_EQ(st.back()["jobs_rejected"], 0) << "the others never reached the decoder";
  for (void* s : {good, stranger, plain}) zmq_close(s);
}

TEST(WorkerCurve, ConfigurationMistakesAreRefusedNamingTheFlag) {
  const Keys k = make_keys();
  auto refused = [](const WorkerConfig& wc, const std::string& needle) {
    auto w = Worker::create(wc, std::make_unique<PacedEngine>(4, 1000));
    ASSERT_FALSE(w.ok()) << needle;
    EXPECT_EQ(w.error().code, ErrorCode::kInvalidParameter);
    EXPECT_NE(w.error().message.find(needle), std::string::npos) << w.error().message;
  };
  WorkerConfig remote;
  remote.bind = "tcp://127.0.0.2:0";
  refused(remote, "needs CurveZMQ");
  WorkerConfig half = remote;
  half.curve_secret_key_file = k.dir + "/server.key_secret";
  refused(half, "--curve-authorized-keys");
  WorkerConfig public_only = half;
  public_only.curve_secret_key_file = k.dir + "/server.key";
  public_only.curve_authorized_keys_dir = k.dir + "/authorized";
  refused(public_only, "--curve-secret-key");
  WorkerConfig remote_probe = remote;
  remote_probe.insecure = true;
  remote_probe.probe_bind = "tcp://127.0.0.2:0";
  refused(remote_probe, "--probe-bind");
  WorkerConfig empty_dir = half;
  std::filesystem::create_directories(k.dir + "/empty");
  empty_dir.curve_authorized_keys_dir = k.dir + "/empty";
  refused(empty_dir, "no public key files");
  // --insecure: plaintext on a remote bind, accepted (with a warning in the log).
  WorkerConfig insecure = remote;
  insecure.insecure = true;
  auto w = Worker::create(insecure, std::make_unique<PacedEngine>(4, 1000));
  EXPECT_TRUE(w.ok()) << w.error().message;
}

}  // namespace
}  // namespace zinfer::worker::testing
