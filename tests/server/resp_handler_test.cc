// RespHandler's two-step batch (RunCached, then RunFetched when a key is not
// fresh): each key is looked up and counted exactly once, replies come out
// in order, and a batch the cache answers never reaches the fetcher.
#include "server/resp_handler.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nearcache/cache.h"
#include "nearcache/clock.h"
#include "tests/http/fake_fetcher.h"

namespace nearcache {
namespace {

namespace asio = boost::asio;

class RespHandlerTest : public ::testing::Test {
 protected:
  RespHandlerTest() : cache_(CacheOptions{}, SystemClock()), fetcher_(&cache_) {
    context_.cache = &cache_;
    context_.fetcher = &fetcher_;
    context_.counters = &counters_;
  }

  // Queues `commands` on `handler`; the strings must outlive the batch.
  static void Queue(RespHandler& handler,
                    const std::vector<std::vector<std::string>>& commands,
                    std::vector<std::vector<absl::string_view>>& views) {
    views.clear();
    for (const auto& c : commands) {
      auto& v = views.emplace_back();
      for (const std::string& a : c) v.emplace_back(a);
    }
    for (const auto& v : views) ASSERT_TRUE(handler.Add(v));
  }

  // RunCached, then RunFetched when needed; says which path served it.
  std::string RunBatch(const std::vector<std::vector<std::string>>& commands,
                       bool* from_cache) {
    RespHandler handler(&context_);
    std::vector<std::vector<absl::string_view>> views;
    Queue(handler, commands, views);
    resp::ReplyWriter out;
    *from_cache = handler.RunCached(&out);
    if (!*from_cache) {
      EXPECT_TRUE(out.empty()) << "RunCached rendered a partial batch";
      asio::io_context io;
      bool done = false;
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            co_await handler.RunFetched(&out);
            done = true;
          },
          asio::detached);
      io.run();
      EXPECT_TRUE(done);
    }
    EXPECT_TRUE(handler.empty());
    return out.ToString();
  }

  ShardedLruCache cache_;
  FakeFetcher fetcher_;
  LookupCounters counters_;
  FrontendContext context_;
};

TEST_F(RespHandlerTest, AllFreshBatchIsServedFromTheCacheAlone) {
  fetcher_.SetString("a", "1");
  fetcher_.SetString("b", "22");
  bool from_cache = true;
  EXPECT_EQ(RunBatch({{"MGET", "a", "b"}}, &from_cache),
            "*2\r\n$1\r\n1\r\n$2\r\n22\r\n");
  EXPECT_FALSE(from_cache);
  EXPECT_EQ(counters_.miss.load(), 2u);
  EXPECT_EQ(RunBatch({{"GET", "a"}, {"PING"}, {"GET", "b"}}, &from_cache),
            "$1\r\n1\r\n+PONG\r\n$2\r\n22\r\n");
  EXPECT_TRUE(from_cache);
  EXPECT_EQ(counters_.hit.load(), 2u);
  EXPECT_EQ(counters_.miss.load(), 2u);
  EXPECT_EQ(fetcher_.requested().size(), 2u);
}

TEST_F(RespHandlerTest, BatchWithoutKeysIsServedWithoutFetcher) {
  bool from_cache = false;
  EXPECT_EQ(RunBatch({{"PING"}, {"ECHO", "x"}}, &from_cache),
            "+PONG\r\n$1\r\nx\r\n");
  EXPECT_TRUE(from_cache);
  EXPECT_TRUE(fetcher_.requested().empty());
}

TEST_F(RespHandlerTest, MixedBatchCountsEachKeyOnceAndKeepsOrder) {
  fetcher_.SetString("hot", "h");
  fetcher_.SetString("cold", "c");
  bool from_cache = false;
  RunBatch({{"GET", "hot"}}, &from_cache);  // now cached
  ASSERT_EQ(counters_.miss.load(), 1u);
  EXPECT_EQ(RunBatch({{"GET", "hot"},
                      {"GET", "cold"},
                      {"GET", "nope"},
                      {"EXISTS", "hot", "cold", "nope"}},
                     &from_cache),
            "$1\r\nh\r\n$1\r\nc\r\n$-1\r\n:2\r\n");
  EXPECT_FALSE(from_cache);
  // Six key slots: hot twice from the cache (2 hits); cold and nope twice
  // each from the fetcher (4 misses, plus the first batch's one). A slot
  // looked up by RunCached is not looked up or counted again by RunFetched.
  EXPECT_EQ(counters_.hit.load(), 2u);
  EXPECT_EQ(counters_.miss.load() + counters_.negative_hit.load(), 5u);
  EXPECT_EQ(counters_.stale.load() + counters_.error.load(), 0u);
}

TEST_F(RespHandlerTest, StaleAndErrorWhenRedisIsDownAfterCachedLookup) {
  fetcher_.SetString("k", "v");
  bool from_cache = false;
  RunBatch({{"GET", "k"}}, &from_cache);
  cache_.InvalidateAll();  // cached, but no longer fresh
  fetcher_.SetDown(true);
  EXPECT_EQ(RunBatch({{"GET", "k"}, {"GET", "never"}}, &from_cache),
            "$1\r\nv\r\n-ERR nearcache: Redis unavailable (connection "
            "refused) and no cached value to serve\r\n");
  EXPECT_FALSE(from_cache);
  EXPECT_EQ(counters_.stale.load(), 1u);
  EXPECT_EQ(counters_.error.load(), 1u);
  EXPECT_EQ(counters_.hit.load(), 0u);
}

}  // namespace
}  // namespace nearcache
