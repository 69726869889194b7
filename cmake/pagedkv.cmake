# Shared build helpers: warning flags, sanitizers, CUDA detection, test registration.

set(PAGEDKV_WARNINGS -Wall -Wextra -Werror)

if(PAGEDKV_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# Project code gets warnings-as-errors; third-party headers come in as SYSTEM and are exempt.
function(pagedkv_target_defaults target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${PAGEDKV_WARNINGS}>)
  if(PAGEDKV_NATIVE)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
  endif()
endfunction()

# Each layer's headers are reachable only through its own include root: a directory in the build
# tree holding one link, <root>/<layer> -> src/<layer>. A library sees its own root and the roots
# of what it links; consumers see the roots of PUBLIC dependencies only. So a header that does not
# expose a layer keeps it out of its consumers' reach (scripts/check_layers.py, run as a test,
# checks the rest of DESIGN.md §1's table include by include).
# The include root of the layer the calling CMakeLists.txt belongs to (its folder under src/).
function(pagedkv_layer_root out_var)
  file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR})
  string(REGEX REPLACE "/.*" "" layer "${rel}")
  set(root ${CMAKE_BINARY_DIR}/layer_include/${layer})
  if(NOT EXISTS ${root}/${layer})
    file(MAKE_DIRECTORY ${root})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${layer} ${root}/${layer} SYMBOLIC)
  endif()
  set(${out_var} ${root} PARENT_SCOPE)
endfunction()

# pagedkv_library(name SOURCES ... DEPS ... [PRIVATE_DEPS ...]): one layer (or part of one) as a
# static library. DEPS appear in its headers (PUBLIC); PRIVATE_DEPS only in its sources.
function(pagedkv_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  pagedkv_layer_root(root)
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${root})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  pagedkv_target_defaults(${name})
endfunction()

# pagedkv_test(name SOURCES ... DEPS ...): a GoogleTest binary discovered by CTest.
function(pagedkv_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  pagedkv_layer_root(root)  # a test sees its own layer's headers
  target_include_directories(${name} PRIVATE ${root})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  pagedkv_target_defaults(${name})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 900
                       WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endfunction()

# CUDA is optional: built whenever nvcc is found (CI compiles it without a GPU to run it).
# Targets: sm_90a machine code (Hopper: wgmma, setmaxnreg, TMA) plus compute_80 PTX as the
# portable path that the driver JIT-compiles on any other card.
macro(pagedkv_enable_cuda)
  set(PAGEDKV_HAVE_CUDA OFF)
  if(PAGEDKV_CUDA)
    include(CheckLanguage)
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER)
      set(CMAKE_CUDA_ARCHITECTURES OFF)
      enable_language(CUDA)
      set(CMAKE_CUDA_STANDARD 20)
      # CMake 3.25 does not know nvcc's C++20 flag ("CUDA20 dialect" error): name it.
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA_STANDARD_REQUIRED ON)
      string(APPEND CMAKE_CUDA_FLAGS
             " -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=compute_80"
             " --expt-relaxed-constexpr -Xcompiler=-Wall,-Wextra -Werror=all-warnings")
      find_package(CUDAToolkit REQUIRED)
      set(PAGEDKV_HAVE_CUDA ON)
      message(STATUS "pagedkv: CUDA sources enabled (${CMAKE_CUDA_COMPILER_VERSION})")
    else()
      message(STATUS "pagedkv: nvcc not found, CUDA sources skipped")
    endif()
  endif()
endmacro()
