// The numerics of the GPU's prompt attention (kernels/prompt_attention.cu) for one query row
// and head, written as plain loops so the CPU backend computes them and the kernel is held to
// them: fp16 operands, fp32 sums, an online softmax over fixed key tiles.
//
//  - q, every key row and every value row are rounded to fp16 (saturating at ±65504);
//  - keys go in tiles of kF16KeyTile positions counted from the sequence's first position
//    (tile t holds keys [64t, 64t + 64)), so a row's tiles — and its bits — do not depend on
//    the chunk it was computed in or on the rows beside it;
//  - per tile: scores s = (q·k in fp32) · scale, soft-capped, keys outside [first, pos] masked;
//    the running max m becomes max(m, the tile's max), the running sum l and the value sums
//    are multiplied by exp(m_old − m), and each key's exp(s − m) is rounded to fp16 before it
//    joins l and weights its value row (the tensor cores multiply the rounded value);
//  - at the end a learned sink (gpt-oss) joins the max and the denominator as one more logit
//    without a value row, and the value sums are divided by the denominator.
//
// A tile in which every key is masked for the row leaves m, l and the sums as they were, so a
// row may be given tiles outside its keys (the GPU's blocks walk the tiles of all their rows).
// The GPU sums q·k, the probabilities and the value products in the tensor cores' order: it is
// held to this function within a tolerance, not bit for bit.
#pragma once

#include <cstdint>
#include <span>

#include "engine/model/ops.h"

namespace zinfer::cpu {

// Keys a tile of the prompt attention's online softmax.
inline constexpr std::int32_t kF16KeyTile = 64;

// Largest finite fp16 value: operands beyond it saturate instead of becoming infinite.
inline constexpr float kF16Max = 65504.0f;

// x rounded to fp16 after saturating at ±kF16Max (NaN stays NaN).
float f16_saturate_round(float x);

// One query row and head: q [head_dim] at position pos over keys [first, pos], whose key and
// value rows are k_rows[j - first] and v_rows[j - first] ([head_dim] each). sink: the head's
// learned sink, -INFINITY for none. out: [head_dim].
void f16_tile_attention(const float* q, std::span<const float* const> k_rows,
                        std::span<const float* const> v_rows, std::int32_t first, std::int32_t pos,
                        const model::AttnParams& p, float sink, float* out);

}  // namespace zinfer::cpu
