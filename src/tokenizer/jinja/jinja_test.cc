// The Jinja subset on small templates: whitespace control as transformers configures it
// (trim_blocks, lstrip_blocks), scoping, loop variables, namespace(), filters, tests, Python
// methods and formatting, and the errors for syntax mistakes and unsupported constructs.
// Expected outputs are those of Jinja2 3.1 with trim_blocks=True, lstrip_blocks=True.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/jinja/template.h"

namespace pagedkv::jinja {
namespace {

std::string render(const std::string& src,
                   const nlohmann::ordered_json& vars = nlohmann::ordered_json::object()) {
  Dict globals;
  for (auto it = vars.begin(); it != vars.end(); ++it)
    globals.set(it.key(), Value::from_json(it.value()));
  return Template(src).render(globals);
}

TEST(Jinja, WhitespaceControl) {
  EXPECT_EQ(render("a\n{% if true %}\n  b\n{% endif %}\nc"), "a\n  b\nc");  // trim_blocks
  EXPECT_EQ(render("a\n    {% if true %}x{% endif %}"), "a\nx");            // lstrip_blocks
  EXPECT_EQ(render("a  {{- 'b' -}}  c"), "abc");
  EXPECT_EQ(render("a \n {%- if true -%} \n b {%- endif %}"), "ab");
  EXPECT_EQ(render("a {{ 'b' }}\nc"), "a b\nc");  // no trimming after }}
  EXPECT_EQ(render("x {# comment #}\ny"), "x y");
  EXPECT_EQ(render("  {#- c -#}  z"), "z");
  EXPECT_EQ(render("{%+ if true %}k{% endif +%}\n"), "k\n");
}

TEST(Jinja, ExpressionsFollowPython) {
  EXPECT_EQ(
      render("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }}"),
      "7 3 -4 1 2 1024");
  EXPECT_EQ(render("{{ 1 / 2 }} {{ 3.0 }} {{ 1e20 }} {{ 1e-5 }} {{ 0.1 + 0.2 }}"),
            "0.5 3.0 1e+20 1e-05 0.30000000000000004");
  EXPECT_EQ(render("{{ none }} {{ true }} {{ [1, 'a', none, false] }} {{ {'k': \"it's\"} }}"),
            "None True [1, 'a', None, False] {'k': \"it's\"}");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none }} {{ 'ab' * 2 }} {{ [1] + [2] }}"), "a1None abab [1, 2]");
  EXPECT_EQ(render("{{ 'x' if false }}|{{ 'y' if false else 'z' }}|{{ 0 or 'd' }}|{{ 1 and 2 }}"),
            "|z|d|2");
  EXPECT_EQ(
      render("{{ 1 < 2 < 3 }} {{ 'b' in 'abc' }} {{ 2 not in [1, 3] }} {{ 'k' in {'k': 1} }}"),
      "True True True True");
  EXPECT_EQ(render("{{ x|length - 1 }} {{ -(x|length) }}", {{"x", {1, 2, 3}}}), "2 -3");
}

TEST(Jinja, SubscriptsSlicesAndMethods) {
  const nlohmann::ordered_json vars = {
      {"m", {{"role", "user"}, {"content", "  <think>a</think>b  "}}}, {"l", {1, 2, 3, 4}}};
  EXPECT_EQ(render("{{ l[0] }}{{ l[-1] }}{{ l[1:3] }}{{ l[::-1] }}{{ l[::2] }}{{ l[10] }}", vars),
            "14[2, 3][4, 3, 2, 1][1, 3]");
  EXPECT_EQ(render("{{ m.role }}{{ m['role'] }}{{ m.missing is defined }}", vars), "useruserFalse");
  EXPECT_EQ(render("{{ m.content.strip() }}|{{ m.content.split('</think>')[-1].rstrip() }}|"
                   "{{ m.content.strip().startswith('<think>') }}|{{ 'a,b,,c'.split(',') }}|"
                   "{{ ' a  b '.split() }}|{{ 'xax'.replace('x', 'y') }}|{{ 'Ab'.upper() }}{{ "
                   "'Ab'.lower() }}|"
                   "{{ 'héllo'[1] }}{{ 'héllo'[::-1] }}|{{ '\\n\\nx\\n'.lstrip('\\n') }}",
                   vars),
            "<think>a</think>b|b|True|['a', 'b', '', 'c']|['a', 'b']|yay|ABab|éolléh|x\n");
  EXPECT_EQ(
      render("{% for k, v in m.items() %}{{ k }}={{ v|trim }};{% endfor %}{{ m.get('x', 'd') }}",
             vars),
      "role=user;content=<think>a</think>b;d");
}

