// DumpJson: nlohmann::ordered_json to compact text, byte for byte what
// json.dump(-1, ' ', false, error_handler_t::replace) writes, but with a
// string escaper that copies runs of plain bytes at once. nlohmann's
// serializer decodes and re-checks every byte; on a /v1/lookup of 50 values
// of 1 KiB it was a third of all the instructions.
#ifndef NEARCACHE_HTTP_JSON_DUMP_H_
#define NEARCACHE_HTTP_JSON_DUMP_H_

#include <nlohmann/json.hpp>
#include <string>

namespace nearcache {

// Appends the compact JSON text of `json` to `*out`.
void AppendJson(const nlohmann::ordered_json& json, std::string* out);

inline std::string DumpJson(const nlohmann::ordered_json& json) {
  std::string out;
  AppendJson(json, &out);
  return out;
}

}  // namespace nearcache

#endif  // NEARCACHE_HTTP_JSON_DUMP_H_
