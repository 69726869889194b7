#include "tokenizer/jinja/lexer.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/error.h"

namespace pagedkv::jinja {
namespace {

struct Chunk {
  enum Kind { kText, kVar, kBlock, kComment } kind;
  size_t begin, end;  // text: the text; tags: the inner expression source
  bool strip_before = false, keep_before = false, strip_after = false, keep_after = false;
  int line = 1;
};

int line_at(std::string_view s, size_t pos) {
  return 1 + static_cast<int>(std::count(s.begin(), s.begin() + static_cast<long>(pos), '\n'));
}

[[noreturn]] void lex_error(std::string_view src, size_t pos, const std::string& what) {
  fail(ErrorKind::kInvalidArgument, str_cat("chat template: line ", line_at(src, pos), ": ", what));
}

// Position just past a quoted string starting at src[pos] (a quote character).
size_t skip_string(std::string_view src, size_t pos) {
  const char q = src[pos];
  for (size_t i = pos + 1; i < src.size(); ++i) {
    if (src[i] == '\\') {
      ++i;
    } else if (src[i] == q) {
      return i + 1;
    }
  }
  lex_error(src, pos, "unterminated string");
}

std::vector<Chunk> split_chunks(std::string_view src) {
  std::vector<Chunk> chunks;
  size_t pos = 0;
  while (pos < src.size()) {
    size_t open = pos;
    while (true) {
      open = src.find('{', open);
      if (open == std::string_view::npos || open + 1 >= src.size()) {
        open = std::string_view::npos;
        break;
      }
      const char c = src[open + 1];
      if (c == '{' || c == '%' || c == '#') break;
      ++open;
    }
    if (open == std::string_view::npos) {
      chunks.push_back({Chunk::kText, pos, src.size()});
      break;
    }
    if (open > pos) chunks.push_back({Chunk::kText, pos, open});
    Chunk tag{};
    tag.line = line_at(src, open);
    const char kind = src[open + 1];
    tag.kind = kind == '{' ? Chunk::kVar : kind == '%' ? Chunk::kBlock : Chunk::kComment;
    size_t i = open + 2;
    if (i < src.size() && src[i] == '-')
      tag.strip_before = true, ++i;
    else if (i < src.size() && src[i] == '+')
      tag.keep_before = true, ++i;
    tag.begin = i;
    const char close = kind == '{' ? '}' : kind == '%' ? '%' : '#';
    size_t end = std::string_view::npos;
    int depth = 0;
    for (; i + 1 < src.size(); ++i) {
      const char c = src[i];
      if (tag.kind != Chunk::kComment && (c == '"' || c == '\'')) {
        i = skip_string(src, i) - 1;
        continue;
      }
      if (depth == 0 && c == close && src[i + 1] == '}') {
        end = i;
        break;
      }
      if (tag.kind == Chunk::kComment) continue;
      // Brackets inside the tag (a dict literal's "}}" is not the end of {{ ... }}).
      if (c == '{' || c == '[' || c == '(') ++depth;
      if ((c == '}' || c == ']' || c == ')') && depth > 0) --depth;
    }
    if (end == std::string_view::npos) {
      lex_error(src, open,
                tag.kind == Chunk::kComment ? "unterminated comment" : "unterminated tag");
    }
    tag.end = end;
    if (end > tag.begin && src[end - 1] == '-')
      tag.strip_after = true, tag.end = end - 1;
    else if (end > tag.begin && src[end - 1] == '+')
      tag.keep_after = true, tag.end = end - 1;
    chunks.push_back(tag);
    pos = end + 2;
  }
  return chunks;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void lex_expression(std::string_view src, const Chunk& tag, std::vector<Token>& out) {
  static const char* kOps[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*",
                               "/",  "%",  "<",  ">",  "=",  "(",  ")", "[", "]",
                               "{",  "}",  ".",  ",",  ":",  "|",  "~"};
  size_t i = tag.begin;
  while (i < tag.end) {
    const char c = src[i];
    if (is_space(c)) {
      ++i;
      continue;
    }
    Token t{Token::kOp, "", 0, 0, line_at(src, i)};
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < tag.end && (std::isalnum(static_cast<unsigned char>(src[j])) || src[j] == '_'))
        ++j;
      t.kind = Token::kName;
      t.text = std::string(src.substr(i, j - i));
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      bool is_float = false;
      while (j < tag.end && (std::isdigit(static_cast<unsigned char>(src[j])) || src[j] == '_'))
        ++j;
      if (j + 1 < tag.end && src[j] == '.' &&
          std::isdigit(static_cast<unsigned char>(src[j + 1]))) {
        is_float = true;
        ++j;
        while (j < tag.end && std::isdigit(static_cast<unsigned char>(src[j]))) ++j;
      }
      if (j < tag.end && (src[j] == 'e' || src[j] == 'E')) {
        size_t k = j + 1;
        if (k < tag.end && (src[k] == '+' || src[k] == '-')) ++k;
        if (k < tag.end && std::isdigit(static_cast<unsigned char>(src[k]))) {
          is_float = true;
          j = k;
          while (j < tag.end && std::isdigit(static_cast<unsigned char>(src[j]))) ++j;
        }
      }
      std::string num(src.substr(i, j - i));
      num.erase(std::remove(num.begin(), num.end(), '_'), num.end());
      if (is_float) {
        t.kind = Token::kFloat;
        t.float_value = std::stod(num);
      } else {
        t.kind = Token::kInt;
        t.int_value = std::stoll(num);
      }
      i = j;
    } else if (c == '"' || c == '\'') {
      const size_t j = skip_string(src, i);
      t.kind = Token::kString;
      for (size_t k = i + 1; k + 1 < j; ++k) {
        if (src[k] != '\\') {
          t.text += src[k];
          continue;
        }
        const char e = src[++k];
        switch (e) {
          case 'n':
            t.text += '\n';
            break;
          case 't':
            t.text += '\t';
            break;
          case 'r':
            t.text += '\r';
            break;
          case '\\':
            t.text += '\\';
            break;
          case '\'':
            t.text += '\'';
            break;
          case '"':
            t.text += '"';
            break;
          default:
            t.text += '\\';
            t.text += e;
            break;  // Python keeps unknown escapes
        }
      }
      i = j;
    } else {
      const char* op = nullptr;
      for (const char* o : kOps) {
        if (src.substr(i, std::strlen(o)) == o) {
          op = o;
          break;
        }
      }
      if (op == nullptr) lex_error(src, i, str_cat("unexpected character '", c, "'"));
      t.text = op;
      i += t.text.size();
    }
    out.push_back(std::move(t));
  }
}

}  // namespace

