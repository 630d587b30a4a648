// Umbrella header of the CPU tensor-type support: block layouts, fp16/bf16 conversion,
// dequantization, activation quantization and dot products.
#pragma once

#include "engine/quant/act_quant.h"
#include "engine/quant/block_types.h"
#include "engine/quant/dequant.h"
#include "engine/quant/fp16.h"
#include "engine/quant/ggml_type.h"
#include "engine/quant/vec_dot.h"
