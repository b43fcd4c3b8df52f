// HttpClient against a scripted loopback server of the test's own: retry policy, connection
// reuse, truncated bodies and unreachable endpoints.
#include "http/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace quarry::http {
namespace {

// A self-signed certificate and key for 127.0.0.1, made at run time, for a TLS server context.
SSL_CTX* MakeServerTlsContext() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  EXPECT_EQ(SSL_CTX_use_certificate(ctx, cert), 1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx, key), 1);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

// Serves raw HTTP replies chosen by `reply(request_index)` on 127.0.0.1, one connection at a
// time, over TLS when asked; keeps connections alive unless the reply closes them (an empty
// reply string drops the connection at once; a reply with the header "X-Test-Then-Drop: 1"
// drops it after the reply, without telling).
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<std::string(int)> reply, bool tls = false)
      : reply_(std::move(reply)), tls_(tls ? MakeServerTlsContext() : nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (int c : stalled_) ::close(c);
    if (tls_ != nullptr) SSL_CTX_free(tls_);
  }
  std::string url() const {
    return std::string(tls_ != nullptr ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(port_) + "/obj";
  }
  int connections() const { return connections_; }
  int requests() const { return requests_; }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      SSL* ssl = nullptr;
      if (tls_ != nullptr) {
        ssl = SSL_new(tls_);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) != 1) {
          SSL_free(ssl);
          ::close(c);
          continue;
        }
      }
      auto read_some = [&](char* buf, size_t n) -> ssize_t {
        return ssl != nullptr ? SSL_read(ssl, buf, static_cast<int>(n)) : ::read(c, buf, n);
      };
      auto write_all = [&](const std::string& data) {
        for (size_t at = 0; at < data.size();) {
          const ssize_t n =
              ssl != nullptr ? SSL_write(ssl, data.data() + at, static_cast<int>(data.size() - at))
                             : ::write(c, data.data() + at, data.size() - at);
          if (n <= 0) return;
          at += static_cast<size_t>(n);
        }
      };
      std::string buf;
      char tmp[4096];
      bool open = true;
      while (open) {
        auto end = buf.find("\r\n\r\n");
        while (end == std::string::npos) {
          ssize_t n = read_some(tmp, sizeof tmp);
          if (n <= 0) {
            open = false;
            break;
          }
          buf.append(tmp, static_cast<size_t>(n));
          end = buf.find("\r\n\r\n");
        }
        if (!open) break;
        buf.erase(0, end + 4);
        std::string reply = reply_(requests_++);
        if (reply.empty()) break;
        write_all(reply);
        if (reply.find("X-Test-Then-Stall: 1") != std::string::npos) {
          stalled_.push_back(c);  // kept open and silent until the server goes
          c = -1;
          break;
        }
        if (reply.find("Connection: close") != std::string::npos ||
            reply.find("X-Test-Then-Drop: 1") != std::string::npos) {
          break;
        }
      }
      if (ssl != nullptr) {
        if (c >= 0) SSL_shutdown(ssl);
        SSL_free(ssl);
      }
      if (c >= 0) ::close(c);
    }
  }

  std::function<std::string(int)> reply_;
  SSL_CTX* tls_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::vector<int> stalled_;  // connections left hanging (X-Test-Then-Stall), server thread only
  std::thread thread_;
};

