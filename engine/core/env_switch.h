// The measurement switches: environment variables read once at first use that pick between
// equivalent code paths (which kernel computes a product, never its bits) so one binary can be
// measured every way on the GPU host. Every switch reads its variable through these two.
#pragma once

#include <initializer_list>

namespace zinfer {

// The position of the variable's value in `values` (exact match); `unset` when the variable is
// not set, `other` when it is set to none of them.
int env_choice(const char* var, std::initializer_list<const char*> values, int unset, int other);

// "0" false, "1" true, unset or anything else `fallback`.
bool env_flag(const char* var, bool fallback);

}  // namespace zinfer
