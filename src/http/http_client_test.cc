// HttpClient against a scripted loopback server of the test's own: retry policy, connection
// reuse, truncated bodies and unreachable endpoints.
#include "http/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

namespace quarry::http {
namespace {

// Serves raw HTTP replies chosen by `reply(request_index)` on 127.0.0.1; keeps connections
// alive unless the reply closes them (an empty reply string drops the connection at once).
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<std::string(int)> reply) : reply_(std::move(reply)) {
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
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/obj"; }
  int connections() const { return connections_; }
  int requests() const { return requests_; }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      std::string buf;
      char tmp[4096];
      bool open = true;
      while (open) {
        auto end = buf.find("\r\n\r\n");
        while (end == std::string::npos) {
          ssize_t n = ::read(c, tmp, sizeof tmp);
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
        ::write(c, reply.data(), reply.size());
        if (reply.find("Connection: close") != std::string::npos) break;
      }
      ::close(c);
    }
  }

  std::function<std::string(int)> reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

std::string Reply(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
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

TEST(HttpClientTest, RetriesRequestTimeout400) {
  ScriptedServer server([](int i) {
    return i == 0 ? Reply(400, "<Error><Code>RequestTimeout</Code></Error>") : Reply(200, "ok");
  });
  HttpClient client(FastRetries(3));
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
  for (int s : {429, 500, 502, 503, 504}) EXPECT_TRUE(IsRetryableHttpStatus(s, ""));
  for (int s : {200, 206, 301, 400, 403, 404, 412, 416}) EXPECT_FALSE(IsRetryableHttpStatus(s, ""));
  EXPECT_TRUE(IsRetryableHttpStatus(400, "<Error><Code>RequestTimeout</Code></Error>"));
}

}  // namespace
}  // namespace quarry::http
