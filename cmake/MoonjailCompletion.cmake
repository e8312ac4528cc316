# Script mode: writes the shell completion script of one shell, made by the built moonjail from
# the option tables its parser reads.
#   cmake -DMJ_BIN=<moonjail> -DMJ_SHELL=bash|zsh|fish -DMJ_OUT=<file> -P MoonjailCompletion.cmake
execute_process(
  COMMAND "${CMAKE_COMMAND}" -E env ASAN_OPTIONS=detect_leaks=0 "${MJ_BIN}" completion "${MJ_SHELL}"
  OUTPUT_FILE "${MJ_OUT}.tmp"
  RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  file(REMOVE "${MJ_OUT}.tmp")
  message(FATAL_ERROR "moonjail completion ${MJ_SHELL} failed: ${_rc}")
endif()
file(RENAME "${MJ_OUT}.tmp" "${MJ_OUT}")
