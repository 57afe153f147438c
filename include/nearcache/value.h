// Value: what the cache holds for one Redis key, as read from Redis.
//
// A value is a string, a hash (field -> value, in the order Redis returned
// them) or "does not exist". Keys, fields and values are binary-safe
// (they may contain NUL bytes: Feast's entity keys do).
//
// Values are immutable and shared as ValuePtr (std::shared_ptr<const Value>):
// a cache hit hands out a reference, never a copy, so a front-end can write
// the reply straight from the cached bytes after the cache lock is released.
#ifndef NEARCACHE_VALUE_H_
#define NEARCACHE_VALUE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace nearcache {

class Value;
using ValuePtr = std::shared_ptr<const Value>;

// Thread-safe: immutable after construction.
class Value {
 public:
  enum class Kind : uint8_t { kNotFound, kString, kHash };
  using Field = std::pair<std::string, std::string>;

  // Bytes charged per hash field beyond the field's and value's own bytes
  // (two std::string headers in the field vector).
  static constexpr size_t kPerFieldOverhead = 2 * sizeof(std::string);

  static ValuePtr NotFound();
  static ValuePtr String(std::string bytes);
  static ValuePtr Hash(std::vector<Field> fields);

  Kind kind() const { return kind_; }
  bool exists() const { return kind_ != Kind::kNotFound; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_hash() const { return kind_ == Kind::kHash; }

  // REQUIRES: is_string().
  const std::string& str() const { return str_; }
  // REQUIRES: is_hash().
  const std::vector<Field>& fields() const { return fields_; }

  // The value of `field`, or nullptr when the hash has no such field.
  // REQUIRES: is_hash().
  const std::string* FindField(absl::string_view field) const;

  // Payload bytes charged to the cache: the string's length, or for a hash
  // the sum of field and value lengths plus kPerFieldOverhead per field.
  size_t ByteSize() const { return byte_size_; }

  // Use the factories above; public only for std::make_shared.
  Value(Kind kind, std::string str, std::vector<Field> fields);

 private:
  Kind kind_;
  size_t byte_size_;
  std::string str_;
  std::vector<Field> fields_;
};

bool operator==(const Value& a, const Value& b);

}  // namespace nearcache

#endif  // NEARCACHE_VALUE_H_
