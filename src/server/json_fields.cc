#include "server/json_fields.h"

#include <cmath>
#include <sstream>

#include "server/api_error.h"

namespace pagedkv {

namespace {

std::string show(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

const char* json_type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    default:
      return "value";
  }
}

JsonFields::JsonFields(const Json& body, std::string prefix)
    : body_(body), prefix_(std::move(prefix)) {
  if (!body_.is_object())
    throw bad_request(prefix_, std::string("expected a JSON object, got ") + json_type_name(body_));
}

std::string JsonFields::path(const char* name) const {
  return prefix_.empty() ? std::string(name) : prefix_ + "." + name;
}

const Json* JsonFields::get(const char* name) const {
  const auto it = body_.find(name);
  if (it == body_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<int64_t> JsonFields::integer(const char* name, int64_t lo, int64_t hi) const {
  const Json* v = get(name);
  if (!v) return std::nullopt;
  int64_t x = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    x = u > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(u);
  } else if (v->is_number_integer()) {
    x = v->get<int64_t>();
  } else if (v->is_number_float() && std::isfinite(v->get<double>()) &&
             v->get<double>() == std::floor(v->get<double>()) &&
             std::fabs(v->get<double>()) < 9e18) {
    x = int64_t(v->get<double>());
  } else {
    throw bad_request(path(name),
                      std::string("expected an integer, got ") +
                          (v->is_number_float() ? "a fractional number" : json_type_name(*v)));
  }
  if (x < lo || x > hi)
    throw bad_request(path(name), "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                      "], got " + std::to_string(x));
  return x;
}

std::optional<double> JsonFields::number(const char* name, double lo, double hi) const {
  const Json* v = get(name);
  if (!v) return std::nullopt;
  if (!v->is_number())
    throw bad_request(path(name), std::string("expected a number, got ") + json_type_name(*v));
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    throw bad_request(path(name),
                      "must be in [" + show(lo) + ", " + show(hi) + "], got " + show(x));
  return x;
}

std::optional<bool> JsonFields::boolean(const char* name) const {
  const Json* v = get(name);
  if (!v) return std::nullopt;
  if (!v->is_boolean())
    throw bad_request(path(name), std::string("expected a boolean, got ") + json_type_name(*v));
  return v->get<bool>();
}

std::optional<std::string> JsonFields::string(const char* name) const {
  const Json* v = get(name);
  if (!v) return std::nullopt;
  if (!v->is_string())
    throw bad_request(path(name), std::string("expected a string, got ") + json_type_name(*v));
  return v->get<std::string>();
}

std::optional<std::vector<std::string>> JsonFields::string_or_list(const char* name,
                                                                   size_t max_items) const {
  const Json* v = get(name);
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (size_t i = 0; i < v->size(); ++i) {
      const Json& e = (*v)[i];
      if (!e.is_string())
        throw bad_request(path(name) + "[" + std::to_string(i) + "]",
                          std::string("expected a string, got ") + json_type_name(e));
      out.push_back(e.get<std::string>());
    }
  } else {
    throw bad_request(path(name), std::string("expected a string or an array of strings, got ") +
                                      json_type_name(*v));
  }
  if (out.size() > max_items)
    throw bad_request(path(name), "at most " + std::to_string(max_items) + " entries, got " +
                                      std::to_string(out.size()));
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].empty())
      throw bad_request(v->is_array() ? path(name) + "[" + std::to_string(i) + "]" : path(name),
                        "must not be empty");
  return out;
}

}  // namespace pagedkv
