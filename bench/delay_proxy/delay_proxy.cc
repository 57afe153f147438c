// nc_delay_proxy: a user-space proxy that delays every chunk it forwards by
// a fixed time each way, to put a simulated network hop between nearcache
// and redis-server on one machine (where tc/netem is not available).
//
// One thread, epoll. Each chunk read from one side is stamped with
// now + delay and queued; a timerfd fires at the earliest due time and due
// chunks are written to the other side in the order they were read, so byte
// order is preserved in both directions. Because the delay of a direction is
// constant, each direction's queue is in due order: two FIFOs and one timer
// are all the scheduling needed. An end of stream is delayed like data.
//
// --cut-after-bytes N closes a connection (both sides) once N bytes have been
// forwarded from the upstream to the client: a reply cut mid-way, for fault
// tests.
//
// --armed-by-signal makes both faults switchable at run time, for fault
// tests under load: the proxy starts disarmed (no delay, no cut), SIGUSR1
// arms it and SIGUSR2 disarms it. Armed, a connection is cut once it has
// forwarded N more bytes downstream since the proxy was armed. Bytes already
// queued keep their order: a chunk is never due before the one read before
// it in the same direction.
//
// Run with --help for the options.
#include <getopt.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/net_util.h"

namespace nearcache::bench {
namespace {

using Address = NetAddress;

Address ParseAddress(const std::string& flag, const std::string& s) {
  return ParseNetAddress(flag, s);
}

// Connects to the upstream (blocking: it is local) and returns the socket,
// nonblocking, or -1.
int ConnectUpstream(const Address& a) {
  const int fd = ConnectTo(a);
  if (fd >= 0) SetNonBlocking(fd);
  return fd;
}

struct Options {
  Address listen;
  Address upstream;
  uint64_t delay_up_ns = 500'000;    // client -> upstream
  uint64_t delay_down_ns = 500'000;  // upstream -> client
  uint64_t cut_after_bytes = 0;      // 0: never
  bool armed_by_signal = false;      // SIGUSR1 arms, SIGUSR2 disarms
  bool quiet = false;
};

constexpr char kUsage[] =
    R"(usage: nc_delay_proxy --listen ADDR --upstream ADDR [options]

ADDR is unix:/path/to.sock, tcp:host:port or host:port.

  --delay-ms MS            delay added each way, default 0.5 (fractions ok)
  --delay-up-ms MS         client -> upstream only
  --delay-down-ms MS       upstream -> client only
  --cut-after-bytes N      close a connection once N bytes went upstream ->
                           client (cuts a reply mid-way); default never
  --armed-by-signal        start disarmed (no delay, no cut); SIGUSR1 arms
                           the delay and the cut, SIGUSR2 disarms them. Armed,
                           a connection is cut after N more bytes down
  --quiet                  no log lines
Stops on SIGINT/SIGTERM and prints its counters.
)";

uint64_t MsToNs(const char* flag, const char* s) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || !(v >= 0) || v > 60'000) {
    Die(std::string("bad value for ") + flag + ": " + s);
  }
  return static_cast<uint64_t>(std::llround(v * 1e6));
}

Options ParseOptions(int argc, char** argv) {
  enum {
    kListen = 1000,
    kUpstream,
    kDelay,
    kDelayUp,
    kDelayDown,
    kCut,
    kArmed,
    kQuiet,
    kHelp
  };
  static const option kLong[] = {
      {"listen", required_argument, nullptr, kListen},
      {"upstream", required_argument, nullptr, kUpstream},
      {"delay-ms", required_argument, nullptr, kDelay},
      {"delay-up-ms", required_argument, nullptr, kDelayUp},
      {"delay-down-ms", required_argument, nullptr, kDelayDown},
      {"cut-after-bytes", required_argument, nullptr, kCut},
      {"armed-by-signal", no_argument, nullptr, kArmed},
      {"quiet", no_argument, nullptr, kQuiet},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0},
  };
  Options o;
  bool have_listen = false, have_upstream = false;
  for (;;) {
    const int c = getopt_long(argc, argv, "", kLong, nullptr);
    if (c == -1) break;
    switch (c) {
      case kListen:
        o.listen = ParseAddress("--listen", optarg);
        have_listen = true;
        break;
      case kUpstream:
        o.upstream = ParseAddress("--upstream", optarg);
        have_upstream = true;
        break;
      case kDelay:
        o.delay_up_ns = o.delay_down_ns = MsToNs("--delay-ms", optarg);
        break;
      case kDelayUp:
        o.delay_up_ns = MsToNs("--delay-up-ms", optarg);
        break;
      case kDelayDown:
        o.delay_down_ns = MsToNs("--delay-down-ms", optarg);
        break;
      case kCut: {
        char* end = nullptr;
        o.cut_after_bytes = std::strtoull(optarg, &end, 10);
        if (end == optarg || *end != '\0') Die("bad --cut-after-bytes");
        break;
      }
      case kArmed:
        o.armed_by_signal = true;
        break;
      case kQuiet:
        o.quiet = true;
        break;
      case kHelp:
        std::fputs(kUsage, stdout);
        std::exit(0);
      default:
        std::fputs(kUsage, stderr);
        std::exit(2);
    }
  }
  if (!have_listen || !have_upstream) {
    std::fputs(kUsage, stderr);
    std::exit(2);
  }
  return o;
}

