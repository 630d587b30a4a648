// JobFiles: the --input and --output of `zinfer submit` (a path or "-" for stdin/stdout),
// opened once with the error line both submit paths print.
#pragma once

#include <fstream>
#include <iostream>
#include <string>

namespace zinfer::cli {

class JobFiles {
 public:
  // False (after printing "error: --input PATH: cannot open") when a file cannot be opened.
  bool open(const std::string& input, const std::string& output);
  std::istream& in() { return use_stdin_ ? std::cin : in_file_; }
  std::ostream& out() { return use_stdout_ ? std::cout : out_file_; }

 private:
  std::ifstream in_file_;
  std::ofstream out_file_;
  bool use_stdin_ = true;
  bool use_stdout_ = true;
};

}  // namespace zinfer::cli
