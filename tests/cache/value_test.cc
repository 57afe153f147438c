// Value's one-allocation encoding (include/nearcache/value.h) and ValuePtr's
// reference counting, alone and across cache eviction.
#include "nearcache/value.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nearcache/cache.h"
#include "tests/fakes/manual_clock.h"

namespace nearcache {
namespace {

using namespace std::string_literals;  // NOLINT

TEST(ValueTest, StringIsBinarySafe) {
  const std::string bytes = "a\0b\0\xff"s;
  const ValuePtr v = Value::String(bytes);
  ASSERT_TRUE(v->is_string());
  EXPECT_TRUE(v->exists());
  EXPECT_EQ(v->str(), bytes);
  EXPECT_EQ(v->ByteSize(), 5u);
  EXPECT_TRUE(v->fields().empty());
  EXPECT_FALSE(v->FindField("a").has_value());
}

TEST(ValueTest, EmptyString) {
  const ValuePtr v = Value::String("");
  ASSERT_TRUE(v->is_string());
  EXPECT_TRUE(v->exists());
  EXPECT_EQ(v->str(), "");
  EXPECT_EQ(v->ByteSize(), 0u);
}

TEST(ValueTest, NotFound) {
  const ValuePtr v = Value::NotFound();
  EXPECT_FALSE(v->exists());
  EXPECT_EQ(v->kind(), Value::Kind::kNotFound);
  EXPECT_EQ(v->ByteSize(), 0u);
  EXPECT_EQ(v->str(), "");
  EXPECT_EQ(v, Value::NotFound());  // one shared instance
  EXPECT_EQ(*v, *Value::NotFound());
}

TEST(ValueTest, HashKeepsOrderAndIsBinarySafe) {
  const std::vector<Value::Field> fields = {
      {"f1", "one"}, {"\0f"s, "v\0"s}, {"", "empty name"}, {"empty", ""}};
  const ValuePtr v = Value::Hash(fields);
  ASSERT_TRUE(v->is_hash());
  EXPECT_EQ(v->str(), "");
  EXPECT_EQ(v->fields().size(), 4u);
  EXPECT_EQ(v->CopyFields(), fields);
  size_t i = 0;
  for (const auto& [field, value] : v->fields()) {
    EXPECT_EQ(field, fields[i].first);
    EXPECT_EQ(value, fields[i].second);
    ++i;
  }
  EXPECT_EQ(i, 4u);
  EXPECT_EQ(v->FindField("f1"), "one");
  EXPECT_EQ(v->FindField("\0f"s), "v\0"s);
  EXPECT_EQ(v->FindField(""), "empty name");
  EXPECT_EQ(v->FindField("empty"), "");
  EXPECT_TRUE(v->FindField("empty").has_value());
  EXPECT_FALSE(v->FindField("f").has_value());
  EXPECT_FALSE(v->FindField("f1\0"s).has_value());
  EXPECT_FALSE(v->FindField("\0"s).has_value());
  EXPECT_EQ(v->ByteSize(), (2 + 3) + (2 + 2) + (0 + 10) + (5 + 0) +
                               4 * Value::kPerFieldOverhead);
}

TEST(ValueTest, FindFieldReturnsTheFirstOfDuplicates) {
  const ValuePtr v = Value::Hash({{"f", "first"}, {"f", "second"}});
  EXPECT_EQ(v->FindField("f"), "first");
}

TEST(ValueTest, EmptyHash) {
  const ValuePtr v = Value::Hash({});
  ASSERT_TRUE(v->is_hash());
  EXPECT_TRUE(v->fields().empty());
  EXPECT_EQ(v->fields().begin(), v->fields().end());
  EXPECT_FALSE(v->FindField("").has_value());
  EXPECT_EQ(v->ByteSize(), 0u);
}

TEST(ValueTest, ManyFields) {
  std::vector<Value::Field> fields;
  for (int i = 0; i < 5000; ++i) {
    fields.emplace_back(absl::StrCat("field", i), std::string(i % 37, 'x'));
  }
  const ValuePtr v = Value::Hash(fields);
  EXPECT_EQ(v->fields().size(), 5000u);
  EXPECT_EQ(v->CopyFields(), fields);
  for (int i = 0; i < 5000; i += 499) {
    EXPECT_EQ(v->FindField(absl::StrCat("field", i)), std::string(i % 37, 'x'));
  }
  EXPECT_FALSE(v->FindField("field5000").has_value());
}

TEST(ValueTest, Equality) {
  EXPECT_EQ(*Value::String("a"), *Value::String("a"));
  EXPECT_NE(*Value::String("a"), *Value::String("b"));
  EXPECT_NE(*Value::String(""), *Value::NotFound());
  EXPECT_NE(*Value::String(""), *Value::Hash({}));
  EXPECT_EQ(*Value::Hash({{"f", "v"}}), *Value::Hash({{"f", "v"}}));
  EXPECT_NE(*Value::Hash({{"f", "v"}}), *Value::Hash({{"f", "w"}}));
  EXPECT_NE(*Value::Hash({{"fv", ""}}), *Value::Hash({{"f", "v"}}));
  EXPECT_NE(*Value::Hash({{"a", "1"}, {"b", "2"}}),
            *Value::Hash({{"b", "2"}, {"a", "1"}}));
}

TEST(ValuePtrTest, SharedPtrLikeInterface) {
  ValuePtr p;
  EXPECT_TRUE(p == nullptr);
  EXPECT_FALSE(p);
  EXPECT_EQ(p.get(), nullptr);
  EXPECT_EQ(p.use_count(), 0);
  p = Value::String("x");
  EXPECT_TRUE(p != nullptr);
  EXPECT_TRUE(p);
  EXPECT_EQ(p.use_count(), 1);
  {
    ValuePtr q = p;
    EXPECT_EQ(q, p);
    EXPECT_EQ(p.use_count(), 2);
    ValuePtr r = std::move(q);
    EXPECT_EQ(q, nullptr);  // NOLINT: moved-from is null, as shared_ptr's
    EXPECT_EQ(p.use_count(), 2);
    r = r;  // NOLINT: self-assignment keeps the reference
    EXPECT_EQ(p.use_count(), 2);
  }
  EXPECT_EQ(p.use_count(), 1);
  EXPECT_EQ((*p).str(), "x");
  p.reset();
  EXPECT_EQ(p, nullptr);
}

TEST(ValuePtrTest, SharedOwnerKeepsTheValueAlive) {
  ValuePtr p = Value::String(std::string(10000, 'z'));
  const absl::string_view bytes = p->str();
  std::shared_ptr<const void> owner = ToSharedOwner(p);
  EXPECT_EQ(p.use_count(), 2);
  p.reset();  // the owner's reference is the last one
  EXPECT_EQ(bytes, std::string(10000, 'z'));  // ASan: not freed yet
  owner.reset();
}

TEST(ValuePtrTest, ConcurrentCopiesAndReleases) {
  const ValuePtr p = Value::String("shared");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        ValuePtr q = p;
        ASSERT_EQ(q->str(), "shared");
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(p.use_count(), 1);
}

// A reader holding a value keeps it valid after the cache evicted, erased or
// replaced its entry; the cache's own reference goes with the entry.
TEST(ValueLifetimeTest, ReaderOutlivesEviction) {
  ManualClock clock;
  CacheOptions options;
  options.num_shards = 1;
  options.max_bytes = 2 * (ShardedLruCache::kEntryOverhead + 1 + 100);
  ShardedLruCache cache(options, &clock);
  auto put = [&](absl::string_view key, ValuePtr v) {
    return cache.Insert(key, cache.BeginFetch(key), std::move(v));
  };
  ASSERT_EQ(put("a", Value::String(std::string(100, 'a'))),
            InsertResult::kStoredFresh);
  std::optional<CacheEntry> held = cache.Lookup("a");
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->value.use_count(), 2);  // the cache's and ours
  const absl::string_view view = held->value->str();

