// RespHandler: executes the commands one read delivered on a RESP connection
// and writes their replies, in order, as redis-server would. Socket-free, so
// it is tested without a network.
//
// A batch runs in two steps: every key any command of the batch names is
// resolved at once (KeyLookup: the cache, then one Fetcher call for what is
// not fresh, stale entries when Redis cannot be asked); then each command's
// reply is rendered. A key that cannot be served fails its command with an
// error that names nearcache.
#ifndef NEARCACHE_SERVER_RESP_HANDLER_H_
#define NEARCACHE_SERVER_RESP_HANDLER_H_

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "metrics/metrics.h"
#include "nearcache/cache.h"
#include "resp/command.h"
#include "resp/reply_writer.h"
#include "resp/request_parser.h"
#include "service/key_lookup.h"
#include "service/lookup_counters.h"
#include "service/lookup_service.h"

namespace nearcache {

// Shared by every connection. Thread-safe: the pointers are to thread-safe
// objects and the rest is immutable or atomic.
struct FrontendContext {
  ShardedLruCache* cache = nullptr;
  Fetcher* fetcher = nullptr;
  LookupCounters* counters = nullptr;
  FrontendMetrics* metrics = nullptr;  // requests by command, durations
  int db = 0;                          // the one Redis db served (SELECT)
  std::string version;                 // nearcache's version, for INFO/HELLO
  absl::Time started;                  // SystemClock time, for INFO uptime
  std::atomic<int64_t> next_client_id{1};
  std::atomic<int64_t> connected_clients{0};
  // Connections nearcache closed or refused, by reason
  // (nearcache_client_disconnects_total{reason}).
  std::atomic<uint64_t> disconnects_output_limit{0};  // max_output_bytes
  std::atomic<uint64_t> disconnects_idle{0};          // idle_timeout
  std::atomic<uint64_t> disconnects_peer_uid{0};      // allowed_uids
  std::atomic<uint64_t> disconnects_max_clients{0};   // max_connections
};

// Thread-compatible: one per connection.
class RespHandler {
 public:
  // The `command` label values of nearcache_requests_total for RESP, in the
  // order FrontendMetrics::requests must be built with.
  static std::vector<std::string> CommandLabels();

  explicit RespHandler(FrontendContext* context);

  // Queues a parsed command; the views must stay valid until Run() returns.
  // Returns false for QUIT and for a request that must close the connection
  // without a reply: add nothing after it.
  bool Add(absl::Span<const absl::string_view> args);

  // What AddParsed() met in the parser's bytes.
  struct ParseOutcome {
    bool stop = false;            // close once the replies are written
    bool protocol_error = false;  // reply "-ERR " + parser.status() first
  };

  // Queues every complete command the parser holds, as Add() does, up to a
  // protocol error or a command after which nothing may follow.
  ParseOutcome AddParsed(resp::RequestParser& parser);

  bool empty() const { return commands_.empty(); }
  size_t size() const { return commands_.size(); }

  // Runs the queued commands and appends their replies to `out`, in order.
  boost::asio::awaitable<void> Run(resp::ReplyWriter* out);

  // Run() in two steps, for the hot path: RunCached() answers the batch from
  // the cache alone, without suspending, and returns true when it did (every
  // key fresh, or none named); otherwise it returns false having rendered
  // nothing, and RunFetched() must be awaited to finish the batch.
  bool RunCached(resp::ReplyWriter* out);
  boost::asio::awaitable<void> RunFetched(resp::ReplyWriter* out);

  // After Run(): close the connection once the replies are written.
  bool close_after_write() const { return close_; }

  int64_t client_id() const { return client_id_; }

 private:
  struct Command {
    size_t arg_begin = 0, arg_end = 0;
    size_t slot_begin = 0, slot_end = 0;
    resp::CommandLookup lookup;
    bool arity_ok = false;
  };

  absl::Span<const absl::string_view> ArgsOf(const Command& c) const;
  // Renders every queued command's reply, then empties the batch.
  void RenderAll(resp::ReplyWriter* out);
  void Render(const Command& c, resp::ReplyWriter* out);
  void RenderClient(const resp::CommandInfo& info,
                    absl::Span<const absl::string_view> args,
                    resp::ReplyWriter* out);
  void RenderHello(absl::Span<const absl::string_view> args,
                   resp::ReplyWriter* out);
  void RenderInfo(absl::Span<const absl::string_view> args,
                  resp::ReplyWriter* out);
  void RenderCommandTable(absl::Span<const absl::string_view> args,
                          resp::ReplyWriter* out);

  FrontendContext* const context_;
  const int64_t client_id_;
  std::string client_name_;
  bool close_ = false;
  // The batch; reused across batches so that steady state allocates nothing.
  std::vector<absl::string_view> args_;
  std::vector<Command> commands_;
  KeyLookup keys_;
};

}  // namespace nearcache

#endif  // NEARCACHE_SERVER_RESP_HANDLER_H_
