#include "delivery/http/response.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace folderhook::delivery {
namespace {

constexpr size_t kMaxHead = 64 * 1024;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// True when the comma-separated header value holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

ResponseParser::ResponseParser(bool head_request, size_t body_limit, size_t keep)
    : head_request_(head_request), body_limit_(body_limit), keep_(keep) {}

bool ResponseParser::fail(std::string message) {
  state_ = State::kError;
  error_ = std::move(message);
  keep_alive_ = false;
  return false;
}

bool ResponseParser::take_line(std::string_view data, size_t& used) {
  const size_t nl = data.find('\n');
  const size_t take = nl == std::string_view::npos ? data.size() : nl + 1;
  line_.append(data.substr(0, take));
  used += take;
  if (line_.size() > kMaxHead) return fail("chunk line larger than 64 KiB");
  if (nl == std::string_view::npos) return false;
  line_.pop_back();  // the line without its "\n" or "\r\n"
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  return true;
}

size_t ResponseParser::feed(std::string_view data) {
  size_t used = 0;
  if (!data.empty()) started_ = true;
  while (state_ == State::kNeedMore && used < data.size()) {
    const std::string_view rest = data.substr(used);
    switch (phase_) {
      case Phase::kHead: {
        const size_t before = head_.size();
        head_.append(rest);
        const size_t from = before > 3 ? before - 3 : 0;
        size_t end = head_.find("\r\n\r\n", from);
        if (end != std::string::npos) {
          end += 4;
        } else if ((end = head_.find("\n\n", from)) != std::string::npos) {
          end += 2;
        }
        if (end == std::string::npos) {
          if (head_.size() > kMaxHead) fail("response headers larger than 64 KiB");
          used += rest.size();
          break;
        }
        used += end - before;
        head_.resize(end);
        if (!parse_head(head_)) break;
        head_.clear();
        if (status_ >= 100 && status_ < 200 && status_ != 101) {
          // An interim response (100 Continue): the real one follows.
          status_ = 0;
          has_length_ = chunked_ = false;
          remaining_ = 0;
          retry_after_.clear();
          break;
        }
        finish_head();
        break;
      }
      case Phase::kBody: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, rest.size()));
        used += take;
        remaining_ -= take;
        if (!take_body(rest.substr(0, take))) break;
        if (remaining_ == 0) state_ = State::kDone;
        break;
      }
      case Phase::kBodyToClose:
        used += rest.size();
        take_body(rest);
        break;
      case Phase::kChunkSize: {
        if (!take_line(rest, used)) break;
        const std::string_view text = trim(std::string_view(line_).substr(0, line_.find(';')));
        uint64_t size = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), size, 16);
        if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
          fail("malformed chunk size in the response");
          break;
        }
        line_.clear();
        remaining_ = size;
        phase_ = size == 0 ? Phase::kTrailer : Phase::kChunkData;
        break;
      }
      case Phase::kChunkData: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, rest.size()));
        used += take;
        remaining_ -= take;
        if (!take_body(rest.substr(0, take))) break;
        if (remaining_ == 0) phase_ = Phase::kChunkEnd;
        break;
      }
      case Phase::kChunkEnd:
        if (!take_line(rest, used)) break;
        if (!trim(line_).empty()) {
          fail("malformed chunk end in the response");
          break;
        }
        line_.clear();
        phase_ = Phase::kChunkSize;
        break;
      case Phase::kTrailer:
        if (!take_line(rest, used)) break;
        if (trim(line_).empty()) state_ = State::kDone;
        line_.clear();
        break;
    }
  }
  return used;
}

void ResponseParser::end_of_stream() {
  if (state_ != State::kNeedMore) return;
  keep_alive_ = false;
  if (phase_ == Phase::kBodyToClose) {
    state_ = State::kDone;
    return;
  }
  if (status_ == 0) {
    fail("connection closed before a response");
  } else {
    fail("connection closed in the middle of the response body");
  }
}

bool ResponseParser::parse_head(std::string_view head) {
  size_t eol = head.find('\n');
  const std::string_view status_line = trim(head.substr(0, eol));
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
    return fail("not an HTTP response");
  }
  http10_ = status_line[7] == '0';
  int status = 0;
  const auto [ptr, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
  if (ec != std::errc() || ptr != status_line.data() + 12 || status < 100 || status > 999) {
    return fail("malformed status line in the response");
  }
  status_ = status;
  keep_alive_ = !http10_;
  head.remove_prefix(eol + 1);
  while (!head.empty()) {
    eol = head.find('\n');
    const std::string_view line = trim(head.substr(0, eol));
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 1);
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail("malformed header line in the response");
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      uint64_t length = 0;
      const auto [p, e] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (e != std::errc() || p != value.data() + value.size()) {
        return fail("malformed Content-Length in the response");
      }
      has_length_ = true;
      remaining_ = length;
    } else if (iequals(name, "Transfer-Encoding")) {
      chunked_ = has_token(value, "chunked");
    } else if (iequals(name, "Connection")) {
      if (has_token(value, "close")) keep_alive_ = false;
      if (has_token(value, "keep-alive")) keep_alive_ = keep_alive_ || http10_;
    } else if (iequals(name, "Retry-After")) {
      retry_after_ = std::string(value);
    }
  }
  return true;
}

void ResponseParser::finish_head() {
  if (head_request_ || status_ == 204 || status_ == 304) {
    state_ = State::kDone;
  } else if (chunked_) {
    phase_ = Phase::kChunkSize;
  } else if (has_length_) {
    if (remaining_ > body_limit_) {
      too_large_ = true;
      fail("response body larger than " + std::to_string(body_limit_ / 1024) +
           " KiB; stopped reading");
      return;
    }
    phase_ = Phase::kBody;
    if (remaining_ == 0) state_ = State::kDone;
  } else {
    phase_ = Phase::kBodyToClose;  // the body ends when the server closes the connection
    keep_alive_ = false;
  }
}

bool ResponseParser::take_body(std::string_view bytes) {
  body_seen_ += bytes.size();
  if (body_.size() < keep_) body_.append(bytes.substr(0, keep_ - body_.size()));
  if (body_seen_ > body_limit_) {
    too_large_ = true;
    return fail("response body larger than " + std::to_string(body_limit_ / 1024) +
                " KiB; stopped reading");
  }
  return true;
}

}  // namespace folderhook::delivery
