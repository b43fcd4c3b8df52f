#include "http/http_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>
#include <utility>

#include "http/direct_connection.h"

namespace quarry::http {
namespace {

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

void EnsureCurlInitialised() { static CurlGlobal once; }

struct Transfer {
  HttpResponse* response = nullptr;
  BodySink* sink = nullptr;
  CURL* curl = nullptr;
  Status sink_status;
  uint64_t bytes = 0;
  bool status_known = false;
  bool to_sink = false;
  // Stall detection: bytes moved either way, and when that last changed.
  std::chrono::milliseconds read_timeout{0};
  curl_off_t moved = -1;
  std::chrono::steady_clock::time_point moved_at;
  bool stalled = false;
};

// libcurl calls this as bytes move and about once a second while none do: a transfer that
// moved nothing for the read timeout is abandoned (read_timeout_ms; curl's own low-speed check
// averages over seconds and let a stalled reply hang on for several).
int OnProgress(void* user, curl_off_t /*dltotal*/, curl_off_t dlnow, curl_off_t /*ultotal*/,
               curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  const auto now = std::chrono::steady_clock::now();
  if (dlnow + ulnow != t->moved) {
    t->moved = dlnow + ulnow;
    t->moved_at = now;
    return 0;
  }
  if (now - t->moved_at < t->read_timeout) return 0;
  t->stalled = true;
  return 1;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new status line (e.g. after "100 Continue"): start the header list again.
    t->response->headers.clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    t->response->headers.emplace_back(std::move(name), std::string(value));
  }
  return size * n;
}

// libcurl's own proxy variables; connections of the client's own do not go through proxies.
bool ProxyInEnvironment() {
  for (const char* name : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return true;
  }
  return false;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  t->bytes += len;
  if (!t->status_known) {
    long code = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
    t->status_known = true;
    t->to_sink = t->sink != nullptr && code >= 200 && code < 300;
    if (t->to_sink && t->sink->head) {
      t->response->status = static_cast<int>(code);
      t->sink->head(*t->response);
    }
  }
  if (t->to_sink) {
    t->sink_status = t->sink->write(data, len);
    if (!t->sink_status.ok()) return 0;  // aborts the transfer
  } else {
    t->response->body.append(data, len);
  }
  return len;
}

}  // namespace

std::string_view HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

bool IsRetryableHttpStatus(int status) {
  switch (status) {
    case 429:
    case 500:
    case 502:
    case 503:
    case 504: return true;
    default: return false;
  }
}

struct HttpClient::Handle {
  CURL* curl = nullptr;
  Handle() : curl(curl_easy_init()) {}
  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

HttpClient::HttpClient(HttpClientOptions options)
    : options_(std::move(options)),
      in_place_allowed_(options_.receive_in_place && !ProxyInEnvironment()),
      pid_(::getpid()) {
  EnsureCurlInitialised();
}

HttpClient::~HttpClient() = default;

void HttpClient::ForgetInheritedConnectionsLocked() {
  const int pid = ::getpid();
  if (pid == pid_) return;
  for (auto& handle : idle_) {
    CloseSocketOf(handle->curl);
    (void)handle.release();  // leaked on purpose, see the header
  }
  idle_.clear();
  for (auto& conn : direct_idle_) {
    conn->CloseInheritedSocket();
    (void)conn.release();
  }
  direct_idle_.clear();
  pid_ = pid;
}

std::unique_ptr<HttpClient::Handle> HttpClient::Borrow() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ForgetInheritedConnectionsLocked();
    if (!idle_.empty()) {
      auto h = std::move(idle_.back());
      idle_.pop_back();
      return h;
    }
  }
  return std::make_unique<Handle>();
}

void HttpClient::Return(std::unique_ptr<Handle> handle) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(handle));
}

