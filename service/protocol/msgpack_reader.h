// Internal to the codec: bounded unpacking of one frame, the frame-wide rules, and typed reads
// of map fields whose errors name the field path ("submit.messages[2].role: ...").
#pragma once

#include <cstdint>
#include <msgpack.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "engine/core/error.h"
#include "service/protocol/codec.h"

namespace zinfer::protocol::detail {

// Unpacks exactly one msgpack value filling the whole frame. The size is checked before any
// parsing; counts, string sizes and depth are bounded by msgpack::unpack_limit. Strings in the
// result point into `frame`, which must outlive the handle. Errors: kInvalidRequest.
Result<msgpack::object_handle> unpack_frame(std::span<const std::uint8_t> frame,
                                            const DecodeLimits& limits);

// Frame-wide rules, checked over the whole tree (unknown fields included): every string and
// string key is valid UTF-8; no bin or ext values; map keys are strings or integers, and no key
// repeats within a map. `root_path` prefixes error paths (the message type). kInvalidRequest.
Status check_frame_rules(const msgpack::object& root, std::string_view root_path);

// "string", "integer", "float", "map", ... for error messages.
std::string_view type_name(const msgpack::object& o);
// Shortest round-trip text of a double; NaN/Inf spelled "NaN", "Inf", "-Inf".
std::string fmt_number(double v);
// "path: what".
Error field_error(ErrorCode code, std::string_view path, std::string_view what);

// Scalar reads of one value at `path`. Type mismatches are kInvalidRequest; integers outside
// [lo, hi] are `range_code` ("must be an integer in [lo, hi], got X").
Result<std::int64_t> read_int(const msgpack::object& o, std::string_view path, std::int64_t lo,
                              std::int64_t hi, ErrorCode range_code);
Result<std::uint64_t> read_uint64(const msgpack::object& o, std::string_view path,
                                  ErrorCode range_code);
Result<double> read_number(const msgpack::object& o, std::string_view path);  // int or float
Result<std::string_view> read_str(const msgpack::object& o, std::string_view path);
Result<bool> read_bool(const msgpack::object& o, std::string_view path);

// A map whose keys are all strings, read field by field. A field that is absent or nil reads
// as "absent" (nullopt / nullptr): clients from JSON-ish languages send null for "unset".
class MapReader {
 public:
  // kInvalidRequest unless `o` is a map with string keys only.
  static Result<MapReader> make(const msgpack::object& o, std::string path);

  const msgpack::object* get(std::string_view key) const;  // nullptr: absent or nil
  std::string path(std::string_view key) const;            // "<path>.<key>"
  const std::string& path() const { return path_; }

  Result<std::optional<std::string_view>> str(std::string_view key) const;
  Result<std::optional<std::int64_t>> integer(std::string_view key, std::int64_t lo,
                                              std::int64_t hi, ErrorCode range_code) const;
  Result<std::optional<double>> number(std::string_view key) const;
  Result<std::optional<bool>> boolean(std::string_view key) const;

 private:
  MapReader(const msgpack::object_map& map, std::string path)
      : map_(&map), path_(std::move(path)) {}
  const msgpack::object_map* map_;
  std::string path_;
};

}  // namespace zinfer::protocol::detail
