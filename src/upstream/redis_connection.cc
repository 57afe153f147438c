#include "upstream/redis_connection.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace nearcache {
namespace {

using boost::system::error_code;
using Socket = asio::generic::stream_protocol::socket;
using TlsStream = asio::ssl::stream<Socket&>;

constexpr size_t kReadChunk = 16 * 1024;
// Long replies in error messages are cut to this many characters.
constexpr size_t kMaxReplyInMessage = 200;

struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};

std::string Describe(const RedisEndpoint& e) {
  switch (e.transport) {
    case RedisEndpoint::Transport::kUnix:
      return absl::StrCat("unix://", e.unix_path, "?db=", e.db);
    case RedisEndpoint::Transport::kTls:
      return absl::StrCat("rediss://", e.host, ":", e.port, "/", e.db);
    case RedisEndpoint::Transport::kTcp:
      break;
  }
  return absl::StrCat("redis://", e.host, ":", e.port, "/", e.db);
}

// A time point `d` from now; never for a zero or infinite `d` (no timeout).
std::chrono::steady_clock::time_point DeadlineAfter(absl::Duration d) {
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return std::chrono::steady_clock::time_point::max();
  }
  return std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(d);
}

std::string Truncated(const RedisReply& r) {
  std::string s = r.ToString();
  if (s.size() > kMaxReplyInMessage) {
    s.resize(kMaxReplyInMessage);
    s += "...";
  }
  return s;
}

bool IsPushMessage(const RedisReply& r) {
  if (r.type != RedisReply::Type::kArray || r.elements.empty() ||
      r.elements[0].type != RedisReply::Type::kString) {
    return false;
  }
  const std::string& kind = r.elements[0].str;
  size_t n = r.elements.size();
  return ((kind == "message" || kind == "smessage") && n == 3) ||
         (kind == "pmessage" && n == 4);
}

// Maps an error reply to a handshake command onto a Status code.
absl::Status HandshakeError(absl::string_view command, const RedisReply& r,
                            bool is_auth) {
  std::string msg = absl::StrCat(command, " failed: ", r.str);
  if (is_auth || absl::StartsWith(r.str, "NOAUTH") ||
      absl::StartsWith(r.str, "WRONGPASS")) {
    return absl::UnauthenticatedError(msg);
  }
  if (absl::StartsWith(r.str, "NOPERM")) {
    return absl::PermissionDeniedError(msg);
  }
  return absl::FailedPreconditionError(msg);
}

// The bytes under the RESP codec: a TCP or Unix socket, or TLS over the
// TCP socket once StartTls() ran. An AsyncReadStream and AsyncWriteStream,
// so that one read loop and one write loop serve every transport.
class ByteStream {
 public:
  using executor_type = Socket::executor_type;

  explicit ByteStream(const asio::any_io_executor& ex) : socket_(ex) {}

  executor_type get_executor() { return socket_.get_executor(); }
  // The transport socket (TCP or Unix), under TLS when there is one.
  Socket& socket() { return socket_; }

  // Layers TLS over the connected socket.
  TlsStream& StartTls(asio::ssl::context& context) {
    tls_.emplace(socket_, context);
    return *tls_;
  }

  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return socket_.async_read_some(buffers, std::forward<Token>(token));
  }

  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    if (tls_) {
      return tls_->async_write_some(buffers, std::forward<Token>(token));
    }
    return socket_.async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  Socket socket_;
  // Declared after socket_: destroyed before the socket it refers to.
  std::optional<TlsStream> tls_;
};

// The name TLS checks the certificate against (and sends as SNI).
std::string TlsServerName(const ConnectionOptions& o) {
  return o.tls.server_name.empty() ? o.endpoint.host : o.tls.server_name;
}

}  // namespace

struct RedisConnection::Io {
  explicit Io(const asio::any_io_executor& ex)
      : stream(ex),
        resolver(ex),
        connect_timer(ex),
        reader(redisReaderCreate()) {}

