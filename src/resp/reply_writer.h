// ReplyWriter: encodes RESP2 replies exactly as redis-server formats them
// (networking.c: addReplyStatus, addReplyError, addReplyLongLong,
// addReplyBulk, ...) into an output buffer that a connection drains with
// write()/writev() or asio. No I/O here.
//
// The output is a sequence of chunks: bytes the writer owns (headers, small
// values) and, for large values, borrowed bytes that stay where they are
// (a cached value) and are kept alive by a shared_ptr until they have been
// consumed. A large cache hit is therefore written to the socket without
// ever being copied into the buffer.
//
// Usage:
//   ReplyWriter out;
//   out.AppendArrayHeader(2);
//   out.AppendBulk("small");
//   out.AppendBulkShared(value->str(), value);  // ValuePtr keeps it alive
//   std::vector<absl::string_view> chunks;
//   out.GetChunks(&chunks);
//   size_t written = ...;  // writev() / async_write() the chunks
//   out.Consume(written);
//
// To keep appending replies while a write is in flight, give the write its
// own writer: `std::swap(pending, in_flight)`, write in_flight, then
// in_flight.Clear() (its capacity is kept for the next round).
#ifndef NEARCACHE_SRC_RESP_REPLY_WRITER_H_
#define NEARCACHE_SRC_RESP_REPLY_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace nearcache::resp {

// The owner of a borrowed payload, as ReplyWriter holds it.
template <typename T>
std::shared_ptr<const void> ToSharedOwner(const std::shared_ptr<T>& owner) {
  return owner;
}

// Thread-compatible: one writer per connection, used by one thread at a time.
class ReplyWriter {
 public:
  // AppendBulkShared() references payloads at least this large instead of
  // copying them: below it, a copy costs less than another iovec entry.
  static constexpr size_t kMinBorrowBytes = 8 * 1024;

  ReplyWriter() = default;
  ReplyWriter(ReplyWriter&&) = default;
  ReplyWriter& operator=(ReplyWriter&&) = default;
  ReplyWriter(const ReplyWriter&) = delete;
  ReplyWriter& operator=(const ReplyWriter&) = delete;

  // "+<text>\r\n". CR and LF in `text` become spaces (Redis trusts its
  // callers here; this keeps the stream parseable whatever the caller does).
  void AppendSimpleString(absl::string_view text);

  // "-ERR <message>\r\n", e.g. AppendError("unknown command 'x'"). As in
  // Redis's addReplyErrorFormat, CR and LF at either end of `message` are
  // dropped and the others become spaces.
  void AppendError(absl::string_view message);

  // "-<code> <message>\r\n", e.g. AppendError("WRONGTYPE", "Operation
  // against a key holding the wrong kind of value"), or "-<code>\r\n" when
  // `message` is empty. Sanitized as above.
  void AppendError(absl::string_view code, absl::string_view message);

  // ":<n>\r\n".
  void AppendInteger(int64_t n);

  // "$<len>\r\n<bytes>\r\n", binary-safe; copies `bytes`.
  void AppendBulk(absl::string_view bytes);

  // Same output as AppendBulk(bytes). When bytes.size() >= kMinBorrowBytes,
  // the payload is referenced, not copied, and `owner` (which must keep
  // `bytes` valid and unchanged) is held until it has been consumed.
  // `owner` is a std::shared_ptr, or any type for which ToSharedOwner(owner)
  // (found by argument-dependent lookup; nearcache::ValuePtr has one) makes a
  // std::shared_ptr<const void> keeping `bytes` alive; it is only called for
  // borrowed payloads.
  template <typename Owner>
  void AppendBulkShared(absl::string_view bytes, const Owner& owner) {
    if (bytes.size() < kMinBorrowBytes) {
      AppendBulk(bytes);
    } else {
      AppendBorrowedBulk(bytes, ToSharedOwner(owner));
    }
  }

  // "$-1\r\n": RESP2's null bulk (GET of a missing key).
  void AppendNullBulk();

  // "*<n>\r\n", to be followed by n replies.
  void AppendArrayHeader(size_t n);

  // "*-1\r\n": RESP2's null array.
  void AppendNullArray();

  // `encoded` as is: a reply already in RESP form.
  void AppendRaw(absl::string_view encoded);

  // Makes room for `bytes` more owned bytes (headers and copied payloads),
  // growing geometrically.
  void Reserve(size_t bytes);

  // Bytes appended and not yet consumed.
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Sets *chunks to views of the unconsumed output, in order, at most
  // `max_chunks` of them (writev() takes at most IOV_MAX). The views are
  // valid until the next non-const call.
  void GetChunks(std::vector<absl::string_view>* chunks,
                 size_t max_chunks = std::numeric_limits<size_t>::max()) const;

  // Drops the first `n` bytes of output (those a write sent), releasing
  // borrowed payloads that are then fully sent. REQUIRES: n <= size().
  void Consume(size_t n);

  // Drops all output; keeps the buffer's capacity.
  void Clear();

  // The unconsumed output as one string (tests, small replies).
  std::string ToString() const;

 private:
  struct Borrowed {
    size_t at;  // offset in owned_ that these bytes come before
    absl::string_view bytes;
    std::shared_ptr<const void> owner;
  };

  void AppendBorrowedBulk(absl::string_view bytes,
                          std::shared_ptr<const void> owner);
  // "<prefix><n>\r\n", the header of integers, bulks and arrays.
  void AppendPrefixed(char prefix, int64_t n);
  void AppendSanitized(absl::string_view text, bool trim);

  std::string owned_;
  std::vector<Borrowed> borrowed_;
  size_t size_ = 0;               // unconsumed bytes, owned and borrowed
  size_t owned_consumed_ = 0;     // prefix of owned_ already consumed
  size_t next_borrowed_ = 0;      // first borrowed_ entry not fully consumed
  size_t borrowed_consumed_ = 0;  // consumed bytes of that entry
};

}  // namespace nearcache::resp

#endif  // NEARCACHE_SRC_RESP_REPLY_WRITER_H_
