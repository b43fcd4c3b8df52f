#include "storage/read_buffer.h"

#include <sys/mman.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define QUARRY_PLAIN_READ_BUFFERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define QUARRY_PLAIN_READ_BUFFERS 1
#endif
#endif

namespace quarry {
namespace {

// Buffers from 1 MiB up are mapped at huge page boundaries (so all but their last partial huge
// page can be huge pages) and pooled; smaller ones are plain heap memory. Under sanitizers every
// buffer is heap memory, so overflows are still caught.
#ifdef QUARRY_PLAIN_READ_BUFFERS
constexpr size_t kPooledMin = SIZE_MAX;
#else
constexpr size_t kPooledMin = size_t{1} << 20;
#endif
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kPoolGranule = size_t{64} << 10;  // sizes round up to this
constexpr size_t kPoolMaxIdleBytes = size_t{128} << 20;
constexpr auto kPoolMaxIdleAge = std::chrono::seconds(10);

char* MapHugeAligned(size_t bytes) {
  const size_t span = bytes + kHugePage;
  void* p = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  auto* base = static_cast<char*>(p);
  const size_t lead = (kHugePage - reinterpret_cast<uintptr_t>(base) % kHugePage) % kHugePage;
  char* data = base + lead;
  if (lead > 0) munmap(base, lead);
  const size_t tail = span - lead - bytes;
  if (tail > 0) munmap(data + bytes, tail);
  (void)madvise(data, bytes, MADV_HUGEPAGE);  // a hint; fine where THP is off
  return data;
}

class BufferPool {
 public:
  // A buffer of at least *capacity bytes; sets *capacity to its real size.
  char* Take(size_t* capacity) {
    const size_t want = (*capacity + kPoolGranule - 1) / kPoolGranule * kPoolGranule;
    std::vector<Idle> expired;
    char* found = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Expire(&expired);
      // The smallest idle buffer that fits, unless it is much larger than needed.
      size_t best = idle_.size();
      for (size_t i = 0; i < idle_.size(); ++i) {
        if (idle_[i].capacity >= want && idle_[i].capacity <= 2 * want &&
            (best == idle_.size() || idle_[i].capacity < idle_[best].capacity)) {
          best = i;
        }
      }
      if (best < idle_.size()) {
        found = idle_[best].data;
        *capacity = idle_[best].capacity;
        idle_bytes_ -= idle_[best].capacity;
        idle_[best] = idle_.back();
        idle_.pop_back();
      }
    }
    for (auto& e : expired) munmap(e.data, e.capacity);
    if (found != nullptr) return found;
    *capacity = want;
    return MapHugeAligned(want);
  }

  void Give(char* data, size_t capacity) {
    std::vector<Idle> expired;
    bool kept = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Expire(&expired);
      if (idle_bytes_ + capacity <= kPoolMaxIdleBytes) {
        idle_.push_back({data, capacity, std::chrono::steady_clock::now()});
        idle_bytes_ += capacity;
        kept = true;
      }
    }
    for (auto& e : expired) munmap(e.data, e.capacity);
    if (!kept) munmap(data, capacity);
  }

 private:
  struct Idle {
    char* data;
    size_t capacity;
    std::chrono::steady_clock::time_point since;
  };

  void Expire(std::vector<Idle>* out) {
    const auto cutoff = std::chrono::steady_clock::now() - kPoolMaxIdleAge;
    for (size_t i = 0; i < idle_.size();) {
      if (idle_[i].since < cutoff) {
        idle_bytes_ -= idle_[i].capacity;
        out->push_back(idle_[i]);
        idle_[i] = idle_.back();
        idle_.pop_back();
      } else {
        ++i;
      }
    }
  }

  std::mutex mu_;
  std::vector<Idle> idle_;
  size_t idle_bytes_ = 0;
};

BufferPool& Pool() {
  static auto* pool = new BufferPool;  // never destroyed: threads may return buffers at exit
  return *pool;
}

}  // namespace

ReadBuffer::ReadBuffer(size_t capacity) : capacity_(capacity) {
  if (capacity == 0) return;
  if (capacity >= kPooledMin) {
    data_ = Pool().Take(&capacity_);
  } else {
    data_ = new char[capacity];
  }
}

ReadBuffer::~ReadBuffer() {
  if (data_ == nullptr) return;
  if (capacity_ >= kPooledMin) {
    Pool().Give(data_, capacity_);
  } else {
    delete[] data_;
  }
}

}  // namespace quarry
