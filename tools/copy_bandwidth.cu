// copy_bandwidth: the device's measured memory bandwidth, the ceiling the decode benchmark
// is compared with. Copies a 2 GiB buffer device-to-device 20 times after 3 warm-ups and
// prints the median rate counting bytes read plus bytes written (as vendors' copy tests
// do). Usage: copy_bandwidth [GiB]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK(x)                                                    \
  do {                                                              \
    cudaError_t e_ = (x);                                           \
    if (e_ != cudaSuccess) {                                        \
      std::fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_)); \
      return 1;                                                     \
    }                                                               \
  } while (0)

int main(int argc, char** argv) {
  const double gib = argc > 1 ? std::atof(argv[1]) : 2.0;
  const auto bytes = static_cast<std::size_t>(gib * 1024 * 1024 * 1024);
  void* a = nullptr;
  void* b = nullptr;
  CHECK(cudaMalloc(&a, bytes));
  CHECK(cudaMalloc(&b, bytes));
  CHECK(cudaMemset(a, 1, bytes));
  cudaEvent_t t0, t1;
  CHECK(cudaEventCreate(&t0));
  CHECK(cudaEventCreate(&t1));
  std::vector<float> ms;
  for (int i = 0; i < 23; ++i) {
    CHECK(cudaEventRecord(t0));
    CHECK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));
    CHECK(cudaEventRecord(t1));
    CHECK(cudaEventSynchronize(t1));
    float m = 0;
    CHECK(cudaEventElapsedTime(&m, t0, t1));
    if (i >= 3) ms.push_back(m);
  }
  std::sort(ms.begin(), ms.end());
  const double med = ms[ms.size() / 2];
  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("%s: device-to-device copy %.0f GB/s (read + write, %.1f GiB, median of %zu)\n",
              prop.name, 2.0 * static_cast<double>(bytes) / (med * 1e-3) / 1e9, gib, ms.size());
  CHECK(cudaFree(a));
  CHECK(cudaFree(b));
  return 0;
}
