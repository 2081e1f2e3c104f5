# Installation: libraries, public headers, CMake package and pkg-config files.
#
#   <prefix>/lib/libhakmem_<component>.a        the eight static component libraries
#   <prefix>/lib/libhakmem.so{,.0,.0.1.0}       the drop-in shared library (malloc override)
#   <prefix>/include/hakmem/hakmem.h            the public API
#   <prefix>/lib/cmake/hakmem/                  find_package(hakmem CONFIG): hakmem::<component>,
#                                               hakmem::hakmem (every component), hakmem::shared
#   <prefix>/lib/pkgconfig/hakmem.pc            every static component, in link order
#   <prefix>/lib/pkgconfig/hakmem-shared.pc     libhakmem.so
#
# The build tree is a usable package as well: -Dhakmem_DIR=<build dir>.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

option(HAKMEM_INSTALL "Generate hakmem's install rules" ON)
set(HAKMEM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/hakmem" CACHE STRING
    "Where the CMake package files go (relative to the prefix)")
set(HAKMEM_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig" CACHE STRING
    "Where hakmem.pc and hakmem-shared.pc go (relative to the prefix)")
mark_as_advanced(HAKMEM_INSTALL_CMAKEDIR HAKMEM_INSTALL_PKGCONFIGDIR)

get_property(_hak_components GLOBAL PROPERTY HAKMEM_COMPONENTS)

# ---- the components in dependency order ---------------------------------------------------
# A static archive must come before the archives it needs on the link line; pkg-config has no
# dependency graph, so hakmem.pc lists them in an order computed from the targets' links
# (dependents first). A cycle is a bug of the design (docs/ARCHITECTURE.md): stop here.
set(_hak_deps_of_all "")
foreach(c IN LISTS _hak_components)
  get_target_property(_links hakmem_${c} LINK_LIBRARIES)
  set(_hak_deps_${c} "")
  foreach(l IN LISTS _links)
    foreach(d IN LISTS _hak_components)
      if(l STREQUAL "hakmem_${d}" OR l STREQUAL "hakmem::${d}")
        list(APPEND _hak_deps_${c} ${d})
      endif()
    endforeach()
  endforeach()
endforeach()
set(_hak_bottom_up "")
set(_hak_left ${_hak_components})
while(_hak_left)
  set(_progress FALSE)
  foreach(c IN LISTS _hak_left)
    set(_ready TRUE)
    foreach(d IN LISTS _hak_deps_${c})
      if(NOT d IN_LIST _hak_bottom_up)
        set(_ready FALSE)
      endif()
    endforeach()
    if(_ready)
      list(APPEND _hak_bottom_up ${c})
      list(REMOVE_ITEM _hak_left ${c})
      set(_progress TRUE)
    endif()
  endforeach()
  if(NOT _progress)
    message(FATAL_ERROR "hakmem: the component libraries depend on each other in a cycle "
                        "among: ${_hak_left}")
  endif()
endwhile()
set(HAKMEM_LINK_ORDER ${_hak_bottom_up})
list(REVERSE HAKMEM_LINK_ORDER) # dependents first, core and counters last

# ---- CMake package ------------------------------------------------------------------------
set(_hak_targets "")
foreach(c IN LISTS _hak_components)
  list(APPEND _hak_targets hakmem_${c})
endforeach()
list(APPEND _hak_targets hakmem_all hakmem)

# Names that find_package(hakmem COMPONENTS ...) accepts.
set(HAKMEM_PACKAGE_COMPONENTS ${_hak_components} hakmem shared)

set(_hak_pkg_dir "${PROJECT_BINARY_DIR}/hakmem-package")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/hakmemConfigVersion.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion) # 0.x: a new minor version may break the API
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/hakmemConfig.cmake.in"
  "${_hak_pkg_dir}/hakmemConfig.cmake"
  INSTALL_DESTINATION "${HAKMEM_INSTALL_CMAKEDIR}")

