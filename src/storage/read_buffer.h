// ReadBuffer: the memory of a read's bytes, recycled through a process-wide pool. Buffers from
// 1 MiB up are mapped at huge page boundaries (backed by transparent huge pages where the kernel
// allows) and kept idle for reuse (at most 128 MiB, each for at most 10 s), because a fresh
// multi-MiB allocation costs a page fault per 4 KiB page on first touch; smaller buffers, and
// every buffer under sanitizers, are plain heap memory. Internal to the library.
#pragma once

#include <cstddef>

namespace quarry {

// A byte buffer whose memory is recycled through the pool (large sizes) or the heap.
class ReadBuffer {
 public:
  explicit ReadBuffer(size_t capacity);  // room for `capacity` bytes, not initialised
  ~ReadBuffer();
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
  char* data() const { return data_; }

 private:
  char* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace quarry
