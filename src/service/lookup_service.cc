#include "service/lookup_service.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "nearcache/clock.h"
#include "upstream/redis_reply.h"
#include "upstream/upstream_pool.h"

namespace nearcache {

namespace asio = boost::asio;

struct LookupService::Batch {
  std::vector<FetchOutcome> results;
  size_t remaining = 0;
  absl::AnyInvocable<void(std::vector<FetchOutcome>)> done;
};

struct LookupService::Flight {
  std::string map_key;
  std::string key;
  FetchKind kind = FetchKind::kString;
  FetchTicket ticket;
  // (batch, index in the batch) of every caller waiting for this read.
  std::vector<std::pair<std::shared_ptr<Batch>, size_t>> waiters;
};

namespace {

std::string FlightKey(FetchKind kind, absl::string_view key) {
  std::string k;
  k.reserve(key.size() + 1);
  k.push_back(kind == FetchKind::kString ? 's' : 'h');
  k.append(key.data(), key.size());
  return k;
}

// Turns the replies to GET/HGETALL + PTTL into an outcome, storing the value
// in the cache. The ticket is always finished.
FetchOutcome Store(ShardedLruCache* cache, const std::string& key,
                   FetchKind kind, const FetchTicket& ticket,
                   const RedisReply& value, const RedisReply& pttl) {
  FetchOutcome out;
  if (value.type == RedisReply::Type::kError) {
    out.redis_error = value.str;
    cache->AbandonFetch(key, ticket);
    return out;
  }
  ValuePtr v;
  if (kind == FetchKind::kString) {
    if (value.type == RedisReply::Type::kNil) {
      v = Value::NotFound();
    } else if (value.type == RedisReply::Type::kString) {
      v = Value::String(value.str);
    }
  } else if (value.type == RedisReply::Type::kArray &&
             value.elements.size() % 2 == 0) {
    if (value.elements.empty()) {
      v = Value::NotFound();  // Redis has no empty hashes
    } else {
      std::vector<Value::Field> fields;
      fields.reserve(value.elements.size() / 2);
      for (size_t i = 0; i + 1 < value.elements.size(); i += 2) {
        fields.emplace_back(value.elements[i].str, value.elements[i + 1].str);
      }
      v = Value::Hash(std::move(fields));
    }
  }
  if (v == nullptr) {
    out.status = absl::InternalError("unexpected reply from Redis");
    cache->AbandonFetch(key, ticket);
    return out;
  }
  std::optional<absl::Time> deadline;
  if (pttl.type == RedisReply::Type::kInteger) {
    if (pttl.integer >= 0) {
      deadline = ticket.started + absl::Milliseconds(pttl.integer);
    } else if (pttl.integer == -2 && v->exists()) {
      deadline = ticket.started;  // expired between the two commands
    }
  }
  cache->Insert(key, ticket, v, deadline);
  out.value = std::move(v);
  return out;
}

}  // namespace

LookupService::LookupService(ShardedLruCache* cache, UpstreamPool* pool,
                             asio::any_io_executor upstream_executor)
    : cache_(cache), pool_(pool), upstream_(std::move(upstream_executor)) {}

LookupService::~LookupService() = default;

asio::awaitable<std::vector<FetchOutcome>> LookupService::Fetch(
    std::vector<FetchRequest> requests) {
  if (requests.empty()) co_return std::vector<FetchOutcome>{};
  auto initiate = [this](auto handler, std::vector<FetchRequest> reqs) {
    // Complete on the caller's executor, keeping it alive meanwhile.
    auto home = asio::prefer(asio::get_associated_executor(handler),
                             asio::execution::outstanding_work.tracked);
    auto batch = std::make_shared<Batch>();
    batch->results.resize(reqs.size());
    batch->remaining = reqs.size();
    batch->done = [home, handler = std::move(handler)](
                      std::vector<FetchOutcome> results) mutable {
      asio::post(home, [handler = std::move(handler),
                        results = std::move(results)]() mutable {
        handler(std::move(results));
      });
    };
    asio::post(upstream_, [this, reqs = std::move(reqs),
                           batch = std::move(batch)]() mutable {
      StartBatch(std::move(reqs), std::move(batch));
    });
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&,
                                          void(std::vector<FetchOutcome>)>(
      initiate, asio::use_awaitable, std::move(requests));
}

void LookupService::StartBatch(std::vector<FetchRequest> requests,
                               std::shared_ptr<Batch> batch) {
  std::vector<std::shared_ptr<Flight>> to_send;
  for (size_t i = 0; i < requests.size(); ++i) {
    std::string map_key = FlightKey(requests[i].kind, requests[i].key);
    if (!flights_.contains(map_key)) {
      // The caller found nothing fresh, but a flight for this key may have
      // stored its value and ended between that lookup and now (we run on
      // another thread): then the cache has the answer, and a second read
      // would break single-flight.
      std::optional<CacheEntry> now = cache_->Lookup(requests[i].key);
      if (now.has_value() && now->state == EntryState::kFresh) {
        batch->results[i].value = std::move(now->value);
        if (--batch->remaining == 0) batch->done(std::move(batch->results));
        continue;
      }
    }
    auto [it, inserted] = flights_.try_emplace(map_key);
    if (inserted) {
      auto flight = std::make_shared<Flight>();
      flight->map_key = std::move(map_key);
      flight->key = std::move(requests[i].key);
      flight->kind = requests[i].kind;
      flight->ticket = cache_->BeginFetch(flight->key);
      it->second = flight;
      to_send.push_back(std::move(flight));
    }
    it->second->waiters.emplace_back(batch, i);
  }
  if (!to_send.empty()) {
    asio::co_spawn(upstream_, RunFlights(std::move(to_send)), asio::detached);
  }
}

asio::awaitable<void> LookupService::RunFlights(
    std::vector<std::shared_ptr<Flight>> flights) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(flights.size() * 2);
  for (const auto& f : flights) {
    commands.push_back(
        {f->kind == FetchKind::kString ? "GET" : "HGETALL", f->key});
    commands.push_back({"PTTL", f->key});
  }
  const absl::Time start = SystemClock()->Now();
  absl::StatusOr<std::vector<RedisReply>> replies =
      co_await pool_->ExecuteBatch(std::move(commands));
  // Rejections (breaker open, no connection) never reached Redis.
  if (upstream_duration_ != nullptr &&
      (replies.ok() || absl::IsDeadlineExceeded(replies.status()))) {
    upstream_duration_->Observe(SystemClock()->Now() - start);
  }
  if (replies.ok() && replies->size() != flights.size() * 2) {
    replies = absl::InternalError("Redis returned too few replies");
  }
  for (size_t i = 0; i < flights.size(); ++i) {
    const Flight& f = *flights[i];
    FetchOutcome outcome;
    if (!replies.ok()) {
      outcome.status = replies.status();
      cache_->AbandonFetch(f.key, f.ticket);
    } else {
      outcome = Store(cache_, f.key, f.kind, f.ticket, (*replies)[2 * i],
                      (*replies)[2 * i + 1]);
    }
    Complete(flights[i], outcome);
  }
}

void LookupService::Complete(const std::shared_ptr<Flight>& flight,
                             const FetchOutcome& outcome) {
  auto it = flights_.find(flight->map_key);
  if (it != flights_.end() && it->second == flight) flights_.erase(it);
  for (auto& [batch, index] : flight->waiters) {
    batch->results[index] = outcome;
    if (--batch->remaining == 0) batch->done(std::move(batch->results));
  }
  flight->waiters.clear();
}

void LookupService::InvalidateKey(absl::string_view key) {
  cache_->Invalidate(key);
  flights_.erase(FlightKey(FetchKind::kString, key));
  flights_.erase(FlightKey(FetchKind::kHash, key));
}

void LookupService::InvalidateAll() {
  cache_->InvalidateAll();
  flights_.clear();
}

}  // namespace nearcache