struct Pair;

// One direction of a connection pair: bytes read from `from`, written to
// `to`. `out` holds bytes that are due but not yet written.
struct Direction {
  Pair* pair = nullptr;
  int from = -1, to = -1;
  bool down = false;      // upstream -> client
  bool read_eof = false;  // `from` ended (or failed)
  bool eof_delivered = false;
  std::string out;
  size_t out_off = 0;
  uint64_t queued = 0;  // bytes read and not yet due
};

// A client connection and its upstream connection.
struct Pair {
  uint64_t id = 0;
  int client = -1, upstream = -1;
  Direction up, down;
  uint64_t bytes_down = 0;
  uint64_t arm_epoch = 0;  // the arming `cut_base` belongs to
  uint64_t cut_base = 0;   // bytes_down when that arming began
  bool closed = false;
};

// A chunk waiting for its due time.
struct Chunk {
  uint64_t due = 0;
  std::shared_ptr<Pair> pair;
  std::string data;  // empty: the end of the stream
};

// Per-socket epoll registration: which pair and which side.
struct Handle {
  std::shared_ptr<Pair> pair;
  bool is_client = false;
  uint32_t events = 0;
};

class Proxy {
 public:
  explicit Proxy(Options o) : o_(std::move(o)), armed_(!o_.armed_by_signal) {}

