// Helpers to drive asio coroutines from a googletest body: the test thread
// plays the upstream thread and runs the io_context until the awaited
// result (or condition) is there. Waits are bounded generously so that a bug
// fails the test instead of hanging it; nothing asserts on elapsed time.
#ifndef NEARCACHE_TESTS_UPSTREAM_RUN_COROUTINE_H_
#define NEARCACHE_TESTS_UPSTREAM_RUN_COROUTINE_H_

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace nearcache {

inline constexpr absl::Duration kTestWaitLimit = absl::Seconds(30);

// Runs `io` until `done()` holds or `limit` passed; returns done().
inline bool RunUntil(boost::asio::io_context& io,
                     const std::function<bool()>& done,
                     absl::Duration limit = kTestWaitLimit) {
  absl::Time deadline = absl::Now() + limit;
  while (!done() && absl::Now() < deadline) {
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(10));
  }
  return done();
}

// Runs `io` for about `d`, e.g. to let background reconnects happen.
inline void RunFor(boost::asio::io_context& io, absl::Duration d) {
  absl::Time until = absl::Now() + d;
  RunUntil(
      io, [&] { return absl::Now() >= until; }, d + absl::Seconds(1));
}

// Starts `aw` on `io` and returns a slot that holds its result once done.
template <typename T>
std::shared_ptr<std::optional<T>> Spawn(boost::asio::io_context& io,
                                        boost::asio::awaitable<T> aw) {
  auto result = std::make_shared<std::optional<T>>();
  boost::asio::co_spawn(io, std::move(aw),
                        [result](std::exception_ptr e, T value) {
                          ASSERT_FALSE(e) << "coroutine threw";
                          result->emplace(std::move(value));
                        });
  return result;
}

// Runs `aw` to completion on `io` and returns its result.
template <typename T>
T Await(boost::asio::io_context& io, boost::asio::awaitable<T> aw) {
  auto result = Spawn(io, std::move(aw));
  bool finished = RunUntil(io, [&] { return result->has_value(); });
  EXPECT_TRUE(finished) << "coroutine did not finish in time";
  if (!finished) return T();
  return std::move(**result);
}

}  // namespace nearcache

#endif  // NEARCACHE_TESTS_UPSTREAM_RUN_COROUTINE_H_
