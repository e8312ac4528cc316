# Compiler flags shared by every target, and the Asan build type.
#
# _FORTIFY_SOURCE needs optimisation, so it is left out of Debug (-O0) builds, where glibc would
# warn and -Werror would turn the warning into an error.

add_compile_options(
  -Wall -Wextra -Werror -Wformat=2 -Wshadow
  -fstack-protector-strong
  "$<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE;-D_FORTIFY_SOURCE=2>"
)

# Asan: AddressSanitizer + UndefinedBehaviorSanitizer; any UB report is fatal so ctest sees it.
set(_mj_asan_flags "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g")
set(CMAKE_C_FLAGS_ASAN "${_mj_asan_flags}" CACHE STRING "C flags of the Asan build type")
foreach(_kind EXE SHARED MODULE)
  set(CMAKE_${_kind}_LINKER_FLAGS_ASAN "-fsanitize=address,undefined"
      CACHE STRING "${_kind} linker flags of the Asan build type")
endforeach()
mark_as_advanced(CMAKE_C_FLAGS_ASAN CMAKE_EXE_LINKER_FLAGS_ASAN CMAKE_SHARED_LINKER_FLAGS_ASAN
                 CMAKE_MODULE_LINKER_FLAGS_ASAN)
unset(_mj_asan_flags)