  int Run() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    listen_fd_ = ListenOrDie(o_.listen);
    timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    Add(listen_fd_, EPOLLIN, kListenTag);
    Add(timer_, EPOLLIN, kTimerTag);
    Add(signal_fd_, EPOLLIN, kSignalTag);
    if (!o_.quiet) {
      std::fprintf(stderr,
                   "nc_delay_proxy: %s -> %s, delay %.3f ms up, %.3f ms "
                   "down%s%s\n",
                   o_.listen.ToString().c_str(), o_.upstream.ToString().c_str(),
                   o_.delay_up_ns / 1e6, o_.delay_down_ns / 1e6,
                   o_.cut_after_bytes
                       ? (", cut after " + std::to_string(o_.cut_after_bytes) +
                          " bytes down")
                             .c_str()
                       : "",
                   o_.armed_by_signal ? ", disarmed until SIGUSR1" : "");
    }
    std::vector<epoll_event> events(256);
    bool running = true;
    while (running) {
      const int n = epoll_wait(epoll_, events.data(),
                               static_cast<int>(events.size()), -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        Die(std::string("epoll_wait: ") + strerror(errno));
      }
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = events[i].data.u64;
        if (tag == kListenTag) {
          Accept();
        } else if (tag == kTimerTag) {
          uint64_t expirations;
          [[maybe_unused]] ssize_t r = read(timer_, &expirations, 8);
          DeliverDue();
        } else if (tag == kSignalTag) {
          running = OnSignal();
        } else {
          OnSocket(static_cast<int>(tag), events[i].events);
        }
      }
    }
    if (!o_.listen.unix_path.empty()) {
      unlink(o_.listen.unix_path.c_str());
    }
    std::fprintf(stderr,
                 "nc_delay_proxy: connections %" PRIu64 " (cut %" PRIu64
                 ", upstream refused %" PRIu64 "), bytes up %" PRIu64
                 ", down %" PRIu64 ", armed %" PRIu64 " times\n",
                 accepted_, cut_, refused_, bytes_up_, bytes_down_, arm_epoch_);
    return 0;
  }

 private:
  static constexpr uint64_t kListenTag = ~uint64_t{0};
  static constexpr uint64_t kTimerTag = ~uint64_t{0} - 1;
  static constexpr uint64_t kSignalTag = ~uint64_t{0} - 2;
  // Stop reading a side while this much is queued towards the other.
  static constexpr uint64_t kMaxQueued = 8 << 20;

  // Reads the pending signals; false when the proxy should stop.
  bool OnSignal() {
    signalfd_siginfo si;
    while (read(signal_fd_, &si, sizeof(si)) == sizeof(si)) {
      if (si.ssi_signo == SIGUSR1) {
        if (!armed_) {
          armed_ = true;
          ++arm_epoch_;
        }
        if (!o_.quiet) std::fprintf(stderr, "nc_delay_proxy: armed\n");
      } else if (si.ssi_signo == SIGUSR2) {
        armed_ = false;
        if (!o_.quiet) std::fprintf(stderr, "nc_delay_proxy: disarmed\n");
      } else {
        return false;
      }
    }
    return true;
  }

  void Add(int fd, uint32_t events, uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }

  void Accept() {
    for (;;) {
      const int fd =
          accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      if (o_.listen.unix_path.empty()) SetNoDelay(fd);
      const int up = ConnectUpstream(o_.upstream);
      if (up < 0) {
        ++refused_;
        close(fd);
        continue;
      }
      ++accepted_;
      auto pair = std::make_shared<Pair>();
      pair->id = accepted_;
      pair->client = fd;
      pair->upstream = up;
      pair->up.pair = pair->down.pair = pair.get();
      pair->up.from = pair->down.to = fd;
      pair->up.to = pair->down.from = up;
      pair->down.down = true;
      Register(fd, pair, true);
      Register(up, pair, false);
    }
  }

  void Register(int fd, const std::shared_ptr<Pair>& pair, bool is_client) {
    if (static_cast<size_t>(fd) >= handles_.size()) handles_.resize(fd + 64);
    handles_[fd] = Handle{pair, is_client, EPOLLIN};
    Add(fd, EPOLLIN, static_cast<uint64_t>(fd));
  }

  void SetEvents(int fd, uint32_t events) {
    Handle& h = handles_[fd];
    if (h.events == events) return;
    h.events = events;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = static_cast<uint64_t>(fd);
    epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
  }

  void OnSocket(int fd, uint32_t events) {
    if (static_cast<size_t>(fd) >= handles_.size() || !handles_[fd].pair) {
      return;
    }
    std::shared_ptr<Pair> pair = handles_[fd].pair;
    const bool is_client = handles_[fd].is_client;
    // Reading `fd` feeds the direction that starts at it; writing `fd`
    // drains the direction that ends at it.
    Direction& reading = is_client ? pair->up : pair->down;
    Direction& writing = is_client ? pair->down : pair->up;
    if (events & EPOLLOUT) Write(writing);
    if (pair->closed) return;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) Read(pair, reading);
  }

  void Read(const std::shared_ptr<Pair>& pair, Direction& d) {
    if (d.read_eof) return;
    char buf[64 << 10];
    const ssize_t n = read(d.from, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    const uint64_t delay =
        armed_ ? (d.down ? o_.delay_down_ns : o_.delay_up_ns) : 0;
    std::deque<Chunk>& q = d.down ? down_ : up_;
    Chunk chunk;
    chunk.due = NowNs() + delay;
    // Disarming must not let new bytes overtake ones still delayed.
    if (!q.empty()) chunk.due = std::max(chunk.due, q.back().due);
    chunk.pair = pair;
    if (n <= 0) {
      d.read_eof = true;  // delayed like data, then a half close
    } else {
      chunk.data.assign(buf, static_cast<size_t>(n));
      d.queued += static_cast<uint64_t>(n);
      (d.down ? bytes_down_ : bytes_up_) += static_cast<uint64_t>(n);
    }
    const bool was_empty = up_.empty() && down_.empty();
    const uint64_t old_first = was_empty ? 0 : FirstDue();
    q.push_back(std::move(chunk));
    if (was_empty || FirstDue() < old_first) ArmTimer();
    UpdateReadInterest(d);
  }

  // Stops reading a side whose data piles up (it is resumed when drained).
  void UpdateReadInterest(Direction& d) {
    if (d.pair->closed) return;
    const bool want_read =
        !d.read_eof && d.queued + (d.out.size() - d.out_off) < kMaxQueued;
    Direction& other = d.down ? d.pair->up : d.pair->down;
    // `d.from` is written by `other`.
    const bool want_write = other.out_off < other.out.size();
    SetEvents(d.from, (want_read ? EPOLLIN : 0u) |
                          (want_write ? uint32_t{EPOLLOUT} : 0u));
  }

  uint64_t FirstDue() const {
    uint64_t first = ~uint64_t{0};
    if (!up_.empty()) first = std::min(first, up_.front().due);
    if (!down_.empty()) first = std::min(first, down_.front().due);
    return first;
  }

  void ArmTimer() {
    itimerspec its{};
    if (!up_.empty() || !down_.empty()) {
      const uint64_t due = FirstDue();
      its.it_value.tv_sec = static_cast<time_t>(due / 1000000000u);
      its.it_value.tv_nsec = static_cast<long>(due % 1000000000u);
      if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) {
        its.it_value.tv_nsec = 1;
      }
    }
    timerfd_settime(timer_, TFD_TIMER_ABSTIME, &its, nullptr);
  }

  void DeliverDue() {
    const uint64_t now = NowNs();
    for (std::deque<Chunk>* q : {&up_, &down_}) {
      while (!q->empty() && q->front().due <= now) {
        Chunk chunk = std::move(q->front());
        q->pop_front();
        Pair* pair = chunk.pair.get();
        if (pair->closed) continue;
        Direction& d = q == &down_ ? pair->down : pair->up;
        if (chunk.data.empty()) {
          d.eof_delivered = true;
        } else {
          d.queued -= chunk.data.size();
          std::string_view data = chunk.data;
          if (d.down && armed_ && pair->arm_epoch != arm_epoch_) {
            pair->arm_epoch = arm_epoch_;
            pair->cut_base = pair->bytes_down;
          }
          const uint64_t cut_at = pair->cut_base + o_.cut_after_bytes;
          if (d.down && armed_ && o_.cut_after_bytes != 0 &&
              pair->bytes_down + data.size() >= cut_at) {
            data = data.substr(0, cut_at - pair->bytes_down);
            d.out.append(data);
            pair->bytes_down += data.size();
            Write(d);
            ++cut_;
            Close(pair);
            continue;
          }
          if (d.down) pair->bytes_down += data.size();
          d.out.append(data);
        }
        Write(d);
      }
    }
    ArmTimer();
  }

  void Write(Direction& d) {
    Pair* pair = d.pair;
    if (pair->closed) return;
    while (d.out_off < d.out.size()) {
      const ssize_t n =
          write(d.to, d.out.data() + d.out_off, d.out.size() - d.out_off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {
        Close(pair);
        return;
      }
      d.out_off += static_cast<size_t>(n);
    }
    if (d.out_off == d.out.size()) {
      d.out.clear();
      d.out_off = 0;
      if (d.eof_delivered) {
        shutdown(d.to, SHUT_WR);
        Direction& other = d.down ? pair->up : pair->down;
        if (other.eof_delivered && other.out.empty()) {
          Close(pair);
          return;
        }
      }
    }
    // Interest on `d.to`: read its own direction, write this one.
    Direction& other = d.down ? pair->up : pair->down;
    UpdateReadInterest(other);
    UpdateReadInterest(d);
  }

  void Close(Pair* pair) {
    if (pair->closed) return;
    pair->closed = true;
    for (int fd : {pair->client, pair->upstream}) {
      epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
      close(fd);
      handles_[fd].pair.reset();  // may free the pair: touch nothing after
    }
  }

  Options o_;
  int epoll_ = -1, listen_fd_ = -1, timer_ = -1, signal_fd_ = -1;
  std::vector<Handle> handles_;
  std::deque<Chunk> up_, down_;
  uint64_t accepted_ = 0, refused_ = 0, cut_ = 0;
  uint64_t bytes_up_ = 0, bytes_down_ = 0;
  bool armed_ = true;
  uint64_t arm_epoch_ = 0;
};

}  // namespace
}  // namespace nearcache::bench

int main(int argc, char** argv) {
  nearcache::bench::SetProgramName("nc_delay_proxy");
  signal(SIGPIPE, SIG_IGN);
  // Chunks are released on timer expiries: keep the kernel's default 50 us
  // timer slack out of the configured delay.
  prctl(PR_SET_TIMERSLACK, 1UL);
  nearcache::bench::Proxy proxy(nearcache::bench::ParseOptions(argc, argv));
  return proxy.Run();
}
