// The docs of rules.toml against the parser: etc/rules.toml (the commented sample) and the
// README's table name every key that parse_config() accepts, and the sample parses as is and
// with every example uncommented.
#include <doctest/doctest.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "agent/config.h"

using namespace folderhook::agent;

namespace {

// (table, key), with the table as known_keys() names it: "" for the top level.
using Key = std::pair<std::string, std::string>;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot read " << path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// A table header "[a]" or "[[a.b]]" documents "a" at the top level and "b" inside "a".
void add_table(const std::string& table, std::set<Key>& keys) {
  const auto dot = table.find('.');
  keys.insert({"", table.substr(0, dot)});
  if (dot != std::string::npos) keys.insert({table.substr(0, dot), table.substr(dot + 1)});
}

// The keys the sample sets or shows commented out: lines "key = ..." and "# key = ...", in the
// table of the header ("[t]", "# [[t]]") above them. Comment prose never starts "word =".
std::set<Key> sample_keys(const std::string& text) {
  std::set<Key> keys;
  std::string table;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    size_t i = line.find_first_not_of(' ');
    if (i == std::string::npos) continue;
    if (line[i] == '#') i = line.find_first_not_of(' ', i + 1);
    if (i == std::string::npos) continue;
    if (line[i] == '[') {
      const size_t begin = line.find_first_not_of('[', i);
      const size_t end = line.find(']', begin);
      if (end == std::string::npos) continue;
      table = line.substr(begin, end - begin);
      add_table(table, keys);
      continue;
    }
    size_t end = i;
    while (end < line.size() && is_key_char(line[end])) ++end;
    const size_t equals = line.find_first_not_of(' ', end);
    if (end > i && equals != std::string::npos && line[equals] == '=') {
      keys.insert({table, line.substr(i, end - i)});
    }
  }
  return keys;
}

// The README's rules.toml table: rows whose first cell is "`[t] key`" or "`[[t]] key`",
// optionally followed by more keys of the same table ("`[interfaces] sftp`, `ftp`").
std::set<Key> readme_keys(const std::string& text) {
  std::set<Key> keys;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| `[", 0) != 0) continue;
    const std::string cell = line.substr(2, line.find(" |", 2) - 2);
    std::string table;
    size_t open = cell.find('`');
    while (open != std::string::npos) {
      const size_t close = cell.find('`', open + 1);
      if (close == std::string::npos) break;
      std::string item = cell.substr(open + 1, close - open - 1);
      open = cell.find('`', close + 1);
      if (item.front() == '[') {
        const size_t begin = item.find_first_not_of('[');
        const size_t end = item.find(']');
        table = item.substr(begin, end - begin);
        add_table(table, keys);
        item = item.substr(item.find(' ') + 1);
      }
      keys.insert({table, item});
    }
  }
  return keys;
}

// Every "# [table]" and "# key = value" line with its "# " taken away.
std::string uncomment_examples(const std::string& text) {
  std::string out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# ", 0) == 0 && line.size() > 2) {
      const std::string rest = line.substr(2);
      size_t end = 0;
      while (end < rest.size() && is_key_char(rest[end])) ++end;
      if (rest[0] == '[' || (end > 0 && rest.compare(end, 3, " = ") == 0)) line = rest;
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("etc/rules.toml shows every key the parser accepts") {
  const std::set<Key> documented = sample_keys(read_text(SAMPLE_RULES));
  for (const KnownKeys& table : known_keys()) {
    for (std::string_view key : table.keys) {
      CAPTURE(table.table);
      CAPTURE(key);
      CHECK(documented.count({std::string(table.table), std::string(key)}) == 1);
    }
  }
}

TEST_CASE("the README's rules.toml table names every key the parser accepts and no other") {
  const std::set<Key> documented = readme_keys(read_text(README_FILE));
  std::set<Key> known;
  for (const KnownKeys& table : known_keys()) {
    for (std::string_view key : table.keys)
      known.insert({std::string(table.table), std::string(key)});
  }
  for (const Key& key : known) {
    CAPTURE(key.first);
    CAPTURE(key.second);
    CHECK(documented.count(key) == 1);
  }
  for (const Key& key : documented) {
    CAPTURE(key.first);
    CAPTURE(key.second);
    CHECK(known.count(key) == 1);
  }
}

TEST_CASE("etc/rules.toml parses to the demo folder, as is and with every example uncommented") {
  const std::string sample = read_text(SAMPLE_RULES);
  for (const bool uncommented : {false, true}) {
    CAPTURE(uncommented);
    std::vector<ConfigError> errors;
    const auto config = parse_config(uncommented ? uncomment_examples(sample) : sample,
                                     "rules.toml", "/base", errors);
    std::string messages;
    for (const ConfigError& e : errors) messages += e.to_string() + "\n";
    CHECK_MESSAGE(errors.empty(), messages);
    REQUIRE(config);
    CHECK(config->state_dir == "/base/.folderhook");
    REQUIRE(config->folders.size() == 1);
    const FolderRule& demo = config->folders[0];
    CHECK(demo.path == "/base/demo");
    CHECK(demo.urls == std::vector<std::string>{"http://127.0.0.1:8787/hook"});
    // The examples that would change the demo (a behavior moving its files, a header) are
    // commented out; uncommented, they are valid.
    CHECK(demo.behaviors.size() == (uncommented ? 1 : 0));
    CHECK(demo.headers.size() == (uncommented ? 1 : 0));
  }
}
