# The reports domain of the indicators service (owned by its own files: reports_*.cpp).

# Small-count protection: pure, shared by every published figure.
add_library(indicators_suppression suppression.cpp)
target_include_directories(indicators_suppression PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(indicators_suppression PUBLIC absl::strings)
passerelle_warnings(indicators_suppression)

add_library(indicators_reports reports_wiring.cpp)
target_include_directories(indicators_reports PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(indicators_reports PUBLIC indicators_suppression
                      passerelle_indicators_proto passerelle_venues_proto
                      passerelle_referential_proto passerelle_events passerelle_api
                      passerelle_clock passerelle_logging passerelle_db passerelle_server
                      passerelle_service)
passerelle_embed_sql(indicators_reports passerelle::indicators::reports
                     ${CMAKE_CURRENT_SOURCE_DIR}/migrations/reports)
passerelle_warnings(indicators_reports)

# Crafted tables (sum-of-others attack, small margins, k) and random tables checked by linear
# algebra: no hidden count can be derived.
passerelle_test(NAME indicators_suppression_test TIER unit SOURCES suppression_test.cpp
                LIBS indicators_suppression)