Result<HttpResponse> HttpClient::SendOnce(Handle* handle, const HttpRequest& request,
                                          BodySink* sink, bool* retryable) {
  CURL* curl = handle->curl;
  curl_easy_reset(curl);  // keeps the live connection
  HttpResponse response;
  Transfer transfer{&response, sink, curl, Status::Ok()};

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // Keys such as "a/../b" are names, not paths to normalise.
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  transfer.read_timeout = std::chrono::milliseconds(std::max(1, options_.read_timeout_ms));
  transfer.moved_at = std::chrono::steady_clock::now();
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 256L * 1024L);
  if (!options_.verify_tls) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);

  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }

  curl_slist* headers = nullptr;
  bool has_content_type = false;
  for (const auto& [k, v] : request.headers) {
    std::string line = k;
    line += ": ";
    line += v;
    headers = curl_slist_append(headers, line.c_str());
    if (k == "content-type" || k == "Content-Type") has_content_type = true;
  }
  // No "Expect: 100-continue" round trip, and no form content type curl would add on its own.
  headers = curl_slist_append(headers, "Expect:");
  if (!has_content_type) headers = curl_slist_append(headers, "Content-Type:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);

  long connects = 0;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
  Count(&RequestCounters::connections_opened, static_cast<uint64_t>(connects));
  Count(&RequestCounters::bytes_received, transfer.bytes);
  Count(&RequestCounters::bytes_sent, request.body.size());

  if (rc == CURLE_WRITE_ERROR && !transfer.sink_status.ok()) {
    *retryable = false;
    return transfer.sink_status;
  }
  if (rc != CURLE_OK) {
    const std::string origin = DirectConnection::OriginOf(request.url);
    if (rc == CURLE_ABORTED_BY_CALLBACK && transfer.stalled) {
      *retryable = true;
      return Stalled(request.method + " " + origin, options_.read_timeout_ms);
    }
    *retryable = RetryableCurlCode(rc);
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
        rc == CURLE_COULDNT_RESOLVE_HOST) {
      return CannotReach(origin, rc);
    }
    return Status(StatusCode::kUnavailable,
                  request.method + " " + origin + " failed: " + curl_easy_strerror(rc), 0,
                  *retryable);
  }
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  response.status = static_cast<int>(code);
  *retryable = Retryable(response);
  return response;
}

Result<HttpResponse> HttpClient::SendInPlace(const HttpRequest& request, BodySink* sink,
                                             bool* retryable) {
  const std::string origin = DirectConnection::OriginOf(request.url);
  std::unique_ptr<DirectConnection> conn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ForgetInheritedConnectionsLocked();
    for (auto it = direct_idle_.begin(); it != direct_idle_.end(); ++it) {
      if ((*it)->origin() == origin) {
        conn = std::move(*it);
        direct_idle_.erase(it);
        break;
      }
    }
  }
  bool was_idle = conn != nullptr;
  for (;;) {
    if (conn == nullptr) {
      auto opened = DirectConnection::Open(request.url, options_);
      if (!opened.ok()) {
        *retryable = opened.status().retryable();
        return opened.status();
      }
      conn = std::move(*opened);
      Count(&RequestCounters::connections_opened, 1);
    }
    DirectConnection::Outcome out;
    Status s = conn->Exchange(request, sink, &out);
    Count(&RequestCounters::bytes_received, out.body_bytes);
    Count(&RequestCounters::bytes_sent, request.body.size());
    if (!s.ok()) {
      conn.reset();
      // A kept-alive connection the server had closed meanwhile: the request never reached it,
      // so it goes once more on a fresh connection without counting as a retry.
      if (was_idle && out.no_reply) {
        was_idle = false;
        continue;
      }
      *retryable = s.retryable();
      return s;
    }
    if (out.reusable) {
      std::lock_guard<std::mutex> lock(mu_);
      direct_idle_.push_back(std::move(conn));
    }
    *retryable = Retryable(out.response);
    return std::move(out.response);
  }
}

void HttpClient::Count(std::atomic<uint64_t> RequestCounters::*counter, uint64_t n) {
  (stats_.*counter) += n;
  if (RequestCounters* work = CurrentRequestCounters()) (work->*counter) += n;
}

Result<HttpResponse> HttpClient::Send(const std::function<Status(HttpRequest*)>& build,
                                      BodySink* sink) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  auto handle = Borrow();
  Result<HttpResponse> last = Status(StatusCode::kInternal, "no attempt made");
  const int attempts = std::max(1, options_.retry.max_attempts);
  bool retryable = false;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0) {
      Count(&RequestCounters::retries, 1);
      int64_t cap =
          std::min<int64_t>(options_.retry.max_delay_ms,
                            int64_t{options_.retry.base_delay_ms} << std::min(attempt, 20));
      std::uniform_int_distribution<int64_t> delay(0, cap);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay(rng)));
      if (sink != nullptr && sink->reset) sink->reset();
    }
    HttpRequest request;
    Status built = build(&request);
    if (!built.ok()) {
      Return(std::move(handle));
      return built;
    }
    Count(&RequestCounters::requests, 1);
    retryable = false;
    if (in_place_allowed_ && request.method == "GET" && sink != nullptr &&
        sink->receives_in_place()) {
      last = SendInPlace(request, sink, &retryable);
    } else {
      last = SendOnce(handle.get(), request, sink, &retryable);
    }
    if (!retryable) break;
    if (!last.ok()) {
      // A broken connection stays in the handle's cache only if curl thinks it is alive;
      // a fresh handle avoids reusing a half-dead one.
      handle = std::make_unique<Handle>();
    }
  }
  Return(std::move(handle));
  if (!last.ok() && retryable && attempts > 1) {
    // Every attempt failed the same retryable way: say so (the message names the endpoint).
    const Status& s = last.status();
    return Status(s.code(),
                  s.message() + " (gave up after " + std::to_string(attempts) + " attempts)",
                  s.http_status(), s.retryable());
  }
  return last;
}

}  // namespace quarry::http
