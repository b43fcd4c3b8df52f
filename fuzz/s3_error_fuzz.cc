// libFuzzer target: ParseS3ErrorReply, the parser of S3 error replies.
// Byte 0 picks the mode; the rest is the input.
//  - even: the rest is a reply body (XML, HTML, a proxy's text, nothing). Nothing may crash;
//    without "<Error" both fields are empty; when the body has no entity ('&') and no '\r',
//    code and message are pieces of it.
//  - odd: the rest gives a code and a message, written as S3 writes an error reply (with the
//    other elements around them), which must parse back to the same code and message.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "storage/s3_xml.h"

namespace {

void CheckArbitraryBody(std::string_view body) {
  const quarry::S3ErrorReply reply = quarry::ParseS3ErrorReply(body);
  if (body.find("<Error") == std::string_view::npos) {
    if (!reply.code.empty() || !reply.message.empty()) abort();
    return;
  }
  if (body.find('&') != std::string_view::npos || body.find('\r') != std::string_view::npos) {
    return;
  }
  if (body.find(reply.code) == std::string_view::npos) abort();
  if (body.find(reply.message) == std::string_view::npos) abort();
}

std::string XmlText(FuzzedDataProvider& in, size_t max) {
  std::string s = in.ConsumeRandomLengthString(max);
  std::erase(s, '\0');  // the one byte an XML document cannot carry
  return s;
}

void CheckWrittenReply(FuzzedDataProvider& in) {
  const std::string code = XmlText(in, 40);
  const std::string message = XmlText(in, 200);
  const std::string resource = XmlText(in, 60);
  const bool declaration = in.ConsumeBool();
  const bool message_first = in.ConsumeBool();
  std::string body = declaration ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" : "";
  const std::string code_xml = "<Code>" + quarry::XmlEscape(code) + "</Code>";
  const std::string message_xml = "<Message>" + quarry::XmlEscape(message) + "</Message>";
  body += "<Error>";
  body += message_first ? message_xml + code_xml : code_xml + message_xml;
  body += "<Resource>" + quarry::XmlEscape(resource) + "</Resource><RequestId>tx0</RequestId>";
  body += "</Error>";
  const quarry::S3ErrorReply reply = quarry::ParseS3ErrorReply(body);
  if (reply.code != code || reply.message != message) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  if ((bytes[0] & 1) == 0) {
    CheckArbitraryBody(std::string_view(reinterpret_cast<const char*>(bytes + 1), size - 1));
  } else {
    FuzzedDataProvider in(bytes + 1, size - 1);
    CheckWrittenReply(in);
  }
  return 0;
}
