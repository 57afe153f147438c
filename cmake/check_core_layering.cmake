# Fails the build when a cache-core file includes anything but the standard
# library, abseil or other core headers. The core must stay free of I/O so it
# can be unit-tested and benchmarked alone with an injected clock.
set(core_files "")
file(GLOB_RECURSE core_files
  "${ROOT}/src/cache/*.cc" "${ROOT}/src/cache/*.h")
list(APPEND core_files
  "${ROOT}/include/nearcache/cache.h"
  "${ROOT}/include/nearcache/clock.h"
  "${ROOT}/include/nearcache/value.h")
set(core_headers "nearcache/cache.h" "nearcache/clock.h" "nearcache/value.h")
set(bad "")
foreach(f IN LISTS core_files)
  if(NOT EXISTS "${f}")
    continue()
  endif()
  file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS lines)
    if(line MATCHES "#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"]")
      set(inc "${CMAKE_MATCH_1}")
      if(inc MATCHES "^absl/" OR inc MATCHES "^src/cache/")
        continue()
      endif()
      list(FIND core_headers "${inc}" idx)
      if(NOT idx EQUAL -1)
        continue()
      endif()
      # Standard library headers have no extension and no directory.
      if(NOT inc MATCHES "[./]")
        continue()
      endif()
      list(APPEND bad "${f}: ${inc}")
    endif()
  endforeach()
endforeach()
if(bad)
  list(JOIN bad "\n  " msg)
  message(FATAL_ERROR "The cache core must not include I/O or other layers:\n  ${msg}")
endif()
