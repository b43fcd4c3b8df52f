// The data of a compressed whole object, decoded in order.
#pragma once

#include <memory>
#include <string_view>

#include "partition/range_fetcher.h"
#include "quarry/compression.h"
#include "quarry/data_stream.h"

namespace quarry {

// Opens the data of the whole object that `p` describes, compressed with `compression`
// (not kNone), going on with `fetcher` (a WholeObjectFetcher) from `head` (what FetchHead
// returned): the decoded bytes, after the header record when p.header. Seeks go forward by
// decoding, and back by decoding again from the object's start. Size() is known once the data
// was read to its end. Fails where the compressed data is corrupt or truncated (naming p.uri),
// or as a read does.
Result<std::unique_ptr<DataStream>> OpenDecodingStream(std::shared_ptr<ObjectStore> store,
                                                       const Partition& p, Compression compression,
                                                       std::unique_ptr<RangeFetcher> fetcher,
                                                       std::string_view head);

}  // namespace quarry
