// ResponseParser: reads one HTTP/1.1 response from the bytes of a connection, incrementally and
// without I/O. Pure logic (table-tested in tests/delivery/http_response_test.cpp); the sender
// feeds it what recv() returned. It stops at the end of the response, so that the bytes that
// follow (the next pipelined response) stay with the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace folderhook::delivery {

class ResponseParser {
 public:
  enum class State { kNeedMore, kDone, kError };
  // body_limit: a body longer than this fails the parse; keep: bytes of the body kept.
  ResponseParser(bool head_request, size_t body_limit, size_t keep);

  // Consumes bytes of this response from `data` and returns how many it took (less than
  // data.size() only when the response ended, or on an error).
  size_t feed(std::string_view data);
  // The peer closed the connection: ends a body that runs until the close.
  void end_of_stream();

  State state() const { return state_; }
  bool started() const { return started_; }  // any byte of this response arrived
  int status() const { return status_; }     // 0 until the status line arrived
  const std::string& error() const { return error_; }
  bool body_too_large() const { return too_large_; }
  const std::string& body() const { return body_; }
  const std::string& retry_after() const { return retry_after_; }
  // The connection may carry another request after this response.
  bool keep_alive() const { return keep_alive_; }

 private:
  enum class Phase { kHead, kBody, kBodyToClose, kChunkSize, kChunkData, kChunkEnd, kTrailer };
  bool parse_head(std::string_view head);
  void finish_head();
  bool take_body(std::string_view bytes);
  bool fail(std::string message);
  // Takes one CRLF- (or LF-) terminated line into line_; false until it is complete.
  bool take_line(std::string_view data, size_t& used);

  const bool head_request_;
  const size_t body_limit_;
  const size_t keep_;
  State state_ = State::kNeedMore;
  Phase phase_ = Phase::kHead;
  bool started_ = false;
  std::string head_;
  std::string line_;
  int status_ = 0;
  bool http10_ = false;
  bool chunked_ = false;
  bool has_length_ = false;
  bool keep_alive_ = true;
  uint64_t remaining_ = 0;
  uint64_t body_seen_ = 0;
  bool too_large_ = false;
  std::string body_;
  std::string retry_after_;
  std::string error_;
};

}  // namespace folderhook::delivery
