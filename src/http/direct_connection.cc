#include "http/direct_connection.h"

#include <curl/curl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>

namespace quarry::http {
namespace {

constexpr size_t kMaxHead = size_t{64} * 1024;  // status line and headers together
constexpr size_t kMaxLine = size_t{8} * 1024;   // a chunk-size or trailer line
constexpr size_t kFillSize = size_t{16} * 1024;
// On plain TCP a body is received in pieces of at least this much where it can be (the socket's
// receive low-water mark): a recv as soon as any byte is there returned ~16 KiB on loopback and
// cost a third of the client's system time in calls.
constexpr int kBodyLowWater = 256 * 1024;

CURL* AsCurl(void* p) { return static_cast<CURL*>(p); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) {
    v.remove_suffix(1);
  }
  return v;
}

bool ParseUint(std::string_view s, int base, uint64_t* out) {
  s = Trim(s);
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && end == s.data() + s.size();
}

// The connection's socket, or CURL_SOCKET_BAD when it has none (any more).
curl_socket_t SocketOf(void* curl) {
  curl_socket_t sock = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(AsCurl(curl), CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK) {
    return CURL_SOCKET_BAD;
  }
  return sock;
}

// Where the origin ends in a URL: the first '/' after "://" (or the end).
size_t OriginEnd(std::string_view url) {
  auto scheme_end = url.find("://");
  size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  auto slash = url.find('/', start);
  return slash == std::string_view::npos ? url.size() : slash;
}

}  // namespace

bool RetryableCurlCode(int code) {
  return code != CURLE_URL_MALFORMAT && code != CURLE_UNSUPPORTED_PROTOCOL &&
         code != CURLE_SSL_CACERT_BADFILE && code != CURLE_PEER_FAILED_VERIFICATION;
}

Status CannotReach(std::string_view origin, int code) {
  return Status(StatusCode::kUnavailable,
                "cannot reach endpoint " + std::string(origin) + " (" +
                    curl_easy_strerror(static_cast<CURLcode>(code)) +
                    "): check the endpoint setting and that the server is running",
                0, RetryableCurlCode(code));
}

Status Stalled(std::string_view who, int read_timeout_ms) {
  return Unavailable(std::string(who) + " sent nothing for " + std::to_string(read_timeout_ms) +
                     " ms: the transfer was abandoned (storage option read_timeout_ms)");
}

std::string DirectConnection::OriginOf(std::string_view url) {
  return std::string(url.substr(0, OriginEnd(url)));
}

Result<std::unique_ptr<DirectConnection>> DirectConnection::Open(std::string_view url,
                                                                 const HttpClientOptions& options) {
  std::string origin = OriginOf(url);
  auto scheme_end = origin.find("://");
  std::string host = scheme_end == std::string::npos ? origin : origin.substr(scheme_end + 3);
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Internal("cannot make a curl handle");
  std::string root = origin + "/";
  curl_easy_setopt(curl, CURLOPT_URL, root.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECT_ONLY, 1L);
  // curl_easy_recv returns at most the handle's buffer size per call (16 KiB by default).
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 1024L * 1024L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");  // the client sends in place only without proxies
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout_ms));
  if (!options.verify_tls) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    curl_easy_cleanup(curl);
    return CannotReach(origin, rc);
  }
  const int wait_ms = std::max(1, options.read_timeout_ms);
  auto conn = std::unique_ptr<DirectConnection>(
      new DirectConnection(curl, std::move(origin), std::move(host), wait_ms));
  conn->plain_tcp_ = root.rfind("http://", 0) == 0;
  return conn;
}

DirectConnection::DirectConnection(void* curl, std::string origin, std::string host, int wait_ms)
    : curl_(curl), origin_(std::move(origin)), host_(std::move(host)), wait_ms_(wait_ms) {}

void CloseSocketOf(void* curl) {
  const curl_socket_t fd = SocketOf(curl);
  if (fd != CURL_SOCKET_BAD) ::close(fd);
}

DirectConnection::~DirectConnection() { curl_easy_cleanup(AsCurl(curl_)); }

void DirectConnection::CloseInheritedSocket() { CloseSocketOf(curl_); }

Status DirectConnection::Broken(std::string_view what) const {
  return Unavailable(origin_ + " " + std::string(what));
}

Status DirectConnection::WaitFor(bool readable) {
  const curl_socket_t sock = SocketOf(curl_);
  if (sock == CURL_SOCKET_BAD) return Broken("closed the connection");
  pollfd p{sock, static_cast<short>(readable ? POLLIN : POLLOUT), 0};
  for (;;) {
    int n = ::poll(&p, 1, wait_ms_);
    if (n > 0) return Status::Ok();
    if (n == 0) return Stalled(origin_, wait_ms_);
    if (errno != EINTR) return Broken("cannot be waited on (poll failed)");
  }
}

