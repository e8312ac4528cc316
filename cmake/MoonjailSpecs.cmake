# The busted suite under ctest.
#
#   spec:<path>      every spec/**/*_spec.lua, run by the built moonjail itself:
#                    <build>/moonjail script <src>/spec/run.lua <path>   (cwd: the source root)
#   rootless:<path>  every spec under spec/integration/ and spec/security/ once more, as the
#                    unprivileged user mjtest, through spec/rootless.sh
#
# Exit status 77 marks a test skipped (helpers.skip_file, or no user namespaces for mjtest).
# Each test sees MOONJAIL_BIN (the executable), MOONJAIL_BUILD_DIR (where moonjail.so is) and
# MOONJAIL_SOURCE_DIR; MOONJAIL_SANITIZED=1 in the Asan build (an ASan moonjail.so cannot be
# loaded into the stock, uninstrumented lua5.4).  The rootless lane also sets MOONJAIL_ROOTLESS=1
# and points MOONJAIL_BIN, MOONJAIL_BUILD_DIR and MOONJAIL_SOURCE_DIR at its private copy.
# Labels: "spec" plus the directory under spec/ ("unit", "integration", "security"), and
# "rootless" for the second lane: `ctest -L unit`, `ctest -LE rootless`.

set(MJ_SPEC_TIMEOUT 300 CACHE STRING "Seconds before ctest kills one spec file")

file(GLOB_RECURSE MJ_SPECS CONFIGURE_DEPENDS RELATIVE "${PROJECT_SOURCE_DIR}"
     "${PROJECT_SOURCE_DIR}/spec/*_spec.lua")
list(SORT MJ_SPECS)

set(_mj_spec_env
  "MOONJAIL_BIN=$<TARGET_FILE:moonjail_cli>"
  "MOONJAIL_BUILD_DIR=${PROJECT_BINARY_DIR}"
  "MOONJAIL_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
if(CMAKE_BUILD_TYPE STREQUAL "Asan")
  list(APPEND _mj_spec_env "MOONJAIL_SANITIZED=1")
endif()

foreach(_spec ${MJ_SPECS})
  string(REGEX REPLACE "^spec/([^/]+)/.*" "\\1" _group "${_spec}")
  if(_group STREQUAL _spec)
    set(_group "")
  endif()

  add_test(NAME "spec:${_spec}"
           COMMAND moonjail_cli script "${PROJECT_SOURCE_DIR}/spec/run.lua" "${_spec}"
           WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
  set_tests_properties("spec:${_spec}" PROPERTIES
    SKIP_RETURN_CODE 77
    TIMEOUT ${MJ_SPEC_TIMEOUT}
    ENVIRONMENT "${_mj_spec_env}"
    LABELS "spec;${_group}")

  if(_group STREQUAL "integration" OR _group STREQUAL "security")
    add_test(NAME "rootless:${_spec}"
             COMMAND bash "${PROJECT_SOURCE_DIR}/spec/rootless.sh" $<TARGET_FILE:moonjail_cli> "${_spec}"
             WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
    set_tests_properties("rootless:${_spec}" PROPERTIES
      SKIP_RETURN_CODE 77
      TIMEOUT ${MJ_SPEC_TIMEOUT}
      ENVIRONMENT "${_mj_spec_env}"
      LABELS "rootless;${_group}")
  endif()
endforeach()
unset(_mj_spec_env)

# vm:cgroup-v2 — tests/vm/run boots Debian's 6.1 kernel under qemu (pure cgroup v2, AppArmor,
# Landlock ABI 2) and runs the specs that depend on them there; this host's own kernel is hybrid.
# 77 (skipped, with the reason) where qemu, busybox-static or the kernel are missing, or not root.
# Serial: TCG takes both cores, and the CPU-share specs of the other tests measure time.
if(NOT CMAKE_BUILD_TYPE STREQUAL "Asan")
  add_test(NAME "vm:cgroup-v2"
           COMMAND bash "${PROJECT_SOURCE_DIR}/tests/vm/run"
           WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
  set_tests_properties("vm:cgroup-v2" PROPERTIES
    SKIP_RETURN_CODE 77
    TIMEOUT 900
    RUN_SERIAL TRUE
    ENVIRONMENT "MOONJAIL_BUILD_DIR=${PROJECT_BINARY_DIR}"
    LABELS "vm")
endif()

# soak:small — tests/soak/run with 10 sandboxes × 50 rounds (the script's defaults, 50 × 200, are
# for a human to run): throughput and p50/p99 printed, nothing may be left behind.
# faults:short — tests/faults/run with 30 iterations of SIGKILLs at random points of create, exec,
# copy and rm, plus a full disk and a small fd limit: every outcome typed and doing what it said,
# nothing left that rm -f and prune do not remove.
# soak:long and faults:long — the scripts' full defaults (50 × 200; 200 iterations), skipped unless
# MOONJAIL_SOAK_LONG is set in ctest's environment: `MOONJAIL_SOAK_LONG=1 ctest -L 'soak|faults'`.
add_test(NAME "soak:small"
         COMMAND bash "${PROJECT_SOURCE_DIR}/tests/soak/run" --sandboxes 10 --rounds 50
         WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
set_tests_properties("soak:small" PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
  ENVIRONMENT "MOONJAIL_BIN=$<TARGET_FILE:moonjail_cli>" LABELS "soak")
add_test(NAME "faults:short"
         COMMAND bash "${PROJECT_SOURCE_DIR}/tests/faults/run" --iterations 30
         WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
set_tests_properties("faults:short" PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
  ENVIRONMENT "MOONJAIL_BIN=$<TARGET_FILE:moonjail_cli>" LABELS "faults")
foreach(kind soak faults)
  add_test(NAME "${kind}:long"
           COMMAND sh -c "[ -n \"$MOONJAIL_SOAK_LONG\" ] || { echo 'SKIP: set MOONJAIL_SOAK_LONG'; exit 77; }; exec bash \"$0\"" "${PROJECT_SOURCE_DIR}/tests/${kind}/run"
           WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
  set_tests_properties("${kind}:long" PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 3600
    ENVIRONMENT "MOONJAIL_BIN=$<TARGET_FILE:moonjail_cli>" LABELS "${kind}")
endforeach()

# check:layering — tests/layering/check holds core/, core/src/net/ and bindings/lua/ to the layer
# list of docs/architecture.md (nm on the objects: nothing calls a file of its own or a higher
# layer) and libmoonjail.so's exports to what moonjail.h declares.
add_test(NAME "check:layering"
         COMMAND python3 "${PROJECT_SOURCE_DIR}/tests/layering/check" "${PROJECT_BINARY_DIR}"
         WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
set_tests_properties("check:layering" PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS "check")
