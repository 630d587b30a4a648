// StepGraphs (see step_graphs.h).
#include "engine/backend/cuda/step_graphs.h"

#include <spdlog/spdlog.h>

#include "kernels/cuda_check.h"

namespace zinfer::cuda {

Status StepGraphs::run(const StepShape& shape, cudaStream_t stream,
                       const std::function<Status()>& record,
                       const std::function<void(bool)>& capturing) {
  Entry& e = entries_[shape];
  if (e.exec) {
    ZINFER_CUDA_CHECK(cudaGraphLaunch(e.exec.get(), stream));
    ++replays_;
    return ok_status();
  }
  if (e.failed || e.seen++ == 0) return record();

  ZINFER_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  capturing(true);
  const Status recorded = record();
  capturing(false);
  cudaGraph_t raw = nullptr;
  const cudaError_t end = cudaStreamEndCapture(stream, &raw);
  GraphPtr graph(raw);
  if (!recorded.ok() || end != cudaSuccess || raw == nullptr) {
    (void)cudaGetLastError();  // a failed capture leaves no sticky error
    e.failed = true;
    spdlog::warn("cuda: step of {} rows could not be captured as a graph ({}); running it eagerly",
                 shape.rows, recorded.ok() ? cudaGetErrorString(end) : recorded.error().message);
    return record();
  }
  cudaGraphExec_t exec = nullptr;
  ZINFER_CUDA_CHECK(cudaGraphInstantiate(&exec, graph.get(), 0));
  e.graph = std::move(graph);
  e.exec.reset(exec);
  ++captures_;
  ZINFER_CUDA_CHECK(cudaGraphLaunch(e.exec.get(), stream));
  return ok_status();
}

}  // namespace zinfer::cuda