  // Outlives `stream`'s TLS state, which points into it.
  std::shared_ptr<asio::ssl::context> tls_context;
  ByteStream stream;
  asio::ip::tcp::resolver resolver;
  asio::steady_timer connect_timer;
  std::unique_ptr<redisReader, ReaderDeleter> reader;
  std::string write_buf;  // encoded requests not yet handed to the socket
  std::string in_flight;  // the bytes of the write in progress
  std::array<char, kReadChunk> read_buf;
};

struct RedisConnection::Request {
  explicit Request(const asio::any_io_executor& ex) : timer(ex) {}

  // Expires at the command deadline; cancelled to wake the waiter early.
  asio::steady_timer timer;
  size_t expected = 1;
  bool subscribe = false;
  bool done = false;
  absl::Status status;
  std::vector<RedisReply> replies;
};

RedisConnection::RedisConnection(asio::any_io_executor executor,
                                 ConnectionOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      peer_(Describe(options_.endpoint)),
      io_(std::make_unique<Io>(executor_)) {}

RedisConnection::~RedisConnection() {
  error_code ignored;
  io_->stream.socket().close(ignored);
}

asio::awaitable<absl::StatusOr<std::shared_ptr<RedisConnection>>>
RedisConnection::Connect(asio::any_io_executor executor,
                         ConnectionOptions options,
                         std::shared_ptr<asio::ssl::context> tls_context) {
  std::shared_ptr<RedisConnection> conn(
      new RedisConnection(std::move(executor), std::move(options)));
  absl::Status status = co_await conn->Open(std::move(tls_context));
  if (!status.ok()) {
    conn->on_closed_ = nullptr;
    conn->Shutdown(status);
    co_return status;
  }
  co_return conn;
}

asio::awaitable<absl::Status> RedisConnection::Open(
    std::shared_ptr<asio::ssl::context> tls_context) {
  const bool tls =
      options_.endpoint.transport == RedisEndpoint::Transport::kTls;
  if (tls && tls_context == nullptr) {
    absl::StatusOr<std::shared_ptr<asio::ssl::context>> made =
        MakeTlsContext(options_.tls);
    if (!made.ok()) {
      co_return absl::Status(
          made.status().code(),
          absl::StrCat("connect to ", peer_, ": ", made.status().message()));
    }
    tls_context = *std::move(made);
  }
  if (io_->reader == nullptr) {
    co_return absl::ResourceExhaustedError("cannot allocate a RESP reader");
  }
  io_->connect_timer.expires_at(DeadlineAfter(options_.connect_timeout));
  asio::co_spawn(executor_, ConnectWatchdog(shared_from_this()),
                 asio::detached);
  absl::Status status = co_await ConnectSocket();
  if (status.ok() && tls && !connect_timed_out_) {
    connect_step_ = "TLS handshake";
    io_->tls_context = std::move(tls_context);
    status = co_await TlsHandshake(*io_->tls_context);
  }
  io_->connect_timer.cancel();
  if (connect_timed_out_) {
    co_return absl::DeadlineExceededError(
        absl::StrCat(connect_step_, " with ", peer_, " timed out after ",
                     absl::FormatDuration(options_.connect_timeout)));
  }
  if (!status.ok()) co_return status;
  if (state_ != State::kConnecting) {
    co_return absl::UnavailableError(
        absl::StrCat("connection to ", peer_, " closed while connecting"));
  }

  state_ = State::kOpen;
  asio::co_spawn(executor_, ReadLoop(shared_from_this()), asio::detached);
  co_return co_await Handshake();
}

asio::awaitable<void> RedisConnection::ConnectWatchdog(
    std::shared_ptr<RedisConnection> self) {
  if (self->state_ != State::kConnecting) co_return;
  error_code ec;
  co_await self->io_->connect_timer.async_wait(
      asio::redirect_error(asio::use_awaitable, ec));
  if (!ec && self->state_ == State::kConnecting) {
    // The pending resolve or connect completes with operation_aborted and
    // Open() reports the timeout.
    self->connect_timed_out_ = true;
    self->io_->resolver.cancel();
    error_code ignored;
    self->io_->stream.socket().close(ignored);
  }
}

asio::awaitable<absl::Status> RedisConnection::ConnectSocket() {
  error_code ec;
  const RedisEndpoint& e = options_.endpoint;
  if (e.transport == RedisEndpoint::Transport::kUnix) {
    asio::local::stream_protocol::endpoint ep(e.unix_path);
    co_await io_->stream.socket().async_connect(
        asio::generic::stream_protocol::endpoint(ep),
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      co_return absl::UnavailableError(
          absl::StrCat("connect to ", peer_, " failed: ", ec.message()));
    }
    co_return absl::OkStatus();
  }

  asio::ip::tcp::resolver::results_type results =
      co_await io_->resolver.async_resolve(
          e.host, std::to_string(e.port),
          asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return absl::UnavailableError(absl::StrCat(
        "cannot resolve ", e.host, " for ", peer_, ": ", ec.message()));
  }
  for (const auto& entry : results) {
    if (connect_timed_out_) break;
    Socket& socket = io_->stream.socket();
    error_code ignored;
    socket.close(ignored);
    co_await socket.async_connect(
        asio::generic::stream_protocol::endpoint(entry.endpoint()),
        asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      // Requests are small and latency-bound: do not let Nagle hold them.
      socket.set_option(asio::ip::tcp::no_delay(true), ignored);
      co_return absl::OkStatus();
    }
  }
  if (!ec) ec = asio::error::host_not_found;
  co_return absl::UnavailableError(
      absl::StrCat("connect to ", peer_, " failed: ", ec.message()));
}

asio::awaitable<absl::Status> RedisConnection::TlsHandshake(
    asio::ssl::context& context) {
  TlsStream& tls = io_->stream.StartTls(context);
  SSL* ssl = tls.native_handle();
  const std::string name = TlsServerName(options_);
  error_code ec;
  asio::ip::make_address(name, ec);
  const bool is_ip = !ec;
  // RFC 6066: SNI carries host names only.
  if (!is_ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("TLS server name '", name, "' for ", peer_,
                     " is not a valid host name"));
  }
  if (options_.tls.verify) {
    tls.set_verify_mode(asio::ssl::verify_peer, ec);
    // The name check asio's host_name_verification runs, given to OpenSSL
    // as a verify parameter rather than run in a verify callback: a mismatch
    // then shows in the verify result ("hostname mismatch") instead of
    // failing the handshake with no reason.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param,
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int set = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                    : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
    if (set != 1) {
      co_return absl::InvalidArgumentError(absl::StrCat(
          "TLS server name '", name, "' for ", peer_, " cannot be checked"));
    }
  } else {
    tls.set_verify_mode(asio::ssl::verify_none, ec);
  }

  co_await tls.async_handshake(asio::ssl::stream_base::client,
                               asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) co_return absl::OkStatus();
  if (connect_timed_out_) co_return absl::OkStatus();     // Open() reports it
  const long verify_result = SSL_get_verify_result(ssl);  // NOLINT(runtime/int)
  if (options_.tls.verify && verify_result != X509_V_OK) {
    co_return absl::FailedPreconditionError(absl::StrCat(
        "TLS handshake with ", peer_, " failed: certificate verify failed: ",
        X509_verify_cert_error_string(verify_result), " (server name '", name,
        "', CA ",
        options_.tls.ca_file.empty() ? "the system's" : options_.tls.ca_file,
        ")"));
  }
  co_return absl::UnavailableError(absl::StrCat(
      "TLS handshake with ", peer_, " failed: ",
      ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
          ? "the server closed the connection"
          : ec.message()));
}