TEST(Jinja, LoopsAndScoping) {
  EXPECT_EQ(render("{% for x in [1, 2, 3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}"
                   "{{ loop.last }}{{ loop.length }}{{ loop.revindex }};{% endfor %}"),
            "10TrueFalse33;21FalseFalse32;32FalseTrue31;");
  // set inside a loop neither leaks nor survives to the next iteration (Jinja 2/3).
  EXPECT_EQ(
      render(
          "{% set x = 0 %}{% for i in range(3) %}[{{ x }}]{% set x = i + 10 %}{% endfor %}{{ x }}"),
      "[0][0][0]0");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i "
                   "%}{% endfor %}{{ ns.n }}"),
            "6");
  EXPECT_EQ(render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(
      render(
          "{% for x in range(10) if x is odd %}{{ x }}{% if loop.last %}.{% endif %}{% endfor %}"),
      "13579.");
  EXPECT_EQ(render("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 "
                   "%}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "013");
  EXPECT_EQ(render("{% if false %}a{% elif 1 %}b{% else %}c{% endif %}"), "b");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ b }}{{ a }}{% set t %}x{{ a }}{% endset %}{{ t }}"),
            "21x1");
  EXPECT_EQ(render("{% macro greet(name, p='Hi') %}{{ p }} {{ name }}{% endmacro %}{{ greet('A') "
                   "}}/{{ greet('B', p='Yo') }}"),
            "Hi A/Yo B");
}

TEST(Jinja, FiltersAndTests) {
  const nlohmann::ordered_json vars = {
      {"tools", {{{"name", "a"}, {"n", 2}}, {{"name", "b"}, {"n", 1}}}},
      {"d", {{"b", 1}, {"a", {1.5, "x\n\"q\""}}}}};
  EXPECT_EQ(render("{{ d|tojson }}", vars), "{\"b\": 1, \"a\": [1.5, \"x\\n\\\"q\\\"\"]}");
  EXPECT_EQ(render("{{ d|tojson(indent=2) }}", vars),
            "{\n  \"b\": 1,\n  \"a\": [\n    1.5,\n    \"x\\n\\\"q\\\"\"\n  ]\n}");
  EXPECT_EQ(render("{{ 'é'|tojson }}{{ none|tojson }}{{ [] |tojson }}"), "\"é\"null[]");
  EXPECT_EQ(render("{{ tools|map(attribute='name')|join(', ') }}|{{ tools|selectattr('n', "
                   "'equalto', 1)|list|length }}|"
                   "{{ ['a', 'code_interpreter']|reject('equalto', 'code_interpreter')|join }}|{{ "
                   "tools|sort(attribute='n')|first }}",
                   vars),
            "a, b|1|a|{'name': 'b', 'n': 1}");
  EXPECT_EQ(render("{{ x|default('dflt') }}{{ ''|default('e', true) }}{{ '  s '|trim }}{{ "
                   "'ab'|upper }}{{ 3|string ~ 'x' }}"),
            "dfltesAB3x");
  EXPECT_EQ(render("{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ 1 is number }}{{ [1] "
                   "is iterable }}"
                   "{{ {'a': 1} is mapping }}{{ 3 is divisibleby 3 }}{{ 2 is not odd }}{{ false is "
                   "false }}"),
            "FalseTrueTrueTrueTrueTrueTrueTrueTrue");
  EXPECT_EQ(render("{{ 'a\\nb'|indent(2) }}|{{ [3, 1, 2]|max }}{{ [1, 1, 2]|unique|list }}{{ "
                   "d|dictsort|first }}",
                   vars),
            "a\n  b|3[1, 2]['a', [1.5, 'x\\n\"q\"']]");
}

void expect_error(const std::string& src, ErrorKind kind, const std::string& needle,
                  const nlohmann::ordered_json& vars = nlohmann::ordered_json::object()) {
  try {
    render(src, vars);
    ADD_FAILURE() << "expected an error containing \"" << needle << "\" from " << src;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Jinja, ErrorsNameTheConstruct) {
  expect_error("{% include 'x.j2' %}", ErrorKind::kUnsupported, "'{% include %}' tag");
  expect_error("{% extends 'base' %}", ErrorKind::kUnsupported, "'{% extends %}' tag");
  expect_error("{{ x|wordwrap }}", ErrorKind::kUnsupported, "filter 'wordwrap'");
  expect_error("{{ x is prime }}", ErrorKind::kUnsupported, "test 'prime'");
  expect_error("{% for x in y recursive %}{% endfor %}", ErrorKind::kUnsupported, "recursive");
  expect_error("a\n{% if x %}", ErrorKind::kInvalidArgument, "missing '{% endif %}'");
  expect_error("a\nb\n{{ 1 + }}", ErrorKind::kInvalidArgument, "line 3");
  expect_error("{{ 'abc }}", ErrorKind::kInvalidArgument, "unterminated string");
  expect_error("{{ x", ErrorKind::kInvalidArgument, "unterminated tag");
  expect_error("{{ raise_exception('Bad roles') }}", ErrorKind::kInvalidArgument,
               "chat template raised: Bad roles");
  expect_error("{{ x.y.z }}", ErrorKind::kInvalidArgument, "'y' is undefined",
               {{"x", nlohmann::ordered_json::object()}});
  expect_error("{{ 1 + 'a' }}", ErrorKind::kInvalidArgument, "unsupported operand types for +");
  expect_error("{% set ns.a = 1 %}", ErrorKind::kInvalidArgument, "only namespace() objects");
  expect_error("{{ 1 / 0 }}", ErrorKind::kInvalidArgument, "division by zero");
}

}  // namespace
}  // namespace pagedkv::jinja
