// Shared test helpers (see test_util.h).
#include "tests/test_util.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace zinfer::testing {

std::string data_path(const std::string& rel) { return std::string(ZINFER_TEST_DATA_DIR) + "/" + rel; }

std::string models_dir() {
  if (const char* env = std::getenv("ZINFER_MODELS"); env != nullptr && *env != '\0') return env;
  return std::string(ZINFER_SOURCE_DIR) + "/.models";
}

bool models_required() {
  const char* env = std::getenv("ZINFER_REQUIRE_MODELS");
  return env != nullptr && std::string(env) == "1";
}

std::optional<std::string> find_model(const std::string& file_name) {
  std::string p = models_dir() + "/" + file_name;
  if (std::filesystem::exists(p)) return p;
  return std::nullopt;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_dir() {
  static std::string dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "zinfer_test_XXXXXX").string();
    char* d = mkdtemp(tmpl.data());
    return d != nullptr ? std::string(d) : std::string("/tmp");
  }();
  return dir;
}

}  // namespace zinfer::testing