  put("b", Value::String(std::string(100, 'b')));
  put("c", Value::String(std::string(100, 'c')));  // evicts "a"
  EXPECT_FALSE(cache.Lookup("a").has_value());
  EXPECT_EQ(held->value.use_count(), 1);  // only ours now
  EXPECT_EQ(view, std::string(100, 'a'));

  std::optional<CacheEntry> b = cache.Lookup("b");
  ASSERT_TRUE(b.has_value());
  cache.Erase("b");
  EXPECT_EQ(b->value.use_count(), 1);
  EXPECT_EQ(b->value->str(), std::string(100, 'b'));

  std::optional<CacheEntry> c = cache.Lookup("c");
  ASSERT_TRUE(c.has_value());
  put("c", Value::String("new"));  // replaced
  EXPECT_EQ(c->value.use_count(), 1);
  EXPECT_EQ(c->value->str(), std::string(100, 'c'));
  EXPECT_EQ(cache.Lookup("c")->value->str(), "new");
}

TEST(ValueLifetimeTest, OneValueUnderManyKeys) {
  ManualClock clock;
  CacheOptions options;
  ShardedLruCache cache(options, &clock);
  const ValuePtr v = Value::Hash({{"f", "v"}});
  for (int i = 0; i < 100; ++i) {
    const std::string key = absl::StrCat("k", i);
    cache.Insert(key, cache.BeginFetch(key), v);
  }
  EXPECT_EQ(v.use_count(), 101);
  for (int i = 0; i < 50; ++i) cache.Erase(absl::StrCat("k", i));
  EXPECT_EQ(v.use_count(), 51);
  EXPECT_EQ(cache.Lookup("k77")->value, v);  // the same value, not a copy
}

}  // namespace
}  // namespace nearcache
