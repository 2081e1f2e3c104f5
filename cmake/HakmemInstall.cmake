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
foreach(_hak_c IN LISTS _hak_components)
  get_target_property(_hak_links hakmem_${_hak_c} LINK_LIBRARIES)
  set(_hak_deps_${_hak_c} "")
  foreach(_hak_l IN LISTS _hak_links)
    foreach(_hak_d IN LISTS _hak_components)
      if(_hak_l STREQUAL "hakmem_${_hak_d}" OR _hak_l STREQUAL "hakmem::${_hak_d}")
        list(APPEND _hak_deps_${_hak_c} ${_hak_d})
      endif()
    endforeach()
  endforeach()
endforeach()
set(_hak_bottom_up "")
set(_hak_left ${_hak_components})
while(_hak_left)
  set(_hak_progress FALSE)
  foreach(_hak_c IN LISTS _hak_left)
    set(_hak_ready TRUE)
    foreach(_hak_d IN LISTS _hak_deps_${_hak_c})
      if(NOT _hak_d IN_LIST _hak_bottom_up)
        set(_hak_ready FALSE)
      endif()
    endforeach()
    if(_hak_ready)
      list(APPEND _hak_bottom_up ${_hak_c})
      list(REMOVE_ITEM _hak_left ${_hak_c})
      set(_hak_progress TRUE)
    endif()
  endforeach()
  if(NOT _hak_progress)
    message(FATAL_ERROR "hakmem: the component libraries depend on each other in a cycle "
                        "among: ${_hak_left}")
  endif()
endwhile()
set(HAKMEM_LINK_ORDER ${_hak_bottom_up})
list(REVERSE HAKMEM_LINK_ORDER) # dependents first, core and counters last

# ---- CMake package ------------------------------------------------------------------------
set(_hak_targets "")
foreach(_hak_c IN LISTS _hak_components)
  list(APPEND _hak_targets hakmem_${_hak_c})
endforeach()
list(APPEND _hak_targets hakmem_all hakmem)

# Names that find_package(hakmem COMPONENTS ...) accepts.
set(HAKMEM_PACKAGE_COMPONENTS ${_hak_components} hakmem shared)
list(JOIN HAKMEM_PACKAGE_COMPONENTS ", hakmem::" HAKMEM_TARGET_LIST)

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
foreach(_hak_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_hak_dir}}")
    set(HAKMEM_PC_${_hak_dir} "${CMAKE_INSTALL_${_hak_dir}}")
  else()
    set(HAKMEM_PC_${_hak_dir} "\${prefix}/${CMAKE_INSTALL_${_hak_dir}}")
  endif()
endforeach()
# System libraries: what the components link (their LIBS), spelled for pkg-config.
get_property(_hak_all_libs GLOBAL PROPERTY HAKMEM_ALL_LIBS)
set(_hak_pc_system_libs "-lpthread")
list(REMOVE_DUPLICATES _hak_all_libs)
foreach(_hak_l IN LISTS _hak_all_libs)
  if(NOT _hak_l STREQUAL "Threads::Threads" AND NOT TARGET ${_hak_l})
    string(APPEND _hak_pc_system_libs " -l${_hak_l}")
  endif()
endforeach()
set(HAKMEM_PC_PREFIX "@HAKMEM_PC_PREFIX@") # left for the install step

# hakmem.pc: every static component. "-u hak_component_<name>" pulls each component's archive
# member in (core refers to the components only weakly). The archives need pthread and dl
# whether or not the user asks pkg-config for --static, so they are in Libs.
set(HAKMEM_PC_NAME "hakmem")
set(HAKMEM_PC_DESCRIPTION "${PROJECT_DESCRIPTION}: every static component library")
set(HAKMEM_PC_LIBS "")
foreach(_hak_c IN LISTS HAKMEM_LINK_ORDER) # the same -u options as the CMake targets carry
  get_target_property(_hak_opts hakmem_${_hak_c} INTERFACE_LINK_OPTIONS)
  foreach(_hak_o IN LISTS _hak_opts)
    if(_hak_o MATCHES "^LINKER:-u,([A-Za-z0-9_]+)$")
      string(APPEND HAKMEM_PC_LIBS "-Wl,-u,${CMAKE_MATCH_1} ")
    endif()
  endforeach()
endforeach()
foreach(_hak_c IN LISTS HAKMEM_LINK_ORDER)
  string(APPEND HAKMEM_PC_LIBS "-lhakmem_${_hak_c} ")
endforeach()
string(APPEND HAKMEM_PC_LIBS "${_hak_pc_system_libs}")
set(HAKMEM_PC_LIBS_PRIVATE "")
configure_file("${PROJECT_SOURCE_DIR}/cmake/hakmem.pc.in" "${_hak_pkg_dir}/hakmem.pc.in" @ONLY)

# hakmem-shared.pc: libhakmem.so. Linking it replaces the malloc family of the whole program.
set(HAKMEM_PC_NAME "hakmem-shared")
set(HAKMEM_PC_DESCRIPTION
    "${PROJECT_DESCRIPTION}: libhakmem.so, every component plus the malloc-family override")
set(HAKMEM_PC_LIBS "-lhakmem")
set(HAKMEM_PC_LIBS_PRIVATE "${_hak_pc_system_libs}")
configure_file("${PROJECT_SOURCE_DIR}/cmake/hakmem.pc.in" "${_hak_pkg_dir}/hakmem-shared.pc.in"
  @ONLY)

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
  FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(EXPORT hakmemTargets
  NAMESPACE hakmem::
  FILE hakmemTargets.cmake
  DESTINATION "${HAKMEM_INSTALL_CMAKEDIR}" COMPONENT Development)
install(FILES "${_hak_pkg_dir}/hakmemConfig.cmake" "${PROJECT_BINARY_DIR}/hakmemConfigVersion.cmake"
  DESTINATION "${HAKMEM_INSTALL_CMAKEDIR}" COMPONENT Development)

# The .pc files name the prefix they are installed to (cmake --install --prefix may differ
# from CMAKE_INSTALL_PREFIX at configure time); the install step writes it in.
install(CODE "
  foreach(_hak_pc hakmem hakmem-shared)
    file(READ \"${_hak_pkg_dir}/\${_hak_pc}.pc.in\" _hak_text)
    string(REPLACE \"@HAKMEM_PC_PREFIX@\" \"\${CMAKE_INSTALL_PREFIX}\" _hak_text \"\${_hak_text}\")
    file(WRITE \"${_hak_pkg_dir}/install/\${_hak_pc}.pc\" \"\${_hak_text}\")
  endforeach()
" COMPONENT Development)
install(FILES "${_hak_pkg_dir}/install/hakmem.pc" "${_hak_pkg_dir}/install/hakmem-shared.pc"
  DESTINATION "${HAKMEM_INSTALL_PKGCONFIGDIR}" COMPONENT Development)
