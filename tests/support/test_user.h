// TestUser: a system user created for one test (useradd) and removed at its end (userdel), so
// that operations can run as someone else (runuser -u NAME -- ...). Needs root; name() is ""
// and why() says why when the user could not be created. Header-only: watch and integration
// tests both use it.
#pragma once

#include <unistd.h>

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

namespace folderhook::test {

class TestUser {
 public:
  TestUser() {
    const std::string name = "fhtest" + std::to_string(::getpid() % 100000);
    if (::geteuid() != 0) {
      why_ = "needs root to create a user";
      return;
    }
    const std::string add = "useradd --no-create-home --no-user-group --gid nogroup --shell "
                            "/bin/sh " + name + " >/dev/null 2>&1";
    if (std::system(add.c_str()) != 0) {
      // A user left over from a killed run: reuse it.
      if (std::system(("id -u " + name + " >/dev/null 2>&1").c_str()) != 0) {
        why_ = "useradd " + name + " failed";
        return;
      }
    }
    name_ = name;
  }
  ~TestUser() {
    if (!name_.empty()) (void)std::system(("userdel " + name_ + " >/dev/null 2>&1").c_str());
  }
  TestUser(const TestUser&) = delete;
  TestUser& operator=(const TestUser&) = delete;

  const std::string& name() const { return name_; }
  const std::string& why() const { return why_; }
  // True when the user exists; otherwise says in the test's output that the test is skipped,
  // and why ("SKIPPED: no test user: ...").
  bool available() const {
    if (name_.empty()) MESSAGE("SKIPPED: no test user: " << why_);
    return !name_.empty();
  }

 private:
  std::string name_;
  std::string why_;
};

}  // namespace folderhook::test
