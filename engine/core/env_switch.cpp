#include "engine/core/env_switch.h"

#include <cstdlib>
#include <cstring>

namespace zinfer {

int env_choice(const char* var, std::initializer_list<const char*> values, int unset, int other) {
  const char* e = std::getenv(var);
  if (e == nullptr) return unset;
  int i = 0;
  for (const char* v : values) {
    if (std::strcmp(e, v) == 0) return i;
    ++i;
  }
  return other;
}

bool env_flag(const char* var, bool fallback) {
  return env_choice(var, {"0", "1"}, fallback ? 1 : 0, fallback ? 1 : 0) == 1;
}

}  // namespace zinfer
