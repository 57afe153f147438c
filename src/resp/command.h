// Command table: every command redis-server 7 knows, by name, with its arity
// and what nearcache does with it (serves it, refuses it as a write, or does
// not support it), so that the RESP front-end answers like Redis 7 does:
//
//   const CommandLookup found = LookupCommand(args);
//   if (found.command == nullptr) {
//     out.AppendError(found.container != nullptr
//                         ? UnknownSubcommandMessage(args[0], args[1])
//                         : UnknownCommandMessage(args));
//   } else if (!ArityAllows(*found.command, args.size())) {
//     out.AppendError(WrongArityMessage(*found.command));
//   } else {
//     switch (found.command->id) { ... }
//   }
//
// The table is static and sorted; a lookup is case-insensitive and allocates
// nothing. Names, arities and write flags were taken from `COMMAND` of
// redis-server 7.0.15, plus CLIENT SETINFO and CLIENT NO-TOUCH (7.2), which
// current clients send.
#ifndef NEARCACHE_SRC_RESP_COMMAND_H_
#define NEARCACHE_SRC_RESP_COMMAND_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace nearcache::resp {

enum class CommandId : uint8_t {
  // Served by nearcache.
  kPing,
  kEcho,
  kGet,
  kMget,
  kExists,
  kHget,
  kHmget,
  kHgetall,
  kSelect,
  kHello,
  kInfo,
  kQuit,
  kClient,  // CLIENT alone (its arity makes that an error)
  kClientSetname,
  kClientGetname,
  kClientId,
  kClientSetinfo,
  kClientInfo,
  kCommand,  // COMMAND with no subcommand
  kCommandCount,
  kCommandDocs,
  kCommandInfo,
  // Redis's "write" flag: changes data. A read-only cache refuses it.
  kWrite,
  // Any other Redis command (TTL, SUBSCRIBE, MULTI, CONFIG GET, EVAL, ...).
  kUnsupported,
  // "POST" and "Host:": an HTTP request sent to the RESP port. Redis logs a
  // "Possible SECURITY ATTACK" and closes the connection without a reply.
  kSecurityWarning,
};

// Thread-safe: immutable, statically allocated.
struct CommandInfo {
  absl::string_view name;      // lowercase: "get", "setname"
  absl::string_view fullname;  // "get", "client|setname": the name in errors
  CommandId id;
  // Redis's convention, counting the command (and subcommand) name:
  // n > 0 exactly n arguments, n < 0 at least -n.
  int arity;
  // A container command's subcommands (CLIENT, CONFIG, ...), sorted by
  // name; empty for other commands.
  absl::Span<const CommandInfo> subcommands = {};

  bool is_container() const { return !subcommands.empty(); }
};

// The command named `name` (any case), or nullptr.
const CommandInfo* FindCommand(absl::string_view name);

// The subcommand of `container` named `name` (any case), or nullptr.
const CommandInfo* FindSubcommand(const CommandInfo& container,
                                  absl::string_view name);

struct CommandLookup {
  // What to run: the command, or the subcommand of a container. nullptr when
  // the command, or the subcommand, is unknown.
  const CommandInfo* command = nullptr;
  // The container named by args[0], when it is one (set even when its
  // subcommand is unknown: that is Redis's "unknown subcommand" error).
  const CommandInfo* container = nullptr;
};

// Resolves a command as Redis 7's lookupCommand() does: args[0], then
// args[1] among args[0]'s subcommands when args[0] is a container and
// args.size() >= 2. REQUIRES: !args.empty().
CommandLookup LookupCommand(absl::Span<const absl::string_view> args);

// Whether `argc` arguments (the name included) satisfy info.arity.
inline bool ArityAllows(const CommandInfo& info, size_t argc) {
  return info.arity > 0 ? argc == static_cast<size_t>(info.arity)
                        : argc >= static_cast<size_t>(-info.arity);
}

// Redis 7's error texts, without "ERR " (ReplyWriter::AppendError adds it):
//   "wrong number of arguments for 'client|setname' command"
std::string WrongArityMessage(const CommandInfo& info);
//   "unknown command 'FOO', with args beginning with: 'a' 'b' "
// REQUIRES: !args.empty().
std::string UnknownCommandMessage(absl::Span<const absl::string_view> args);
//   "unknown subcommand 'foo'. Try CLIENT HELP."
std::string UnknownSubcommandMessage(absl::string_view command,
                                     absl::string_view subcommand);

}  // namespace nearcache::resp

#endif  // NEARCACHE_SRC_RESP_COMMAND_H_
