// Kept for code that still includes it: includes the headers its contents moved to.
#pragma once

#include "quarry/list_fanout.h"
#include "quarry/object_ops.h"
#include "quarry/parallel_for.h"
#include "quarry/sinks.h"
#include "quarry/streaming_read.h"
