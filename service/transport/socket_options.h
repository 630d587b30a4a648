// set_option(): zmq_setsockopt with its return checked, as a typed error naming the option.
#pragma once

#include <zmq.h>

#include <string>

#include "engine/core/error.h"

namespace zinfer::transport {

// Sets one integer-valued socket option (int or int64_t, as libzmq documents it). A failure is
// kInternal: every option we set is valid on the socket type we set it on, so it is a bug.
template <typename T>
Status set_option(void* socket, int option, T value, const char* name) {
  if (zmq_setsockopt(socket, option, &value, sizeof(value)) != 0) {
    return make_error(ErrorCode::kInternal,
                      std::string("zmq_setsockopt(") + name + "): " + zmq_strerror(zmq_errno()));
  }
  return ok_status();
}

}  // namespace zinfer::transport
