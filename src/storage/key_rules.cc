#include "quarry/key_rules.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "quarry/list_fanout.h"
#include "quarry/object_ops.h"

namespace quarry {
namespace {

namespace fs = std::filesystem;

// A lister over one object, for a key that names exactly that object.
class OneObjectLister final : public Lister {
 public:
  explicit OneObjectLister(ObjectInfo object) : object_(std::move(object)) {}
  Result<bool> Next(ListPage* page) override {
    page->objects.clear();
    page->common_prefixes.clear();
    if (done_) return false;
    done_ = true;
    page->objects.push_back(object_);
    return true;
  }

 private:
  ObjectInfo object_;
  bool done_ = false;
};

std::string Quoted(std::string_view key) { return "'" + std::string(key) + "'"; }

}  // namespace

Status CheckObjectKey(std::string_view scheme, std::string_view bucket, std::string_view key) {
  if (!key.empty()) return Status::Ok();
  const std::string root = std::string(scheme) + "://" + std::string(bucket) + "/";
  return InvalidArgument("'" + root + "' is a bucket, not an object: list it with `quarry ls " +
                         root + "` (quarry.ls in Python), or name an object in it");
}

bool IsFolderMarker(const ObjectInfo& object) {
  return object.size == 0 && !object.key.empty() && object.key.back() == '/';
}

Result<std::optional<ObjectInfo>> FindExactObject(ObjectStore& store, std::string_view bucket,
                                                  std::string_view key) {
  if (key.empty() || key.back() == '/') return std::optional<ObjectInfo>();
  // `key` sorts before every other key that starts with it, and before the "directory" key/:
  // the first entry of a delimited listing is the object if it exists. One request (a HEAD that
  // misses costs two on S3), and a local folder is read one level deep, not walked.
  ListOptions options;
  options.delimiter = "/";
  options.page_size = 1;
  QUARRY_ASSIGN_OR_RETURN(auto lister, store.List(bucket, key, options));
  ListPage page;
  QUARRY_ASSIGN_OR_RETURN(bool any, lister->Next(&page));
  if (any) {
    for (auto& o : page.objects) {
      if (o.key == key) return std::optional<ObjectInfo>(std::move(o));
    }
  }
  return std::optional<ObjectInfo>();
}

Result<KeySelection> SelectKeys(ObjectStore& store, std::string_view bucket, std::string_view key) {
  KeySelection selection;
  QUARRY_ASSIGN_OR_RETURN(selection.object, FindExactObject(store, bucket, key));
  if (selection.object) return selection;
  selection.prefix = std::string(key);
  if (!key.empty() && key.back() != '/') selection.prefix += '/';
  return selection;
}

Result<std::unique_ptr<Lister>> ListSelected(ObjectStore& store, std::string_view bucket,
                                             std::string_view key, bool recursive) {
  QUARRY_ASSIGN_OR_RETURN(auto selection, SelectKeys(store, bucket, key));
  if (selection.object) {
    return std::unique_ptr<Lister>(new OneObjectLister(std::move(*selection.object)));
  }
  if (recursive) return ListFanOut(store, bucket, selection.prefix);
  ListOptions options;
  options.delimiter = "/";
  return store.List(bucket, selection.prefix, options);
}

Result<uint64_t> DeleteSelected(ObjectStore& store, std::string_view bucket, std::string_view key) {
  QUARRY_ASSIGN_OR_RETURN(auto selection, SelectKeys(store, bucket, key));
  if (selection.object) {
    QUARRY_RETURN_IF_ERROR(store.DeleteObjects(bucket, {selection.object->key}));
    return uint64_t{1};
  }
  return DeletePrefix(store, bucket, selection.prefix);
}

Result<std::string> LocalPathOfKey(std::string_view relative_key) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= relative_key.size()) {
    size_t slash = relative_key.find('/', start);
    if (slash == std::string_view::npos) slash = relative_key.size();
    std::string_view part = relative_key.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) {
        return InvalidArgument(Quoted(relative_key) +
                               " would be written outside the destination folder ('..' climbs "
                               "out of it)");
      }
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  if (parts.empty()) {
    return InvalidArgument(Quoted(relative_key) +
                           " names the destination folder itself, not a file in it");
  }
  std::string path;
  for (auto part : parts) {
    if (!path.empty()) path += '/';
    path += part;
  }
  return path;
}

