// transport::check_endpoint / bind_endpoint / connect_endpoint: ports are validated instead of
// wrapping (libzmq binds tcp://host:99999 to port 34463), and libzmq's bare errno texts become
// messages that say what is wrong; Worker::create refuses such a --bind.
#include "service/transport/endpoint.h"

#include <gtest/gtest.h>
#include <zmq.h>

#include <string>

#include "service/worker/worker.h"

namespace zinfer::transport {
namespace {

std::string check(const std::string& ep, EndpointUse use) {
  Status st = check_endpoint(ep, use, "--flag");
  return st.ok() ? "ok" : st.error().message;
}

TEST(Endpoint, AcceptsTheFormsTheWorkerAndClientsUse) {
  for (const char* ep :
       {"tcp://127.0.0.1:5555", "tcp://*:5555", "tcp://localhost:1", "tcp://[::1]:65535",
        "tcp://eth0;192.168.1.1:5555", "ipc:///tmp/w.sock", "inproc://x"}) {
    EXPECT_EQ(check(ep, EndpointUse::kConnect), "ok") << ep;
    EXPECT_EQ(check(ep, EndpointUse::kBind), "ok") << ep;
  }
  EXPECT_EQ(check("tcp://127.0.0.1:0", EndpointUse::kBind), "ok");
  EXPECT_EQ(check("tcp://127.0.0.1:*", EndpointUse::kBind), "ok");
}

TEST(Endpoint, RejectsPortsOutsideTheTcpRangeInsteadOfWrapping) {
  EXPECT_EQ(check("tcp://127.0.0.1:99999", EndpointUse::kBind),
            "--flag tcp://127.0.0.1:99999: port \"99999\" is not a TCP port: expected 1..65535 (or "
            "0 or * for any "
            "free port)");
  EXPECT_EQ(check("tcp://127.0.0.1:0", EndpointUse::kConnect),
            "--flag tcp://127.0.0.1:0: port \"0\" is not a TCP port: expected 1..65535");
  EXPECT_EQ(check("tcp://127.0.0.1:*", EndpointUse::kConnect),
            "--flag tcp://127.0.0.1:*: port \"*\" is not a TCP port: expected 1..65535");
  EXPECT_NE(check("tcp://127.0.0.1:-1", EndpointUse::kBind).find("port \"-1\" is not a TCP port"),
            std::string::npos);
  EXPECT_NE(check("tcp://127.0.0.1:55x", EndpointUse::kBind).find("port \"55x\" is not a TCP port"),
            std::string::npos);
  EXPECT_NE(check("tcp://127.0.0.1:", EndpointUse::kBind).find("port \"\" is not a TCP port"),
            std::string::npos);
}

TEST(Endpoint, NamesMissingPartsAndNonEndpoints) {
  EXPECT_EQ(
      check("garbage", EndpointUse::kConnect),
      "--flag garbage: not an endpoint: expected tcp://HOST:PORT, ipc://PATH or inproc://NAME");
  EXPECT_EQ(check("tcp://", EndpointUse::kConnect),
            "--flag tcp://: nothing after \"://\": expected tcp://HOST:PORT, ipc://PATH or "
            "inproc://NAME");
  EXPECT_EQ(check("tcp://127.0.0.1", EndpointUse::kConnect),
            "--flag tcp://127.0.0.1: no port: expected tcp://HOST:PORT");
  EXPECT_EQ(check("tcp://[::1]", EndpointUse::kConnect),
            "--flag tcp://[::1]: no port: expected tcp://HOST:PORT");
  EXPECT_EQ(check("tcp://:5555", EndpointUse::kBind),
            "--flag tcp://:5555: no host: expected tcp://HOST:PORT (HOST may be * when binding)");
}

class EndpointSockets : public ::testing::Test {
 protected:
  void SetUp() override { ctx_ = zmq_ctx_new(); }
  void TearDown() override {
    for (void* s : sockets_) zmq_close(s);
    zmq_ctx_term(ctx_);
  }
  void* socket(int type) {
    void* s = zmq_socket(ctx_, type);
    const int linger = 0;
    EXPECT_EQ(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    sockets_.push_back(s);
    return s;
  }
  void* ctx_ = nullptr;
  std::vector<void*> sockets_;
};

TEST_F(EndpointSockets, BindErrorsSayWhatIsWrong) {
  Status st = bind_endpoint(socket(ZMQ_ROUTER), "tcp://999.1.1.1:5555", "--bind");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidParameter);
  EXPECT_EQ(st.error().message,
            "--bind tcp://999.1.1.1:5555: \"999.1.1.1\" is neither an IP address nor a network "
            "interface of this "
            "machine (No such device)");

  void* first = socket(ZMQ_ROUTER);
  ASSERT_TRUE(bind_endpoint(first, "tcp://127.0.0.1:0", "--bind").ok());
  char ep[256];
  std::size_t len = sizeof(ep);
  zmq_getsockopt(first, ZMQ_LAST_ENDPOINT, ep, &len);
  st = bind_endpoint(socket(ZMQ_ROUTER), ep, "--bind");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            std::string("--bind ") + ep +
                ": the address is already in use (another worker bound there?) (Address already "
                "in use)");

  st = bind_endpoint(socket(ZMQ_ROUTER), "ipc:///nonexistent-dir-zinfer/w.sock", "--bind");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("cannot create the socket file"), std::string::npos)
      << st.error().message;

  st = bind_endpoint(socket(ZMQ_ROUTER), "nosuch://x", "--bind");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("unknown transport"), std::string::npos) << st.error().message;
}

TEST_F(EndpointSockets, ConnectChecksTheEndpointFirst) {
  EXPECT_TRUE(connect_endpoint(socket(ZMQ_DEALER), "tcp://127.0.0.1:5555", "--connect").ok());
  Status st = connect_endpoint(socket(ZMQ_DEALER), "tcp://127.0.0.1:70000", "--connect");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "--connect tcp://127.0.0.1:70000: port \"70000\" is not a TCP port: expected 1..65535");
}

TEST(Endpoint, WorkerRefusesAWrappingBindPort) {
  worker::WorkerConfig wc;
  wc.bind = "tcp://127.0.0.1:99999";
  Status st = worker::validate(wc);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(st.error().message.find("port \"99999\" is not a TCP port"), std::string::npos)
      << st.error().message;
}

}  // namespace
}  // namespace zinfer::transport
