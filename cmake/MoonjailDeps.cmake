# Third-party libraries, found once for every directory.
#
# Imported targets: PkgConfig::LUA (Lua 5.4), PkgConfig::SECCOMP, PkgConfig::CAP, PkgConfig::CURL,
# PkgConfig::ARCHIVE and OpenSSL::Crypto.  mj_lua_headers carries only Lua's include directories,
# for code that ends up in the moonjail.so module (which must not link liblua: the interpreter that
# loads it provides the symbols).

find_package(PkgConfig REQUIRED)
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4)
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
pkg_check_modules(CAP REQUIRED IMPORTED_TARGET libcap)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(ARCHIVE REQUIRED IMPORTED_TARGET libarchive)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)

if(NOT TARGET mj_lua_headers)
  add_library(mj_lua_headers INTERFACE)
  target_include_directories(mj_lua_headers SYSTEM INTERFACE ${LUA_INCLUDE_DIRS})
endif()