std::vector<Token> tokenize(std::string_view src) {
  std::vector<Chunk> chunks = split_chunks(src);
  // Whitespace control on the text chunks, from the tags on either side.
  std::vector<std::string> texts(chunks.size());
  for (size_t k = 0; k < chunks.size(); ++k) {
    if (chunks[k].kind != Chunk::kText) continue;
    size_t b = chunks[k].begin, e = chunks[k].end;
    const Chunk* prev = k > 0 ? &chunks[k - 1] : nullptr;
    const Chunk* next = k + 1 < chunks.size() ? &chunks[k + 1] : nullptr;
    if (prev && prev->strip_after) {
      while (b < e && is_space(src[b])) ++b;
    } else if (prev && prev->kind != Chunk::kVar && !prev->keep_after && b < e && src[b] == '\n') {
      ++b;  // trim_blocks
    }
    if (next && next->strip_before) {
      while (e > b && is_space(src[e - 1])) --e;
    } else if (next && next->kind != Chunk::kVar && !next->keep_before) {
      // lstrip_blocks: only spaces/tabs between the line start and the tag.
      const bool line_starting = b == 0 || src[b - 1] == '\n';
      size_t l = e;
      while (l > b && (src[l - 1] == ' ' || src[l - 1] == '\t')) --l;
      if ((l > b && src[l - 1] == '\n') || (l == b && line_starting)) e = l;
    }
    texts[k] = std::string(src.substr(b, e - b));
  }
  std::vector<Token> out;
  for (size_t k = 0; k < chunks.size(); ++k) {
    const Chunk& c = chunks[k];
    switch (c.kind) {
      case Chunk::kText:
        if (!texts[k].empty())
          out.push_back({Token::kText, std::move(texts[k]), 0, 0, line_at(src, c.begin)});
        break;
      case Chunk::kComment:
        break;
      case Chunk::kVar:
      case Chunk::kBlock:
        out.push_back(
            {c.kind == Chunk::kVar ? Token::kVarBegin : Token::kBlockBegin, "", 0, 0, c.line});
        lex_expression(src, c, out);
        out.push_back(
            {c.kind == Chunk::kVar ? Token::kVarEnd : Token::kBlockEnd, "", 0, 0, c.line});
        break;
    }
  }
  out.push_back({Token::kEof, "", 0, 0, line_at(src, src.size())});
  return out;
}

}  // namespace pagedkv::jinja