std::vector<PathCollision> FindPathCollisions(
    const std::vector<std::pair<std::string, std::string>>& key_paths) {
  std::map<std::string_view, std::vector<std::string_view>> keys_by_path;
  for (const auto& [key, path] : key_paths) keys_by_path[path].push_back(key);
  // A folder of a file's path that is itself some key's file path: both cannot exist.
  std::map<std::string_view, std::vector<std::string_view>> under_file;
  for (const auto& [key, path] : key_paths) {
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      std::string_view folder = std::string_view(path).substr(0, slash);
      if (keys_by_path.count(folder) != 0) under_file[folder].push_back(key);
    }
  }
  std::vector<PathCollision> out;
  for (const auto& [path, keys] : keys_by_path) {
    auto below = under_file.find(path);
    if (keys.size() < 2 && below == under_file.end()) continue;
    PathCollision c;
    c.path = std::string(path);
    for (auto k : keys) c.keys.emplace_back(k);
    if (below != under_file.end()) {
      for (auto k : below->second) c.keys.emplace_back(k);
    }
    std::sort(c.keys.begin(), c.keys.end());
    c.keys.erase(std::unique(c.keys.begin(), c.keys.end()), c.keys.end());
    out.push_back(std::move(c));
  }
  return out;
}

Status CheckNoLinkedFolder(const std::string& root, std::string_view relative_path) {
  std::string folder = root;
  if (folder.empty() || folder.back() != '/') folder += '/';
  for (size_t slash = relative_path.find('/'); slash != std::string_view::npos;
       slash = relative_path.find('/', slash + 1)) {
    const std::string path = folder + std::string(relative_path.substr(0, slash));
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status::Ok();  // created later, as a real folder
      return IoError("cannot check " + path + ": " + std::strerror(errno));
    }
    if (S_ISLNK(st.st_mode)) {
      return InvalidArgument(path +
                             " is a symbolic link: writing through it could leave the "
                             "destination folder, so nothing is written there");
    }
  }
  return Status::Ok();
}

Result<LocalTree> WalkLocalFolder(const std::string& root, bool follow_symlinks) {
  struct stat root_st {};
  if (::stat(root.c_str(), &root_st) != 0 || !S_ISDIR(root_st.st_mode)) {
    return NotFound(root + " is not a folder");
  }
  LocalTree tree;
  // Folders from the root down to the one being walked, as (device, inode): a followed link
  // back to one of them would walk forever.
  std::vector<std::pair<dev_t, ino_t>> ancestors;
  auto walk = [&](auto& self, const std::string& dir, const std::string& relative) -> void {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      tree.skipped.push_back(dir + ": folder not readable (" + ec.message() + ")");
      return;
    }
    std::vector<std::string> names;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      names.push_back(it->path().filename().string());
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      std::string path = dir;
      path += '/';
      path += name;
      std::string rel = relative;
      if (!rel.empty()) rel += '/';
      rel += name;
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0) continue;  // gone since listed
      const bool link = S_ISLNK(st.st_mode);
      if (link) {
        if (!follow_symlinks) {
          tree.skipped.push_back(path +
                                 ": symbolic link, not followed (--follow-symlinks copies what "
                                 "it points to)");
          continue;
        }
        if (::stat(path.c_str(), &st) != 0) {
          tree.skipped.push_back(path + ": broken symbolic link");
          continue;
        }
      }
      if (S_ISDIR(st.st_mode)) {
        const std::pair<dev_t, ino_t> id{st.st_dev, st.st_ino};
        if (std::find(ancestors.begin(), ancestors.end(), id) != ancestors.end()) {
          tree.skipped.push_back(path +
                                 ": symbolic link to a folder it lies in (a loop), not followed");
          continue;
        }
        ancestors.push_back(id);
        self(self, path, rel);
        ancestors.pop_back();
      } else if (S_ISREG(st.st_mode)) {
        tree.files.push_back({rel, path, static_cast<uint64_t>(st.st_size)});
      } else {
        tree.skipped.push_back(path + ": not a regular file or folder");
      }
    }
  };
  ancestors.emplace_back(root_st.st_dev, root_st.st_ino);
  std::string top = root;
  while (top.size() > 1 && top.back() == '/') top.pop_back();
  walk(walk, top, "");
  std::sort(tree.files.begin(), tree.files.end(), [](const LocalFile& a, const LocalFile& b) {
    return a.relative_path < b.relative_path;
  });
  return tree;
}

std::string EscapeForText(std::string_view text, bool keep_backslashes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  auto hex = [&](unsigned char c) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '\\': out += keep_backslashes ? "\\" : "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      hex(c);
    } else if (c == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      hex(c);  // U+0080..U+009F: C1 controls, e.g. CSI (U+009B)
      hex(static_cast<unsigned char>(text[++i]));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace quarry
