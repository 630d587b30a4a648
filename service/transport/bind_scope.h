// Which --bind endpoints only this host can reach. The worker binds those freely; any other
// (a routable address, a wildcard, an interface name) needs CurveZMQ keys or an explicit
// --insecure (README "Operations"). Deliberately narrow: tcp on 127.0.0.1, ::1 or localhost,
// ipc:// and inproc:// count as local; other 127.0.0.0/8 addresses are treated as remote
// (some hosts forward them; the tests use 127.0.0.2 as a "remote-looking" loopback address).
#pragma once

#include <string_view>

namespace zinfer::transport {

bool is_local_endpoint(std::string_view endpoint);

}  // namespace zinfer::transport
