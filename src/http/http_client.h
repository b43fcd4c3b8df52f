// HttpClient: the one place where Quarry talks HTTP (libcurl) and the one retry policy.
//
// Connections are kept alive and reused: the client holds a pool of curl handles, each keeping
// its connection open between requests; a request borrows a handle and returns it. The pool
// grows to the number of concurrent requests and no further. GETs whose sink receives in place
// (BodySink::room) go on a second pool, of connections the client drives itself so that the
// body lands in the sink's memory with no copy (see direct_connection.h); same retry policy.
//
// Thread safety: Send() may be called from many threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quarry/request_counters.h"
#include "quarry/status.h"

namespace quarry::http {

class DirectConnection;

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HeaderList headers;
  std::string_view body;  // not owned; must outlive Send()
};

struct HttpResponse {
  int status = 0;
  HeaderList headers;  // names in lower case
  std::string body;    // the body when no sink was given, or when status is not 2xx

  // First value of header `name` (lower case), or "".
  std::string_view Header(std::string_view name) const;
};

// Receives a successful (2xx) response body as it arrives. On a retry the client calls Reset()
// before writing the new attempt's body from its start.
struct BodySink {
  std::function<Status(const char* data, size_t size)> write;
  std::function<void()> reset;
  // Optional: the response's status and headers (body still empty), once per attempt, before
  // the first write.
  std::function<void(const HttpResponse& head)> head;
  // Optional, both or neither: receiving without a copy. `room` returns memory of the sink's own
  // for the next bytes of the body (at least one byte; it may wait until there is room, and an
  // error aborts the transfer); after receiving n bytes there (n <= its size) the client calls
  // `commit(n)`. With both set, a GET's 2xx body goes from the socket (or TLS) straight into
  // that memory and `write` is not called. `write` is required all the same: bodies that come
  // through libcurl's transfer (a proxy, receive_in_place off, other methods) are copied out of
  // its buffer through it.
  std::function<Result<std::span<char>>()> room;
  std::function<Status(size_t size)> commit;

  bool receives_in_place() const { return room && commit; }
};

// Exponential backoff with full jitter: attempt n (0-based) waits uniform(0, min(max, base*2^n)).
struct RetryPolicy {
  int max_attempts = 5;
  int base_delay_ms = 50;
  int max_delay_ms = 2000;
};

struct HttpClientOptions {
  int connect_timeout_ms = 5000;
  // A transfer that moves no byte for this long is abandoned (and retried). Checked as bytes
  // arrive and about once a second while none do.
  int read_timeout_ms = 30000;
  bool verify_tls = true;
  // GETs whose sink has room/commit are received in place, on connections of the client's own
  // (libcurl connects and moves the bytes; the client writes the request and parses the reply).
  // Off, or when a proxy is set in the environment, every request goes through curl's transfer.
  bool receive_in_place = true;
  RetryPolicy retry;
  // Whether a reply is worth sending again; empty: IsRetryableHttpStatus(reply.status). A
  // backend whose service marks retryable replies of its own (S3's 400 RequestTimeout) gives
  // one that knows them; the client itself reads no service's error bodies.
  std::function<bool(const HttpResponse& reply)> retryable_reply;
};

// Counters since the client was made; cheap to read at any time. Each request also counts into
// the counters of the work its thread does (request_counters.h).
using HttpStats = RequestCounters;

// True for statuses worth sending again, whatever the service: 429, 500, 502, 503, 504.
bool IsRetryableHttpStatus(int status);

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends a request built by `build`, which runs before every attempt (so signatures carry a
  // fresh date). Retries connection errors and retryable statuses per the policy. Returns the
  // last response for any HTTP status (the caller maps non-2xx to a Status), or Unavailable
  // naming the URL's host when no response could be had. `sink` may be null: the body then goes
  // to HttpResponse::body.
  Result<HttpResponse> Send(const std::function<Status(HttpRequest*)>& build, BodySink* sink);

  const HttpStats& stats() const { return stats_; }
  const HttpClientOptions& options() const { return options_; }

 private:
  struct Handle;
  std::unique_ptr<Handle> Borrow();
  // In a child process after fork(), the idle connections are the parent's: requests of both
  // on one socket would interleave. The child closes its copies of their sockets and leaks the
  // rest (a TLS goodbye would reach the parent's peer), then opens its own. Holds mu_.
  void ForgetInheritedConnectionsLocked();
  void Return(std::unique_ptr<Handle> handle);
  Result<HttpResponse> SendOnce(Handle* handle, const HttpRequest& request, BodySink* sink,
                                bool* retryable);

  // A GET received in place, on a connection of the pool below (see direct_connection.h).
  Result<HttpResponse> SendInPlace(const HttpRequest& request, BodySink* sink, bool* retryable);

  bool Retryable(const HttpResponse& reply) const {
    return options_.retryable_reply ? options_.retryable_reply(reply)
                                    : IsRetryableHttpStatus(reply.status);
  }

  HttpClientOptions options_;
  bool in_place_allowed_ = false;  // the option, and no proxy in the environment
  // Adds `n` to the client's counter and to that of the work this thread does.
  void Count(std::atomic<uint64_t> RequestCounters::*counter, uint64_t n);

  HttpStats stats_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Handle>> idle_;
  std::vector<std::unique_ptr<DirectConnection>> direct_idle_;  // guarded by mu_
  int pid_;  // the process the idle connections were opened in; guarded by mu_
};

}  // namespace quarry::http