Status DirectConnection::AwaitAtLeast(size_t size) {
  if (!plain_tcp_) return Status::Ok();  // TLS may hold decrypted bytes the socket no longer shows
  const int want = static_cast<int>(std::min<size_t>(size, kBodyLowWater));
  if (want != low_water_) {
    const curl_socket_t sock = SocketOf(curl_);
    if (sock == CURL_SOCKET_BAD ||
        ::setsockopt(sock, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want) != 0) {
      return Status::Ok();  // receives go on in whatever pieces come
    }
    low_water_ = want;
  }
  return want > 1 ? WaitFor(true) : Status::Ok();
}

Status DirectConnection::SendAll(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t sent = 0;
    CURLcode rc = curl_easy_send(AsCurl(curl_), bytes.data(), bytes.size(), &sent);
    if (rc == CURLE_AGAIN) {
      QUARRY_RETURN_IF_ERROR(WaitFor(false));
      continue;
    }
    if (rc != CURLE_OK) {
      return Broken(std::string("refused the request: ") + curl_easy_strerror(rc));
    }
    bytes.remove_prefix(sent);
  }
  return Status::Ok();
}

Result<size_t> DirectConnection::ReceiveSome(char* dst, size_t max) {
  if (ahead_pos_ < ahead_.size()) {
    const size_t n = std::min(max, ahead_.size() - ahead_pos_);
    std::copy_n(ahead_.data() + ahead_pos_, n, dst);
    ahead_pos_ += n;
    return n;
  }
  return Receive(dst, max);
}

Result<size_t> DirectConnection::Receive(char* dst, size_t max) {
  for (;;) {
    size_t got = 0;
    CURLcode rc = curl_easy_recv(AsCurl(curl_), dst, max, &got);
    if (rc == CURLE_OK) return got;  // 0: the peer closed the connection
    if (rc != CURLE_AGAIN) return Broken(std::string("broke off: ") + curl_easy_strerror(rc));
    QUARRY_RETURN_IF_ERROR(WaitFor(true));
  }
}

Result<bool> DirectConnection::FillAhead() {
  ahead_.erase(0, ahead_pos_);
  ahead_pos_ = 0;
  const size_t had = ahead_.size();
  ahead_.resize(had + kFillSize);
  auto got = Receive(ahead_.data() + had, kFillSize);
  if (!got.ok()) {
    ahead_.resize(had);
    return got.status();
  }
  ahead_.resize(had + *got);
  return *got > 0;
}

Result<std::string> DirectConnection::ReadLine() {
  for (;;) {
    auto eol = ahead_.find("\r\n", ahead_pos_);
    if (eol != std::string::npos) {
      std::string line = ahead_.substr(ahead_pos_, eol - ahead_pos_);
      ahead_pos_ = eol + 2;
      return line;
    }
    if (ahead_.size() - ahead_pos_ > kMaxLine) return Broken("sent a line too long to be HTTP");
    QUARRY_ASSIGN_OR_RETURN(bool more, FillAhead());
    if (!more) return Broken("closed the connection in the middle of a chunked body");
  }
}

Status DirectConnection::ReadHead(Outcome* out) {
  HttpResponse& response = out->response;
  for (;;) {
    auto end = ahead_.find("\r\n\r\n", ahead_pos_);
    while (end == std::string::npos) {
      if (ahead_.size() - ahead_pos_ > kMaxHead) return Broken("sent a reply head over 64 KiB");
      auto more = FillAhead();
      if (!more.ok() || !*more) {
        out->no_reply = ahead_.size() == ahead_pos_;
        return more.ok() ? Broken("closed the connection before replying") : more.status();
      }
      end = ahead_.find("\r\n\r\n", ahead_pos_);
    }
    std::string_view head(ahead_.data() + ahead_pos_, end + 2 - ahead_pos_);
    ahead_pos_ = end + 4;
    auto eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    // "HTTP/1.1 200 OK"
    uint64_t code = 0;
    if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12 ||
        !ParseUint(status_line.substr(9, 3), 10, &code)) {
      return Broken("sent a reply that is not HTTP: " + std::string(status_line.substr(0, 64)));
    }
    response.status = static_cast<int>(code);
    response.headers.clear();
    while (!head.empty()) {
      eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      head.remove_prefix(eol + 2);
      auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      response.headers.emplace_back(Lower(line.substr(0, colon)),
                                    std::string(Trim(line.substr(colon + 1))));
    }
    // An interim reply (100 Continue) is followed by the real one.
    if (code >= 100 && code < 200 && code != 101) continue;
    out->reusable =
        status_line.substr(0, 8) == "HTTP/1.1" && Lower(response.Header("connection")) != "close";
    return Status::Ok();
  }
}

