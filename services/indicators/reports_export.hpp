// CSV of raw activity reports (ExportActivityReports): one line per report and measure, the
// counts by sex in four columns. Pure.
#pragma once

#include <string>

#include "passerelle/indicators/v1/indicators.pb.h"

namespace passerelle::indicators::reports {

/// The header line.
std::string ActivityReportsCsvHeader();
/// The lines of one report (its revision as given): one per measure and category, then one per
/// cohort target.
std::string ActivityReportCsvLines(const v1::ActivityReport& report);

}  // namespace passerelle::indicators::reports
