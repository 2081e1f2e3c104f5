# hakmem_add_component(<name> SOURCES ... [DEPS <component>...] [LIBS <system lib>...])
#
# Builds libhakmem_<name>.a with alias hakmem::<name>. Each component defines the symbol
# hak_component_<name>; the interface link option "-u hak_component_<name>" makes the linker
# pull it out of the archive even though core refers to components only weakly (core works
# without them, see core/components.h).
set_property(GLOBAL PROPERTY HAKMEM_COMPONENTS "")
set_property(GLOBAL PROPERTY HAKMEM_ALL_SOURCES "")
set_property(GLOBAL PROPERTY HAKMEM_ALL_LIBS "")

function(hakmem_add_component name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LIBS" ${ARGN})
  set(target hakmem_${name})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(hakmem::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME hakmem_${name})
  target_compile_options(${target} PRIVATE ${HAKMEM_COMMON_FLAGS})
  target_compile_definitions(${target} PRIVATE ${HAKMEM_COMMON_DEFS})
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR})
  foreach(dep IN LISTS ARG_DEPS)
    target_link_libraries(${target} PUBLIC hakmem_${dep})
  endforeach()
  target_link_libraries(${target} PUBLIC ${ARG_LIBS})
  if(NOT name MATCHES "^(core|counters)$") # core uses both directly
    target_link_options(${target} INTERFACE "LINKER:-u,hak_component_${name}")
  endif()
  list(TRANSFORM ARG_SOURCES PREPEND "${CMAKE_CURRENT_SOURCE_DIR}/")
  set_property(GLOBAL APPEND PROPERTY HAKMEM_COMPONENTS ${name})
  set_property(GLOBAL APPEND PROPERTY HAKMEM_ALL_SOURCES ${ARG_SOURCES})
  set_property(GLOBAL APPEND PROPERTY HAKMEM_ALL_LIBS ${ARG_LIBS})
endfunction()
