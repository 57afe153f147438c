#include "http/json_dump.h"

#include <array>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "http/http_message.h"

namespace nearcache {
namespace {

using Json = nlohmann::ordered_json;

// Bytes a JSON string can hold as they are: everything but control
// characters, '"' and '\\' (nlohmann leaves DEL and non-ASCII as they are
// when ensure_ascii is off).
constexpr std::array<bool, 256> MakePlainTable() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c >= 0x20 && c != '"' && c != '\\';
  return t;
}
constexpr std::array<bool, 256> kPlain = MakePlainTable();

void AppendEscaped(absl::string_view s, std::string* out) {
  if (!IsValidUtf8(s)) {
    // Invalid UTF-8 becomes U+FFFD exactly as nlohmann replaces it; the API
    // checks or base64-encodes values first, so this is the rare path.
    out->append(Json(std::string(s))
                    .dump(-1, ' ', false, Json::error_handler_t::replace));
    return;
  }
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    size_t run = i;
    while (run < s.size() && kPlain[static_cast<unsigned char>(s[run])]) ++run;
    out->append(s.data() + i, run - i);
    if (run == s.size()) break;
    const unsigned char c = static_cast<unsigned char>(s[run]);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out->append(esc, sizeof(esc));
      }
    }
    i = run + 1;
  }
  out->push_back('"');
}

}  // namespace

void AppendJson(const Json& json, std::string* out) {
  switch (json.type()) {
    case Json::value_t::object: {
      out->push_back('{');
      bool first = true;
      for (auto it = json.begin(); it != json.end(); ++it) {
        if (!first) out->push_back(',');
        first = false;
        AppendEscaped(it.key(), out);
        out->push_back(':');
        AppendJson(it.value(), out);
      }
      out->push_back('}');
      return;
    }
    case Json::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const Json& v : json) {
        if (!first) out->push_back(',');
        first = false;
        AppendJson(v, out);
      }
      out->push_back(']');
      return;
    }
    case Json::value_t::string:
      AppendEscaped(json.get_ref<const std::string&>(), out);
      return;
    default:
      // Numbers, booleans, null: few and short; nlohmann's own formatting.
      out->append(json.dump(-1, ' ', false, Json::error_handler_t::replace));
      return;
  }
}

}  // namespace nearcache
