// zinfer: entry point; dispatches to the subcommands in cmd_*.cpp.
#include <vector>

#include "service/cli/commands.h"

// An exception out of a command is a bug: let it terminate with its message rather than hide
// it behind a generic exit code.
// NOLINTNEXTLINE(bugprone-exception-escape)
int main(int argc, char** argv) {
  CLI::App app{"zinfer: LLM inference worker (GGUF models, CPU and CUDA backends)"};
  app.require_subcommand(1);
  std::vector<zinfer::cli::Command> commands = {
      zinfer::cli::register_inspect(app),    zinfer::cli::register_generate(app),
      zinfer::cli::register_mkmodel(app),    zinfer::cli::register_serve(app),
      zinfer::cli::register_submit(app),     zinfer::cli::register_bench(app),
      zinfer::cli::register_health(app),     zinfer::cli::register_tokenize(app),
      zinfer::cli::register_detokenize(app), zinfer::cli::register_keygen(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help / --version exit 0; every flag CLI11 refuses (unknown, missing value, two flags
    // that exclude each other) is a bad flag: exit 2, as the README promises.
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (auto& c : commands) {
    if (c.sub->parsed()) return c.run();
  }
  return 1;
}
