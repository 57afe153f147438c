// The HTTP message types of nearcache's HTTP front-ends and the helpers the
// handlers share: JSON error responses, percent-decoding, UTF-8 checking.
// Socket-free: the handlers built on these are tested without a network.
#ifndef NEARCACHE_HTTP_HTTP_MESSAGE_H_
#define NEARCACHE_HTTP_HTTP_MESSAGE_H_

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace nearcache {

using HttpRequest =
    boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse =
    boost::beast::http::response<boost::beast::http::string_body>;
using HttpStatus = boost::beast::http::status;

// A response with `body` and its Content-Type; Content-Length is set.
HttpResponse MakeResponse(HttpStatus status, absl::string_view content_type,
                          std::string body);

// A response whose body is {"error": message}, Content-Type
// application/json. `message` may hold any bytes: what is not UTF-8 is
// replaced.
HttpResponse MakeJsonError(HttpStatus status, absl::string_view message);

// Decodes %XX escapes (either case). With `plus_as_space`, '+' becomes a
// space (the query-string convention). Returns nullopt for a '%' not
// followed by two hex digits.
std::optional<std::string> PercentDecode(absl::string_view text,
                                         bool plus_as_space);

// Whether `bytes` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF), i.e. a valid JSON string once escaped.
bool IsValidUtf8(absl::string_view bytes);

// The path of a request target ("/v1/keys/a?x=1" -> "/v1/keys/a") and its
// query ("x=1"; empty when there is none).
absl::string_view TargetPath(absl::string_view target);
absl::string_view TargetQuery(absl::string_view target);

}  // namespace nearcache

#endif  // NEARCACHE_HTTP_HTTP_MESSAGE_H_
