// Error codes and Result<T>: the only way errors cross the public engine API.
// Every ErrorCode maps 1:1 to a wire code in schemas/ERRORS.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace zinfer {

enum class ErrorCode : std::uint16_t {
  kInvalidDevice = 1,        // INVALID_DEVICE
  kOutOfMemory = 2,          // VRAM_OOM (retriable)
  kModelLoadFailed = 3,      // MODEL_LOAD_FAILED
  kInferenceFailed = 4,      // INFERENCE_FAILED
  kInvalidParameter = 5,     // INVALID_PARAMETER
  kKernelLaunchFailed = 6,   // KERNEL_LAUNCH_FAILED
  kVramResidencyFailed = 7,  // VRAM_RESIDENCY_FAILED
  kDeviceNotFound = 8,       // DEVICE_NOT_FOUND
  kUnknown = 9,              // UNKNOWN
  kInvalidRequest = 20,      // INVALID_REQUEST
  kUnsupportedVersion = 21,  // UNSUPPORTED_VERSION
  kPromptTooLong = 22,       // PROMPT_TOO_LONG
  kDuplicateJob = 23,        // DUPLICATE_JOB
  kQueueFull = 24,           // QUEUE_FULL (retriable)
  kDraining = 25,            // DRAINING (retriable)
  kDeadlineExceeded = 26,    // DEADLINE_EXCEEDED
  kWorkerLost = 27,          // WORKER_LOST (retriable)
  kInternal = 28,            // INTERNAL
};

// Wire name of a code, e.g. "MODEL_LOAD_FAILED".
std::string_view error_code_name(ErrorCode code);
// Whether a client may retry the same request unchanged.
bool error_code_retriable(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kUnknown;
  std::string message;  // names the offending field / key / tensor
  // The engine cannot go on (e.g. a sticky CUDA error destroyed the context): the worker
  // fails every live job with this error and exits non-zero (STYLE.md).
  bool fatal = false;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

// A value or an error, never both.
template <typename T>
class [[nodiscard]] Result {
 public:
  // Implicit on purpose: `return value;` and `return error;` both make a Result.
  // NOLINTNEXTLINE(google-explicit-constructor)
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  // NOLINTNEXTLINE(google-explicit-constructor)
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  // NOLINTNEXTLINE(google-explicit-constructor)
  Result(Error error) : err_(std::move(error)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status ok_status() { return Status(); }

}  // namespace zinfer

// Propagate an error from an expression returning Status / Result<T>.
#define ZINFER_RETURN_IF_ERROR(expr)                         \
  do {                                                       \
    auto zinfer_status_ = (expr);                            \
    if (!zinfer_status_.ok()) return zinfer_status_.error(); \
  } while (0)

#define ZINFER_CONCAT_INNER(a, b) a##b
#define ZINFER_CONCAT(a, b) ZINFER_CONCAT_INNER(a, b)
// ZINFER_ASSIGN_OR_RETURN(auto x, expr): binds the value or returns the error. lhs is a
// declaration, so it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define ZINFER_ASSIGN_OR_RETURN(lhs, expr)                  \
  auto ZINFER_CONCAT(zinfer_result_, __LINE__) = (expr);    \
  if (!ZINFER_CONCAT(zinfer_result_, __LINE__).ok())        \
    return ZINFER_CONCAT(zinfer_result_, __LINE__).error(); \
  lhs = std::move(ZINFER_CONCAT(zinfer_result_, __LINE__)).value()
// NOLINTEND(bugprone-macro-parentheses)
