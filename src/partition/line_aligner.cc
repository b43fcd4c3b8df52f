#include "quarry/line_aligner.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace quarry {

Status ValidateSeparator(std::string_view separator) {
  if (separator.empty()) {
    return InvalidArgument(
        "newline separator is empty: give one such as \"\\n\", \"\\r\\n\" or \"\\x1e\"");
  }
  for (size_t k = 1; k < separator.size(); ++k) {
    if (separator.substr(0, k) == separator.substr(separator.size() - k)) {
      std::string shown;
      for (unsigned char c : separator) {
        char buf[8];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
          shown.push_back(static_cast<char>(c));
        } else {
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          shown += buf;
        }
      }
      return InvalidArgument("newline separator \"" + shown + "\" is not usable: its first " +
                             std::to_string(k) +
                             " byte(s) equal its last, so record boundaries would be ambiguous; "
                             "use a separator whose prefixes never equal its suffixes, such as "
                             "\"\\n\", \"\\r\\n\" or \"\\x1e\"");
    }
  }
  return Status::Ok();
}

size_t FindSeparator(std::string_view data, std::string_view separator, size_t pos) {
  const size_t n = separator.size();
  if (n == 0 || data.size() < n) return std::string_view::npos;
  const char first = separator[0];
  const char* base = data.data();
  const char* end = base + data.size() - n + 1;  // last possible start + 1
  const char* p = base + pos;
  while (p < end) {
    p = static_cast<const char*>(std::memchr(p, first, static_cast<size_t>(end - p)));
    if (p == nullptr) return std::string_view::npos;
    if (n == 1 || std::memcmp(p + 1, separator.data() + 1, n - 1) == 0) {
      return static_cast<size_t>(p - base);
    }
    ++p;
  }
  return std::string_view::npos;
}

namespace {

uint64_t CountByte(const char* p, size_t n, char byte) {
  uint64_t total = 0;
#if defined(__SSE2__)
  const __m128i needle = _mm_set1_epi8(byte);
  const __m128i zero = _mm_setzero_si128();
  while (n >= 16) {
    // Each byte lane counts at most 255 matches before the lanes are summed.
    const size_t blocks = std::min<size_t>(n / 16, 255);
    __m128i lanes = zero;
    for (size_t i = 0; i < blocks; ++i, p += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(v, needle));  // a match is -1
    }
    const __m128i sums = _mm_sad_epu8(lanes, zero);  // two 64-bit sums of eight lanes each
    total += static_cast<uint64_t>(_mm_cvtsi128_si64(sums)) +
             static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums)));
    n -= blocks * 16;
  }
#endif
  for (; n > 0; --n) total += *p++ == byte ? 1 : 0;
  return total;
}

// Makes `tail` the last `keep` bytes of what it held followed by `data`.
void KeepLast(std::string* tail, std::string_view data, size_t keep) {
  if (data.size() >= keep) {
    tail->assign(data.substr(data.size() - keep));
    return;
  }
  tail->append(data);
  if (tail->size() > keep) tail->erase(0, tail->size() - keep);
}

}  // namespace

uint64_t CountSeparators(std::string_view data, std::string_view separator) {
  const size_t n = separator.size();
  if (n == 1) return CountByte(data.data(), data.size(), separator[0]);
  uint64_t count = 0;
  for (size_t p = FindSeparator(data, separator, 0); p != std::string_view::npos;
       p = FindSeparator(data, separator, p + n)) {
    ++count;
  }
  return count;
}

RecordCounter::RecordCounter(std::string separator) : separator_(std::move(separator)) {}

void RecordCounter::Feed(std::string_view data) {
  if (data.empty()) return;
  const size_t n = separator_.size();
  if (n > 1 && !tail_.empty()) {
    // At most one occurrence straddles (occurrences never overlap): it starts in the last n-1
    // bytes fed before and ends in this feed.
    const std::string_view before =
        std::string_view(tail_).substr(tail_.size() - std::min(tail_.size(), n - 1));
    std::string joined(before);
    joined.append(data.substr(0, n - 1));
    const size_t p = FindSeparator(joined, separator_, 0);
    if (p != std::string_view::npos && p < before.size()) ++separators_;
  }
  separators_ += CountSeparators(data, separator_);
  KeepLast(&tail_, data, n);
  open_record_ = tail_ != separator_;
}

SeparatorFinder::SeparatorFinder(std::string separator, uint64_t from)
    : separator_(std::move(separator)), from_(from) {}

std::optional<uint64_t> SeparatorFinder::Feed(std::string_view data, uint64_t offset) {
  const size_t n = separator_.size();
  const uint64_t data_end = offset + data.size();
  if (data_end <= from_) {
    // Nothing here can start an occurrence we want, but keep a tail for straddles.
  } else if (n > 1 && !tail_.empty()) {
    // Occurrences straddling the previous feed and this one: search tail + head of data.
    std::string joined = tail_;
    joined.append(data.substr(0, std::min(data.size(), n - 1)));
    size_t skip = from_ > tail_offset_ ? static_cast<size_t>(from_ - tail_offset_) : 0;
    if (skip < joined.size()) {
      size_t p = FindSeparator(joined, separator_, skip);
      if (p != std::string_view::npos && p < tail_.size()) return tail_offset_ + p + n;
    }
  }
  if (data_end > from_) {
    size_t skip = from_ > offset ? static_cast<size_t>(from_ - offset) : 0;
    size_t p = FindSeparator(data, separator_, skip);
    if (p != std::string_view::npos) return offset + p + n;
  }
  if (n > 1) {
    // Keep the last n-1 bytes seen (they may begin an occurrence completed by the next feed).
    KeepLast(&tail_, data, n - 1);
    tail_offset_ = data_end - tail_.size();
  }
  return std::nullopt;
}

}  // namespace quarry
