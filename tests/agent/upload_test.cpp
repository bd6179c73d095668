#include "agent/upload.h"

#include <doctest/doctest.h>

using namespace folderhook::agent;

TEST_CASE("a multipart body has one part per field, then the file part") {
  const std::string content = "a,b\r\n1,2\n";
  const std::string body = multipart_body({{"action", "create"}, {"path", "/in/x.csv"}}, "upload",
                                          "x.csv", &content, "", "B0");
  CHECK(body ==
        "--B0\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\ncreate\r\n"
        "--B0\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n/in/x.csv\r\n"
        "--B0\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"x.csv\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\na,b\r\n1,2\n\r\n"
        "--B0--\r\n");
}

TEST_CASE("without content the body says why in a file_skipped part") {
  const std::string body =
      multipart_body({{"action", "destroy"}}, "upload", "x", nullptr, "destroyed", "B1");
  CHECK(body.find("name=\"file_skipped\"\r\n\r\ndestroyed\r\n--B1--\r\n") != std::string::npos);
  CHECK(body.find("filename=") == std::string::npos);
}

TEST_CASE("quotes and line breaks in a file name cannot break the part header") {
  const std::string content = "x";
  const std::string body = multipart_body({}, "f", "a\"b\r\nc", &content, "", "B2");
  CHECK(body.find("filename=\"a_b__c\"") != std::string::npos);
}

TEST_CASE("the boundary never occurs in the content") {
  const std::string boundary = pick_boundary("some content");
  CHECK(boundary.rfind("folderhook-", 0) == 0);
  const std::string tricky = "xx" + boundary + "yy";
  CHECK(pick_boundary(tricky) != boundary);
}
