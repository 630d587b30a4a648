// JobFiles (see job_files.h).
#include "service/cli/job_files.h"

namespace zinfer::cli {

bool JobFiles::open(const std::string& input, const std::string& output) {
  use_stdin_ = input == "-";
  use_stdout_ = output == "-";
  if (!use_stdin_) {
    in_file_.open(input);
    if (!in_file_) {
      std::cerr << "error: --input " << input << ": cannot open\n";
      return false;
    }
  }
  if (!use_stdout_) {
    out_file_.open(output);
    if (!out_file_) {
      std::cerr << "error: --output " << output << ": cannot open\n";
      return false;
    }
  }
  return true;
}

}  // namespace zinfer::cli
