#include "nearcache/value.h"

namespace nearcache {
namespace {

size_t PayloadBytes(Value::Kind kind, const std::string& str,
                    const std::vector<Value::Field>& fields) {
  switch (kind) {
    case Value::Kind::kNotFound:
      return 0;
    case Value::Kind::kString:
      return str.size();
    case Value::Kind::kHash: {
      size_t n = 0;
      for (const auto& [f, v] : fields) {
        n += f.size() + v.size() + Value::kPerFieldOverhead;
      }
      return n;
    }
  }
  return 0;
}

}  // namespace

Value::Value(Kind kind, std::string str, std::vector<Field> fields)
    : kind_(kind),
      byte_size_(PayloadBytes(kind, str, fields)),
      str_(std::move(str)),
      fields_(std::move(fields)) {}

ValuePtr Value::NotFound() {
  static const ValuePtr* const not_found = new ValuePtr(
      std::make_shared<const Value>(Kind::kNotFound, "", std::vector<Field>{}));
  return *not_found;
}

ValuePtr Value::String(std::string bytes) {
  return std::make_shared<const Value>(Kind::kString, std::move(bytes),
                                       std::vector<Field>{});
}

ValuePtr Value::Hash(std::vector<Field> fields) {
  return std::make_shared<const Value>(Kind::kHash, std::string(),
                                       std::move(fields));
}

const std::string* Value::FindField(absl::string_view field) const {
  for (const auto& [f, v] : fields_) {
    if (f == field) return &v;
  }
  return nullptr;
}

bool operator==(const Value& a, const Value& b) {
  return a.kind() == b.kind() && a.str() == b.str() && a.fields() == b.fields();
}

}  // namespace nearcache
