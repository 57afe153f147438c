// Value: what the cache holds for one Redis key, as read from Redis.
//
// A value is a string, a hash (field -> value, in the order Redis returned
// them) or "does not exist". Keys, fields and values are binary-safe
// (they may contain NUL bytes: Feast's entity keys do).
//
// Values are immutable and shared as ValuePtr, an intrusive reference-counted
// pointer with shared_ptr's interface (copy, move, ->, *, bool, get(), reset,
// == nullptr): a cache hit hands out a reference, never a copy, so a
// front-end can write the reply straight from the cached bytes after the
// cache lock is released.
//
// Layout: one allocation per value, a 16-byte header (reference count, kind,
// payload size) followed by the payload. A string's payload is its bytes. A
// hash's payload is, per field in order, the field's and the value's lengths
// (two little-endian uint32) and then their bytes; fields() iterates it and
// FindField() scans it, both yielding absl::string_view into the value.
#ifndef NEARCACHE_VALUE_H_
#define NEARCACHE_VALUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace nearcache {

class Value;

// A counted reference to an immutable Value. Thread-safe like shared_ptr:
// distinct ValuePtr objects referring to one Value may be copied and
// destroyed concurrently.
class ValuePtr {
 public:
  constexpr ValuePtr() noexcept = default;
  constexpr ValuePtr(std::nullptr_t) noexcept {}  // NOLINT: like shared_ptr
  inline ValuePtr(const ValuePtr& other) noexcept;
  ValuePtr(ValuePtr&& other) noexcept : p_(other.p_) { other.p_ = nullptr; }
  ValuePtr& operator=(const ValuePtr& other) noexcept {
    ValuePtr(other).swap(*this);
    return *this;
  }
  ValuePtr& operator=(ValuePtr&& other) noexcept {
    ValuePtr(std::move(other)).swap(*this);
    return *this;
  }
  ValuePtr& operator=(std::nullptr_t) noexcept {
    reset();
    return *this;
  }
  inline ~ValuePtr();

  const Value* get() const noexcept { return p_; }
  const Value& operator*() const noexcept { return *p_; }
  const Value* operator->() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  void reset() noexcept { ValuePtr().swap(*this); }
  void swap(ValuePtr& other) noexcept { std::swap(p_, other.p_); }
  // References to the value, this one included (0 when null). A snapshot:
  // for tests and assertions only.
  inline long use_count() const noexcept;  // NOLINT: as shared_ptr's

  // Takes over a reference the caller already holds (Value internals and the
  // cache core); Release() gives it back without dropping it.
  static ValuePtr Adopt(const Value* value) noexcept {
    ValuePtr p;
    p.p_ = value;
    return p;
  }
  // A new reference to `value` (null stays null).
  static inline ValuePtr Share(const Value* value) noexcept;
  const Value* Release() noexcept {
    const Value* v = p_;
    p_ = nullptr;
    return v;
  }

  friend bool operator==(const ValuePtr& a, const ValuePtr& b) noexcept {
    return a.p_ == b.p_;
  }
  friend bool operator==(const ValuePtr& a, std::nullptr_t) noexcept {
    return a.p_ == nullptr;
  }

 private:
  const Value* p_ = nullptr;
};

// A std::shared_ptr that keeps `value` alive, for APIs that hold owners as
// shared_ptr<const void> (ReplyWriter's borrowed payloads). Allocates a
// control block: use it for large payloads only.
std::shared_ptr<const void> ToSharedOwner(const ValuePtr& value);

// Thread-safe: immutable after construction (only the count changes).
class Value {
 public:
  enum class Kind : uint8_t { kNotFound, kString, kHash };
  // A field as callers build hashes: (field, value).
  using Field = std::pair<std::string, std::string>;
  // A field as stored: views into the value, valid while it is referenced.
  using FieldView = std::pair<absl::string_view, absl::string_view>;

  // Bytes charged per hash field beyond the field's and value's own bytes:
  // their two uint32 lengths in the payload.
  static constexpr size_t kPerFieldOverhead = 2 * sizeof(uint32_t);
  // Bytes of the header before the payload (part of the cache's per-entry
  // overhead, not of ByteSize()).
  static constexpr size_t kHeaderBytes = 16;

