// CoherenceFixture: a real redis-server and the real nearcache binary in front
// of it, configured so that only an invalidation can change what nearcache
// serves (cache.ttl and negative_ttl 60 s), with a fast link health check
// (ping every 100 ms, 200 ms timeout), plus the helpers the coherence tests
// share:
//   - Read(): one command through nearcache, and how nearcache answered it
//     (hit, miss, stale, error), from the INFO stats counters around it;
//   - CacheFresh(): reads until a key is served from the cache as fresh, the
//     precondition that makes a coherence test mean something;
//   - ExpectChange(): a bounded wait for an invalidation (poll until the
//     reply changes, at most kInvalidationWait), then the new reply must
//     stay (no flip back to the old value);
//   - Write(): a write to Redis as a writer does it; in channel-only mode it
//     also PUBLISHes the changed keys on the app channel;
//   - link and data-connection handles from Redis's CLIENT LIST.
//
// Thread-compatible: one test thread (the concurrency test opens its own
// clients per thread).
#ifndef NEARCACHE_TESTS_COHERENCE_COHERENCE_FIXTURE_H_
#define NEARCACHE_TESTS_COHERENCE_COHERENCE_FIXTURE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/fakes/nearcache_process.h"
#include "tests/fakes/redis_server.h"
#include "upstream/redis_reply.h"

