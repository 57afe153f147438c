// FakeFetcher: Redis for the front-end fuzz targets, decided by each key's
// last byte (mod 8): 0 no such key, 1-2 the key's own bytes as a string
// (maybe not UTF-8), 3 a binary string, 4-5 a hash made of the key's bytes,
// 6 a WRONGTYPE error reply, 7 Redis unavailable. What it reads it stores in
// the cache under a fetch ticket, as LookupService does, so that the next
// request for the key is a cache hit.
#ifndef NEARCACHE_TESTS_FUZZ_FAKE_FETCHER_H_
#define NEARCACHE_TESTS_FUZZ_FAKE_FETCHER_H_

#include <boost/asio/awaitable.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "nearcache/cache.h"
#include "nearcache/value.h"
#include "service/lookup_service.h"

namespace nearcache {

// Thread-compatible: the fuzz targets run one request at a time.
class FakeFetcher : public Fetcher {
 public:
  explicit FakeFetcher(ShardedLruCache* cache) : cache_(cache) {}

  // While down, every fetch fails as a transport error.
  void set_down(bool down) { down_ = down; }

  boost::asio::awaitable<std::vector<FetchOutcome>> Fetch(
      std::vector<FetchRequest> requests) override {
    std::vector<FetchOutcome> out;
    for (const FetchRequest& r : requests) {
      FetchOutcome o;
      const int what =
          r.key.empty() ? 0 : static_cast<unsigned char>(r.key.back()) % 8;
      if (down_ || what == 7) {
        o.status = absl::UnavailableError("Redis unavailable (fake)");
      } else if (what == 6) {
        o.redis_error =
            "WRONGTYPE Operation against a key holding the wrong kind of "
            "value";
      } else {
        o.value = Read(r.key, what);
        const FetchTicket ticket = cache_->BeginFetch(r.key);
        cache_->Insert(r.key, ticket, o.value);
      }
      out.push_back(std::move(o));
    }
    co_return out;
  }

 private:
  static ValuePtr Read(const std::string& key, int what) {
    switch (what) {
      case 0:
        return Value::NotFound();
      case 1:
      case 2:
        return Value::String(key);
      case 3:
        return Value::String(std::string("\xff\x00\xc3(", 4));
      default: {
        std::vector<Value::Field> fields;
        for (size_t i = 0; i < key.size() && fields.size() < 8; i += 2) {
          fields.emplace_back(key.substr(i, 1), key.substr(i, 2));
        }
        fields.emplace_back("f", "v");
        fields.emplace_back("bin", std::string("\x80", 1));
        return Value::Hash(std::move(fields));
      }
    }
  }

  ShardedLruCache* const cache_;
  bool down_ = false;
};

}  // namespace nearcache

#endif  // NEARCACHE_TESTS_FUZZ_FAKE_FETCHER_H_
