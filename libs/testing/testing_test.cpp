// Unit tests of the test helpers that read what services expose.
#include "libs/testing/testing.hpp"

#include <gtest/gtest.h>

namespace passerelle::testing {
namespace {

constexpr char kExposition[] =
    "passerelle_outbox_pending 3\n"
    "# HELP passerelle_rows_total Rows by outcome.\n"
    "# TYPE passerelle_rows_total counter\n"
    "passerelle_rows_total{outcome=\"created\"} 2\n"
    "passerelle_rows_total{outcome=\"created_twice\"} 7\n"
    "passerelle_checked_until_timestamp_seconds 1.7646e+09\n"
    "passerelle_broken NaNish\n";

TEST(MetricValueTest, ReadsASeriesNamedExactlyFromAnyLine) {
  EXPECT_EQ(MetricValue(kExposition, "passerelle_outbox_pending"), 3);
  EXPECT_EQ(MetricValue(kExposition, "passerelle_rows_total{outcome=\"created\"}"), 2);
  EXPECT_EQ(MetricValue(kExposition, "passerelle_rows_total{outcome=\"created_twice\"}"), 7);
  EXPECT_EQ(MetricValue(kExposition, "passerelle_checked_until_timestamp_seconds"), 1.7646e+09);
}

TEST(MetricValueTest, APrefixOrAnAbsentSeriesOrAnUnreadableValueIsNothing) {
  EXPECT_EQ(MetricValue(kExposition, "passerelle_outbox"), std::nullopt);
  EXPECT_EQ(MetricValue(kExposition, "passerelle_rows_total"), std::nullopt);
  EXPECT_EQ(MetricValue(kExposition, "outbox_pending"), std::nullopt);
  EXPECT_EQ(MetricValue(kExposition, "passerelle_broken"), std::nullopt);
  EXPECT_EQ(MetricValue("", "passerelle_outbox_pending"), std::nullopt);
}

}  // namespace
}  // namespace passerelle::testing
