#pragma once
// An error the HTTP API answers with, in OpenAI's shape:
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "temperature",
//              "code": null}}
// `param` names the request field at fault (null when no one field is).

#include <stdexcept>
#include <string>

#include "core/error.h"

namespace pagedkv {

struct ApiError : std::runtime_error {
  ApiError(int status, std::string type, std::string param, const std::string& message)
      : std::runtime_error(message),
        status(status),
        type(std::move(type)),
        param(std::move(param)) {}
  int status;
  std::string type;   // invalid_request_error, not_found_error, server_overloaded, server_error
  std::string param;  // empty: null
};

// 400 invalid_request_error naming `param`; the message is prefixed with it ("n: must be ...").
ApiError bad_request(const std::string& param, const std::string& message);

// A pagedkv::Error's message without its kind prefix ("invalid argument: "), for clients.
std::string client_message(const Error& e);

// The JSON body of an error response.
std::string error_body(int status, const std::string& type, const std::string& param,
                       const std::string& message);
inline std::string error_body(const ApiError& e) {
  return error_body(e.status, e.type, e.param, e.what());
}

}  // namespace pagedkv
