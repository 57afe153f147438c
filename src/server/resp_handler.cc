#include "server/resp_handler.h"

#include <unistd.h>

#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nearcache/clock.h"

namespace nearcache {
namespace {

using resp::CommandId;
using resp::ReplyWriter;

constexpr absl::string_view kWrongType =
    "Operation against a key holding the wrong kind of value";
// What INFO and HELLO report as the Redis version: the protocol and command
// set nearcache speaks, for clients that check it.
constexpr absl::string_view kRedisVersion = "7.0.0";

// Writes an error Redis sent ("WRONGTYPE Operation ...") with its own code.
void AppendRedisError(absl::string_view text, ReplyWriter* out) {
  const size_t space = text.find(' ');
  if (space == absl::string_view::npos) {
    out->AppendError(text, "");
  } else {
    out->AppendError(text.substr(0, space), text.substr(space + 1));
  }
}

void AppendBulkValue(absl::string_view bytes, const ValuePtr& owner,
                     ReplyWriter* out) {
  out->AppendBulkShared(bytes, owner);
}

// A row of COMMAND's reply (Redis 7 layout: name, arity, flags, first key,
// last key, step, ACL categories, tips, key specs, subcommands).
struct CommandRow {
  absl::string_view name;
  int arity;
  absl::string_view flags;  // space-separated
  int first, last, step;
};
constexpr CommandRow kCommandRows[] = {
    {"get", 2, "readonly fast", 1, 1, 1},
    {"mget", -2, "readonly fast", 1, -1, 1},
    {"exists", -2, "readonly fast", 1, -1, 1},
    {"hget", 3, "readonly fast", 1, 1, 1},
    {"hmget", -3, "readonly fast", 1, 1, 1},
    {"hgetall", 2, "readonly", 1, 1, 1},
    {"ping", -1, "fast", 0, 0, 0},
    {"echo", 2, "fast", 0, 0, 0},
    {"select", 2, "loading stale fast", 0, 0, 0},
    {"hello", -1, "noscript loading stale fast no_auth", 0, 0, 0},
    {"info", -1, "loading stale", 0, 0, 0},
    {"quit", -1, "noscript loading stale fast no_auth", 0, 0, 0},
    {"client", -2, "", 0, 0, 0},
    {"command", -1, "loading stale", 0, 0, 0},
};

void AppendCommandRow(const CommandRow& row, ReplyWriter* out) {
  out->AppendArrayHeader(10);
  out->AppendBulk(row.name);
  out->AppendInteger(row.arity);
  std::vector<absl::string_view> flags;
  for (absl::string_view f :
       absl::StrSplit(row.flags, ' ', absl::SkipEmpty())) {
    flags.push_back(f);
  }
  out->AppendArrayHeader(flags.size());
  for (absl::string_view f : flags) out->AppendSimpleString(f);
  out->AppendInteger(row.first);
  out->AppendInteger(row.last);
  out->AppendInteger(row.step);
  for (int i = 0; i < 4; ++i) out->AppendArrayHeader(0);
}

const CommandRow* FindCommandRow(absl::string_view name) {
  for (const CommandRow& row : kCommandRows) {
    if (absl::EqualsIgnoreCase(row.name, name)) return &row;
  }
  return nullptr;
}

// Redis refuses client names with spaces, newlines or special characters.
bool ValidClientName(absl::string_view name) {
  for (char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

// nearcache_requests_total{frontend="resp",command=...}: served commands by
// name, the rest folded so that no client can mint label values.
constexpr absl::string_view kCommandLabels[] = {
    "get",    "mget",    "exists", "hget",        "hmget",  "hgetall",
    "ping",   "echo",    "select", "hello",       "info",   "quit",
    "client", "command", "write",  "unsupported", "unknown"};

size_t CommandLabelIndex(const resp::CommandLookup& lookup) {
  if (lookup.command == nullptr) return 16;  // unknown
  switch (lookup.command->id) {
    case CommandId::kGet:
      return 0;
    case CommandId::kMget:
      return 1;
    case CommandId::kExists:
      return 2;
    case CommandId::kHget:
      return 3;
    case CommandId::kHmget:
      return 4;
    case CommandId::kHgetall:
      return 5;
    case CommandId::kPing:
      return 6;
    case CommandId::kEcho:
      return 7;
    case CommandId::kSelect:
      return 8;
    case CommandId::kHello:
      return 9;
    case CommandId::kInfo:
      return 10;
    case CommandId::kQuit:
      return 11;
    case CommandId::kClient:
    case CommandId::kClientSetname:
    case CommandId::kClientGetname:
    case CommandId::kClientId:
    case CommandId::kClientSetinfo:
    case CommandId::kClientInfo:
      return 12;
    case CommandId::kCommand:
    case CommandId::kCommandCount:
    case CommandId::kCommandDocs:
    case CommandId::kCommandInfo:
      return 13;
    case CommandId::kWrite:
      return 14;
    case CommandId::kUnsupported:
    case CommandId::kSecurityWarning:
      return 15;
  }
  return 16;
}

}  // namespace

std::vector<std::string> RespHandler::CommandLabels() {
  return std::vector<std::string>(std::begin(kCommandLabels),
                                  std::end(kCommandLabels));
}

RespHandler::RespHandler(FrontendContext* context)
    : context_(context), client_id_(context->next_client_id.fetch_add(1)) {}

absl::Span<const absl::string_view> RespHandler::ArgsOf(
    const Command& c) const {
  return absl::MakeConstSpan(args_).subspan(c.arg_begin,
                                            c.arg_end - c.arg_begin);
}

bool RespHandler::Add(absl::Span<const absl::string_view> args) {
  Command c;
  c.lookup = resp::LookupCommand(args);
  if (context_->metrics != nullptr) {
    context_->metrics->requests.Inc(CommandLabelIndex(c.lookup));
  }
  const resp::CommandInfo* info = c.lookup.command;
  if (info != nullptr && info->id == CommandId::kSecurityWarning) {
    close_ = true;
    return false;
  }
  c.arg_begin = args_.size();
  args_.insert(args_.end(), args.begin(), args.end());
  c.arg_end = args_.size();
  c.slot_begin = keys_.size();
  c.arity_ok = info != nullptr && resp::ArityAllows(*info, args.size());
  if (c.arity_ok) {
    switch (info->id) {
      case CommandId::kGet:
        keys_.Add(args[1], FetchKind::kString);
        break;
      case CommandId::kMget:
      case CommandId::kExists:
        for (size_t i = 1; i < args.size(); ++i) {
          keys_.Add(args[i], FetchKind::kString);
        }
        break;
      case CommandId::kHget:
      case CommandId::kHmget:
      case CommandId::kHgetall:
        keys_.Add(args[1], FetchKind::kHash);
        break;
      default:
        break;
    }
  }
  c.slot_end = keys_.size();
  commands_.push_back(c);
  return !(info != nullptr && info->id == CommandId::kQuit);
}

RespHandler::ParseOutcome RespHandler::AddParsed(resp::RequestParser& parser) {
  ParseOutcome outcome;
  for (;;) {
    const resp::RequestParser::Result r = parser.Next();
    if (r == resp::RequestParser::Result::kNeedMore) break;
    if (r == resp::RequestParser::Result::kError) {
      outcome.protocol_error = outcome.stop = true;
      break;
    }
    if (!Add(parser.args())) {
      outcome.stop = true;
      break;
    }
  }
  return outcome;
}

boost::asio::awaitable<void> RespHandler::Run(ReplyWriter* out) {
  if (!RunCached(out)) co_await RunFetched(out);
}

bool RespHandler::RunCached(ReplyWriter* out) {
  if (!keys_.empty() &&
      !keys_.ResolveCached(context_->cache, context_->counters)) {
    return false;
  }
  RenderAll(out);
  return true;
}

boost::asio::awaitable<void> RespHandler::RunFetched(ReplyWriter* out) {
  co_await keys_.ResolveFetched(context_->cache, context_->fetcher,
                                context_->counters);
  RenderAll(out);
}

void RespHandler::RenderAll(ReplyWriter* out) {
  for (const Command& c : commands_) Render(c, out);
  args_.clear();
  commands_.clear();
  keys_.Clear();
}

void RespHandler::Render(const Command& c, ReplyWriter* out) {
  const absl::Span<const absl::string_view> args = ArgsOf(c);
  const resp::CommandInfo* info = c.lookup.command;
  if (info == nullptr) {
    if (c.lookup.container != nullptr) {
      out->AppendError(resp::UnknownSubcommandMessage(args[0], args[1]));
    } else {
      out->AppendError(absl::StrCat("nearcache is a read-only cache: ",
                                    resp::UnknownCommandMessage(args)));
    }
    return;
  }
  if (!c.arity_ok) {
    out->AppendError(resp::WrongArityMessage(*info));
    return;
  }
  const absl::Span<const KeyResult> slots =
      keys_.results().subspan(c.slot_begin, c.slot_end - c.slot_begin);
  // The first key that could not be served fails the whole command.
  for (const KeyResult& s : slots) {
    if (s.transport_error()) {
      AppendRedisError(s.error, out);
      return;
    }
  }
  switch (info->id) {
    case CommandId::kPing:
      if (args.size() > 2) {
        // PING's arity is -1, but it takes at most one message (Redis
        // checks that in pingCommand).
        out->AppendError(resp::WrongArityMessage(*info));
      } else if (args.size() == 1) {
        out->AppendSimpleString("PONG");
      } else {
        out->AppendBulk(args[1]);
      }
      return;
    case CommandId::kEcho:
      out->AppendBulk(args[1]);
      return;
    case CommandId::kGet: {
      const KeyResult& s = slots[0];
      if (!s.error.empty()) {
        AppendRedisError(s.error, out);
      } else if (s.value->is_string()) {
        AppendBulkValue(s.value->str(), s.value, out);
      } else if (s.value->is_hash()) {
        out->AppendError("WRONGTYPE", kWrongType);
      } else {
        out->AppendNullBulk();
      }
      return;
    }
    case CommandId::kMget:
      out->AppendArrayHeader(slots.size());
      for (const KeyResult& s : slots) {
        if (s.error.empty() && s.value->is_string()) {
          AppendBulkValue(s.value->str(), s.value, out);
        } else {
          out->AppendNullBulk();  // missing or not a string, as Redis does
        }
      }
      return;
    case CommandId::kExists: {
      int64_t n = 0;
      for (const KeyResult& s : slots) {
        // WRONGTYPE for GET means the key holds another type: it exists.
        if (s.error.empty() ? s.value->exists()
                            : absl::StartsWith(s.error, "WRONGTYPE")) {
          ++n;
        }
      }
      out->AppendInteger(n);
      return;
    }
    case CommandId::kHget:
    case CommandId::kHmget:
    case CommandId::kHgetall: {
      const KeyResult& s = slots[0];
      if (!s.error.empty()) {
        AppendRedisError(s.error, out);
        return;
      }
      if (s.value->is_string()) {
        out->AppendError("WRONGTYPE", kWrongType);
        return;
      }
      const Value& v = *s.value;
      if (info->id == CommandId::kHget) {
        const std::optional<absl::string_view> field = v.FindField(args[2]);
        if (!field.has_value()) {
          out->AppendNullBulk();
        } else {
          AppendBulkValue(*field, s.value, out);
        }
      } else if (info->id == CommandId::kHmget) {
        out->AppendArrayHeader(args.size() - 2);
        for (size_t i = 2; i < args.size(); ++i) {
          const std::optional<absl::string_view> field = v.FindField(args[i]);
          if (!field.has_value()) {
            out->AppendNullBulk();
          } else {
            AppendBulkValue(*field, s.value, out);
          }
        }
      } else if (!v.is_hash()) {
        out->AppendArrayHeader(0);
      } else {
        out->AppendArrayHeader(v.fields().size() * 2);
        for (const auto& [field, value] : v.fields()) {
          AppendBulkValue(field, s.value, out);
          AppendBulkValue(value, s.value, out);
        }
      }
      return;
    }
    case CommandId::kSelect: {
      int64_t db;
      if (!absl::SimpleAtoi(args[1], &db)) {
        out->AppendError("value is not an integer or out of range");
      } else if (db != context_->db) {
        out->AppendError(
            absl::StrCat("nearcache serves Redis db ", context_->db, " only"));
      } else {
        out->AppendSimpleString("OK");
      }
      return;
    }
    case CommandId::kQuit:
      out->AppendSimpleString("OK");
      close_ = true;
      return;
    case CommandId::kHello:
      RenderHello(args, out);
      return;
    case CommandId::kInfo:
      RenderInfo(args, out);
      return;
    case CommandId::kClient:
    case CommandId::kClientSetname:
    case CommandId::kClientGetname:
    case CommandId::kClientId:
    case CommandId::kClientSetinfo:
    case CommandId::kClientInfo:
      RenderClient(*info, args, out);
      return;
    case CommandId::kCommand:
    case CommandId::kCommandCount:
    case CommandId::kCommandDocs:
    case CommandId::kCommandInfo:
      RenderCommandTable(args, out);
      return;
    case CommandId::kWrite:
      out->AppendError(absl::StrCat("nearcache is a read-only cache: '",
                                    info->fullname,
                                    "' must be sent to Redis itself"));
      return;
    case CommandId::kUnsupported:
      if (info->fullname == "config|get") {
        // redis-benchmark and some clients probe settings; there are none.
        out->AppendArrayHeader(0);
        return;
      }
      out->AppendError(absl::StrCat("nearcache is a read-only cache: '",
                                    info->fullname, "' is not supported"));
      return;
    case CommandId::kSecurityWarning:
      return;  // never queued
  }
}

void RespHandler::RenderClient(const resp::CommandInfo& info,
                               absl::Span<const absl::string_view> args,
                               ReplyWriter* out) {
  switch (info.id) {
    case CommandId::kClientSetname:
      if (!ValidClientName(args[2])) {
        out->AppendError(
            "Client names cannot contain spaces, newlines or special "
            "characters.");
        return;
      }
      client_name_.assign(args[2].data(), args[2].size());
      out->AppendSimpleString("OK");
      return;
    case CommandId::kClientGetname:
      if (client_name_.empty()) {
        out->AppendNullBulk();
      } else {
        out->AppendBulk(client_name_);
      }
      return;
    case CommandId::kClientId:
      out->AppendInteger(client_id_);
      return;
    case CommandId::kClientSetinfo:
      out->AppendSimpleString("OK");
      return;
    case CommandId::kClientInfo:
      out->AppendBulk(absl::StrCat("id=", client_id_, " name=", client_name_,
                                   " db=", context_->db, " resp=2\n"));
      return;
    default:
      out->AppendError(resp::WrongArityMessage(info));
      return;
  }
}

void RespHandler::RenderHello(absl::Span<const absl::string_view> args,
                              ReplyWriter* out) {
  if (args.size() >= 2) {
    int64_t version;
    if (!absl::SimpleAtoi(args[1], &version)) {
      out->AppendError("Protocol version is not an integer or out of range");
      return;
    }
    if (version != 2) {
      out->AppendError("NOPROTO", "unsupported protocol version");
      return;
    }
    for (size_t i = 2; i < args.size(); ++i) {
      if (absl::EqualsIgnoreCase(args[i], "AUTH") && i + 2 < args.size()) {
        i += 2;  // the socket is guarded by its file mode, not a password
      } else if (absl::EqualsIgnoreCase(args[i], "SETNAME") &&
                 i + 1 < args.size()) {
        client_name_.assign(args[i + 1].data(), args[i + 1].size());
        ++i;
      } else {
        out->AppendError(
            absl::StrCat("Syntax error in HELLO option '", args[i], "'"));
        return;
      }
    }
  }
  out->AppendArrayHeader(14);
  out->AppendBulk("server");
  out->AppendBulk("redis");
  out->AppendBulk("version");
  out->AppendBulk(kRedisVersion);
  out->AppendBulk("proto");
  out->AppendInteger(2);
  out->AppendBulk("id");
  out->AppendInteger(client_id_);
  out->AppendBulk("mode");
  out->AppendBulk("standalone");
  out->AppendBulk("role");
  out->AppendBulk("master");
  out->AppendBulk("modules");
  out->AppendArrayHeader(0);
}

void RespHandler::RenderInfo(absl::Span<const absl::string_view> args,
                             ReplyWriter* out) {
  auto wanted = [&](absl::string_view section) {
    if (args.size() < 2) return true;
    for (size_t i = 1; i < args.size(); ++i) {
      if (absl::EqualsIgnoreCase(args[i], section) ||
          absl::EqualsIgnoreCase(args[i], "all") ||
          absl::EqualsIgnoreCase(args[i], "everything") ||
          absl::EqualsIgnoreCase(args[i], "default")) {
        return true;
      }
    }
    return false;
  };
  std::string text;
  if (wanted("server")) {
    absl::StrAppend(
        &text, "# Server\r\nredis_version:", kRedisVersion,
        "\r\nnearcache_version:", context_->version,
        "\r\nredis_mode:standalone\r\nprocess_id:", getpid(),
        "\r\nuptime_in_seconds:",
        absl::ToInt64Seconds(SystemClock()->Now() - context_->started),
        "\r\n\r\n");
  }
  if (wanted("clients")) {
    absl::StrAppend(&text, "# Clients\r\nconnected_clients:",
                    context_->connected_clients.load(), "\r\n\r\n");
  }
  if (wanted("stats")) {
    const CacheStats s = context_->cache->Stats();
    const LookupCounters& c = *context_->counters;
    absl::StrAppend(&text, "# Stats\r\nkeyspace_hits:",
                    c.hit.load() + c.negative_hit.load(),
                    "\r\nkeyspace_misses:", c.miss.load(),
                    "\r\nnearcache_stale_hits:", c.stale.load(),
                    "\r\nnearcache_lookup_errors:", c.error.load(),
                    "\r\nevicted_keys:", s.evictions_size,
                    "\r\nexpired_keys:", s.evictions_expired,
                    "\r\nnearcache_cache_entries:", s.entries,
                    "\r\nnearcache_cache_bytes:", s.bytes,
                    "\r\nnearcache_cache_max_bytes:", s.max_bytes, "\r\n\r\n");
  }
  out->AppendBulk(text);
}

void RespHandler::RenderCommandTable(absl::Span<const absl::string_view> args,
                                     ReplyWriter* out) {
  if (args.size() == 1) {
    out->AppendArrayHeader(std::size(kCommandRows));
    for (const CommandRow& row : kCommandRows) AppendCommandRow(row, out);
    return;
  }
  if (absl::EqualsIgnoreCase(args[1], "count")) {
    out->AppendInteger(std::size(kCommandRows));
  } else if (absl::EqualsIgnoreCase(args[1], "docs")) {
    out->AppendArrayHeader(0);
  } else {  // INFO name...
    out->AppendArrayHeader(args.size() - 2);
    for (size_t i = 2; i < args.size(); ++i) {
      const CommandRow* row = FindCommandRow(args[i]);
      if (row == nullptr) {
        out->AppendNullArray();
      } else {
        AppendCommandRow(*row, out);
      }
    }
  }
}

}  // namespace nearcache
