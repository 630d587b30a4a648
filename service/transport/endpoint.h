// ZeroMQ endpoints given on the command line (--bind, --connect): checked before libzmq sees
// them, because libzmq wraps an out-of-range TCP port silently (tcp://host:99999 binds port
// 34463) and reports other mistakes with bare errno texts ("No such device", "Invalid
// argument"); bind/connect failures become messages that say what is wrong.
#pragma once

#include <string>
#include <string_view>

#include "engine/core/error.h"

namespace zinfer::transport {

enum class EndpointUse { kBind, kConnect };

// kInvalidParameter unless `endpoint` reads TRANSPORT://ADDRESS with a non-empty address and,
// for tcp, HOST:PORT with PORT a decimal in 1..65535 (when binding also 0 or *: a free port).
// Transports other than tcp, ipc and inproc are left to libzmq. Messages start with "<flag>
// <endpoint>: ".
Status check_endpoint(std::string_view endpoint, EndpointUse use, std::string_view flag);

// zmq_bind / zmq_connect failed with `err` (zmq_errno()): a kInvalidParameter error naming the
// flag, the endpoint and the likely cause, with libzmq's own text in parentheses.
Error endpoint_error(std::string_view endpoint, EndpointUse use, std::string_view flag, int err);

// check_endpoint(), then zmq_bind / zmq_connect, with endpoint_error() on failure.
Status bind_endpoint(void* socket, const std::string& endpoint, std::string_view flag);
Status connect_endpoint(void* socket, const std::string& endpoint, std::string_view flag);

}  // namespace zinfer::transport