namespace nearcache {
namespace coherence {

// How nearcache learns of changes.
enum class Mode {
  kDefault,  // CLIENT TRACKING ... REDIRECT on every data connection
  kBcast,    // BCAST with tracking_prefixes ["f:"]
  kChannel,  // tracking: false; the app channel only
};

inline std::string ModeName(Mode m) {
  switch (m) {
    case Mode::kDefault:
      return "Default";
    case Mode::kBcast:
      return "Bcast";
    case Mode::kChannel:
      return "ChannelOnly";
  }
  return "?";
}

// Every key the tests use starts with this, so that BCAST covers them.
inline constexpr char kPrefix[] = "f:";
inline constexpr char kChannelName[] = "nearcache:invalidate";
// The bounded wait for one invalidation to arrive.
inline constexpr absl::Duration kInvalidationWait = absl::Seconds(2);
// The bounded wait for a reconnect (link, pool) to happen.
inline constexpr absl::Duration kReconnectWait = absl::Seconds(10);

// How nearcache answered one read, from its INFO stats counters.
enum class Source { kHit, kMiss, kStale, kError, kUnknown };

inline const char* SourceName(Source s) {
  switch (s) {
    case Source::kHit:
      return "HIT";
    case Source::kMiss:
      return "MISS";
    case Source::kStale:
      return "STALE";
    case Source::kError:
      return "ERROR";
    case Source::kUnknown:
      return "UNKNOWN";
  }
  return "?";
}

inline void PrintTo(Source s, std::ostream* os) { *os << SourceName(s); }

struct Read {
  RedisReply reply;
  Source source = Source::kUnknown;
};

inline std::ostream& operator<<(std::ostream& os, const Read& r) {
  return os << r.reply.ToString() << " (" << SourceName(r.source) << ")";
}

// One CLIENT LIST line as field -> value.
using ClientInfo = std::map<std::string, std::string>;

inline std::vector<ClientInfo> ParseClientList(const std::string& text) {
  std::vector<ClientInfo> out;
  for (absl::string_view line :
       absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    ClientInfo info;
    for (absl::string_view field : absl::StrSplit(line, ' ')) {
      std::pair<std::string, std::string> kv =
          absl::StrSplit(field, absl::MaxSplits('=', 1));
      info[kv.first] = kv.second;
    }
    out.push_back(std::move(info));
  }
  return out;
}

// "field:value" lines of an INFO reply.
inline std::map<std::string, std::string> ParseInfo(const std::string& text) {
  std::map<std::string, std::string> out;
  for (absl::string_view line :
       absl::StrSplit(text, absl::ByAnyChar("\r\n"), absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(line, absl::MaxSplits(':', 1));
    out[kv.first] = kv.second;
  }
  return out;
}

inline int64_t InfoInt(const std::map<std::string, std::string>& info,
                       const std::string& field) {
  auto it = info.find(field);
  if (it == info.end()) return -1;
  return std::strtoll(it->second.c_str(), nullptr, 10);
}

inline RedisReply Str(const std::string& s) { return RedisReply::String(s); }
inline RedisReply Nil() { return RedisReply::Nil(); }

class CoherenceFixture : public testing::Test {
 protected:
  void SetUp() override {
    absl::Status started = redis_.Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  // The configuration every coherence test runs with; `extra` adds to it or
  // replaces keys.
  NearcacheOptions Options(
      Mode mode, std::vector<std::pair<std::string, std::string>> extra = {}) {
    NearcacheOptions o;
    o.redis_address = "unix://" + redis_.unix_path();
    o.overrides = {
        {"cache.ttl", "60s"},
        {"cache.negative_ttl", "60s"},
        {"cache.max_stale", "10m"},
        {"redis.pool_size", "2"},
        {"invalidation.ping_interval", "100ms"},
        {"invalidation.ping_timeout", "200ms"},
        {"invalidation.channel", absl::StrCat("\"", kChannelName, "\"")},
        {"invalidation.tracking", mode == Mode::kChannel ? "false" : "true"},
    };
    if (mode == Mode::kBcast) {
      o.overrides.emplace_back("invalidation.tracking_prefixes",
                               absl::StrCat("[\"", kPrefix, "\"]"));
    }
    for (auto& kv : extra) {
      bool replaced = false;
      for (auto& have : o.overrides) {
        if (have.first == kv.first) {
          have.second = kv.second;
          replaced = true;
        }
      }
      if (!replaced) o.overrides.push_back(kv);
    }
    return o;
  }

  // Starts nearcache and waits until its invalidation link is up (a repeated
  // read is served from the cache: freshness is on).
  void StartNearcache(
      Mode mode, std::vector<std::pair<std::string, std::string>> extra = {}) {
    mode_ = mode;
    nearcache_ = std::make_unique<NearcacheProcess>(Options(mode, extra));
    absl::Status started = nearcache_->Start();
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_TRUE(WaitFreshnessOn()) << "the invalidation link never came up";
  }

  // Polls until a read of a probe key is a cache hit: the link is up and
  // nearcache serves fresh values again.
  bool WaitFreshnessOn(absl::Duration limit = kReconnectWait) {
    const std::string probe = absl::StrCat(kPrefix, "__probe__");
    const absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline) {
      Do({"GET", probe});
      if (Do({"GET", probe}).source == Source::kHit) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  // Runs one command through nearcache and classifies the answer from the
  // INFO stats around it (this test is nearcache's only client).
  Read Do(const std::vector<std::string>& args) {
    const std::map<std::string, std::string> before = Stats();
    Read r;
    r.reply = nearcache_->Command(args);
    const std::map<std::string, std::string> after = Stats();
    auto delta = [&](const char* f) {
      return InfoInt(after, f) - InfoInt(before, f);
    };
    const int64_t hits = delta("keyspace_hits");
    const int64_t misses = delta("keyspace_misses");
    const int64_t stale = delta("nearcache_stale_hits");
    const int64_t errors = delta("nearcache_lookup_errors");
    if (hits > 0 && misses + stale + errors == 0) {
      r.source = Source::kHit;
    } else if (stale > 0 && hits + misses + errors == 0) {
      r.source = Source::kStale;
    } else if (errors > 0 && hits + misses + stale == 0) {
      r.source = Source::kError;
    } else if (misses > 0 && hits + stale + errors == 0) {
      r.source = Source::kMiss;
    }
    return r;
  }

  std::map<std::string, std::string> Stats() {
    return ParseInfo(nearcache_->Command({"INFO", "stats"}).str);
  }

  // Reads until `args` is answered with `expected` from the cache (a hit):
  // the value is cached fresh, so only an invalidation can change it.
  void CacheFresh(const std::vector<std::string>& args,
                  const RedisReply& expected) {
    const absl::Time deadline = absl::Now() + kInvalidationWait;
    Read r;
    do {
      r = Do(args);
      if (r.reply == expected && r.source == Source::kHit) return;
    } while (absl::Now() < deadline);
    FAIL() << absl::StrJoin(args, " ") << " never served "
           << expected.ToString() << " as a cache hit; last: " << r;
  }

  // After a change in Redis: polls `args` (at most kInvalidationWait) until
  // nearcache answers `expected`, then checks that it keeps answering it and
  // that the new value is cached again (so the next change is tracked too)
  // unless `expect_cached` is false (the link is down: nothing is fresh).
  void ExpectChange(const std::vector<std::string>& args,
                    const RedisReply& expected, bool expect_cached = true) {
    const absl::Time deadline = absl::Now() + kInvalidationWait;
    Read r;
    bool changed = false;
    do {
      r = Do(args);
      if (r.reply == expected) {
        changed = true;
        break;
      }
      absl::SleepFor(absl::Milliseconds(1));
    } while (absl::Now() < deadline);
    ASSERT_TRUE(changed) << absl::StrJoin(args, " ") << " still answers " << r
                         << " " << absl::FormatDuration(kInvalidationWait)
                         << " after the change; expected "
                         << expected.ToString();
    bool hit = false;
    for (int i = 0; i < 5; ++i) {
      Read again = Do(args);
      ASSERT_EQ(again.reply, expected)
          << absl::StrJoin(args, " ") << " flipped back: " << again;
      hit = hit || again.source == Source::kHit;
    }
    EXPECT_TRUE(hit || !expect_cached)
        << absl::StrJoin(args, " ")
        << ": the new value is not served from the cache";
  }

  // Writes to Redis; in channel-only mode the writer then publishes the keys
  // it changed ("*" for everything), as documented in docs/coherence.md.
  void Write(const std::vector<std::string>& args,
             const std::vector<std::string>& changed_keys) {
    RedisReply r = redis_.Command(args);
    ASSERT_FALSE(r.is_error()) << absl::StrJoin(args, " ") << ": " << r.str;
    if (mode_ == Mode::kChannel) Publish(absl::StrJoin(changed_keys, "\n"));
  }

  void Publish(const std::string& message) {
    RedisReply r = redis_.Command({"PUBLISH", kChannelName, message});
    ASSERT_FALSE(r.is_error()) << r.str;
  }

  std::vector<ClientInfo> Clients(const std::string& name) {
    std::vector<ClientInfo> out;
    for (ClientInfo& c :
         ParseClientList(redis_.Command({"CLIENT", "LIST"}).str)) {
      if (c["name"] == name) out.push_back(std::move(c));
    }
    return out;
  }
  std::vector<ClientInfo> Links() { return Clients("nearcache-invalidation"); }
  std::vector<ClientInfo> DataConnections() { return Clients("nearcache"); }
  size_t ClientCount() {
    return ParseClientList(redis_.Command({"CLIENT", "LIST"}).str).size();
  }

  int64_t RedisStat(const std::string& field) {
    return InfoInt(ParseInfo(redis_.Command({"INFO", "stats"}).str), field);
  }

  // The id of nearcache's invalidation link; fails the test when there is
  // not exactly one.
  std::string LinkId() {
    std::vector<ClientInfo> links = Links();
    EXPECT_EQ(links.size(), 1u);
    return links.empty() ? "" : links[0]["id"];
  }

  void Kill(const std::string& client_id) {
    RedisReply r = redis_.Command({"CLIENT", "KILL", "ID", client_id});
    ASSERT_EQ(r, RedisReply::Integer(1)) << r.ToString();
  }

  // Kills the invalidation link and keeps it down: Redis refuses every new
  // connection until AllowConnections(). Returns once nearcache has noticed
  // (its reconnect was refused at least once), so that what the test does
  // next happens while nearcache knows the link is down.
  void KillLinkAndKeepItDown() {
    const std::string link = LinkId();
    ASSERT_FALSE(link.empty());
    const int64_t rejected = RedisStat("rejected_connections");
    // Everyone but the link stays connected; the link's reconnect is refused.
    const size_t keep = ClientCount() - 1;
    ASSERT_FALSE(
        redis_.Command({"CONFIG", "SET", "maxclients", absl::StrCat(keep)})
            .is_error());
    Kill(link);
    const absl::Time deadline = absl::Now() + kReconnectWait;
    while (RedisStat("rejected_connections") == rejected &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    ASSERT_GT(RedisStat("rejected_connections"), rejected)
        << "nearcache never tried to reconnect its link";
  }

  void AllowConnections() {
    ASSERT_FALSE(
        redis_.Command({"CONFIG", "SET", "maxclients", "10000"}).is_error());
  }

  static std::string K(absl::string_view name) {
    return absl::StrCat(kPrefix, name);
  }

  RedisServerProcess redis_;
  std::unique_ptr<NearcacheProcess> nearcache_;
  Mode mode_ = Mode::kDefault;
};

}  // namespace coherence
}  // namespace nearcache

#endif  // NEARCACHE_TESTS_COHERENCE_COHERENCE_FIXTURE_H_