Result<size_t> DirectConnection::ReceiveBodyPiece(uint64_t at_most, BodySink* sink, Outcome* out) {
  size_t got = 0;
  if (sink != nullptr) {
    QUARRY_ASSIGN_OR_RETURN(std::span<char> room, sink->room());
    if (room.empty()) return Internal("a body sink offered no room");
    const auto max = static_cast<size_t>(std::min<uint64_t>(room.size(), at_most));
    if (ahead_pos_ == ahead_.size()) QUARRY_RETURN_IF_ERROR(AwaitAtLeast(max));
    QUARRY_ASSIGN_OR_RETURN(got, ReceiveSome(room.data(), max));
    if (got > 0) QUARRY_RETURN_IF_ERROR(sink->commit(got));
  } else {
    std::string& into = out->response.body;
    const size_t had = into.size();
    const auto max = static_cast<size_t>(std::min<uint64_t>(kFillSize * 4, at_most));
    into.resize(had + max);
    auto r = ReceiveSome(into.data() + had, max);
    into.resize(had + (r.ok() ? *r : 0));
    QUARRY_ASSIGN_OR_RETURN(got, std::move(r));
  }
  out->body_bytes += got;
  return got;
}

Status DirectConnection::ReadBody(uint64_t length, BodySink* sink, Outcome* out) {
  for (uint64_t left = length; left > 0;) {
    QUARRY_ASSIGN_OR_RETURN(size_t got, ReceiveBodyPiece(left, sink, out));
    if (got == 0) {
      return Broken("closed the connection after " + std::to_string(length - left) + " of " +
                    std::to_string(length) + " body bytes");
    }
    left -= got;
  }
  return Status::Ok();
}

Status DirectConnection::ReadChunkedBody(BodySink* sink, Outcome* out) {
  for (;;) {
    QUARRY_ASSIGN_OR_RETURN(std::string line, ReadLine());
    uint64_t size = 0;
    if (!ParseUint(std::string_view(line).substr(0, line.find(';')), 16, &size)) {
      return Broken("sent an invalid chunk size: " + line.substr(0, 32));
    }
    if (size == 0) break;
    QUARRY_RETURN_IF_ERROR(ReadBody(size, sink, out));
    QUARRY_ASSIGN_OR_RETURN(std::string end, ReadLine());
    if (!end.empty()) return Broken("sent a chunk longer than its size");
  }
  for (;;) {  // trailer fields, up to an empty line
    QUARRY_ASSIGN_OR_RETURN(std::string line, ReadLine());
    if (line.empty()) return Status::Ok();
  }
}

Status DirectConnection::ReadUntilClose(BodySink* sink, Outcome* out) {
  out->reusable = false;
  for (;;) {
    QUARRY_ASSIGN_OR_RETURN(size_t got, ReceiveBodyPiece(UINT64_MAX, sink, out));
    if (got == 0) return Status::Ok();
  }
}

Status DirectConnection::Exchange(const HttpRequest& request, BodySink* sink, Outcome* out) {
  *out = Outcome{};
  ahead_.clear();
  ahead_pos_ = 0;
  std::string_view target = std::string_view(request.url).substr(OriginEnd(request.url));
  std::string text;
  text.reserve(512 + request.headers.size() * 64);
  text += request.method;
  text += ' ';
  text += target.empty() ? std::string_view("/") : target;
  text += " HTTP/1.1\r\nHost: ";
  text += host_;
  text += "\r\n";
  for (const auto& [name, value] : request.headers) {
    const std::string lower = Lower(name);
    if (lower == "host" || lower == "content-length") continue;  // written by this class
    text += name;
    text += ": ";
    text += value;
    text += "\r\n";
  }
  if (!request.body.empty() || (request.method != "GET" && request.method != "HEAD")) {
    text += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  text += "\r\n";
  Status sent = SendAll(text);
  if (sent.ok()) sent = SendAll(request.body);
  if (!sent.ok()) {
    out->no_reply = true;
    return sent;
  }
  QUARRY_RETURN_IF_ERROR(AwaitAtLeast(1));  // a reply head is whatever arrives first
  QUARRY_RETURN_IF_ERROR(ReadHead(out));

  HttpResponse& response = out->response;
  const int code = response.status;
  BodySink* to = nullptr;
  if (code >= 200 && code < 300 && sink != nullptr && sink->receives_in_place()) {
    to = sink;
    if (sink->head) sink->head(response);
  }
  if (request.method == "HEAD" || code == 204 || code == 304) return Status::Ok();
  if (Lower(response.Header("transfer-encoding")).find("chunked") != std::string::npos) {
    return ReadChunkedBody(to, out);
  }
  std::string_view length_header = response.Header("content-length");
  if (!length_header.empty()) {
    uint64_t length = 0;
    if (!ParseUint(length_header, 10, &length)) {
      out->reusable = false;
      return Broken("sent an invalid Content-Length: " + std::string(length_header.substr(0, 32)));
    }
    QUARRY_RETURN_IF_ERROR(ReadBody(length, to, out));
    // A well-behaved server sends nothing past the body; anything there would be misread as
    // the next reply, so such a connection is not reused.
    if (ahead_pos_ < ahead_.size()) out->reusable = false;
    return Status::Ok();
  }
  return ReadUntilClose(to, out);
}

}  // namespace quarry::http