std::string Reply(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A 200 reply that declares `length` body bytes, sends `body`, and drops the connection without
// saying so (a body cut short when body is shorter, else a connection gone stale).
std::string ReplyThenDrop(size_t length, const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(length) +
         "\r\nX-Test-Then-Drop: 1\r\n\r\n" + body;
}

// A 200 reply that declares `length` body bytes, sends `body`, then nothing more while the
// connection stays open (a stalled server).
std::string ReplyThenStall(size_t length, const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(length) +
         "\r\nX-Test-Then-Stall: 1\r\n\r\n" + body;
}

HttpClientOptions FastRetries(int attempts) {
  HttpClientOptions o;
  o.retry = {attempts, 1, 10};
  o.connect_timeout_ms = 2000;
  return o;
}

Result<HttpResponse> Get(HttpClient& client, const std::string& url, BodySink* sink = nullptr) {
  return client.Send(
      [&](HttpRequest* r) {
        r->url = url;
        return Status::Ok();
      },
      sink);
}

TEST(HttpClientTest, RetriesThrottlingThenSucceeds) {
  ScriptedServer server([](int i) {
    return i < 2 ? Reply(503, "<Error><Code>SlowDown</Code></Error>") : Reply(200, "payload");
  });
  HttpClient client(FastRetries(5));
  std::string got;
  int resets = 0;
  BodySink sink{[&](const char* d, size_t n) {
                  got.append(d, n);
                  return Status::Ok();
                },
                [&] {
                  got.clear();
                  ++resets;
                }};
  auto r = Get(client, server.url(), &sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(got, "payload");  // error bodies never reach the sink
  EXPECT_EQ(client.stats().retries.load(), 2u);
  EXPECT_EQ(client.stats().requests.load(), 3u);
  EXPECT_EQ(resets, 2);
}

TEST(HttpClientTest, CountsEachThreadsRequestsIntoItsOwnWork) {
  ScriptedServer server([](int i) {
    return i == 0 ? Reply(503, "<Error><Code>SlowDown</Code></Error>") : Reply(200, "12345");
  });
  HttpClient client(FastRetries(5));
  auto first = std::make_shared<RequestCounters>();
  auto second = std::make_shared<RequestCounters>();
  {
    CountRequestsInto count(first);
    ASSERT_TRUE(Get(client, server.url()).ok());  // a 503, then the reply
    std::thread other([&] {
      CountRequestsInto other_count(second);
      for (int i = 0; i < 3; ++i) ASSERT_TRUE(Get(client, server.url()).ok());
    });
    other.join();
    // A thread started for the work carries its counters over.
    std::thread helper([&, counters = CurrentRequestCountersShared()] {
      CountRequestsInto helper_count(counters);
      ASSERT_TRUE(Get(client, server.url()).ok());
    });
    helper.join();
  }
  ASSERT_TRUE(Get(client, server.url()).ok());  // no work: the client's totals only
  EXPECT_EQ(CurrentRequestCounters(), nullptr);
  EXPECT_EQ(first->requests.load(), 3u);
  EXPECT_EQ(first->retries.load(), 1u);
  // The 503's body counts too: 36 bytes of error, then 5 + 5.
  EXPECT_EQ(first->bytes_received.load(), 46u);
  EXPECT_EQ(second->requests.load(), 3u);
  EXPECT_EQ(second->retries.load(), 0u);
  EXPECT_EQ(second->bytes_received.load(), 15u);
  EXPECT_EQ(client.stats().requests.load(), 7u);
}

TEST(HttpClientTest, GivesUpAfterMaxAttempts) {
  ScriptedServer server([](int) { return Reply(503, "busy"); });
  HttpClient client(FastRetries(3));
  auto r = Get(client, server.url());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(server.requests(), 3);
}

TEST(HttpClientTest, DoesNotRetryClientErrors) {
  ScriptedServer server([](int) { return Reply(404, "<Error><Code>NoSuchKey</Code></Error>"); });
  HttpClient client(FastRetries(5));
  auto r = Get(client, server.url());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(server.requests(), 1);
  EXPECT_NE(r->body.find("NoSuchKey"), std::string::npos);
}

TEST(HttpClientTest, RetriesWhatTheBackendsClassifierCallsRetryable) {
  auto script = [](int i) {
    return i == 0 ? Reply(400, "<Error><Code>RequestTimeout</Code></Error>") : Reply(200, "ok");
  };
  {
    // By itself the client retries no 400, whatever its body says.
    ScriptedServer server(script);
    HttpClient client(FastRetries(3));
    auto r = Get(client, server.url());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(server.requests(), 1);
  }
  ScriptedServer server(script);
  HttpClientOptions options = FastRetries(3);
  options.retryable_reply = [](const HttpResponse& reply) {
    return reply.status == 400 && reply.body.find("RequestTimeout") != std::string::npos;
  };
  HttpClient client(options);
  auto r = Get(client, server.url());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server.requests(), 2);
}

TEST(HttpClientTest, ReusesOneConnectionForSequentialRequests) {
  ScriptedServer server([](int) { return Reply(200, "x"); });
  HttpClient client(FastRetries(1));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Get(client, server.url())->status, 200);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(client.stats().connections_opened.load(), 1u);
}

