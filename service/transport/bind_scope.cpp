// is_local_endpoint (see bind_scope.h).
#include "service/transport/bind_scope.h"

namespace zinfer::transport {

bool is_local_endpoint(std::string_view ep) {
  if (ep.rfind("ipc://", 0) == 0 || ep.rfind("inproc://", 0) == 0) return true;
  if (ep.rfind("tcp://", 0) != 0) return false;
  std::string_view addr = ep.substr(6);
  // A tcp bind may name a source (rare): "tcp://src;host:port" — judge the host after ';'.
  if (const auto semi = addr.rfind(';'); semi != std::string_view::npos)
    addr = addr.substr(semi + 1);
  const auto colon = addr.rfind(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view host = addr.substr(0, colon);
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]" || host == "::1";
}

}  // namespace zinfer::transport
