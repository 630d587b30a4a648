// Subcommands of the zinfer CLI; each lives in its own cmd_<name>.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace zinfer::cli {

// A registered subcommand: its CLI11 node and what runs when it was parsed (exit code).
struct Command {
  CLI::App* sub = nullptr;
  std::function<int()> run;
};

Command register_inspect(CLI::App& app);
Command register_generate(CLI::App& app);
Command register_mkmodel(CLI::App& app);
Command register_serve(CLI::App& app);
Command register_submit(CLI::App& app);
Command register_bench(CLI::App& app);
Command register_health(CLI::App& app);
Command register_tokenize(CLI::App& app);
Command register_detokenize(CLI::App& app);
Command register_keygen(CLI::App& app);

}  // namespace zinfer::cli