# Build tree package: find_package(hakmem) with hakmem_DIR=<build dir>.
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/hakmemConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/hakmemConfig.cmake"
  INSTALL_DESTINATION "${PROJECT_BINARY_DIR}"
  INSTALL_PREFIX "${PROJECT_BINARY_DIR}")
export(TARGETS ${_hak_targets} NAMESPACE hakmem::
  FILE "${PROJECT_BINARY_DIR}/hakmemTargets.cmake")

# ---- pkg-config ---------------------------------------------------------------------------
# The prefix is only known at install time (cmake --install --prefix <dir>), so the .pc files
# are configured twice: now for everything else, at install time for the prefix line.
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(HAKMEM_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(HAKMEM_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
set(HAKMEM_PC_STATIC_LIBS "")
foreach(c IN LISTS HAKMEM_LINK_ORDER)
  if(NOT c STREQUAL "core") # core is always pulled in by the API calls themselves
    string(APPEND HAKMEM_PC_STATIC_LIBS " -Wl,-u,hak_component_${c}")
  endif()
endforeach()
foreach(c IN LISTS HAKMEM_LINK_ORDER)
  string(APPEND HAKMEM_PC_STATIC_LIBS " -lhakmem_${c}")
endforeach()
string(STRIP "${HAKMEM_PC_STATIC_LIBS}" HAKMEM_PC_STATIC_LIBS)
set(HAKMEM_PC_SYSTEM_LIBS "-lpthread")
foreach(l IN LISTS CMAKE_DL_LIBS)
  string(APPEND HAKMEM_PC_SYSTEM_LIBS " -l${l}")
endforeach()
set(HAKMEM_PC_PREFIX "@HAKMEM_PC_PREFIX@") # left for the install step
configure_file("${PROJECT_SOURCE_DIR}/cmake/hakmem.pc.in" "${_hak_pkg_dir}/hakmem.pc.in" @ONLY)

if(NOT HAKMEM_INSTALL)
  return()
endif()

# ---- install rules ------------------------------------------------------------------------
install(TARGETS ${_hak_targets}
  EXPORT hakmemTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Development
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Runtime
          NAMELINK_COMPONENT Development
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT Runtime)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/hakmem"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT Development
  FILES_MATCHING PATTERN "*.h")
install(EXPORT hakmemTargets
  NAMESPACE hakmem::
  FILE hakmemTargets.cmake
  DESTINATION "${HAKMEM_INSTALL_CMAKEDIR}" COMPONENT Development)
install(FILES "${_hak_pkg_dir}/hakmemConfig.cmake" "${PROJECT_BINARY_DIR}/hakmemConfigVersion.cmake"
  DESTINATION "${HAKMEM_INSTALL_CMAKEDIR}" COMPONENT Development)

# hakmem.pc.in holds both files; the install step fills in the prefix it installs to.
install(CODE "
  file(READ \"${_hak_pkg_dir}/hakmem.pc.in\" _hak_pc)
  string(REPLACE \"@HAKMEM_PC_PREFIX@\" \"\${CMAKE_INSTALL_PREFIX}\" _hak_pc \"\${_hak_pc}\")
  string(FIND \"\${_hak_pc}\" \"#---- hakmem-shared.pc\" _hak_cut)
  string(SUBSTRING \"\${_hak_pc}\" 0 \${_hak_cut} _hak_static)
  string(SUBSTRING \"\${_hak_pc}\" \${_hak_cut} -1 _hak_shared)
  string(REGEX REPLACE \"^#---- hakmem-shared.pc[^\\n]*\\n\" \"\" _hak_shared \"\${_hak_shared}\")
  file(WRITE \"${_hak_pkg_dir}/install/hakmem.pc\" \"\${_hak_static}\")
  file(WRITE \"${_hak_pkg_dir}/install/hakmem-shared.pc\" \"\${_hak_shared}\")
" COMPONENT Development)
install(FILES "${_hak_pkg_dir}/install/hakmem.pc" "${_hak_pkg_dir}/install/hakmem-shared.pc"
  DESTINATION "${HAKMEM_INSTALL_PKGCONFIGDIR}" COMPONENT Development)
