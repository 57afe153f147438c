#include "loadgen/reply_scanner.h"

#include <strings.h>

#include <cstring>

namespace nearcache::bench {

namespace {

constexpr int kMaxDepth = 32;

// Finds "\r\n" from `pos`; returns the index of '\r' or npos.
size_t FindCrlf(std::string_view buf, size_t pos) {
  while (pos < buf.size()) {
    const void* p = std::memchr(buf.data() + pos, '\r', buf.size() - pos);
    if (p == nullptr) return std::string_view::npos;
    const size_t at = static_cast<const char*>(p) - buf.data();
    if (at + 1 >= buf.size()) return std::string_view::npos;
    if (buf[at + 1] == '\n') return at;
    pos = at + 1;
  }
  return std::string_view::npos;
}

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  bool negative = false;
  size_t i = 0;
  if (s[0] == '-') {
    negative = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
    if (v > (int64_t{1} << 50)) return false;
  }
  *out = negative ? -v : v;
  return true;
}

// Scans the reply starting at `*pos`; advances `*pos` past it.
ScanStatus ScanAt(std::string_view buf, size_t* pos, int depth,
                  ScanResult* result) {
  if (depth > kMaxDepth) return ScanStatus::kBad;
  if (*pos >= buf.size()) return ScanStatus::kIncomplete;
  const char type = buf[*pos];
  const size_t eol = FindCrlf(buf, *pos + 1);
  if (eol == std::string_view::npos) return ScanStatus::kIncomplete;
  const std::string_view line = buf.substr(*pos + 1, eol - *pos - 1);
  const size_t after_line = eol + 2;
  switch (type) {
    case '+':
    case ':':
    case ',':
    case '#':
    case '(':
      *pos = after_line;
      return ScanStatus::kComplete;
    case '-':
      if (depth == 0) result->error = true;
      *pos = after_line;
      return ScanStatus::kComplete;
    case '_':
      ++result->nils;
      *pos = after_line;
      return ScanStatus::kComplete;
    case '$':
    case '!':
    case '=': {
      int64_t len = 0;
      if (!ParseInt(line, &len) || len < -1) return ScanStatus::kBad;
      if (len == -1) {
        ++result->nils;
        *pos = after_line;
        return ScanStatus::kComplete;
      }
      const size_t end = after_line + static_cast<size_t>(len) + 2;
      if (end > buf.size()) return ScanStatus::kIncomplete;
      if (type == '!' && depth == 0) result->error = true;
      if (type == '$' && depth == 0) {
        result->has_bulk = true;
        result->bulk_begin = after_line;
        result->bulk_len = static_cast<size_t>(len);
      }
      *pos = end;
      return ScanStatus::kComplete;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      int64_t n = 0;
      if (!ParseInt(line, &n) || n < -1) return ScanStatus::kBad;
      *pos = after_line;
      if (n == -1) {
        ++result->nils;
        return ScanStatus::kComplete;
      }
      if (type == '%' || type == '|') n *= 2;
      for (int64_t i = 0; i < n; ++i) {
        const ScanStatus s = ScanAt(buf, pos, depth + 1, result);
        if (s != ScanStatus::kComplete) return s;
      }
      return ScanStatus::kComplete;
    }
    default:
      return ScanStatus::kBad;
  }
}

}  // namespace

ScanStatus ScanRespReply(std::string_view buf, ScanResult* result) {
  *result = ScanResult();
  size_t pos = 0;
  const ScanStatus s = ScanAt(buf, &pos, 0, result);
  if (s == ScanStatus::kComplete) result->consumed = pos;
  return s;
}

ScanStatus ScanHttpResponse(std::string_view buf, ScanResult* result) {
  *result = ScanResult();
  const size_t header_end = buf.find("\r\n\r\n");
  if (header_end == std::string_view::npos) {
    return buf.size() > (64 << 10) ? ScanStatus::kBad : ScanStatus::kIncomplete;
  }
  // "HTTP/1.1 200 OK"
  if (buf.size() < 12 || buf.substr(0, 5) != "HTTP/") return ScanStatus::kBad;
  int64_t status = 0;
  if (!ParseInt(buf.substr(9, 3), &status)) return ScanStatus::kBad;
  result->http_status = static_cast<int>(status);
  int64_t content_length = -1;
  size_t pos = FindCrlf(buf, 0) + 2;
  while (pos < header_end) {
    const size_t eol = FindCrlf(buf, pos);
    const std::string_view header = buf.substr(pos, eol - pos);
    const size_t colon = header.find(':');
    if (colon != std::string_view::npos) {
      const std::string_view name = header.substr(0, colon);
      std::string_view value = header.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (name.size() == 14 &&
          strncasecmp(name.data(), "content-length", 14) == 0) {
        if (!ParseInt(value, &content_length)) return ScanStatus::kBad;
      } else if (name.size() == 17 &&
                 strncasecmp(name.data(), "transfer-encoding", 17) == 0) {
        return ScanStatus::kBad;  // chunked: not supported
      } else if (name.size() == 14 &&
                 strncasecmp(name.data(), "x-cache-status", 14) == 0) {
        result->stale = value == "STALE";
      }
    }
    pos = eol + 2;
  }
  if (content_length < 0) content_length = 0;
  const size_t end = header_end + 4 + static_cast<size_t>(content_length);
  if (end > buf.size()) return ScanStatus::kIncomplete;
  result->consumed = end;
  result->error = status >= 500;
  if (status == 404) result->nils = 1;
  if (status == 200) {
    result->has_bulk = true;
    result->bulk_begin = header_end + 4;
    result->bulk_len = static_cast<size_t>(content_length);
  }
  return ScanStatus::kComplete;
}

}  // namespace nearcache::bench
