cmake_minimum_required(VERSION 3.25)
# Fails when a file of one layer includes a header of a layer above it, or when a public
# header (include/quarry) includes an internal one. Run by the build before any layer compiles:
#   cmake -DSOURCE_DIR=<tree> [-DSTAMP=<file written on success>] -P cmake/check_layers.cmake
# Layers, lowest first; a file may include headers of its own layer and those below it. Files
# of src/python and src/cli (the edges) and tests (*_test.cc, test_*.h) may include any.
set(layers core http auth storage partition job)
# The layer of each public header.
set(public_core status config uri request_counters parallel_for)
set(public_storage object_store key_rules sinks streaming_read list_fanout object_ops registry)
set(public_partition line_aligner data_stream plan compression)
set(public_job local_executor)

function(layer_index name out)
  list(FIND layers "${name}" index)
  set(${out} ${index} PARENT_SCOPE)
endfunction()

function(public_layer header out)
  foreach(layer IN LISTS layers)
    if("${header}" IN_LIST public_${layer})
      set(${out} ${layer} PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

set(problems "")
file(GLOB public_headers RELATIVE ${SOURCE_DIR} ${SOURCE_DIR}/include/quarry/*.h)
file(GLOB_RECURSE internal_files RELATIVE ${SOURCE_DIR} ${SOURCE_DIR}/src/*.h ${SOURCE_DIR}/src/*.cc)
foreach(file IN LISTS public_headers internal_files)
  if(file MATCHES "_test\\.cc$" OR file MATCHES "/test_[^/]*\\.h$")
    continue()
  endif()
  if(file MATCHES "^include/quarry/([a-z_0-9]+)\\.h$")
    public_layer(${CMAKE_MATCH_1} own)
    if(own STREQUAL "")
      string(APPEND problems "  ${file}: a public header of no layer: add it to public_<layer> "
                             "in cmake/check_layers.cmake\n")
      continue()
    endif()
  elseif(file MATCHES "^src/([a-z]+)/")
    set(own ${CMAKE_MATCH_1})
    if(NOT own IN_LIST layers)
      continue()  # python, cli: the edges
    endif()
  else()
    continue()
  endif()
  layer_index(${own} own_index)
  file(STRINGS ${SOURCE_DIR}/${file} includes REGEX "^#include \"[^\"]+\"")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" included "${line}")
    set(target "")
    if(included MATCHES "^quarry/([a-z_0-9]+)\\.h$")
      public_layer(${CMAKE_MATCH_1} target)
    elseif(included MATCHES "^([a-z]+)/")
      set(target ${CMAKE_MATCH_1})  # before another MATCHES clears it
      if(file MATCHES "^include/")
        string(APPEND problems "  ${file} includes the internal header ${included}: a public "
                               "header may include only public ones\n")
        continue()
      endif()
    endif()
    if(target STREQUAL "" OR NOT target IN_LIST layers)
      continue()
    endif()
    layer_index(${target} target_index)
    if(target_index GREATER own_index)
      string(APPEND problems "  ${file} (layer ${own}) includes ${included} (layer ${target}, "
                             "above it): move the code to the layer it needs, or pass what it "
                             "needs down through an interface of its own layer\n")
    endif()
  endforeach()
endforeach()

if(NOT problems STREQUAL "")
  string(REPLACE ";" " < " order "${layers}")
  message(FATAL_ERROR "Layering (${order}): a layer includes only its own and lower layers' "
                      "headers:\n${problems}")
endif()
if(DEFINED STAMP)
  file(WRITE ${STAMP} "")
endif()
