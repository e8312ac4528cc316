# Compiler flags shared by every target, and the Asan and Fuzz build types.
#
# _FORTIFY_SOURCE needs optimisation, so it is left out of Debug (-O0) builds, where glibc would
# warn and -Werror would turn the warning into an error.

# (clang's Fuzz build reports warnings gcc does not give but does not fail on them: -Werror holds
# every other build.)
add_compile_options(
  -Wall -Wextra "$<$<NOT:$<CONFIG:Fuzz>>:-Werror>" -Wformat=2 -Wshadow
  -fstack-protector-strong
  "$<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE;-D_FORTIFY_SOURCE=2>"
)

# Asan: AddressSanitizer + UndefinedBehaviorSanitizer; any UB report is fatal so ctest sees it.
set(_mj_asan_flags "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g")
# (A first configure with -DCMAKE_BUILD_TYPE=Asan finds these variables already in the cache, made
# empty by CMake for the unknown type: an empty one is filled, a user's own is kept.)
macro(_mj_flags var value doc)
  if(NOT ${var})
    set(${var} "${value}" CACHE STRING "${doc}" FORCE)
  endif()
endmacro()
_mj_flags(CMAKE_C_FLAGS_ASAN "${_mj_asan_flags}" "C flags of the Asan build type")
foreach(_kind EXE SHARED MODULE)
  _mj_flags(CMAKE_${_kind}_LINKER_FLAGS_ASAN "-fsanitize=address,undefined" "${_kind} linker flags of the Asan build type")
endforeach()
mark_as_advanced(CMAKE_C_FLAGS_ASAN CMAKE_EXE_LINKER_FLAGS_ASAN CMAKE_SHARED_LINKER_FLAGS_ASAN
                 CMAKE_MODULE_LINKER_FLAGS_ASAN)
unset(_mj_asan_flags)

# Fuzz: the libFuzzer build of fuzz/ (clang only: CC=clang cmake -DCMAKE_BUILD_TYPE=Fuzz
# -DMOONJAIL_FUZZ=ON); every object carries ASan, UBSan and libFuzzer's coverage, the fuzz
# targets link libFuzzer's main (fuzz/CMakeLists.txt).
_mj_flags(CMAKE_C_FLAGS_FUZZ
  "-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g"
  "C flags of the Fuzz build type")
foreach(_kind EXE SHARED MODULE)
  _mj_flags(CMAKE_${_kind}_LINKER_FLAGS_FUZZ "-fsanitize=address,undefined" "${_kind} linker flags of the Fuzz build type")
endforeach()
mark_as_advanced(CMAKE_C_FLAGS_FUZZ CMAKE_EXE_LINKER_FLAGS_FUZZ CMAKE_SHARED_LINKER_FLAGS_FUZZ
                 CMAKE_MODULE_LINKER_FLAGS_FUZZ)
