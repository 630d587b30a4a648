// Exit codes and the error line shared by the zinfer subcommands, so that the same mistake
// (a missing model file, a bad flag) reads and exits the same whichever command met it.
#pragma once

#include <iostream>
#include <string_view>

#include "engine/core/error.h"

namespace zinfer::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;    // the command ran and failed (or timed out)
inline constexpr int kExitBadInput = 2;  // bad flags, input file or model file: nothing was run

// "error: [<flag> ]<CODE>: <message>" on stderr, e.g. "error: MODEL_LOAD_FAILED: /m.gguf:
// cannot open: No such file or directory"; returns kExitBadInput.
inline int report_bad_input(const Error& e, std::string_view flag = {},
                            std::ostream& err = std::cerr) {
  err << "error: ";
  if (!flag.empty()) err << flag << " ";
  err << error_code_name(e.code) << ": " << e.message << "\n";
  return kExitBadInput;
}

}  // namespace zinfer::cli
