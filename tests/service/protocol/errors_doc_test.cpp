// schemas/ERRORS.md against engine/core/error.cpp: every ErrorCode appears exactly once in the
// table, with the wire name of error_code_name(), its numeric value and error_code_retriable().
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

struct Row {
  std::string code;
  int number = 0;
  bool retriable = false;
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Rows of the table: lines "| `CODE` | # | yes/no | ... |".
std::vector<Row> parse_table(const std::string& md) {
  std::vector<Row> rows;
  std::istringstream in(md);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::size_t pos = 1;
    while (pos < line.size()) {
      const std::size_t next = line.find('|', pos);
      if (next == std::string::npos) break;
      cells.push_back(trim(line.substr(pos, next - pos)));
      pos = next + 1;
    }
    if (cells.size() < 5) {
      ADD_FAILURE() << "table row with " << cells.size() << " cells: " << line;
      continue;
    }
    Row r;
    r.code = cells[0].substr(1, cells[0].size() - 2);  // strip the backticks
    r.number = std::stoi(cells[1]);
    EXPECT_TRUE(cells[2] == "yes" || cells[2] == "no") << line;
    r.retriable = cells[2] == "yes";
    rows.push_back(r);
  }
  return rows;
}

const ErrorCode kAllCodes[] = {
    ErrorCode::kInvalidDevice,       ErrorCode::kOutOfMemory,        ErrorCode::kModelLoadFailed,
    ErrorCode::kInferenceFailed,     ErrorCode::kInvalidParameter,   ErrorCode::kKernelLaunchFailed,
    ErrorCode::kVramResidencyFailed, ErrorCode::kDeviceNotFound,     ErrorCode::kUnknown,
    ErrorCode::kInvalidRequest,      ErrorCode::kUnsupportedVersion, ErrorCode::kPromptTooLong,
    ErrorCode::kDuplicateJob,        ErrorCode::kQueueFull,          ErrorCode::kDraining,
    ErrorCode::kDeadlineExceeded,    ErrorCode::kWorkerLost,         ErrorCode::kInternal,
};

TEST(ErrorsDoc, TableMatchesErrorCodeNamesAndRetriability) {
  const std::string md = testing::read_file(std::string(ZINFER_SOURCE_DIR) + "/schemas/ERRORS.md");
  ASSERT_FALSE(md.empty()) << "schemas/ERRORS.md missing";
  const std::vector<Row> rows = parse_table(md);

  std::map<std::string, Row> by_code;
  for (const Row& r : rows) {
    EXPECT_TRUE(by_code.emplace(r.code, r).second) << r.code << " listed twice";
  }
  EXPECT_EQ(rows.size(), std::size(kAllCodes))
      << "the table lists codes that ErrorCode does not have";
  for (ErrorCode code : kAllCodes) {
    const std::string name(error_code_name(code));
    SCOPED_TRACE(name);
    auto it = by_code.find(name);
    ASSERT_NE(it, by_code.end()) << name << " missing from ERRORS.md";
    EXPECT_EQ(it->second.number, static_cast<int>(code));
    EXPECT_EQ(it->second.retriable, error_code_retriable(code));
  }
  // The ones the design names as retriable, spelled out so a change to either side is seen.
  for (const char* name : {"VRAM_OOM", "QUEUE_FULL", "DRAINING", "WORKER_LOST"}) {
    EXPECT_TRUE(by_code[name].retriable) << name;
  }
}

}  // namespace
}  // namespace zinfer
