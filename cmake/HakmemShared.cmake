# libhakmem.so: every component in one shared object, plus the malloc-family override.
# Built from the same sources with HAKMEM_SHARED_LIBRARY=1, which turns on the override
# (core/override.c) and lets the front door inline the tiny fast path directly.
get_property(_hak_sources GLOBAL PROPERTY HAKMEM_ALL_SOURCES)
get_property(_hak_libs GLOBAL PROPERTY HAKMEM_ALL_LIBS)
get_property(_hak_components GLOBAL PROPERTY HAKMEM_COMPONENTS)

add_library(hakmem SHARED ${_hak_sources} ${PROJECT_SOURCE_DIR}/core/override.c
                          ${PROJECT_SOURCE_DIR}/core/override_cxx.c)
# C++'s operator new throws std::bad_alloc through override_cxx.c's frames.
set_source_files_properties(${PROJECT_SOURCE_DIR}/core/override_cxx.c PROPERTIES
  COMPILE_OPTIONS -fexceptions)
add_library(hakmem::shared ALIAS hakmem)
set_target_properties(hakmem PROPERTIES
  OUTPUT_NAME hakmem VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
  C_VISIBILITY_PRESET hidden EXPORT_NAME shared)
target_compile_options(hakmem PRIVATE ${HAKMEM_COMMON_FLAGS})
target_compile_definitions(hakmem PRIVATE ${HAKMEM_COMMON_DEFS} HAKMEM_SHARED_LIBRARY=1)
target_include_directories(hakmem
  PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
  PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(hakmem PRIVATE ${_hak_libs} Threads::Threads)
target_link_options(hakmem PRIVATE "LINKER:-z,now" "LINKER:-z,nodelete")

# hakmem::hakmem: every static component.
add_library(hakmem_all INTERFACE)
add_library(hakmem::hakmem ALIAS hakmem_all)
set_target_properties(hakmem_all PROPERTIES EXPORT_NAME hakmem)
foreach(c IN LISTS _hak_components)
  target_link_libraries(hakmem_all INTERFACE hakmem_${c})
endforeach()
