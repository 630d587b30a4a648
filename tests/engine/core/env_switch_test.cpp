// The measurement switches' parsing (engine/core/env_switch.h): unset, each listed value, an
// unlisted one, and the flags' "0"/"1" with either fallback.
#include "engine/core/env_switch.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace zinfer {
namespace {

constexpr const char* kVar = "ZINFER_ENV_SWITCH_TEST";

TEST(EnvSwitch, ChoiceIsThePositionOfTheValue) {
  unsetenv(kVar);
  EXPECT_EQ(env_choice(kVar, {"split", "wide"}, -1, -2), -1);
  setenv(kVar, "split", 1);
  EXPECT_EQ(env_choice(kVar, {"split", "wide"}, -1, -2), 0);
  setenv(kVar, "wide", 1);
  EXPECT_EQ(env_choice(kVar, {"split", "wide"}, -1, -2), 1);
  setenv(kVar, "Wide", 1);  // exact match only
  EXPECT_EQ(env_choice(kVar, {"split", "wide"}, -1, -2), -2);
  setenv(kVar, "", 1);
  EXPECT_EQ(env_choice(kVar, {"split", "wide"}, -1, -2), -2);
  unsetenv(kVar);
}

TEST(EnvSwitch, FlagIsZeroOrOneElseTheFallback) {
  unsetenv(kVar);
  EXPECT_TRUE(env_flag(kVar, true));
  EXPECT_FALSE(env_flag(kVar, false));
  setenv(kVar, "0", 1);
  EXPECT_FALSE(env_flag(kVar, true));
  setenv(kVar, "1", 1);
  EXPECT_TRUE(env_flag(kVar, false));
  setenv(kVar, "yes", 1);
  EXPECT_TRUE(env_flag(kVar, true));
  EXPECT_FALSE(env_flag(kVar, false));
  unsetenv(kVar);
}

}  // namespace
}  // namespace zinfer
