# `cmake --install`: the executable and its man page, the libraries and headers, pkg-config and
# CMake package files (find_package(moonjail) → moonjail::moonjail, moonjail::moonjail_static),
# the Lua module and the shipped policies.
include(CMakePackageConfigHelpers)

# Where moonjail.so goes, relative to the prefix.  Installing into Lua's own prefix (/usr on
# Debian) follows Lua's INSTALL_CMOD (lib/x86_64-linux-gnu/lua/5.4); any other prefix uses
# LIBDIR/lua/5.4, which stock Lua searches under /usr/local.
pkg_get_variable(_mj_lua_cmod lua5.4 INSTALL_CMOD)
pkg_get_variable(_mj_lua_prefix lua5.4 prefix)
set(_mj_cmod_default "${CMAKE_INSTALL_LIBDIR}/lua/5.4")
if(_mj_lua_cmod AND _mj_lua_prefix AND CMAKE_INSTALL_PREFIX STREQUAL _mj_lua_prefix)
  cmake_path(RELATIVE_PATH _mj_lua_cmod BASE_DIRECTORY "${_mj_lua_prefix}"
             OUTPUT_VARIABLE _mj_cmod_default)
endif()
set(MJ_LUA_CMOD_DIR "${_mj_cmod_default}" CACHE STRING
    "Install directory of the moonjail.so Lua module (relative to the prefix, or absolute)")

install(TARGETS moonjail_cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(TARGETS moonjail_shared moonjail_static
        EXPORT moonjailTargets
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/core/include/moonjail"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.h")
install(TARGETS moonjail_lmod LIBRARY DESTINATION "${MJ_LUA_CMOD_DIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/policies/"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/moonjail/policies"
        FILES_MATCHING PATTERN "*.lua")
install(FILES "${PROJECT_SOURCE_DIR}/docs/moonjail.1" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")

# Shell completion for bash, zsh and fish, generated at build time by the built moonjail from the
# option tables its parser reads (`moonjail completion SHELL`), installed where each shell looks.
set(MJ_BASH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" CACHE STRING
    "Install directory of the bash completion script")
set(MJ_ZSH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/zsh/site-functions" CACHE STRING
    "Install directory of the zsh completion script (_moonjail)")
set(MJ_FISH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d" CACHE STRING
    "Install directory of the fish completion script")
set(_mj_completion_dir "${PROJECT_BINARY_DIR}/completion")
set(_mj_completions)
foreach(_shell_file "bash:moonjail" "zsh:_moonjail" "fish:moonjail.fish")
  string(REPLACE ":" ";" _pair "${_shell_file}")
  list(GET _pair 0 _shell)
  list(GET _pair 1 _file)
  add_custom_command(
    OUTPUT "${_mj_completion_dir}/${_file}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${_mj_completion_dir}"
    COMMAND "${CMAKE_COMMAND}" -DMJ_BIN=$<TARGET_FILE:moonjail_cli> -DMJ_SHELL=${_shell}
            "-DMJ_OUT=${_mj_completion_dir}/${_file}" -P "${PROJECT_SOURCE_DIR}/cmake/MoonjailCompletion.cmake"
    DEPENDS moonjail_cli "${PROJECT_SOURCE_DIR}/cmake/MoonjailCompletion.cmake"
    COMMENT "Generating the ${_shell} completion script"
    VERBATIM)
  list(APPEND _mj_completions "${_mj_completion_dir}/${_file}")
endforeach()
add_custom_target(mj_completion ALL DEPENDS ${_mj_completions})
install(FILES "${_mj_completion_dir}/moonjail" DESTINATION "${MJ_BASH_COMPLETION_DIR}")
install(FILES "${_mj_completion_dir}/_moonjail" DESTINATION "${MJ_ZSH_COMPLETION_DIR}")
install(FILES "${_mj_completion_dir}/moonjail.fish" DESTINATION "${MJ_FISH_COMPLETION_DIR}")
unset(_mj_completion_dir)
unset(_mj_completions)

# A relocatable .pc file: the prefix is found from where the file itself is installed.
cmake_path(RELATIVE_PATH CMAKE_INSTALL_PREFIX BASE_DIRECTORY "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig"
           OUTPUT_VARIABLE _mj_rel)
set(MJ_PC_PREFIX "\${pcfiledir}/${_mj_rel}")
foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(MJ_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(MJ_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
configure_file("${PROJECT_SOURCE_DIR}/moonjail.pc.in" "${PROJECT_BINARY_DIR}/moonjail.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/moonjail.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

set(MJ_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/moonjail")
install(EXPORT moonjailTargets NAMESPACE moonjail:: DESTINATION "${MJ_CMAKE_DIR}")
configure_package_config_file("${PROJECT_SOURCE_DIR}/moonjailConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/moonjailConfig.cmake" INSTALL_DESTINATION "${MJ_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/moonjailConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/moonjailConfig.cmake"
              "${PROJECT_BINARY_DIR}/moonjailConfigVersion.cmake"
        DESTINATION "${MJ_CMAKE_DIR}")
unset(_mj_rel)
unset(_mj_lua_cmod)
unset(_mj_lua_prefix)
unset(_mj_cmod_default)
