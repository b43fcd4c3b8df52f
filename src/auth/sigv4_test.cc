// Tests for the SigV4 signer against AWS's published examples:
//  - S3 API reference, "Signature Calculations for the Authorization Header: Transferring Payload
//    in a Single Chunk" (examplebucket, 2013-05-24) and "Authenticating Requests: Using Query
//    Parameters" (the presigned GET of test.txt);
//  - the Signature Version 4 test suite (get-vanilla, get-vanilla-query-order-key-case);
//  - the general reference's signing-key derivation example (iam, 2012-02-15).
// Every expected hash and signature below is a published value, not one computed by this code.
#include "auth/sigv4.h"

#include <gtest/gtest.h>

#include <ctime>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace quarry::auth {
namespace {

std::string Hex(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0x0f]);
  }
  return out;
}

std::string HeaderValue(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "<missing>";
}

std::string SignatureOf(const HeaderList& headers) {
  const std::string auth = HeaderValue(headers, "Authorization");
  const size_t at = auth.find("Signature=");
  return at == std::string::npos ? "<none>" : auth.substr(at + 10);
}

constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// --- S3 documentation examples ----------------------------------------------------------------

constexpr std::time_t kS3ExampleTime = 1369353600;  // 2013-05-24T00:00:00Z
constexpr std::string_view kS3Host = "examplebucket.s3.amazonaws.com";
constexpr std::string_view kS3Scope = "20130524/us-east-1/s3/aws4_request";

AwsCredentials S3ExampleCreds() {
  return {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
}

SignableRequest S3Request(std::string method, std::string encoded_path) {
  SignableRequest r;
  r.method = std::move(method);
  r.host = std::string(kS3Host);
  r.encoded_path = std::move(encoded_path);
  r.payload_hash = std::string(kEmptySha256);
  return r;
}

TEST(SigV4Crypto, Sha256KnownAnswers) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha256);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // The body of the S3 PUT example.
  EXPECT_EQ(Sha256Hex("Welcome to Amazon S3."),
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
}

TEST(SigV4Crypto, HmacKnownAnswers) {
  // RFC 4231, test case 2.
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Hex(HmacSha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  // Reusing the per-thread context with a new key must not keep the old one.
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HmacSha256("k", "data").size(), 32u);
}

