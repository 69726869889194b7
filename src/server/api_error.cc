#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace pagedkv {

ApiError bad_request(const std::string& param, const std::string& message) {
  return ApiError(400, "invalid_request_error", param,
                  param.empty() ? message : param + ": " + message);
}

std::string client_message(const Error& e) {
  const std::string msg = e.what();
  const std::string prefix = std::string(error_kind_name(e.kind())) + ": ";
  return msg.rfind(prefix, 0) == 0 ? msg.substr(prefix.size()) : msg;
}

std::string error_body(int status, const std::string& type, const std::string& param,
                       const std::string& message) {
  nlohmann::ordered_json e;
  e["message"] = message;
  e["type"] = type;
  e["param"] = param.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(param);
  e["code"] = status;
  nlohmann::ordered_json body;
  body["error"] = std::move(e);
  // Messages may quote request text: never fail on invalid UTF-8 in them.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace pagedkv