TEST(HttpClientTest, TruncatedBodyIsRetriedAndDeliveredOnce) {
  ScriptedServer server([](int i) {
    // First reply promises 10 bytes, sends 4, and closes.
    return i == 0 ? std::string(
                        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabcd")
                  : Reply(200, "abcdefghij");
  });
  HttpClient client(FastRetries(3));
  std::string got;
  BodySink sink{[&](const char* d, size_t n) {
                  got.append(d, n);
                  return Status::Ok();
                },
                [&] { got.clear(); }};
  auto r = Get(client, server.url(), &sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(got, "abcdefghij");
  EXPECT_EQ(client.stats().retries.load(), 1u);
}

// A sink that receives in place through rooms of at most `room_size` bytes.
struct InPlaceSink {
  explicit InPlaceSink(size_t room_size) : room(room_size) {
    sink.room = [this]() -> Result<std::span<char>> {
      if (!fail_room.ok()) return fail_room;
      return std::span<char>(room.data(), room.size());
    };
    sink.commit = [this](size_t n) {
      got.append(room.data(), n);
      ++commits;
      return Status::Ok();
    };
    sink.reset = [this] {
      got.clear();
      copied.clear();
      ++resets;
    };
    sink.head = [this](const HttpResponse& h) { heads.push_back(h.status); };
    sink.write = [this](const char* d, size_t n) {
      copied.append(d, n);
      ++writes;
      return Status::Ok();
    };
  }
  std::vector<char> room;
  std::string got;     // what arrived in place
  std::string copied;  // what arrived by write
  int commits = 0, resets = 0, writes = 0;
  std::vector<int> heads;
  Status fail_room;
  BodySink sink;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

TEST(HttpClientInPlaceTest, BodyGoesStraightIntoTheSinksRoomsOnOneKeptConnection) {
  const std::string body = RandomBytes(300'000, 1);
  ScriptedServer server([&](int) { return Reply(200, body); });
  HttpClient client(FastRetries(1));
  for (size_t room : {size_t{1}, size_t{7}, size_t{4096}, size_t{1} << 20}) {
    InPlaceSink in(room);
    auto r = Get(client, server.url(), &in.sink);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body.empty());
    EXPECT_EQ(in.got, body) << "room " << room;
    EXPECT_EQ(in.writes, 0);  // no copy through curl's buffer
    EXPECT_EQ(in.heads, std::vector<int>{200});
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(client.stats().connections_opened.load(), 1u);
  EXPECT_EQ(client.stats().bytes_received.load(), 4 * body.size());
}

TEST(HttpClientInPlaceTest, SameBytesAsTheCopyingPath) {
  const std::string body = RandomBytes(1 << 20, 2);
  // One server each: a scripted server serves one connection at a time, and both are kept.
  ScriptedServer server_a([&](int) { return Reply(206, body); });
  ScriptedServer server_b([&](int) { return Reply(206, body); });
  HttpClientOptions copying = FastRetries(1);
  copying.receive_in_place = false;
  HttpClient in_place_client(FastRetries(1));
  HttpClient copying_client(copying);
  InPlaceSink a(65'536);
  InPlaceSink b(65'536);
  ASSERT_TRUE(Get(in_place_client, server_a.url(), &a.sink).ok());
  ASSERT_TRUE(Get(copying_client, server_b.url(), &b.sink).ok());
  EXPECT_EQ(a.got, body);
  EXPECT_EQ(a.writes, 0);
  EXPECT_EQ(b.copied, body);  // the copying path writes, and never asks for room
  EXPECT_EQ(b.commits, 0);
}

TEST(HttpClientInPlaceTest, ChunkedBodyWithExtensionsAndTrailers) {
  ScriptedServer server([](int) {
    return std::string(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n"
        "1\r\n,\r\n"
        "6\r\n world\r\n"
        "0\r\nX-Checksum: 1\r\n\r\n");
  });
  HttpClient client(FastRetries(1));
  for (int i = 0; i < 3; ++i) {
    InPlaceSink in(4);
    auto r = Get(client, server.url(), &in.sink);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(in.got, "hello, world");
  }
  EXPECT_EQ(server.connections(), 1);  // chunked framing ends cleanly: the connection is reused
}

TEST(HttpClientInPlaceTest, BodyUntilTheServerClosesAndInterimReplies) {
  ScriptedServer server([](int i) {
    if (i == 0) return std::string("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end");
    return std::string("HTTP/1.1 100 Continue\r\n\r\n") + Reply(200, "after interim");
  });
  HttpClient client(FastRetries(1));
  InPlaceSink first(3);
  ASSERT_TRUE(Get(client, server.url(), &first.sink).ok());
  EXPECT_EQ(first.got, "to the end");
  InPlaceSink second(3);
  auto r = Get(client, server.url(), &second.sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(second.got, "after interim");
  EXPECT_EQ(second.heads, std::vector<int>{200});
  EXPECT_EQ(server.connections(), 2);  // the closed one was not reused
}

TEST(HttpClientInPlaceTest, TruncatedBodyIsRetriedAndDeliveredOnce) {
  // The first reply promises 10 bytes, sends 4, and the connection drops.
  ScriptedServer dropping(
      [](int i) { return i == 0 ? ReplyThenDrop(10, "abcd") : Reply(200, "abcdefghij"); });
  HttpClient client(FastRetries(3));
  InPlaceSink in(2);
  auto r = Get(client, dropping.url(), &in.sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(in.got, "abcdefghij");
  EXPECT_EQ(in.resets, 1);
  EXPECT_EQ(client.stats().retries.load(), 1u);
}

TEST(HttpClientInPlaceTest, StalledReplyIsAbandonedAfterTheReadTimeoutAndRetried) {
  for (const bool in_place : {false, true}) {
    SCOPED_TRACE(in_place ? "in place" : "through curl's transfer");
    ScriptedServer server(
        [](int i) { return i == 0 ? ReplyThenStall(10, "abcd") : Reply(200, "abcdefghij"); });
    HttpClientOptions options = FastRetries(3);
    options.read_timeout_ms = 300;
    HttpClient client(options);
    InPlaceSink in(4);
    BodySink copying{in.sink.write, in.sink.reset};
    const auto start = std::chrono::steady_clock::now();
    auto r = Get(client, server.url(), in_place ? &in.sink : &copying);
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(in_place ? in.got : in.copied, "abcdefghij");
    EXPECT_EQ(client.stats().retries.load(), 1u);
    // Checked as bytes arrive and about once a second while none do.
    EXPECT_LT(took, std::chrono::milliseconds(2500));
  }
  // A server that always stalls: the request fails, naming the timeout and the attempts.
  ScriptedServer stalling([](int) { return ReplyThenStall(10, "ab"); });
  HttpClientOptions options = FastRetries(2);
  options.read_timeout_ms = 200;
  for (const bool in_place : {false, true}) {
    HttpClient client(options);
    InPlaceSink in(4);
    BodySink copying{in.sink.write, in.sink.reset};
    auto r = Get(client, stalling.url(), in_place ? &in.sink : &copying);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find("read_timeout_ms"), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find("gave up after 2 attempts"), std::string::npos)
        << r.status().message();
  }
}

TEST(HttpClientInPlaceTest, ErrorBodiesAreKeptAndNeverReachTheSink) {
  ScriptedServer server([](int i) {
    return i == 0 ? Reply(503, "<Error><Code>SlowDown</Code></Error>")
                  : Reply(404, "<Error><Code>NoSuchKey</Code></Error>");
  });
  HttpClient client(FastRetries(3));
  InPlaceSink in(16);
  auto r = Get(client, server.url(), &in.sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("NoSuchKey"), std::string::npos);
  EXPECT_TRUE(in.got.empty());
  EXPECT_EQ(in.commits, 0);
  EXPECT_TRUE(in.heads.empty());
  EXPECT_EQ(server.requests(), 2);
  EXPECT_EQ(server.connections(), 1);  // error replies with a length keep the connection
}

TEST(HttpClientInPlaceTest, StaleKeptConnectionIsReplacedWithoutARetry) {
  ScriptedServer server(
      [](int i) { return i == 0 ? ReplyThenDrop(2, "ok") : Reply(200, "again"); });
  HttpClient client(FastRetries(1));  // no retries allowed: the resend must not count as one
  InPlaceSink first(8);
  ASSERT_TRUE(Get(client, server.url(), &first.sink).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the server has closed it
  InPlaceSink second(8);
  auto r = Get(client, server.url(), &second.sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(second.got, "again");
  EXPECT_EQ(client.stats().retries.load(), 0u);
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClientInPlaceTest, SinkErrorAbortsWithoutRetryOrReuse) {
  ScriptedServer server([](int) { return Reply(200, "0123456789"); });
  HttpClient client(FastRetries(5));
  InPlaceSink in(4);
  in.fail_room = Status(StatusCode::kPreconditionFailed, "the object changed");
  auto r = Get(client, server.url(), &in.sink);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPreconditionFailed);
  EXPECT_EQ(server.requests(), 1);
  InPlaceSink ok(4);
  ASSERT_TRUE(Get(client, server.url(), &ok.sink).ok());
  EXPECT_EQ(ok.got, "0123456789");
  EXPECT_EQ(server.connections(), 2);  // the aborted connection had unread bytes: not reused
}

TEST(HttpClientInPlaceTest, OverTlsTheSameBytesArriveInPlace) {
  const std::string body = RandomBytes(3'000'000, 4);
  ScriptedServer server(
      [&](int i) {
        if (i % 2 == 0) return Reply(200, body);
        return std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") +
               "3\r\nabc\r\n0\r\n\r\n";
      },
      /*tls=*/true);
  {
    HttpClientOptions options = FastRetries(1);
    options.verify_tls = false;  // the test's own self-signed certificate
    HttpClient client(options);
    for (int i = 0; i < 4; ++i) {
      InPlaceSink in(i == 0 ? 1000 : 1 << 20);
      auto r = Get(client, server.url(), &in.sink);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(in.writes, 0);
      EXPECT_TRUE(in.got == (i % 2 == 0 ? body : "abc")) << "request " << i;
    }
    EXPECT_EQ(server.connections(), 1);
  }  // the client and its kept connection go: the server (one connection at a time) is free
  // With verification on, the self-signed certificate is refused, and that is not retried.
  HttpClient strict(FastRetries(3));
  InPlaceSink in(64);
  auto r = Get(strict, server.url(), &in.sink);
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(r.status().retryable());
}

// Connections of the client's own do not go through proxies: with a proxy in the environment
// every request goes through curl's transfer, which honours it (here: no_proxy for loopback).
TEST(HttpClientInPlaceTest, ProxyInTheEnvironmentMeansCurlsTransfer) {
  ScriptedServer server([](int) { return Reply(200, "through curl"); });
  ::setenv("http_proxy", "http://127.0.0.1:9", 1);
  ::setenv("no_proxy", "127.0.0.1", 1);
  HttpClient client(FastRetries(1));
  InPlaceSink in(8);
  auto r = Get(client, server.url(), &in.sink);
  ::unsetenv("http_proxy");
  ::unsetenv("no_proxy");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(in.copied, "through curl");
  EXPECT_EQ(in.commits, 0);
}

TEST(HttpClientInPlaceTest, MalformedRepliesFailLoudly) {
  ScriptedServer server([](int i) {
    switch (i % 3) {
      case 0: return std::string("HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n");
      case 1: return std::string("SSH-2.0-OpenSSH\r\n\r\n");
      default: return std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    }
  });
  HttpClient client(FastRetries(1));
  for (const char* want : {"Content-Length", "not HTTP", "chunk size"}) {
    InPlaceSink in(8);
    auto r = Get(client, server.url(), &in.sink);
    ASSERT_FALSE(r.ok()) << want;
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("127.0.0.1"), std::string::npos);
  }
}

TEST(HttpClientTest, UnreachableEndpointFailsFastNamingIt) {
  // Bind a port, then close it: nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  HttpClient client(FastRetries(3));
  auto t0 = std::chrono::steady_clock::now();
  auto r = Get(client, "http://127.0.0.1:" + std::to_string(port) + "/x");
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << r.status().message();
  EXPECT_LT(secs, 5.0);
  EXPECT_EQ(client.stats().requests.load(), 3u);
}

TEST(HttpClientTest, RetryableStatusClassification) {
  for (int s : {429, 500, 502, 503, 504}) EXPECT_TRUE(IsRetryableHttpStatus(s));
  for (int s : {200, 206, 301, 400, 403, 404, 412, 416}) EXPECT_FALSE(IsRetryableHttpStatus(s));
}

}  // namespace
}  // namespace quarry::http
