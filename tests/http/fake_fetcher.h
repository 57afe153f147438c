// FakeFetcher: Redis as a map, for front-end tests. Like LookupService it
// stores what it reads in the cache under a fetch ticket, so that a second
// read is a hit; SetDown(true) makes every fetch fail as when Redis is
// unreachable.
#ifndef NEARCACHE_TESTS_HTTP_FAKE_FETCHER_H_
#define NEARCACHE_TESTS_HTTP_FAKE_FETCHER_H_

#include <boost/asio/awaitable.hpp>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "nearcache/cache.h"
#include "nearcache/value.h"
#include "service/lookup_service.h"

namespace nearcache {

// Thread-safe.
class FakeFetcher : public Fetcher {
 public:
  explicit FakeFetcher(ShardedLruCache* cache) : cache_(cache) {}

  void Set(const std::string& key, ValuePtr value) {
    std::lock_guard<std::mutex> lock(mu_);
    data_[key] = std::move(value);
  }
  void SetString(const std::string& key, std::string value) {
    Set(key, Value::String(std::move(value)));
  }
  void SetHash(const std::string& key, std::vector<Value::Field> fields) {
    Set(key, Value::Hash(std::move(fields)));
  }
  void SetDown(bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = down;
  }
  // Every key asked for, in order.
  std::vector<std::string> requested() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requested_;
  }

  boost::asio::awaitable<std::vector<FetchOutcome>> Fetch(
      std::vector<FetchRequest> requests) override {
    std::vector<FetchOutcome> outcomes;
    std::lock_guard<std::mutex> lock(mu_);
    for (const FetchRequest& r : requests) {
      requested_.push_back(r.key);
      FetchOutcome& o = outcomes.emplace_back();
      if (down_) {
        o.status = absl::UnavailableError("connection refused");
        continue;
      }
      auto it = data_.find(r.key);
      ValuePtr value = it == data_.end() ? Value::NotFound() : it->second;
      const bool wrong_type =
          (r.kind == FetchKind::kString && value->is_hash()) ||
          (r.kind == FetchKind::kHash && value->is_string());
      if (wrong_type) {
        o.redis_error =
            "WRONGTYPE Operation against a key holding the wrong kind of "
            "value";
        continue;
      }
      FetchTicket ticket = cache_->BeginFetch(r.key);
      cache_->Insert(r.key, ticket, value);
      o.value = std::move(value);
    }
    co_return outcomes;
  }

 private:
  ShardedLruCache* const cache_;
  mutable std::mutex mu_;
  std::map<std::string, ValuePtr> data_;
  bool down_ = false;
  std::vector<std::string> requested_;
};

}  // namespace nearcache

#endif  // NEARCACHE_TESTS_HTTP_FAKE_FETCHER_H_
