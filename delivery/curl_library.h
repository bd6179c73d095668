// libcurl, loaded with dlopen() when the first email is sent rather than at start: it brings two
// dozen libraries (GnuTLS, Kerberos, LDAP, libssh2, ...) that an agent without [notify] never
// uses (their cost in memory and start-up: README, "Benchmark"). SMTP is its only use here.
#pragma once

#include <curl/curl.h>

#include <string>

namespace folderhook::delivery {

// The functions of libcurl that send_email() calls.
struct CurlLibrary {
  CURLcode (*global_init)(long flags);
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL* curl, CURLoption option, ...);
  CURLcode (*easy_perform)(CURL* curl);
  void (*easy_cleanup)(CURL* curl);
  const char* (*easy_strerror)(CURLcode code);
  curl_slist* (*slist_append)(curl_slist* list, const char* item);
  void (*slist_free_all)(curl_slist* list);
};

// Loads libcurl once (any thread; curl_global_init() included) and returns its functions, or
// nullptr and why not. The library stays loaded until the process ends.
const CurlLibrary* curl_library(std::string& error);

}  // namespace folderhook::delivery
