// Keys, prefixes and local paths: what a URI names, written once for every command and call.
//
// - A key that is empty or ends in '/' names a prefix: every object under it.
// - Any other key names the object with exactly that key if it exists, else the "directory"
//   key + "/". Never sibling keys that merely start with the same text ("a" never selects
//   "ab" or "a-other/x"). The same holds for keys with glob characters: an existing key
//   "brack[et]" is that object, not a pattern.
// - 0-byte objects whose key ends in '/' are folder markers (consoles create them): not data.
// - A key copied into a local folder maps to a path inside it or is refused; keys that map to
//   one path, or to a file and a folder of the same name, are reported before anything is
//   written; a symbolic link inside the folder is never followed for writing.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quarry/object_store.h"
#include "quarry/status.h"

namespace quarry {

// OK unless `key` is empty, i.e. the URI is a bucket's root: reading or statting that would
// read the bucket's listing as if it were an object. Then InvalidArgument naming the URI
// (scheme://bucket/) and saying to list it instead. Stores call it before every object read.
Status CheckObjectKey(std::string_view scheme, std::string_view bucket, std::string_view key);

// True for a folder marker: a 0-byte object whose key ends in '/'.
bool IsFolderMarker(const ObjectInfo& object);

// The object with exactly `key` as a listing shows it (no content_type), if there is one: one
// listing request, none when the key is empty or ends in '/' (those name prefixes). Errors of
// the listing (missing bucket, access denied, unreachable endpoint) are returned.
Result<std::optional<ObjectInfo>> FindExactObject(ObjectStore& store, std::string_view bucket,
                                                  std::string_view key);

// What a key names under the rule above: one object, or every key under `prefix`.
struct KeySelection {
  std::optional<ObjectInfo> object;  // set: exactly this object
  std::string prefix;                // otherwise: empty (everything) or ending in '/'
};
Result<KeySelection> SelectKeys(ObjectStore& store, std::string_view bucket, std::string_view key);

// A listing of what `key` names: the one object (one page), or the prefix's keys, every key
// with `recursive` (fanning out over sub-prefixes) or one level with "directories" as
// common_prefixes otherwise.
Result<std::unique_ptr<Lister>> ListSelected(ObjectStore& store, std::string_view bucket,
                                             std::string_view key, bool recursive);

// Deletes what `key` names: the one object, or every object under the prefix. Returns how many
// objects were deleted (0 when the key names nothing); never touches keys outside the selection.
Result<uint64_t> DeleteSelected(ObjectStore& store, std::string_view bucket, std::string_view key);

// The path, relative to a destination folder, that a key maps to (`relative_key` is the key
// with the copied prefix removed): its '/'-separated parts with empty and "." parts dropped
// (so "a//b", "a/./b" and "/a/b" all give "a/b") and each ".." taking back the part before it.
// InvalidArgument quoting `relative_key` when a ".." would climb out of the folder ("../x",
// "a/../../y") or nothing is left (the key names the folder itself).
Result<std::string> LocalPathOfKey(std::string_view relative_key);

// Keys that cannot all be written under one folder: several keys on one local path, or a key
// whose path is a folder of another key's path ("a" and "a/b").
struct PathCollision {
  std::string path;               // the path in question (the folder, for file-and-folder)
  std::vector<std::string> keys;  // every key that needs it, in key order
};
// `key_paths` holds (key, LocalPathOfKey result) pairs. The collisions, by path.
std::vector<PathCollision> FindPathCollisions(
    const std::vector<std::pair<std::string, std::string>>& key_paths);

// OK when writing `relative_path` under the folder `root` follows no symbolic link: none of the
// path's existing folders below `root` is a link (`root` itself may be one: the user named it).
// InvalidArgument naming the link otherwise. Folders that do not exist yet are fine (they are
// created as real folders).
Status CheckNoLinkedFolder(const std::string& root, std::string_view relative_path);

// The regular files under a local folder, for uploading it.
struct LocalFile {
  std::string relative_path;  // below the folder, '/'-separated
  std::string path;           // absolute path to read (through links, when followed)
  uint64_t size = 0;
};
struct LocalTree {
  std::vector<LocalFile> files;      // in relative_path order
  std::vector<std::string> skipped;  // one line each: what was left out and why
};
// Walks `root`. Symbolic links (to files or folders, inside the folder or not) are skipped
// unless `follow_symlinks`; followed links to folders are walked, except one that leads back to a
// folder it lies in (a loop). Broken links, sockets, devices and unreadable folders are skipped.
// Every skipped entry is named in `skipped`. NotFound when `root` is not a folder.
Result<LocalTree> WalkLocalFolder(const std::string& root, bool follow_symlinks);

// `text` made safe for one line of a terminal: '\\' becomes "\\\\", newline "\\n", carriage
// return "\\r", tab "\\t", and other control bytes (C0, DEL and the UTF-8 encoded C1 controls
// U+0080..U+009F) "\\xHH" per byte. Everything else, UTF-8 included, is kept. With
// `keep_backslashes` a '\\' stays as it is (for messages, whose backslashes are mostly the
// message's own, e.g. "use \\n"; a listing keeps the default, so that every key reads back
// unambiguously).
std::string EscapeForText(std::string_view text, bool keep_backslashes = false);

}  // namespace quarry
