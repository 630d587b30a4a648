// JsonWriter: a small streaming JSON emitter for the CLI's --json outputs. Commas and
// escaping are handled here; invalid UTF-8 becomes U+FFFD and non-finite numbers become
// null, so the output always parses.
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>
#include <vector>

namespace zinfer::cli {

class JsonWriter {
 public:
  explicit JsonWriter(std::ostream& out) : out_(out) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  // The key of the next value inside an object.
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b);
  JsonWriter& value(std::int64_t v);
  JsonWriter& value(std::uint64_t v);
  JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(float v);   // shortest text that reads back as the same float
  JsonWriter& value(double v);  // shortest text that reads back as the same double
  JsonWriter& null();

  // Appends s to out as a quoted JSON string.
  static void write_string(std::ostream& out, std::string_view s);

 private:
  void before_value();

  std::ostream& out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace zinfer::cli