asio::awaitable<absl::Status> RedisConnection::Handshake() {
  enum class Step { kAuth, kSelect, kSetName, kId };
  std::vector<std::vector<std::string>> commands;
  std::vector<Step> steps;
  if (!options_.username.empty()) {
    commands.push_back({"AUTH", options_.username, options_.password});
    steps.push_back(Step::kAuth);
  } else if (!options_.password.empty()) {
    commands.push_back({"AUTH", options_.password});
    steps.push_back(Step::kAuth);
  }
  if (options_.endpoint.db != 0) {
    commands.push_back({"SELECT", std::to_string(options_.endpoint.db)});
    steps.push_back(Step::kSelect);
  }
  if (!options_.client_name.empty()) {
    commands.push_back({"CLIENT", "SETNAME", options_.client_name});
    steps.push_back(Step::kSetName);
  }
  commands.push_back({"CLIENT", "ID"});
  steps.push_back(Step::kId);

  // One round trip: a failed AUTH makes the rest fail with NOAUTH, and the
  // first error is the one reported.
  absl::StatusOr<std::vector<RedisReply>> replies =
      co_await ExecuteBatch(std::move(commands));
  if (!replies.ok()) {
    co_return absl::Status(replies.status().code(),
                           absl::StrCat("handshake with ", peer_, ": ",
                                        replies.status().message()));
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    const RedisReply& r = (*replies)[i];
    switch (steps[i]) {
      case Step::kAuth:
        if (r.is_error()) {
          co_return HandshakeError(
              options_.username.empty()
                  ? absl::StrCat("AUTH to ", peer_)
                  : absl::StrCat("AUTH as user '", options_.username, "' to ",
                                 peer_),
              r, /*is_auth=*/true);
        }
        break;
      case Step::kSelect:
        if (r.is_error()) {
          co_return HandshakeError(
              absl::StrCat("SELECT ", options_.endpoint.db, " on ", peer_), r,
              false);
        }
        break;
      case Step::kSetName:
        if (r.is_error()) {
          co_return HandshakeError(absl::StrCat("CLIENT SETNAME on ", peer_), r,
                                   false);
        }
        break;
      case Step::kId:
        if (r.is_error()) {
          co_return HandshakeError(absl::StrCat("CLIENT ID on ", peer_), r,
                                   false);
        }
        if (r.type != RedisReply::Type::kInteger) {
          co_return absl::FailedPreconditionError(
              absl::StrCat("CLIENT ID on ", peer_,
                           " returned a non-integer: ", Truncated(r)));
        }
        client_id_ = r.integer;
        break;
    }
  }
  co_return absl::OkStatus();
}

