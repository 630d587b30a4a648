// Frames built and read by nlohmann::json's own msgpack code, never by the codec under test:
// the codec tests check the wire format against an independent implementation.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace zinfer::testing {

// The msgpack frame of a JSON value.
inline std::string pack(const nlohmann::json& j) {
  const std::vector<std::uint8_t> v = nlohmann::json::to_msgpack(j);
  return std::string(v.begin(), v.end());
}

inline nlohmann::json unpack(const std::string& frame) {
  return nlohmann::json::from_msgpack(frame);
}

}  // namespace zinfer::testing
