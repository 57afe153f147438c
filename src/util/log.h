// Log: structured log lines on stderr, JSON lines or text by `log.format`.
//
//   LOG_INFO("redis up", {{"address", endpoint}});
//
// One line per event, never per request at info level. Callers never pass
// secrets: the config layer redacts the password before anything is logged.
#ifndef NEARCACHE_UTIL_LOG_H_
#define NEARCACHE_UTIL_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace nearcache {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Thread-safe: SetLogOptions may be called while others log; each line is
// written with one write(2).
void SetLogOptions(LogLevel min_level, bool json);
bool LogEnabled(LogLevel level);

using LogField = std::pair<absl::string_view, std::string>;
void Log(LogLevel level, absl::string_view message,
         std::initializer_list<LogField> fields = {});

}  // namespace nearcache

#define NEARCACHE_LOG(level, ...)           \
  do {                                      \
    if (::nearcache::LogEnabled(level)) {   \
      ::nearcache::Log(level, __VA_ARGS__); \
    }                                       \
  } while (0)
#define LOG_DEBUG(...) NEARCACHE_LOG(::nearcache::LogLevel::kDebug, __VA_ARGS__)
#define LOG_INFO(...) NEARCACHE_LOG(::nearcache::LogLevel::kInfo, __VA_ARGS__)
#define LOG_WARN(...) NEARCACHE_LOG(::nearcache::LogLevel::kWarn, __VA_ARGS__)
#define LOG_ERROR(...) NEARCACHE_LOG(::nearcache::LogLevel::kError, __VA_ARGS__)

#endif  // NEARCACHE_UTIL_LOG_H_