asio::awaitable<absl::StatusOr<RedisReply>> RedisConnection::Execute(
    std::vector<std::string> args) {
  std::vector<std::vector<std::string>> commands;
  commands.push_back(std::move(args));
  absl::StatusOr<std::vector<RedisReply>> replies =
      co_await Send(std::move(commands), 1, /*subscribe=*/false);
  if (!replies.ok()) co_return replies.status();
  co_return std::move(replies->front());
}

asio::awaitable<absl::StatusOr<std::vector<RedisReply>>>
RedisConnection::ExecuteBatch(std::vector<std::vector<std::string>> commands) {
  if (commands.empty()) co_return std::vector<RedisReply>();
  size_t n = commands.size();
  co_return co_await Send(std::move(commands), n, /*subscribe=*/false);
}

asio::awaitable<absl::Status> RedisConnection::Subscribe(
    std::vector<std::string> channels) {
  if (channels.empty()) {
    co_return absl::InvalidArgumentError("SUBSCRIBE needs a channel");
  }
  size_t n = channels.size();
  std::vector<std::string> args;
  args.reserve(n + 1);
  args.push_back("SUBSCRIBE");
  for (std::string& c : channels) args.push_back(std::move(c));
  std::vector<std::vector<std::string>> commands;
  commands.push_back(std::move(args));
  absl::StatusOr<std::vector<RedisReply>> replies =
      co_await Send(std::move(commands), n, /*subscribe=*/true);
  if (!replies.ok()) co_return replies.status();
  for (const RedisReply& r : *replies) {
    if (r.is_error()) {
      co_return HandshakeError(absl::StrCat("SUBSCRIBE on ", peer_), r, false);
    }
    if (!(r.is_array() && !r.elements.empty() &&
          r.elements[0].IsText("subscribe"))) {
      co_return absl::FailedPreconditionError(absl::StrCat(
          "SUBSCRIBE on ", peer_, ": unexpected reply ", Truncated(r)));
    }
  }
  co_return absl::OkStatus();
}

