#include "resp/reply_writer.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace nearcache::resp {
namespace {

// Once this many consumed bytes make up half the owned buffer, they are
// dropped, so a connection that never drains completely stays bounded.
constexpr size_t kCompactAbove = 64 * 1024;

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536"
    "37383940414243444546474849505152535455565758596061626364656667686970717273"
    "7475767778798081828384858687888990919293949596979899";

// Writes the decimal digits of `v` so that they end just before `end`;
// returns where they start. Two digits per division.
char* FormatDecimal(uint64_t v, char* end) {
  while (v >= 100) {
    const size_t pair = static_cast<size_t>(v % 100) * 2;
    v /= 100;
    end -= 2;
    std::memcpy(end, kDigitPairs + pair, 2);
  }
  if (v < 10) {
    *--end = static_cast<char>('0' + v);
  } else {
    end -= 2;
    std::memcpy(end, kDigitPairs + v * 2, 2);
  }
  return end;
}

bool IsCrOrLf(char c) { return c == '\r' || c == '\n'; }

}  // namespace

void ReplyWriter::AppendPrefixed(char prefix, int64_t n) {
  // prefix, sign, 20 digits, CRLF.
  char buf[24];
  char* const end = buf + sizeof(buf);
  end[-2] = '\r';
  end[-1] = '\n';
  const bool negative = n < 0;
  // Negating in uint64_t also covers INT64_MIN.
  const uint64_t magnitude =
      negative ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  char* p = FormatDecimal(magnitude, end - 2);
  if (negative) *--p = '-';
  *--p = prefix;
  const size_t len = static_cast<size_t>(end - p);
  owned_.append(p, len);
  size_ += len;
}

void ReplyWriter::AppendSanitized(absl::string_view text, bool trim) {
  if (trim) {
    while (!text.empty() && IsCrOrLf(text.front())) text.remove_prefix(1);
    while (!text.empty() && IsCrOrLf(text.back())) text.remove_suffix(1);
  }
  const size_t from = owned_.size();
  owned_.append(text.data(), text.size());
  for (size_t i = from; i < owned_.size(); ++i) {
    if (IsCrOrLf(owned_[i])) owned_[i] = ' ';
  }
  size_ += text.size();
}

void ReplyWriter::AppendSimpleString(absl::string_view text) {
  owned_.push_back('+');
  ++size_;
  AppendSanitized(text, /*trim=*/false);
  AppendRaw("\r\n");
}

void ReplyWriter::AppendError(absl::string_view message) {
  AppendRaw("-ERR ");
  AppendSanitized(message, /*trim=*/true);
  AppendRaw("\r\n");
}

void ReplyWriter::AppendError(absl::string_view code,
                              absl::string_view message) {
  owned_.push_back('-');
  ++size_;
  AppendSanitized(code, /*trim=*/true);
  if (!message.empty()) {
    owned_.push_back(' ');
    ++size_;
    AppendSanitized(message, /*trim=*/true);
  }
  AppendRaw("\r\n");
}

void ReplyWriter::AppendInteger(int64_t n) { AppendPrefixed(':', n); }

void ReplyWriter::AppendBulk(absl::string_view bytes) {
  AppendPrefixed('$', static_cast<int64_t>(bytes.size()));
  owned_.append(bytes.data(), bytes.size());
  owned_.append("\r\n", 2);
  size_ += bytes.size() + 2;
}

void ReplyWriter::AppendBorrowedBulk(absl::string_view bytes,
                                     std::shared_ptr<const void> owner) {
  AppendPrefixed('$', static_cast<int64_t>(bytes.size()));
  borrowed_.push_back(Borrowed{owned_.size(), bytes, std::move(owner)});
  size_ += bytes.size();
  AppendRaw("\r\n");
}

void ReplyWriter::AppendNullBulk() { AppendRaw("$-1\r\n"); }

void ReplyWriter::AppendArrayHeader(size_t n) {
  AppendPrefixed('*', static_cast<int64_t>(n));
}

void ReplyWriter::AppendNullArray() { AppendRaw("*-1\r\n"); }

void ReplyWriter::AppendRaw(absl::string_view encoded) {
  owned_.append(encoded.data(), encoded.size());
  size_ += encoded.size();
}

void ReplyWriter::Reserve(size_t bytes) {
  const size_t needed = owned_.size() + bytes;
  if (needed > owned_.capacity()) {
    owned_.reserve(std::max(needed, 2 * owned_.capacity()));
  }
}

void ReplyWriter::GetChunks(std::vector<absl::string_view>* chunks,
                            size_t max_chunks) const {
  chunks->clear();
  size_t pos = owned_consumed_;
  size_t skip = borrowed_consumed_;  // only ever applies to the first entry
  for (size_t i = next_borrowed_;; ++i) {
    const bool last = i == borrowed_.size();
    const size_t stop = last ? owned_.size() : borrowed_[i].at;
    if (stop > pos) {
      if (chunks->size() == max_chunks) return;
      chunks->emplace_back(owned_.data() + pos, stop - pos);
      pos = stop;
    }
    if (last) return;
    if (chunks->size() == max_chunks) return;
    chunks->push_back(borrowed_[i].bytes.substr(skip));
    skip = 0;
  }
}

void ReplyWriter::Consume(size_t n) {
  assert(n <= size_);
  size_ -= n;
  while (n > 0) {
    const size_t stop = next_borrowed_ < borrowed_.size()
                            ? borrowed_[next_borrowed_].at
                            : owned_.size();
    if (owned_consumed_ < stop) {
      const size_t k = std::min(n, stop - owned_consumed_);
      owned_consumed_ += k;
      n -= k;
      continue;
    }
    Borrowed& b = borrowed_[next_borrowed_];
    const size_t k = std::min(n, b.bytes.size() - borrowed_consumed_);
    borrowed_consumed_ += k;
    n -= k;
    if (borrowed_consumed_ == b.bytes.size()) {
      b.owner.reset();  // sent: let the value go
      ++next_borrowed_;
      borrowed_consumed_ = 0;
    }
  }
  if (size_ == 0) {
    Clear();
  } else if (owned_consumed_ >= kCompactAbove &&
             owned_consumed_ * 2 >= owned_.size()) {
    owned_.erase(0, owned_consumed_);
    borrowed_.erase(borrowed_.begin(), borrowed_.begin() + next_borrowed_);
    for (Borrowed& b : borrowed_) b.at -= owned_consumed_;
    next_borrowed_ = 0;
    owned_consumed_ = 0;
  }
}

void ReplyWriter::Clear() {
  owned_.clear();
  borrowed_.clear();
  size_ = 0;
  owned_consumed_ = 0;
  next_borrowed_ = 0;
  borrowed_consumed_ = 0;
}

std::string ReplyWriter::ToString() const {
  std::vector<absl::string_view> chunks;
  GetChunks(&chunks);
  std::string out;
  out.reserve(size_);
  for (absl::string_view chunk : chunks) out.append(chunk.data(), chunk.size());
  return out;
}

}  // namespace nearcache::resp
