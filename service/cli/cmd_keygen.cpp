// `zinfer keygen --out PATH`: a CurveZMQ key pair for a worker or a client — PATH.key (public:
// copy it to the other side: clients' into the worker's --curve-authorized-keys directory, the
// worker's to every client's --curve-server-key) and PATH.key_secret (mode 0600, stays here).
#include <iostream>
#include <memory>
#include <string>

#include "service/cli/commands.h"
#include "service/cli/exit_codes.h"
#include "service/transport/curve_keys.h"

namespace zinfer::cli {
namespace {

int run_keygen(const std::string& out) {
  auto keys = transport::curve_generate();
  if (!keys.ok()) {
    std::cerr << "error: " << keys.error().message << "\n";
    return kExitFailed;
  }
  if (Status st = transport::curve_write(out, *keys); !st.ok()) {
    std::cerr << "error: --out " << st.error().message << "\n";
    return kExitBadInput;
  }
  std::cout << out << ".key\t" << keys->public_z85 << "\n" << out << ".key_secret\t(secret)\n";
  return 0;
}

}  // namespace

Command register_keygen(CLI::App& app) {
  auto out = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "keygen", "Write a CurveZMQ key pair: PATH.key (public) and PATH.key_secret (secret, 0600)");
  sub->add_option("--out", *out, "Path prefix of the two files, e.g. keys/worker")->required();
  return Command{sub, [out] { return run_keygen(*out); }};
}

}  // namespace zinfer::cli
