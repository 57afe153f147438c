#include "nearcache/value.h"

#include <new>

namespace nearcache {

Value* Value::Allocate(Kind kind, uint32_t num_fields, uint64_t size) {
  void* memory = ::operator new(sizeof(Value) + size);
  return new (memory) Value(kind, num_fields, size);
}

void Value::Destroy(const Value* value) {
  value->~Value();
  ::operator delete(const_cast<Value*>(value));
}

ValuePtr Value::NotFound() {
  // Never released: the static reference keeps the count above zero.
  static const ValuePtr* const not_found =
      new ValuePtr(ValuePtr::Adopt(Allocate(Kind::kNotFound, 0, 0)));
  return *not_found;
}

ValuePtr Value::String(absl::string_view bytes) {
  Value* v = Allocate(Kind::kString, 0, bytes.size());
  if (!bytes.empty())
    std::memcpy(v->mutable_payload(), bytes.data(), bytes.size());
  return ValuePtr::Adopt(v);
}

ValuePtr Value::Hash(const std::vector<Field>& fields) {
  uint64_t size = 0;
  for (const auto& [f, v] : fields)
    size += kPerFieldOverhead + f.size() + v.size();
  Value* value =
      Allocate(Kind::kHash, static_cast<uint32_t>(fields.size()), size);
  char* p = value->mutable_payload();
  for (const auto& [f, v] : fields) {
    const uint32_t lengths[2] = {static_cast<uint32_t>(f.size()),
                                 static_cast<uint32_t>(v.size())};
    std::memcpy(p, lengths, sizeof(lengths));
    p += sizeof(lengths);
    if (!f.empty()) std::memcpy(p, f.data(), f.size());
    p += f.size();
    if (!v.empty()) std::memcpy(p, v.data(), v.size());
    p += v.size();
  }
  return ValuePtr::Adopt(value);
}

std::vector<Value::Field> Value::CopyFields() const {
  std::vector<Field> out;
  out.reserve(fields().size());
  for (const auto& [f, v] : fields()) out.emplace_back(f, v);
  return out;
}

std::optional<absl::string_view> Value::FindField(
    absl::string_view field) const {
  if (!is_hash()) return std::nullopt;
  const char* p = payload();
  const char* const end = p + size_;
  while (p < end) {
    const uint32_t f = Load32(p), v = Load32(p + 4);
    p += 8;
    if (f == field.size() && (f == 0 || std::memcmp(p, field.data(), f) == 0)) {
      return absl::string_view(p + f, v);
    }
    p += size_t{f} + v;
  }
  return std::nullopt;
}

bool operator==(const Value& a, const Value& b) {
  if (a.kind() != b.kind() || a.ByteSize() != b.ByteSize()) return false;
  if (a.is_string()) return a.str() == b.str();
  if (a.is_hash()) {
    if (a.fields().size() != b.fields().size()) return false;
    auto i = a.fields().begin(), j = b.fields().begin();
    for (; i != a.fields().end(); ++i, ++j) {
      if (*i != *j) return false;
    }
  }
  return true;
}

std::shared_ptr<const void> ToSharedOwner(const ValuePtr& value) {
  return std::shared_ptr<const void>(
      value.get(), [keep = value](const void*) mutable { keep.reset(); });
}

}  // namespace nearcache