TEST(SigV4Crypto, SigningKeyDerivation) {
  // AWS general reference, "Examples of how to derive a signing key".
  EXPECT_EQ(Hex(DeriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215",
                                 "us-east-1", "iam")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
  // The key of the S3 examples.
  EXPECT_EQ(
      Hex(DeriveSigningKey(S3ExampleCreds().secret_access_key, "20130524", "us-east-1", "s3")),
      "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378");
}

TEST(SigV4Date, AmzDate) {
  EXPECT_EQ(AmzDate(kS3ExampleTime), "20130524T000000Z");
  EXPECT_EQ(AmzDate(1440938160), "20150830T123600Z");
  EXPECT_EQ(AmzDate(951782400), "20000229T000000Z");
  EXPECT_EQ(AmzDate(0), "19700101T000000Z");
}

TEST(SigV4S3Example, GetObjectIntermediateSteps) {
  SignableRequest r = S3Request("GET", "/test.txt");
  const HeaderList all = {{"Host", std::string(kS3Host)},
                          {"Range", "bytes=0-9"},
                          {"x-amz-content-sha256", std::string(kEmptySha256)},
                          {"X-Amz-Date", "20130524T000000Z"}};
  std::string signed_headers;
  const std::string canonical = CanonicalRequest(r, all, &signed_headers);
  EXPECT_EQ(
      canonical,
      "GET\n"
      "/test.txt\n"
      "\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "range:bytes=0-9\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n"
      "\n"
      "host;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
  EXPECT_EQ(Sha256Hex(canonical),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  const std::string sts = StringToSign("20130524T000000Z", kS3Scope, canonical);
  EXPECT_EQ(sts,
            "AWS4-HMAC-SHA256\n"
            "20130524T000000Z\n"
            "20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  const std::string key =
      DeriveSigningKey(S3ExampleCreds().secret_access_key, "20130524", "us-east-1", "s3");
  EXPECT_EQ(Hex(HmacSha256(key, sts)),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4S3Example, GetObject) {
  SignableRequest r = S3Request("GET", "/test.txt");
  r.headers = {{"Range", "bytes=0-9"}};
  const HeaderList out = SignRequest(r, S3ExampleCreds(), "us-east-1", "s3", kS3ExampleTime);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(HeaderValue(out, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(HeaderValue(out, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(HeaderValue(out, "x-amz-content-sha256"), kEmptySha256);
}

TEST(SigV4S3Example, PutObject) {
  const std::string body_hash = Sha256Hex("Welcome to Amazon S3.");
  SignableRequest r = S3Request("PUT", UriEncodePath("/test$file.text"));
  EXPECT_EQ(r.encoded_path, "/test%24file.text");
  r.payload_hash = body_hash;
  r.headers = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};

  const HeaderList all = {{"date", "Fri, 24 May 2013 00:00:00 GMT"},
                          {"host", std::string(kS3Host)},
                          {"x-amz-content-sha256", body_hash},
                          {"x-amz-date", "20130524T000000Z"},
                          {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  EXPECT_EQ(Sha256Hex(CanonicalRequest(r, all, nullptr)),
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");

  const HeaderList out = SignRequest(r, S3ExampleCreds(), "us-east-1", "s3", kS3ExampleTime);
  EXPECT_NE(HeaderValue(out, "Authorization")
                .find("SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
                      "x-amz-storage-class, "),
            std::string::npos);
  EXPECT_EQ(SignatureOf(out), "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  EXPECT_EQ(HeaderValue(out, "x-amz-content-sha256"), body_hash);
}

TEST(SigV4S3Example, GetBucketLifecycle) {
  SignableRequest r = S3Request("GET", "/");
  r.query = {{"lifecycle", ""}};
  const HeaderList all = {{"host", std::string(kS3Host)},
                          {"x-amz-content-sha256", std::string(kEmptySha256)},
                          {"x-amz-date", "20130524T000000Z"}};
  const std::string canonical = CanonicalRequest(r, all, nullptr);
  EXPECT_EQ(canonical.substr(0, canonical.find("\nhost:")), "GET\n/\nlifecycle=");
  EXPECT_EQ(Sha256Hex(canonical),
            "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");

  const HeaderList out = SignRequest(r, S3ExampleCreds(), "us-east-1", "s3", kS3ExampleTime);
  EXPECT_EQ(SignatureOf(out), "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4S3Example, ListObjectsSortsQuery) {
  SignableRequest r = S3Request("GET", "/");
  r.query = {{"prefix", "J"}, {"max-keys", "2"}};  // out of order on purpose
  const HeaderList all = {{"host", std::string(kS3Host)},
                          {"x-amz-content-sha256", std::string(kEmptySha256)},
                          {"x-amz-date", "20130524T000000Z"}};
  EXPECT_EQ(Sha256Hex(CanonicalRequest(r, all, nullptr)),
            "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");

  const HeaderList out = SignRequest(r, S3ExampleCreds(), "us-east-1", "s3", kS3ExampleTime);
  EXPECT_EQ(SignatureOf(out), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4S3Example, PresignedGet) {
  SignableRequest r = S3Request("GET", "/test.txt");
  r.payload_hash = "";  // ignored for s3 presigning: always UNSIGNED-PAYLOAD
  EXPECT_EQ(PresignUrl("https", r, S3ExampleCreds(), "us-east-1", "s3", kS3ExampleTime, 86400),
            "https://examplebucket.s3.amazonaws.com/test.txt"
            "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z"
            "&X-Amz-Expires=86400"
            "&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(SigV4S3Example, PresignedCanonicalRequest) {
  // The published canonical request of the presigned example, rebuilt through the public parts.
  SignableRequest r = S3Request("GET", "/test.txt");
  r.payload_hash = "UNSIGNED-PAYLOAD";
  r.query = {{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
             {"X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"},
             {"X-Amz-Date", "20130524T000000Z"},
             {"X-Amz-Expires", "86400"},
             {"X-Amz-SignedHeaders", "host"}};
  const std::string canonical = CanonicalRequest(r, {{"host", std::string(kS3Host)}}, nullptr);
  EXPECT_EQ(Sha256Hex(canonical),
            "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
}

// --- Signature Version 4 test suite ------------------------------------------------------------

constexpr std::time_t kSuiteTime = 1440938160;  // 2015-08-30T12:36:00Z

AwsCredentials SuiteCreds() {
  return {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
}

SignableRequest SuiteRequest() {
  SignableRequest r;
  r.method = "GET";
  r.host = "example.amazonaws.com";
  r.encoded_path = "/";
  r.payload_hash = Sha256Hex("");
  return r;
}

TEST(SigV4Suite, GetVanillaIntermediateSteps) {
  const SignableRequest r = SuiteRequest();
  std::string signed_headers;
  const std::string canonical = CanonicalRequest(
      r, {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}}, &signed_headers);
  EXPECT_EQ(canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(signed_headers, "host;x-amz-date");
  const std::string sts =
      StringToSign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", canonical);
  EXPECT_EQ(sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  const std::string key =
      DeriveSigningKey(SuiteCreds().secret_access_key, "20150830", "us-east-1", "service");
  EXPECT_EQ(Hex(HmacSha256(key, sts)),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Suite, GetVanillaThroughSignRequest) {
  // A service other than s3 signs no x-amz-content-sha256, which is exactly the suite's form.
  const HeaderList out =
      SignRequest(SuiteRequest(), SuiteCreds(), "us-east-1", "service", kSuiteTime);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(HeaderValue(out, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(HeaderValue(out, "x-amz-date"), "20150830T123600Z");
}

TEST(SigV4Suite, GetVanillaQueryOrderKeyCase) {
  SignableRequest r = SuiteRequest();
  r.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  const HeaderList out = SignRequest(r, SuiteCreds(), "us-east-1", "service", kSuiteTime);
  EXPECT_EQ(SignatureOf(out), "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

// --- Encoding -----------------------------------------------------------------------------------

TEST(SigV4Encoding, UriEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(UriEncode("AZaz09-_.~", false), "AZaz09-_.~");
  EXPECT_EQ(UriEncode("a b", false), "a%20b");
  EXPECT_EQ(UriEncode("a+b", false), "a%2Bb");
  EXPECT_EQ(UriEncode("100%", false), "100%25");
  EXPECT_EQ(UriEncode("k=v", false), "k%3Dv");
  EXPECT_EQ(UriEncode("what?", false), "what%3F");
  EXPECT_EQ(UriEncode("#1", false), "%231");
  EXPECT_EQ(UriEncode("a&b", false), "a%26b");
  EXPECT_EQ(UriEncode("$!'()*,;:@", false), "%24%21%27%28%29%2A%2C%3B%3A%40");
  EXPECT_EQ(UriEncode("caf\xC3\xA9", false), "caf%C3%A9");  // "café" in UTF-8
  EXPECT_EQ(UriEncode(std::string_view("\x00\xff", 2), false), "%00%FF");
  EXPECT_EQ(UriEncode("", false), "");
}

TEST(SigV4Encoding, SlashKeptOnlyForPaths) {
  EXPECT_EQ(UriEncode("a//b/", true), "a//b/");
  EXPECT_EQ(UriEncode("a//b/", false), "a%2F%2Fb%2F");
  EXPECT_EQ(UriEncodePath("/bucket/dir/my file+1=~.txt"), "/bucket/dir/my%20file%2B1%3D~.txt");
  EXPECT_EQ(UriEncodePath("/b/r\xC3\xA9sum\xC3\xA9?#&"), "/b/r%C3%A9sum%C3%A9%3F%23%26");
}

TEST(SigV4Encoding, CanonicalQueryString) {
  EXPECT_EQ(CanonicalQueryString({}), "");
  EXPECT_EQ(CanonicalQueryString({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(CanonicalQueryString({{"prefix", "J"}, {"max-keys", "2"}}), "max-keys=2&prefix=J");
  // Upper case sorts before lower case (byte order).
  EXPECT_EQ(CanonicalQueryString({{"b", "2"}, {"a", "1"}, {"A", "0"}}), "A=0&a=1&b=2");
  // Values are encoded, '/' included.
  EXPECT_EQ(CanonicalQueryString({{"uploadId", "a/b+c=="}, {"partNumber", "2"}}),
            "partNumber=2&uploadId=a%2Fb%2Bc%3D%3D");
  // A repeated name sorts by value.
  EXPECT_EQ(CanonicalQueryString({{"k", "b"}, {"k", "a"}, {"k", ""}}), "k=&k=a&k=b");
  // Sorting is by the encoded name: '=' (0x3D) sorts after '0', but "%3D" sorts before it.
  EXPECT_EQ(CanonicalQueryString({{"a0", "1"}, {"a=", "2"}}), "a%3D=2&a0=1");
  EXPECT_EQ(CanonicalQueryString({{"prefix", "dir/sub dir/"}, {"delimiter", "/"}}),
            "delimiter=%2F&prefix=dir%2Fsub%20dir%2F");
}

TEST(SigV4Canonical, HeadersLowerCasedTrimmedMergedAndSorted) {
  SignableRequest r;
  r.method = "GET";
  r.encoded_path = "";  // canonical URI of an empty path is "/"
  r.payload_hash = "UNSIGNED-PAYLOAD";
  std::string signed_headers;
  const std::string canonical = CanonicalRequest(r,
                                                 {{"X-Custom", "  a   b\t\tc  "},
                                                  {"host", "h"},
                                                  {"x-custom", "second"},
                                                  {"Content-Type", "text/plain"}},
                                                 &signed_headers);
  EXPECT_EQ(canonical,
            "GET\n/\n\ncontent-type:text/plain\nhost:h\nx-custom:a b c,second\n\n"
            "content-type;host;x-custom\nUNSIGNED-PAYLOAD");
  EXPECT_EQ(signed_headers, "content-type;host;x-custom");
}

// --- Signer behaviour -------------------------------------------------------------------------

TEST(SigV4Sign, SessionTokenIsSignedAndReturned) {
  SignableRequest r = S3Request("GET", "/test.txt");
  AwsCredentials creds = S3ExampleCreds();
  const std::string without = SignatureOf(SignRequest(r, creds, "us-east-1", "s3", kS3ExampleTime));
  creds.session_token = "token/with+chars=";
  const HeaderList out = SignRequest(r, creds, "us-east-1", "s3", kS3ExampleTime);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(HeaderValue(out, "x-amz-security-token"), "token/with+chars=");
  EXPECT_NE(HeaderValue(out, "Authorization")
                .find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "),
            std::string::npos);
  EXPECT_NE(SignatureOf(out), without);
  EXPECT_EQ(SignatureOf(out).size(), 64u);
}

TEST(SigV4Sign, CallerCannotOverrideSignerHeaders) {
  SignableRequest r = S3Request("GET", "/test.txt");
  r.headers = {{"Range", "bytes=0-9"},
               {"HOST", "evil.example"},
               {"X-Amz-Date", "19990101T000000Z"},
               {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"},
               {"Authorization", "junk"}};
  const HeaderList out = SignRequest(r, S3ExampleCreds(), "us-east-1", "s3", kS3ExampleTime);
  EXPECT_EQ(SignatureOf(out), "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4Sign, EmptyPayloadHashMeansUnsignedForS3) {
  SignableRequest r = S3Request("GET", "/test.txt");
  r.payload_hash = "";
  const HeaderList out = SignRequest(r, S3ExampleCreds(), "us-east-1", "s3", kS3ExampleTime);
  EXPECT_EQ(HeaderValue(out, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  r.payload_hash = "UNSIGNED-PAYLOAD";
  EXPECT_EQ(SignatureOf(SignRequest(r, S3ExampleCreds(), "us-east-1", "s3", kS3ExampleTime)),
            SignatureOf(out));
}

TEST(SigV4Sign, KeyCacheSeparatesSecretsDatesAndScopes) {
  SignableRequest r = S3Request("GET", "/test.txt");
  r.headers = {{"Range", "bytes=0-9"}};
  const AwsCredentials good = S3ExampleCreds();
  AwsCredentials other = good;
  other.secret_access_key = "another-secret";
  const std::string expected = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
  EXPECT_EQ(SignatureOf(SignRequest(r, good, "us-east-1", "s3", kS3ExampleTime)), expected);
  // Same access key, different secret: must not reuse the cached key.
  EXPECT_NE(SignatureOf(SignRequest(r, other, "us-east-1", "s3", kS3ExampleTime)), expected);
  // More distinct scopes than the cache holds, then the original again.
  for (const char* region : {"eu-west-1", "us-west-2", "ap-south-1", "sa-east-1", "eu-north-1"}) {
    EXPECT_NE(SignatureOf(SignRequest(r, good, region, "s3", kS3ExampleTime)), expected);
  }
  EXPECT_NE(SignatureOf(SignRequest(r, good, "us-east-1", "s3", kS3ExampleTime + 86400)), expected);
  EXPECT_EQ(SignatureOf(SignRequest(r, good, "us-east-1", "s3", kS3ExampleTime)), expected);
}

TEST(SigV4Sign, ThreadsSignIndependently) {
  SignableRequest r = S3Request("GET", "/test.txt");
  r.headers = {{"Range", "bytes=0-9"}};
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      AwsCredentials creds = S3ExampleCreds();
      for (int i = 0; i < 200; ++i) {
        // Alternate secrets so the per-thread cache is exercised, not just hit.
        if (i % 2 == 1) {
          creds.secret_access_key = "x" + std::to_string(t);
        } else {
          creds = S3ExampleCreds();
        }
        const std::string sig =
            SignatureOf(SignRequest(r, creds, "us-east-1", "s3", kS3ExampleTime));
        const bool is_expected =
            sig == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
        if (is_expected != (i % 2 == 0)) ++mismatches[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(SigV4Presign, ExpiresIsClampedToAwsRange) {
  const SignableRequest r = S3Request("GET", "/test.txt");
  const std::string short_url =
      PresignUrl("https", r, S3ExampleCreds(), "us-east-1", "s3", kS3ExampleTime, 0);
  EXPECT_NE(short_url.find("&X-Amz-Expires=1&"), std::string::npos);
  const std::string long_url =
      PresignUrl("https", r, S3ExampleCreds(), "us-east-1", "s3", kS3ExampleTime, 1'000'000'000);
  EXPECT_NE(long_url.find("&X-Amz-Expires=604800&"), std::string::npos);
}

TEST(SigV4Presign, KeepsQueryAndSignsToken) {
  SignableRequest r = S3Request("GET", UriEncodePath("/dir/my file.txt"));
  r.query = {{"response-content-type", "text/plain"}};
  AwsCredentials creds = S3ExampleCreds();
  creds.session_token = "tok/en+=";
  const std::string url = PresignUrl("http", r, creds, "us-east-1", "s3", kS3ExampleTime, 3600);
  const std::string prefix = "http://examplebucket.s3.amazonaws.com/dir/my%20file.txt?";
  ASSERT_EQ(url.substr(0, prefix.size()), prefix);
  // Sorted: X-Amz-Security-Token before X-Amz-SignedHeaders, response-* after X-Amz-*.
  const size_t token = url.find("&X-Amz-Security-Token=tok%2Fen%2B%3D&");
  const size_t signed_headers = url.find("&X-Amz-SignedHeaders=host&");
  const size_t response = url.find("&response-content-type=text%2Fplain&");
  const size_t signature = url.find("&X-Amz-Signature=");
  ASSERT_NE(token, std::string::npos);
  ASSERT_NE(signed_headers, std::string::npos);
  ASSERT_NE(response, std::string::npos);
  ASSERT_NE(signature, std::string::npos);
  EXPECT_LT(token, signed_headers);
  EXPECT_LT(signed_headers, response);
  EXPECT_LT(response, signature);
  EXPECT_EQ(url.size() - signature, std::string("&X-Amz-Signature=").size() + 64);
}

TEST(SigV4Presign, SignsExtraHeaders) {
  SignableRequest r = S3Request("PUT", "/upload.bin");
  r.headers = {{"Content-Type", "application/octet-stream"}};
  const std::string url =
      PresignUrl("https", r, S3ExampleCreds(), "us-east-1", "s3", kS3ExampleTime, 60);
  EXPECT_NE(url.find("&X-Amz-SignedHeaders=content-type%3Bhost&"), std::string::npos);
}

}  // namespace
}  // namespace quarry::auth