asio::awaitable<absl::Status> RedisConnection::Ping() {
  std::vector<std::string> ping = {"PING"};
  absl::StatusOr<RedisReply> r = co_await Execute(std::move(ping));
  if (!r.ok()) co_return r.status();
  if (r->IsText("PONG") || (r->is_array() && !r->elements.empty() &&
                            r->elements[0].IsText("pong"))) {
    co_return absl::OkStatus();
  }
  co_return absl::UnavailableError(
      absl::StrCat("PING to ", peer_, " answered ", Truncated(*r)));
}

asio::awaitable<absl::StatusOr<std::vector<RedisReply>>> RedisConnection::Send(
    std::vector<std::vector<std::string>> commands, size_t expected,
    bool subscribe) {
  if (state_ != State::kOpen) {
    co_return absl::UnavailableError(
        absl::StrCat("connection to ", peer_, " is closed",
                     close_reason_.ok() ? "" : ": ", close_reason_.message()));
  }
  // Keeps the connection (and so the request) alive until the reply.
  std::shared_ptr<RedisConnection> self = shared_from_this();
  auto req = std::make_shared<Request>(executor_);
  req->expected = expected;
  req->subscribe = subscribe;
  req->replies.reserve(expected);
  req->timer.expires_at(DeadlineAfter(options_.command_timeout));
  for (const std::vector<std::string>& args : commands) {
    AppendRedisCommand(args, &io_->write_buf);
  }
  pending_.push_back(req);
  if (!writing_) {
    // The writer starts after this handler returns, so that the requests of
    // every coroutine that runs before it share its first write.
    writing_ = true;
    asio::co_spawn(executor_, WriteLoop(self), asio::detached);
  }

  error_code ec;
  while (!req->done) {
    co_await req->timer.async_wait(
        asio::redirect_error(asio::use_awaitable, ec));
    if (req->done || ec == asio::error::operation_aborted) continue;
    // The deadline passed with the reply still missing.
    absl::Status timeout = absl::DeadlineExceededError(
        absl::StrCat("command to ", peer_, " timed out after ",
                     absl::FormatDuration(options_.command_timeout)));
    req->done = true;
    req->status = timeout;
    Shutdown(timeout);
  }
  if (!req->status.ok()) co_return req->status;
  co_return std::move(req->replies);
}

asio::awaitable<void> RedisConnection::WriteLoop(
    std::shared_ptr<RedisConnection> self) {
  Io& io = *self->io_;
  error_code ec;
  while (self->state_ == State::kOpen && !io.write_buf.empty()) {
    io.in_flight.clear();
    io.in_flight.swap(io.write_buf);
    co_await asio::async_write(io.stream, asio::buffer(io.in_flight),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      self->Shutdown(absl::UnavailableError(
          absl::StrCat("write to ", self->peer_, " failed: ", ec.message())));
      break;
    }
  }
  self->writing_ = false;
}

