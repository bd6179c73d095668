# library_face(<target> PUBLIC <header>...): the headers of a library that other targets may
# include, enforced by the compiler (LevelDB's include/leveldb/ beside db/, without moving files).
#
# Each library's files live in <root>/<name>/ and include each other as "<name>/x.h". No target
# gets the project root as an include directory. Instead, at configure time:
#   <build>/faces/private/<name>/<name> -> <root>/<name>            (the whole folder)
#   <build>/faces/public/<name>/<name>/<header> -> <root>/<name>/<header>  (the listed ones)
# The first is the library's PRIVATE include directory, the second its PUBLIC one, so a target
# that links the library finds "<name>/x.h" only when x.h is listed here: any other include
# fails with "No such file or directory". A listed header may include only listed headers (of
# its own library, or public ones of the libraries it links PUBLIC).
# An INTERFACE library (headers only) gets the public directory alone.
# Tests add the project root themselves (they test internals).
function(library_face target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "PUBLIC")
  get_filename_component(name "${CMAKE_CURRENT_SOURCE_DIR}" NAME)
  set(private_dir "${CMAKE_BINARY_DIR}/faces/private/${name}")
  set(public_dir "${CMAKE_BINARY_DIR}/faces/public/${name}")
  # Rebuilt at each configure: a header taken off the list must stop being reachable.
  file(REMOVE_RECURSE "${private_dir}" "${public_dir}")
  file(MAKE_DIRECTORY "${public_dir}/${name}")
  foreach(header IN LISTS ARG_PUBLIC)
    if(NOT EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/${header}")
      message(FATAL_ERROR "library_face(${target}): no header ${name}/${header}")
    endif()
    get_filename_component(subdir "${header}" DIRECTORY)
    file(MAKE_DIRECTORY "${public_dir}/${name}/${subdir}")
    file(CREATE_LINK "${CMAKE_CURRENT_SOURCE_DIR}/${header}" "${public_dir}/${name}/${header}"
         SYMBOLIC)
  endforeach()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE "${public_dir}")
    return()
  endif()
  file(MAKE_DIRECTORY "${private_dir}")
  file(CREATE_LINK "${CMAKE_CURRENT_SOURCE_DIR}" "${private_dir}/${name}" SYMBOLIC)
  # The private directory first: the library's own files reach every one of its headers by one
  # path (the whole folder), never one header by two.
  target_include_directories(${target} PRIVATE "${private_dir}")
  target_include_directories(${target} PUBLIC "${public_dir}")
endfunction()
