// Wire names and retriability of engine error codes (see schemas/ERRORS.md).
#include "engine/core/error.h"

namespace zinfer {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidDevice:
      return "INVALID_DEVICE";
    case ErrorCode::kOutOfMemory:
      return "VRAM_OOM";
    case ErrorCode::kModelLoadFailed:
      return "MODEL_LOAD_FAILED";
    case ErrorCode::kInferenceFailed:
      return "INFERENCE_FAILED";
    case ErrorCode::kInvalidParameter:
      return "INVALID_PARAMETER";
    case ErrorCode::kKernelLaunchFailed:
      return "KERNEL_LAUNCH_FAILED";
    case ErrorCode::kVramResidencyFailed:
      return "VRAM_RESIDENCY_FAILED";
    case ErrorCode::kDeviceNotFound:
      return "DEVICE_NOT_FOUND";
    case ErrorCode::kUnknown:
      return "UNKNOWN";
    case ErrorCode::kInvalidRequest:
      return "INVALID_REQUEST";
    case ErrorCode::kUnsupportedVersion:
      return "UNSUPPORTED_VERSION";
    case ErrorCode::kPromptTooLong:
      return "PROMPT_TOO_LONG";
    case ErrorCode::kDuplicateJob:
      return "DUPLICATE_JOB";
    case ErrorCode::kQueueFull:
      return "QUEUE_FULL";
    case ErrorCode::kDraining:
      return "DRAINING";
    case ErrorCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case ErrorCode::kWorkerLost:
      return "WORKER_LOST";
    case ErrorCode::kInternal:
      return "INTERNAL";
  }
  return "UNKNOWN";
}

bool error_code_retriable(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOutOfMemory:
    case ErrorCode::kQueueFull:
    case ErrorCode::kDraining:
    case ErrorCode::kWorkerLost:
      return true;
    default:
      return false;
  }
}

}  // namespace zinfer
