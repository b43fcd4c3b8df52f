// Local-file backend. Keys are absolute paths without the leading '/'; there are no buckets.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>

#include "storage/backends.h"

namespace quarry {
namespace {

namespace fs = std::filesystem;

std::string PathOf(std::string_view key) { return "/" + std::string(key); }

Status ErrnoStatus(std::string_view op, std::string_view key, int err) {
  std::string msg = std::string(op) + " file:///" + std::string(key) + ": " + std::strerror(err);
  if (err == ENOENT || err == ENOTDIR) return NotFound(msg);
  if (err == EACCES || err == EPERM) return PermissionDenied(msg);
  if (err == EISDIR) return NotFound(msg + " (a directory, not a file)");
  return IoError(msg);
}

std::string EtagOf(const struct stat& st) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llx-%llx-%lx", static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(st.st_mtim.tv_sec),
                static_cast<long>(st.st_mtim.tv_nsec));
  return buf;
}

std::string IsoTime(time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

ObjectInfo InfoOf(std::string key, const struct stat& st) {
  return ObjectInfo{std::move(key), static_cast<uint64_t>(st.st_size), EtagOf(st),
                    IsoTime(st.st_mtim.tv_sec)};
}

Status CheckNoBucket(std::string_view bucket) {
  if (!bucket.empty()) {
    return InvalidArgument("file URIs have no bucket: use file:///absolute/path");
  }
  return Status::Ok();
}

// Writes to a temporary file beside the target and renames it into place on Close().
class FileWriter final : public ObjectWriter {
 public:
  FileWriter(std::string key, std::string tmp, int fd)
      : key_(std::move(key)), tmp_(std::move(tmp)), fd_(fd) {}
  ~FileWriter() override {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_.c_str());
    }
  }
  Status Write(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", key_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0 || ::rename(tmp_.c_str(), PathOf(key_).c_str()) != 0) {
      int err = errno;
      ::unlink(tmp_.c_str());
      return ErrnoStatus("write", key_, err);
    }
    return Status::Ok();
  }

 private:
  std::string key_, tmp_;
  int fd_;
};

class FileLister final : public Lister {
 public:
  FileLister(std::vector<ObjectInfo> objects, std::vector<std::string> prefixes, int page_size)
      : objects_(std::move(objects)),
        prefixes_(std::move(prefixes)),
        page_size_(static_cast<size_t>(std::max(1, page_size))) {}

  Result<bool> Next(ListPage* page) override {
    page->objects.clear();
    page->common_prefixes.clear();
    if (pos_ >= objects_.size() && prefix_pos_ >= prefixes_.size() && started_) return false;
    started_ = true;
    while (page->objects.size() < page_size_ && pos_ < objects_.size()) {
      page->objects.push_back(std::move(objects_[pos_++]));
    }
    while (page->common_prefixes.size() < page_size_ && prefix_pos_ < prefixes_.size()) {
      page->common_prefixes.push_back(std::move(prefixes_[prefix_pos_++]));
    }
    return true;
  }

 private:
  std::vector<ObjectInfo> objects_;
  std::vector<std::string> prefixes_;
  size_t page_size_;
  size_t pos_ = 0, prefix_pos_ = 0;
  bool started_ = false;
};

class FileStore final : public ObjectStore {
 public:
  std::string_view scheme() const override { return "file"; }
  std::string endpoint() const override { return "/"; }

