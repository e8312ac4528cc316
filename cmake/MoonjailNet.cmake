# moonjail-net: the per-sandbox network helper of the outbound and filtered modes (and of
# published ports), built from core/src/net/ — see docs/networking.md.
#
#   moonjail_net        static library of core/src/net/*.c (everything but main.c), on top of
#                       libmoonjail's error and util objects
#   moonjail-net        the helper itself, beside the moonjail executable in the build tree and
#                       installed in LIBEXECDIR/moonjail/
#   c:net_*             core/tests/test_net_*.c (made by core/'s test glob) also link moonjail_net
#   net:helper          tests/net/run: the helper against real servers in test network namespaces
#                       (root: full; skipped with the reason elsewhere); label "net"
file(GLOB MJ_NET_SOURCES CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/core/src/net/*.c")
list(FILTER MJ_NET_SOURCES EXCLUDE REGEX "/main\\.c$")

add_library(moonjail_net STATIC ${MJ_NET_SOURCES})
target_include_directories(moonjail_net PUBLIC "${PROJECT_SOURCE_DIR}/core/include")
# core/src's private headers by #include "x.h" only, as core/ does: its seccomp.h must not hide
# libseccomp's <seccomp.h>.
target_compile_options(moonjail_net PUBLIC "SHELL:-iquote ${PROJECT_SOURCE_DIR}/core/src")
target_link_libraries(moonjail_net PUBLIC moonjail_static PkgConfig::SECCOMP)
set_target_properties(moonjail_net PROPERTIES ARCHIVE_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/lib")

add_executable(moonjail_net_helper "${PROJECT_SOURCE_DIR}/core/src/net/main.c")
target_link_libraries(moonjail_net_helper PRIVATE moonjail_net)
# Only what the helper calls ends up NEEDED (libmoonjail.a drags curl, archive… onto the line).
target_link_options(moonjail_net_helper PRIVATE "LINKER:--as-needed")
set_target_properties(moonjail_net_helper PROPERTIES
  OUTPUT_NAME moonjail-net RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}")
install(TARGETS moonjail_net_helper RUNTIME DESTINATION "${CMAKE_INSTALL_LIBEXECDIR}/moonjail")

file(GLOB _mj_net_tests CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/core/tests/test_net_*.c")
foreach(_src ${_mj_net_tests})
  get_filename_component(_stem "${_src}" NAME_WE)
  target_link_libraries(${_stem} PRIVATE moonjail_net)
endforeach()
unset(_mj_net_tests)

add_test(NAME "net:helper"
         COMMAND bash "${PROJECT_SOURCE_DIR}/tests/net/run" "$<TARGET_FILE:moonjail_net_helper>"
         WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
set_tests_properties("net:helper" PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 RUN_SERIAL TRUE LABELS "net")