  static ValuePtr NotFound();
  static ValuePtr String(absl::string_view bytes);
  // REQUIRES: every field and value is shorter than 4 GiB.
  static ValuePtr Hash(const std::vector<Field>& fields);

  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

  Kind kind() const { return static_cast<Kind>(kind_); }
  bool exists() const { return kind() != Kind::kNotFound; }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_hash() const { return kind() == Kind::kHash; }

  // The string's bytes, valid while the value is referenced (empty for
  // kNotFound and kHash). REQUIRES: is_string().
  absl::string_view str() const {
    return is_string() ? absl::string_view(payload(), size_)
                       : absl::string_view();
  }

  // The hash's fields in Redis's order, as FieldView pairs:
  //   for (const auto& [field, value] : v.fields()) ...
  // REQUIRES: is_hash() (empty otherwise).
  class FieldIterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = FieldView;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = FieldView;

    FieldIterator() = default;
    FieldView operator*() const {
      const uint32_t f = Load32(p_), v = Load32(p_ + 4);
      return {absl::string_view(p_ + 8, f), absl::string_view(p_ + 8 + f, v)};
    }
    FieldIterator& operator++() {
      p_ += 8 + size_t{Load32(p_)} + Load32(p_ + 4);
      return *this;
    }
    FieldIterator operator++(int) {
      FieldIterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(FieldIterator a, FieldIterator b) {
      return a.p_ == b.p_;
    }

   private:
    friend class Value;
    explicit FieldIterator(const char* p) : p_(p) {}
    const char* p_ = nullptr;
  };
  class FieldRange {
   public:
    FieldIterator begin() const { return FieldIterator(begin_); }
    FieldIterator end() const { return FieldIterator(end_); }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

   private:
    friend class Value;
    FieldRange(const char* b, const char* e, size_t n)
        : begin_(b), end_(e), size_(n) {}
    const char* begin_;
    const char* end_;
    size_t size_;
  };
  FieldRange fields() const {
    const size_t n = is_hash() ? size_ : 0;
    return FieldRange(payload(), payload() + n, is_hash() ? num_fields_ : 0);
  }
  // The fields as owned strings (tests, cold paths).
  std::vector<Field> CopyFields() const;

  // The value of `field`, or nullopt when the hash has no such field (or the
  // value is not a hash). The view is valid while the value is referenced.
  std::optional<absl::string_view> FindField(absl::string_view field) const;

  // Payload bytes charged to the cache: the string's length, or for a hash
  // the sum of field and value lengths plus kPerFieldOverhead per field.
  size_t ByteSize() const { return size_; }

 private:
  friend class ValuePtr;

  Value(Kind kind, uint32_t num_fields, uint64_t size)
      : num_fields_(num_fields),
        size_(size),
        kind_(static_cast<uint8_t>(kind)) {}
  ~Value() = default;

  static uint32_t Load32(const char* p) {
    uint32_t n;
    std::memcpy(&n, p, sizeof(n));
    return n;
  }
  // Allocates a value with `size` payload bytes and a count of 1.
  static Value* Allocate(Kind kind, uint32_t num_fields, uint64_t size);
  static void Destroy(const Value* value);

  const char* payload() const {
    return reinterpret_cast<const char*>(this + 1);
  }
  char* mutable_payload() { return reinterpret_cast<char*>(this + 1); }

  void Ref() const { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() const {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) Destroy(this);
  }

  mutable std::atomic<uint32_t> refs_{1};
  uint32_t num_fields_;
  uint64_t size_ : 56;
  uint64_t kind_ : 8;
};
static_assert(sizeof(Value) == Value::kHeaderBytes);

bool operator==(const Value& a, const Value& b);
inline bool operator!=(const Value& a, const Value& b) { return !(a == b); }

inline ValuePtr::ValuePtr(const ValuePtr& other) noexcept : p_(other.p_) {
  if (p_ != nullptr) p_->Ref();
}
inline ValuePtr ValuePtr::Share(const Value* value) noexcept {
  if (value != nullptr) value->Ref();
  return Adopt(value);
}
inline ValuePtr::~ValuePtr() {
  if (p_ != nullptr) p_->Unref();
}
inline long ValuePtr::use_count() const noexcept {  // NOLINT
  return p_ == nullptr ? 0 : p_->refs_.load(std::memory_order_relaxed);
}

}  // namespace nearcache

#endif  // NEARCACHE_VALUE_H_
