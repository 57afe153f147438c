# nc_loadgen and nc_delay_proxy: plain C++ and POSIX (epoll, timerfd), no
# nearcache library linked. Included from bench/CMakeLists.txt and from
# tests/fault_matrix/CMakeLists.txt (which needs them even when the bench
# directory is off, as in the ASan+UBSan build); whichever comes first
# defines them. They always land in <build>/bench/ (bench/compare.sh).
if(NOT TARGET nc_loadgen)
  set(_nc_bench_dir ${PROJECT_SOURCE_DIR}/bench)
  add_executable(nc_loadgen
    ${_nc_bench_dir}/loadgen/loadgen.cc
    ${_nc_bench_dir}/loadgen/reply_scanner.cc)
  target_include_directories(nc_loadgen PRIVATE ${_nc_bench_dir})
  target_link_libraries(nc_loadgen PRIVATE Threads::Threads)
  add_executable(nc_delay_proxy ${_nc_bench_dir}/delay_proxy/delay_proxy.cc)
  target_include_directories(nc_delay_proxy PRIVATE ${_nc_bench_dir})
  set_target_properties(nc_loadgen nc_delay_proxy PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
endif()
