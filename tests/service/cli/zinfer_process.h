// Runs the built `zinfer` binary as a process (through the shell, so arguments may redirect)
// and collects what it printed and its exit code; for the CLI tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/test_util.h"

namespace zinfer::testing {

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout (and stderr where the arguments say 2>&1)
};

inline RunResult run_zinfer(const std::string& args) {
  RunResult r;
  const std::string cmd = "'" + zinfer_binary() + "' " + args;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace zinfer::testing

#define REQUIRE_ZINFER_BINARY()                                                             \
  if (!std::filesystem::exists(::zinfer::testing::zinfer_binary())) {                       \
    GTEST_SKIP() << "build the zinfer target first: " << ::zinfer::testing::zinfer_binary() \
                 << " missing";                                                             \
  }
