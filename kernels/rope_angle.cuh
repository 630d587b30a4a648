// The cosine and sine of RoPE rotation pair i at a position, with YaRN, in CpuOps::do_rope's
// float operations: theta = pos · theta_scale^i by repeated multiplication (ggml's rope cache),
// t = freq_scale · theta, for YaRN the ramp mix of t and theta, then cos and sin times mscale.
// One definition for rope_kernel and the fused QKV epilogues (fused_matvec.cuh), and the
// CPU tests run it against CpuOps (tests/engine/backend/rope_angle_host_test.cpp).
#pragma once

#include <cmath>

#include "kernels/host_device.h"

namespace zinfer::cuda {

// Per-op constants, computed once on the host with CpuOps' expressions (engine/model/ops.h
// RopeParams documents the YaRN fields).
struct RopeAngle {
  float theta_scale = 1.0f;   // base^(-2/n_rot)
  float freq_scale = 1.0f;    // interpolation factor of the angles
  float ext_factor = 0.0f;    // YaRN: weight of the extrapolated angle on the ramp; 0 → plain
  float yarn_low = 0.0f;      // first pair index of the ramp
  float ramp_width = 0.001f;  // max(0.001, yarn_high - yarn_low)
  float mscale = 1.0f;        // cos and sin are multiplied by it (attn_factor, YaRN-corrected)
};

// The constants of RopeParams' fields, each the expression CpuOps::do_rope evaluates.
inline RopeAngle make_rope_angle(float base, int n_rot, float freq_scale, float ext_factor,
                                 float attn_factor, float yarn_low, float yarn_high) {
  RopeAngle a;
  a.theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
  a.freq_scale = freq_scale;
  a.ext_factor = ext_factor;
  a.yarn_low = yarn_low;
  const float width = yarn_high - yarn_low;
  a.ramp_width = width > 0.001f ? width : 0.001f;
  // CpuOps' 1 + 0.1·ln(1/freq_scale) is one fma in its x86 build (see rope_cos_sin).
  a.mscale = ext_factor != 0.0f ? attn_factor * std::fma(0.1f, std::log(1.0f / freq_scale), 1.0f)
                                : attn_factor;
  return a;
}

// cos and sin (times mscale) of pair i at position pos.
ZINFER_HD void rope_cos_sin(float pos, int i, const RopeAngle& a, float& c, float& s) {
  float theta = pos;
  for (int k = 0; k < i; ++k) theta = mul_rn(theta, a.theta_scale);
  float t = mul_rn(a.freq_scale, theta);
  if (a.ext_factor != 0.0f) {
    const float y = div_rn(sub_rn(static_cast<float>(i), a.yarn_low), a.ramp_width);
    const float ramp = sub_rn(1.0f, fminf(1.0f, fmaxf(0.0f, y)));
    const float mix = mul_rn(ramp, a.ext_factor);
    // CpuOps writes t·(1 - mix) + theta·mix; its x86 build (-mfma, GCC's default contraction)
    // computes that as one fma, fma(1 - mix, t, theta·mix) — read off the generated code — so
    // the angle here is the same float, which matters at large positions (an ulp of t is
    // ~1e-5 at t ~ 200).
    t = fmaf(sub_rn(1.0f, mix), t, mul_rn(theta, mix));
  }
  c = mul_rn(cosf(t), a.mscale);
  s = mul_rn(sinf(t), a.mscale);
}

}  // namespace zinfer::cuda
