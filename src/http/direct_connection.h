// DirectConnection: one kept-alive HTTP/1.1 connection on which a response body is received
// straight into memory the caller provides, with no copy in between.
//
// libcurl opens the connection (TCP and TLS, with the client's timeouts and verification; only
// HTTP/1.1 is offered in ALPN) and moves the bytes (curl_easy_send / curl_easy_recv, which for
// plain TCP is one recv() into the caller's memory). This class writes the request line and
// headers and parses the reply: status line, headers, and a body framed by Content-Length,
// chunked transfer coding, or the end of the connection.
//
// Internal to HttpClient, which pools these per origin and applies the one retry policy.
// Not thread-safe: one exchange at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/http_client.h"
#include "quarry/status.h"

namespace quarry::http {

// Closes this process's copy of the socket a curl handle holds (if any), sending nothing.
void CloseSocketOf(void* curl);

// What HttpClient's two ways of sending (curl's transfer, DirectConnection) say alike.
// Whether a failed libcurl call (its CURLcode) is worth another attempt: not for a malformed
// URL, an unsupported protocol or a refused TLS certificate.
bool RetryableCurlCode(int code);
// Unavailable: `origin` ("scheme://host:port") could not be reached (CURLcode `code`).
Status CannotReach(std::string_view origin, int code);
// Unavailable, retryable: `who` sent nothing for `read_timeout_ms`.
Status Stalled(std::string_view who, int read_timeout_ms);

class DirectConnection {
 public:
  // Connects to the origin of `url` ("http://host:port/..." or "https://..."). Unavailable,
  // naming the host, when it cannot be reached.
  static Result<std::unique_ptr<DirectConnection>> Open(std::string_view url,
                                                        const HttpClientOptions& options);
  ~DirectConnection();
  DirectConnection(const DirectConnection&) = delete;
  DirectConnection& operator=(const DirectConnection&) = delete;

  // In a child process after fork(): closes this process's copy of the socket without a word
  // to the peer (the parent's copy stays open and in use). The object must then be leaked, not
  // destroyed: its TLS session is the parent's too.
  void CloseInheritedSocket();

  // "scheme://host:port" as given in the URL; requests to other origins need another connection.
  const std::string& origin() const { return origin_; }
  static std::string OriginOf(std::string_view url);

  struct Outcome {
    HttpResponse response;    // status and headers; the body only when not 2xx (or no sink)
    uint64_t body_bytes = 0;  // body bytes received, to the sink or into response.body
    bool reusable = false;    // the connection may carry another request
    // Nothing of a reply arrived (the request may not have reached the server): worth sending
    // again at once on a fresh connection when this one had been idle in the pool.
    bool no_reply = false;
  };

  // Sends `request` (its body, if any, with Content-Length) and reads the reply. A 2xx body goes
  // to sink->room / sink->commit (after sink->head, when set) if the sink receives in place;
  // any other body goes to response.body. Errors: the sink's own error as it gave it; a
  // transport failure or a body cut short as Unavailable, retryable. After an error the
  // connection must not be reused.
  // `out` is filled as far as the exchange got, also on error.
  Status Exchange(const HttpRequest& request, BodySink* sink, Outcome* out);

 private:
  DirectConnection(void* curl, std::string origin, std::string host, int wait_ms);

  Status SendAll(std::string_view bytes);
  // Receives up to `max` bytes into `dst`: first any bytes read ahead of the body, then from
  // the connection. 0 when the peer closed it.
  Result<size_t> ReceiveSome(char* dst, size_t max);
  Result<size_t> Receive(char* dst, size_t max);  // from the connection only
  // Reads more bytes into `ahead_` (at least one, unless the peer closed: then false).
  Result<bool> FillAhead();
  Result<std::string> ReadLine();  // from ahead_, without its CRLF
  Status ReadHead(Outcome* out);
  // Up to `at_most` body bytes, into the sink's room (nullptr: appended to response.body); 0
  // when the peer closed the connection. Counts them in out->body_bytes.
  Result<size_t> ReceiveBodyPiece(uint64_t at_most, BodySink* sink, Outcome* out);
  Status ReadBody(uint64_t length, BodySink* sink, Outcome* out);  // length bytes exactly
  Status ReadChunkedBody(BodySink* sink, Outcome* out);
  Status ReadUntilClose(BodySink* sink, Outcome* out);
  Status WaitFor(bool readable);
  // On plain TCP, waits until min(size, 256 KiB) bytes can be received at once (or the peer
  // closed the connection: Linux reports a closed socket readable whatever the low-water mark),
  // so the body comes in few large receives; on TLS returns at once.
  Status AwaitAtLeast(size_t size);
  Status Broken(std::string_view what) const;

  void* curl_;  // CURL*
  std::string origin_;
  std::string host_;        // the Host header: the URL's authority
  int wait_ms_;             // the longest wait for the socket before the exchange is abandoned
  bool plain_tcp_ = false;  // http://, not https://
  int low_water_ = 1;       // the socket's SO_RCVLOWAT
  std::string ahead_;
  size_t ahead_pos_ = 0;
};

}  // namespace quarry::http
