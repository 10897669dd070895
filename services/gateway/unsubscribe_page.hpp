// The page a person reaches from an e-mail's « Ne plus recevoir ces messages » link
// (`/desabonnement?token=…`): French, one button that posts the one-click form to
// `POST /v1/subscriptions:unsubscribe` and shows the answer. Opening it changes nothing (link
// scanners and previews open links); the token stays in the browser (read by the page's script,
// never echoed by the server, no Referer sent).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "services/gateway/rest_handler.hpp"

namespace passerelle::gateway {

class UnsubscribePage final : public ExtraPages {
 public:
  static constexpr std::string_view kPath = "/desabonnement";
  std::vector<std::string> Allowed(std::string_view path) const override;
  void Serve(const std::shared_ptr<http::Exchange>& exchange, PageRequest request) override;
};

}  // namespace passerelle::gateway
