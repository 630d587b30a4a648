// JetStreamConnection against a real nats-server: its destructor returns only after the
// library's callback thread has run the last handler of the connection (one run later would
// read the freed object: the likely cause of a worker's SIGSEGV at exit after a clean drain).
// The test holds that thread so the handlers run late on every run, not only on a busy machine.
#include "service/nats/jetstream_connection.h"

#include <gtest/gtest.h>

#include <future>

#include "tests/service/nats/nats_harness.h"

namespace zinfer::nats_testing {
namespace {

// A connection whose closed handler holds the library's one callback thread until open() (or
// the destructor): every handler queued behind it waits as long.
class CallbackThreadHolder {
 public:
  explicit CallbackThreadHolder(const std::string& url) : gate_open_(gate_.get_future().share()) {
    natsOptions_Create(&opts_);
    natsOptions_SetURL(opts_, url.c_str());
    natsOptions_SetClosedCB(opts_, on_closed, &gate_open_);
    natsConnection_Connect(&nc_, opts_);
  }
  ~CallbackThreadHolder() {
    open();
    natsConnection_Destroy(nc_);
    natsOptions_Destroy(opts_);
  }
  CallbackThreadHolder(const CallbackThreadHolder&) = delete;
  CallbackThreadHolder& operator=(const CallbackThreadHolder&) = delete;

  bool ok() const { return nc_ != nullptr; }
  // Queues the closed handler: from here on the callback thread waits for open().
  void hold() { natsConnection_Close(nc_); }
  void open() {
    if (!opened_) gate_.set_value();
    opened_ = true;
  }

 private:
  static void on_closed(natsConnection*, void* gate) {
    static_cast<std::shared_future<void>*>(gate)->wait();
  }
  std::promise<void> gate_;
  std::shared_future<void> gate_open_;
  bool opened_ = false;
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
};

TEST(JetStreamConnection, DestructorWaitsForTheLibrarysLastHandler) {
  REQUIRE_NATS_SERVER();
  NatsServer server(zinfer::testing::temp_dir() + "/jetstream_connection");
  ASSERT_TRUE(server.start());
  auto conn = nats::JetStreamConnection::connect(server.url(), "zinfer-test");
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  CallbackThreadHolder holder(server.url());
  ASSERT_TRUE(holder.ok());
  holder.hold();
  // Closing queues the connection's disconnected and closed handlers behind the holder's.
  auto destroyed = std::async(std::launch::async, [c = std::move(*conn)]() mutable { c.reset(); });
  EXPECT_EQ(destroyed.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout)
      << "the destructor returned while its handlers were still queued";
  holder.open();
  EXPECT_EQ(destroyed.wait_for(std::chrono::seconds(30)), std::future_status::ready);
}

}  // namespace
}  // namespace zinfer::nats_testing
