# Helpers shared by every library and service: warnings, tests by tier, embedded SQL migrations.

# Warnings for project code only (generated protobuf code is left alone).
function(passerelle_warnings target)
  # Designated initializers that leave defaulted members out are our idiom for options structs.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-missing-field-initializers)
  if(PASSERELLE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# passerelle_test(NAME <name> TIER unit|pg|itest|e2e [TIMEOUT s] [COST s] SOURCES ... LIBS ...)
# Registers a GoogleTest binary with ctest, labelled with its tier so one tier can be run alone
# (ctest -L pg). Tests that need PostgreSQL or NATS read their addresses from the environment the
# test command sets (see libs/testing). COST is the test's usual duration in seconds: a fresh clone
# has no ctest timing history, and without it the longest tests would start in declaration order,
# one of them last, leaving the other cores idle at the end of the run.
function(passerelle_test)
  cmake_parse_arguments(T "" "NAME;TIER;TIMEOUT;COST" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  passerelle_warnings(${T_NAME})
  # The test's own code unoptimised: it asserts, it does not compute (the code under test comes
  # from the libraries, optimised). A test source compiles in a third of the time at -O0.
  # Benchmarks (tests/perf) are not passerelle_test targets and keep -O2.
  target_compile_options(${T_NAME} PRIVATE -O0)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} --gtest_color=no)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS ${T_TIER} TIMEOUT ${T_TIMEOUT})
  if(T_COST)
    set_tests_properties(${T_NAME} PROPERTIES COST ${T_COST})
  endif()
endfunction()

# passerelle_embed_sql(<target> <cpp-namespace> <dir>)
# Compiles every <dir>/NNNN_name.sql into a generated source exposing
#   std::vector<passerelle::db::Migration> <namespace>::Migrations();
# so a binary carries its own schema history and needs no files at run time.
function(passerelle_embed_sql target ns dir)
  file(GLOB sql_files CONFIGURE_DEPENDS "${dir}/*.sql")
  list(SORT sql_files)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}_migrations.cpp")
  string(REPLACE ";" "|" files_arg "${sql_files}")  # a ';' would split the shell command
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNS=${ns} "-DFILES=${files_arg}"
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_sql.cmake
    DEPENDS ${sql_files} ${PROJECT_SOURCE_DIR}/cmake/embed_sql.cmake
    COMMENT "Embedding SQL migrations for ${target}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()

# passerelle_embed_text(<target> <cpp-namespace> <function> <file>)
# Compiles a text file (a schema, a reference list) into the target as
#   std::string_view <namespace>::<function>();
function(passerelle_embed_text target ns fn file)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}_${fn}.cpp")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNS=${ns} -DFN=${fn} -DFILE=${file}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake
    DEPENDS ${file} ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake
    COMMENT "Embedding ${file}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