  Result<std::unique_ptr<Lister>> List(std::string_view bucket, std::string_view prefix,
                                       const ListOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckNoBucket(bucket));
    // Walk the deepest directory the prefix names, then filter by the whole prefix.
    std::string prefix_str(prefix);
    auto slash = prefix_str.rfind('/');
    std::string dir = slash == std::string::npos ? "" : prefix_str.substr(0, slash + 1);
    std::vector<ObjectInfo> objects;
    std::vector<std::string> prefixes;
    std::error_code ec;
    fs::path root = PathOf(dir);
    if (!fs::is_directory(root, ec)) {
      return std::unique_ptr<Lister>(new FileLister({}, {}, options.page_size));
    }
    auto consider = [&](const fs::directory_entry& entry) {
      std::string key = entry.path().string().substr(1);
      if (key.compare(0, prefix_str.size(), prefix_str) != 0) return;
      if (!options.start_after.empty() && key <= options.start_after) return;
      struct stat st {};
      if (::stat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
      objects.push_back(InfoOf(std::move(key), st));
    };
    if (options.delimiter == "/") {
      for (const auto& entry : fs::directory_iterator(root, ec)) {
        std::error_code dir_ec;
        if (entry.is_directory(dir_ec)) {
          std::string key = entry.path().string().substr(1) + "/";
          if (key.compare(0, prefix_str.size(), prefix_str) == 0) prefixes.push_back(key);
        } else {
          consider(entry);
        }
      }
    } else {
      for (auto it = fs::recursive_directory_iterator(
               root, fs::directory_options::skip_permission_denied, ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        consider(*it);
      }
    }
    if (ec) return ErrnoStatus("list", dir, ec.value());
    std::sort(objects.begin(), objects.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    std::sort(prefixes.begin(), prefixes.end());
    return std::unique_ptr<Lister>(
        new FileLister(std::move(objects), std::move(prefixes), options.page_size));
  }

  Result<ObjectInfo> Head(std::string_view bucket, std::string_view key) override {
    QUARRY_RETURN_IF_ERROR(CheckNoBucket(bucket));
    struct stat st {};
    if (::stat(PathOf(key).c_str(), &st) != 0) return ErrnoStatus("stat", key, errno);
    if (!S_ISREG(st.st_mode)) return ErrnoStatus("stat", key, EISDIR);
    return InfoOf(std::string(key), st);
  }

  Result<uint64_t> ReadRange(std::string_view bucket, std::string_view key, uint64_t offset,
                             uint64_t length, ReadSink* sink, const ReadOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckNoBucket(bucket));
    int fd = ::open(PathOf(key).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("read", key, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      int err = S_ISREG(st.st_mode) ? errno : EISDIR;
      ::close(fd);
      return ErrnoStatus("read", key, err);
    }
    if (!options.if_match.empty() && options.if_match != EtagOf(st)) {
      ::close(fd);
      return Status(StatusCode::kPreconditionFailed,
                    "read file:///" + std::string(key) +
                        ": the file changed while it was being read: rerun the job");
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    uint64_t end = offset >= size ? offset : offset + std::min(length, size - offset);
    std::vector<char> buf(std::min<uint64_t>(end - offset, 1 << 20));
    uint64_t done = 0;
    while (offset + done < end) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - offset - done));
      ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = n < 0 ? errno : EIO;
        ::close(fd);
        return ErrnoStatus("read", key, err);
      }
      Status s = sink->Write(buf.data(), static_cast<size_t>(n));
      if (!s.ok()) {
        ::close(fd);
        return s;
      }
      done += static_cast<uint64_t>(n);
    }
    ::close(fd);
    return done;
  }

  using ObjectStore::Put;
  // Files keep no metadata: `options` is ignored.
  Status Put(std::string_view bucket, std::string_view key, std::string_view data,
             const PutOptions& /*options*/) override {
    QUARRY_ASSIGN_OR_RETURN(auto writer, OpenWriter(bucket, key));
    QUARRY_RETURN_IF_ERROR(writer->Write(data));
    return writer->Close();
  }

  using ObjectStore::OpenWriter;
  Result<std::unique_ptr<ObjectWriter>> OpenWriter(std::string_view bucket, std::string_view key,
                                                   const PutOptions& /*options*/) override {
    QUARRY_RETURN_IF_ERROR(CheckNoBucket(bucket));
    if (key.empty() || key.back() == '/') {
      return InvalidArgument("cannot write file:///" + std::string(key) + ": it names a directory");
    }
    fs::path target = PathOf(key);
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) return ErrnoStatus("create directory for", key, ec.value());
    static std::atomic<uint64_t> counter{0};
    std::string tmp = target.string() + ".quarry-tmp-" + std::to_string(::getpid()) + "-" +
                      std::to_string(counter++);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("write", key, errno);
    return std::unique_ptr<ObjectWriter>(new FileWriter(std::string(key), std::move(tmp), fd));
  }

  Status DeleteObjects(std::string_view bucket, const std::vector<std::string>& keys) override {
    QUARRY_RETURN_IF_ERROR(CheckNoBucket(bucket));
    for (const auto& key : keys) {
      if (::unlink(PathOf(key).c_str()) != 0 && errno != ENOENT) {
        return ErrnoStatus("delete", key, errno);
      }
    }
    return Status::Ok();
  }

  Status CreateBucket(std::string_view bucket) override { return CheckNoBucket(bucket); }
  Status DeleteBucket(std::string_view bucket) override { return CheckNoBucket(bucket); }
};

}  // namespace

std::shared_ptr<ObjectStore> MakeFileStore() {
  static auto* store = new std::shared_ptr<ObjectStore>(std::make_shared<FileStore>());
  return *store;
}

BackendSpec FileBackendSpec() {
  BackendSpec spec;
  spec.config.scheme = "file";
  spec.make = [](const StorageOptions&) -> Result<std::shared_ptr<ObjectStore>> {
    return MakeFileStore();
  };
  spec.configurable = false;
  return spec;
}

}  // namespace quarry
