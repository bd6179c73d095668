#include "agent/upload.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "agent/beneath.h"
#include "agent/router.h"
#include "watch/paths.h"

namespace folderhook::agent {
namespace {

void part_header(std::string& out, std::string_view boundary, std::string_view name,
                 std::string_view filename = {}) {
  out += "--";
  out += boundary;
  out += "\r\nContent-Disposition: form-data; name=\"";
  out += name;
  out += '"';
  if (!filename.empty()) {
    out += "; filename=\"";
    for (char c : filename) out += (c == '"' || c == '\r' || c == '\n') ? '_' : c;
    out += "\"\r\nContent-Type: application/octet-stream";
  }
  out += "\r\n\r\n";
}

// The file at `path` beneath `folder`: never through a symlink (in any component), never a FIFO
// (O_NONBLOCK), and only the object that was reported. "" and `content`, or why not.
std::string read_beneath(const std::string& folder, const std::string& path,
                         const watch::FileMeta& reported, uint64_t max_bytes, RobotLedger& ledger,
                         std::string& content) {
  Fd root;
  Fd file;
  ledger.expect(watch::Action::kRead, path);
  int err = open_root(folder, root);
  if (!err) {
    err = open_beneath(root.get(), relative_to_folder(folder, path),
                       O_RDONLY | O_NONBLOCK | O_NOCTTY, file);
  }
  if (err) {
    ledger.forget(watch::Action::kRead, path);
    return "cannot open the file: " + describe(err);
  }
  struct stat st {};
  if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) return "not a regular file";
  if (reported.ino != 0 && id_of(st) != ObjectId{reported.dev, reported.ino}) {
    return "not the file that was reported: another one is in its place";
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return "the file has " + std::to_string(st.st_size) + " bytes, more than max_file_bytes (" +
           std::to_string(max_bytes) + ")";
  }
  content.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::read(file.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  content.resize(done);  // it shrank while we read: send what was there
  return "";
}

}  // namespace

std::string multipart_body(const FormFields& fields, std::string_view file_field,
                           std::string_view filename, const std::string* content,
                           std::string_view skipped, std::string_view boundary) {
  std::string out;
  for (const auto& [name, value] : fields) {
    part_header(out, boundary, name);
    out += value;
    out += "\r\n";
  }
  if (content) {
    part_header(out, boundary, file_field, filename.empty() ? "file" : filename);
    out += *content;
    out += "\r\n";
  } else {
    part_header(out, boundary, "file_skipped");
    out += skipped;
    out += "\r\n";
  }
  out += "--";
  out += boundary;
  out += "--\r\n";
  return out;
}

std::string pick_boundary(std::string_view content) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  for (;;) {
    char text[48];
    std::snprintf(text, sizeof text, "folderhook-%016llx%08llx",
                  static_cast<unsigned long long>(random()),
                  static_cast<unsigned long long>(random() & 0xffffffff));
    if (content.find(text) == std::string_view::npos) return text;
  }
}

void attach_file(delivery::Request& request, const watch::FileAction& action,
                 const FormFields& fields, const std::string& file_field, uint64_t max_bytes,
                 const std::string& folder, RobotLedger& ledger) {
  const bool has_destination =
      action.action == watch::Action::kMove || action.action == watch::Action::kCopy;
  const std::string& path = has_destination ? action.destination : action.path;
  std::string content;
  std::string skipped;
  if (action.action == watch::Action::kDestroy) {
    skipped = "destroyed: there is no content";
  } else if (action.type == watch::ObjectType::kDirectory) {
    skipped = "a directory has no content";
  } else if (folder.empty() || !watch::path_is_within(path, folder) || path == folder) {
    skipped = "not beneath a watched folder";
  } else {
    skipped = read_beneath(folder, path, action.meta, max_bytes, ledger, content);
  }
  const bool present = skipped.empty();
  const std::string boundary = pick_boundary(content);
  const auto slash = path.rfind('/');
  request.body = multipart_body(fields, file_field,
                                slash == std::string::npos ? path : path.substr(slash + 1),
                                present ? &content : nullptr, skipped, boundary);
  request.content_type = "multipart/form-data; boundary=" + boundary;
}

}  // namespace folderhook::agent
