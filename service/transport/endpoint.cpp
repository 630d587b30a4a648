// Endpoint checks and readable bind/connect errors (see endpoint.h).
#include "service/transport/endpoint.h"

#include <zmq.h>

#include <cerrno>
#include <charconv>

namespace zinfer::transport {
namespace {

constexpr std::string_view kForms = "expected tcp://HOST:PORT, ipc://PATH or inproc://NAME";

Error bad(std::string_view endpoint, std::string_view flag, std::string_view what) {
  std::string m(flag);
  m += " ";
  m += endpoint;
  m += ": ";
  m += what;
  return make_error(ErrorCode::kInvalidParameter, std::move(m));
}

// HOST:PORT of a tcp endpoint (an optional "SOURCE;" prefix and [IPv6] hosts included).
Status check_tcp(std::string_view endpoint, std::string_view address, EndpointUse use,
                 std::string_view flag) {
  if (const auto semi = address.find(';'); semi != std::string_view::npos)
    address.remove_prefix(semi + 1);
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos ||
      (address.find(']') != std::string_view::npos && colon < address.find(']'))) {
    return bad(endpoint, flag, "no port: expected tcp://HOST:PORT");
  }
  const std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  if (host.empty())
    return bad(endpoint, flag, "no host: expected tcp://HOST:PORT (HOST may be * when binding)");
  const bool bind = use == EndpointUse::kBind;
  if (port == "*" && bind) return ok_status();
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  const bool numeric = !port.empty() && ec == std::errc() && end == port.data() + port.size();
  if (!numeric || value > 65535 || (value == 0 && !bind)) {
    return bad(endpoint, flag,
               "port \"" + std::string(port) + "\" is not a TCP port: expected 1..65535" +
                   (bind ? " (or 0 or * for any free port)" : ""));
  }
  return ok_status();
}

std::string host_of(std::string_view endpoint) {
  std::string_view a = endpoint.substr(endpoint.find("://") + 3);
  if (const auto semi = a.find(';'); semi != std::string_view::npos) a.remove_prefix(semi + 1);
  return std::string(a.substr(0, a.rfind(':')));
}

}  // namespace

Status check_endpoint(std::string_view endpoint, EndpointUse use, std::string_view flag) {
  const auto sep = endpoint.find("://");
  if (sep == std::string_view::npos || sep == 0)
    return bad(endpoint, flag, "not an endpoint: " + std::string(kForms));
  const std::string_view transport = endpoint.substr(0, sep);
  const std::string_view address = endpoint.substr(sep + 3);
  if (address.empty()) return bad(endpoint, flag, "nothing after \"://\": " + std::string(kForms));
  if (transport == "tcp") return check_tcp(endpoint, address, use, flag);
  return ok_status();
}

Error endpoint_error(std::string_view endpoint, EndpointUse use, std::string_view flag, int err) {
  const bool tcp = endpoint.starts_with("tcp://");
  std::string why;
  switch (err) {
    case ENODEV:
      if (tcp) {
        why = '"';
        why += host_of(endpoint);
        why += "\" is neither an IP address nor a network interface of this machine";
      } else {
        why = "no such device";
      }
      break;
    case EADDRNOTAVAIL:
      why = use == EndpointUse::kBind
                ? "this machine has no such address (bind to one of its own, or to *)"
                : "the address is not available";
      break;
    case EADDRINUSE:
      why = "the address is already in use (another worker bound there?)";
      break;
    case EPROTONOSUPPORT:
      why = "unknown transport: " + std::string(kForms);
      break;
    case ENOCOMPATPROTO:
      why = "this transport does not work with this socket type";
      break;
    case EINVAL:
      why = tcp && use == EndpointUse::kConnect
                ? "cannot resolve the host (a name or IP address, then :PORT)"
                : "malformed endpoint: " + std::string(kForms);
      break;
    case ENOENT:
    case EACCES:
    case ENAMETOOLONG:
      why = endpoint.starts_with("ipc://")
                ? "cannot create the socket file (does its directory exist and is it "
                  "writable; is the path under 107 bytes?)"
                : "permission denied or no such file";
      break;
    default:
      why = use == EndpointUse::kBind ? "cannot bind" : "cannot connect";
      break;
  }
  return bad(endpoint, flag, why + " (" + zmq_strerror(err) + ")");
}

Status bind_endpoint(void* socket, const std::string& endpoint, std::string_view flag) {
  ZINFER_RETURN_IF_ERROR(check_endpoint(endpoint, EndpointUse::kBind, flag));
  if (zmq_bind(socket, endpoint.c_str()) != 0)
    return endpoint_error(endpoint, EndpointUse::kBind, flag, zmq_errno());
  return ok_status();
}

Status connect_endpoint(void* socket, const std::string& endpoint, std::string_view flag) {
  ZINFER_RETURN_IF_ERROR(check_endpoint(endpoint, EndpointUse::kConnect, flag));
  if (zmq_connect(socket, endpoint.c_str()) != 0) {
    return endpoint_error(endpoint, EndpointUse::kConnect, flag, zmq_errno());
  }
  return ok_status();
}

}  // namespace zinfer::transport