asio::awaitable<void> RedisConnection::ReadLoop(
    std::shared_ptr<RedisConnection> self) {
  Io& io = *self->io_;
  std::array<char, kReadChunk>& buf = io.read_buf;
  error_code ec;
  while (self->state_ == State::kOpen) {
    size_t n = co_await io.stream.async_read_some(
        asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      // stream_truncated: TLS without a close_notify, as Redis closes.
      self->Shutdown(absl::UnavailableError(
          ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
              ? absl::StrCat("Redis at ", self->peer_, " closed the connection")
              : absl::StrCat("read from ", self->peer_,
                             " failed: ", ec.message())));
      break;
    }
    if (redisReaderFeed(io.reader.get(), buf.data(), n) != REDIS_OK) {
      self->Shutdown(absl::UnavailableError(absl::StrCat(
          "RESP reader for ", self->peer_, ": ", io.reader->errstr)));
      break;
    }
    while (self->state_ == State::kOpen) {
      void* raw = nullptr;
      if (redisReaderGetReply(io.reader.get(), &raw) != REDIS_OK) {
        self->Shutdown(absl::UnavailableError(absl::StrCat(
            "protocol error from ", self->peer_, ": ", io.reader->errstr)));
        break;
      }
      if (raw == nullptr) break;  // need more bytes
      RedisReply reply =
          RedisReplyFromHiredis(static_cast<const redisReply*>(raw));
      freeReplyObject(raw);
      self->DispatchReply(std::move(reply));
    }
  }
}

void RedisConnection::DispatchReply(RedisReply reply) {
  if (subscribed_ && IsPushMessage(reply)) {
    // Never matched to a request: that would misalign every later reply.
    if (push_handler_) push_handler_(std::move(reply));
    return;
  }
  if (pending_.empty()) {
    if (push_handler_) {
      push_handler_(std::move(reply));
      return;
    }
    Shutdown(absl::UnavailableError(
        absl::StrCat("protocol error from ", peer_,
                     ": a reply with no request pending: ", Truncated(reply))));
    return;
  }
  Request& req = *pending_.front();
  bool ends_request = false;
  if (req.subscribe) {
    if (reply.is_error()) {
      ends_request = true;  // Redis refuses the whole SUBSCRIBE at once
    } else if (reply.is_array() && !reply.elements.empty() &&
               reply.elements[0].IsText("subscribe")) {
      subscribed_ = true;
    }
  }
  req.replies.push_back(std::move(reply));
  if (ends_request || req.replies.size() >= req.expected) {
    std::shared_ptr<Request> done = std::move(pending_.front());
    pending_.pop_front();
    done->done = true;
    done->timer.cancel();
  }
}

void RedisConnection::SetPushHandler(
    absl::AnyInvocable<void(RedisReply)> handler) {
  push_handler_ = std::move(handler);
}

void RedisConnection::OnClosed(absl::AnyInvocable<void(absl::Status)> handler) {
  if (state_ == State::kClosed) {
    if (handler) {
      asio::post(executor_, [h = std::move(handler),
                             reason = close_reason_]() mutable { h(reason); });
    }
    return;
  }
  on_closed_ = std::move(handler);
}

void RedisConnection::Close() {
  Shutdown(absl::CancelledError(
      absl::StrCat("Close() called on the connection to ", peer_)));
}

void RedisConnection::Shutdown(absl::Status reason) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  close_reason_ = reason;
  error_code ignored;
  io_->stream.socket().close(ignored);
  io_->resolver.cancel();
  io_->connect_timer.cancel();
  absl::Status failed = reason.code() == absl::StatusCode::kUnavailable
                            ? reason
                            : absl::UnavailableError(absl::StrCat(
                                  "connection closed: ", reason.message()));
  std::deque<std::shared_ptr<Request>> pending;
  pending.swap(pending_);
  for (const std::shared_ptr<Request>& req : pending) {
    if (req->done) continue;
    req->done = true;
    req->status = failed;
    req->timer.cancel();
  }
  if (on_closed_) {
    asio::post(executor_, [h = std::move(on_closed_), reason]() mutable {
      h(std::move(reason));
    });
    on_closed_ = nullptr;
  }
}

}  // namespace nearcache
