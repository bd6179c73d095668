#include "agent/listen.h"
#include "agent/log.h"

#include <doctest/doctest.h>

using folderhook::agent::display_value;
using folderhook::agent::printable_utf8;

TEST_CASE("valid UTF-8 is shown as it is") {
  CHECK(printable_utf8("plain.txt") == "plain.txt");
  CHECK(printable_utf8("r\xC3\xA9sum\xC3\xA9.pdf") == "r\xC3\xA9sum\xC3\xA9.pdf");
  CHECK(printable_utf8("\xF0\x9F\x93\x81") == "\xF0\x9F\x93\x81");
}

TEST_CASE("bytes that are not UTF-8 are shown as \\xNN, each one") {
  CHECK(printable_utf8("a\xFF" "b") == "a\\xFFb");
  CHECK(printable_utf8("\xC3") == "\\xC3");              // truncated sequence
  CHECK(printable_utf8("\xC0\xAF") == "\\xC0\\xAF");     // overlong '/'
  CHECK(printable_utf8("\xED\xA0\x80") == "\\xED\\xA0\\x80");  // a surrogate
}

TEST_CASE("listen shows a value on one line, quoting spaces and escaping controls") {
  CHECK(display_value("a.txt") == "a.txt");
  CHECK(display_value("my file.txt") == "\"my file.txt\"");
  CHECK(display_value("two\nlines") == "two\\nlines");
  CHECK(display_value("bell\x07") == "bell\\x07");
  CHECK(display_value("\xFE") == "\\xFE");
  CHECK(display_value("") == "\"\"");
}
