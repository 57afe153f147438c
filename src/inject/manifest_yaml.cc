#include "inject/manifest_yaml.h"

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace nearcache::inject {
namespace {

constexpr absl::string_view kCoreTagPrefix = "tag:yaml.org,2002:";

bool IsMarkerLine(absl::string_view line) {
  line = absl::StripSuffix(absl::StripSuffix(line, "\n"), "\r");
  if (!absl::StartsWith(line, "---")) return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t';
}

// A line that carries no content: blank, a comment, "---" alone (or with a
// comment) or the "..." document end.
bool IsFrameLine(absl::string_view line) {
  absl::string_view s = absl::StripAsciiWhitespace(line);
  if (s.empty() || s[0] == '#' || s == "...") return true;
  if (!IsMarkerLine(line)) return false;
  s = absl::StripAsciiWhitespace(s.substr(3));
  return s.empty() || s[0] == '#';
}

bool IsStringTag(const std::string& tag) {
  return tag == "!" || tag == absl::StrCat(kCoreTagPrefix, "str");
}

// "!!binary", "!local", "!<verbatim>"; "" for no tag.
std::string TagText(const std::string& tag) {
  if (tag.empty() || tag == "?" || tag == "!") return "";
  if (absl::StartsWith(tag, kCoreTagPrefix)) {
    return absl::StrCat("!!", tag.substr(kCoreTagPrefix.size()));
  }
  if (tag[0] == '!') return tag;
  return absl::StrCat("!<", tag, ">");
}

void EmitTag(YAML::Emitter& out, const std::string& tag) {
  if (tag.empty() || tag == "?" || tag == "!") return;
  if (absl::StartsWith(tag, kCoreTagPrefix)) {
    out << YAML::SecondaryTag(tag.substr(kCoreTagPrefix.size()));
  } else if (tag[0] == '!') {
    out << YAML::LocalTag(tag.substr(1));
  } else {
    out << YAML::VerbatimTag(tag);
  }
}

// A scalar on one line: plain when that reads back as the same thing,
// else quoted (yaml-cpp picks quotes when the syntax needs them; strings
// that would change type and multi-line strings are double-quoted here).
void EmitScalar(YAML::Emitter& out, const YAML::Node& node) {
  const std::string& text = node.Scalar();
  const std::string& tag = node.Tag();
  if (!IsStringTag(tag)) {
    EmitTag(out, tag);
    out << text;
  } else if (text.find('\n') != std::string::npos ||
             PlainScalarChangesType(text)) {
    out << YAML::DoubleQuoted << text;
  } else {
    out << text;
  }
}

// Any node with yaml-cpp's emitter: used for scalars, null, empty and flow
// collections (all on one line).
void EmitNode(YAML::Emitter& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out << YAML::Null;
      return;
    case YAML::NodeType::Scalar:
      EmitScalar(out, node);
      return;
    case YAML::NodeType::Sequence:
      EmitTag(out, node.Tag());
      out << YAML::Flow << YAML::BeginSeq;
      for (const YAML::Node& item : node) EmitNode(out, item);
      out << YAML::EndSeq;
      return;
    case YAML::NodeType::Map:
      EmitTag(out, node.Tag());
      out << YAML::Flow << YAML::BeginMap;
      for (const auto& kv : node) {
        out << YAML::Key;
        EmitNode(out, kv.first);
        out << YAML::Value;
        EmitNode(out, kv.second);
      }
      out << YAML::EndMap;
      return;
  }
}

std::string OneLine(const YAML::Node& node) {
  YAML::Emitter out;
  EmitNode(out, node);
  return out.c_str();
}

// `s` as a literal block scalar ("|", "|-" or "|+" and the lines, each
// indented by `indent`, without a final newline), or nullopt when a literal
// block cannot hold it exactly: a single line, a leading space, tab or
// newline (would need an indentation indicator), a line of only blanks, or
// control characters.
std::optional<std::string> LiteralBlock(absl::string_view s, int indent) {
  if (s.find('\n') == absl::string_view::npos || indent < 1) {
    return std::nullopt;
  }
  if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n') return std::nullopt;
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return std::nullopt;
  }
  size_t trailing = 0;  // newlines at the end
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') {
    ++trailing;
  }
  const absl::string_view body = s.substr(0, s.size() - trailing);
  std::string out = trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    out += '\n';
    if (line.empty()) continue;
    if (absl::StripAsciiWhitespace(line).empty()) return std::nullopt;
    out.append(indent, ' ');
    absl::StrAppend(&out, line);
  }
  for (size_t i = 1; i < trailing; ++i) out += '\n';
  return out;
}

bool IsBlockCollection(const YAML::Node& node) {
  return (node.IsMap() || node.IsSequence()) && node.size() > 0 &&
         node.Style() != YAML::EmitterStyle::Flow;
}

void WriteBlock(const YAML::Node& node, int indent, bool continues_line,
                std::string* out);

// What follows "key:" or "-" at `indent`, through the end of its lines.
// Sequences in maps are not indented further (as kubectl writes them).
void WriteValue(const YAML::Node& value, int indent, bool in_map,
                std::string* out) {
  if (!IsBlockCollection(value)) {
    *out += ' ';
    std::optional<std::string> block;
    if (value.IsScalar() && IsStringTag(value.Tag())) {
      block = LiteralBlock(value.Scalar(), indent + 2);
    }
    *out += block.has_value() ? *block : OneLine(value);
    *out += '\n';
    return;
  }
  const std::string tag = TagText(value.Tag());
  if (!tag.empty()) absl::StrAppend(out, " ", tag);
  if (in_map || !tag.empty()) {
    *out += '\n';
    WriteBlock(value, value.IsSequence() && in_map ? indent : indent + 2,
               /*continues_line=*/false, out);
  } else {
    *out += ' ';
    WriteBlock(value, indent + 2, /*continues_line=*/true, out);
  }
}

// A block map or sequence, its lines indented by `indent`; the first line's
// indentation is already written when `continues_line` ("- key: v").
void WriteBlock(const YAML::Node& node, int indent, bool continues_line,
                std::string* out) {
  bool first = true;
  auto start_line = [&] {
    if (!first || !continues_line) out->append(indent, ' ');
    first = false;
  };
  if (node.IsMap()) {
    for (const auto& kv : node) {
      start_line();
      absl::StrAppend(out, OneLine(kv.first), ":");
      WriteValue(kv.second, indent, /*in_map=*/true, out);
    }
    return;
  }
  for (const YAML::Node& item : node) {
    start_line();
    *out += '-';
    WriteValue(item, indent, /*in_map=*/false, out);
  }
}

std::string UnescapePointerToken(absl::string_view token) {
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size()) {
      out += token[i + 1] == '1' ? '/' : '~';
      ++i;
    } else {
      out += token[i];
    }
  }
  return out;
}

// The child of `node` named by `token`: a map's value by key, a
// sequence's item by index; nullopt when there is none.
std::optional<YAML::Node> Child(YAML::Node node, const std::string& token) {
  if (node.IsMap()) {
    for (auto kv : node) {
      if (kv.first.IsScalar() && kv.first.Scalar() == token) return kv.second;
    }
    return std::nullopt;
  }
  size_t index = 0;
  if (node.IsSequence() && absl::SimpleAtoi(token, &index) &&
      index < node.size()) {
    return node[index];
  }
  return std::nullopt;
}

absl::Status ApplyAddOp(YAML::Node root, const PatchOp& op) {
  if (!absl::StartsWith(op.path, "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("patch path \"", op.path, "\" does not start with /"));
  }
  std::vector<std::string> tokens;
  for (absl::string_view t :
       absl::StrSplit(absl::string_view(op.path).substr(1), '/')) {
    tokens.push_back(UnescapePointerToken(t));
  }
  // Node handles are moved with reset(): assigning to a handle would
  // overwrite the node it refers to (yaml-cpp's reference semantics).
  YAML::Node parent = root;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    std::optional<YAML::Node> child = Child(parent, tokens[i]);
    if (!child.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("patch path \"", op.path, "\" leads nowhere"));
    }
    parent.reset(*child);
  }
  const std::string& last = tokens.back();
  YAML::Node value = JsonToYaml(op.value);
  if (parent.IsMap()) {
    if (std::optional<YAML::Node> existing = Child(parent, last)) {
      *existing = value;  // replaces the value in `parent`
    } else {
      YAML::Node key(last);
      key.SetTag("!");
      parent.force_insert(key, value);
    }
    return absl::OkStatus();
  }
  if (!parent.IsSequence()) {
    return absl::InvalidArgumentError(
        absl::StrCat("patch path \"", op.path, "\" leads nowhere"));
  }
  size_t index = 0;
  if (last == "-") {
    parent.push_back(value);
    return absl::OkStatus();
  }
  if (!absl::SimpleAtoi(last, &index) || index > parent.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("patch path \"", op.path, "\": bad index"));
  }
  // yaml-cpp cannot insert into a sequence: rebuild it in place.
  std::vector<YAML::Node> items(parent.begin(), parent.end());
  items.insert(items.begin() + static_cast<std::ptrdiff_t>(index), value);
  YAML::Node rebuilt(YAML::NodeType::Sequence);
  rebuilt.SetStyle(parent.Style());
  for (const YAML::Node& item : items) rebuilt.push_back(item);
  parent = rebuilt;  // replaces the sequence's content
  return absl::OkStatus();
}

}  // namespace

std::vector<DocumentChunk> SplitDocuments(absl::string_view stream) {
  std::vector<DocumentChunk> chunks;
  size_t start = 0;  // of the current chunk
  int start_line = 1;
  int line_no = 1;
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t end = stream.find('\n', pos);
    end = end == absl::string_view::npos ? stream.size() : end + 1;
    if (IsMarkerLine(stream.substr(pos, end - pos)) && pos > start) {
      chunks.push_back({stream.substr(start, pos - start), start_line});
      start = pos;
      start_line = line_no;
    }
    pos = end;
    ++line_no;
  }
  if (start < stream.size() || chunks.empty()) {
    chunks.push_back({stream.substr(start), start_line});
  }
  return chunks;
}

std::string ReplaceDocumentContent(absl::string_view chunk,
                                   const YAML::Node& doc) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(chunk, absl::ByString("\n"));
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  size_t first = 0;  // first content line
  while (first < lines.size() && IsFrameLine(lines[first])) ++first;
  size_t last = lines.size();  // one past the last content line
  while (last > first && IsFrameLine(lines[last - 1])) --last;

  std::string out;
  bool has_marker = false;
  for (size_t i = 0; i < first; ++i) {
    has_marker |= IsMarkerLine(lines[i]);
    absl::StrAppend(&out, lines[i], "\n");
  }
  // A marker line that carries content ("--- {a: 1}") is replaced.
  if (!has_marker && first < lines.size() && IsMarkerLine(lines[first])) {
    out += "---\n";
  }
  out += EmitYaml(doc);
  for (size_t i = last; i < lines.size(); ++i) {
    if (i < first) continue;
    absl::StrAppend(&out, lines[i], "\n");
  }
  return out;
}

std::string EmitYaml(const YAML::Node& node) {
  std::string out;
  if (IsBlockCollection(node)) {
    WriteBlock(node, 0, /*continues_line=*/false, &out);
  } else {
    std::optional<std::string> block;
    if (node.IsScalar() && IsStringTag(node.Tag())) {
      block = LiteralBlock(node.Scalar(), 2);
    }
    absl::StrAppend(&out, block.has_value() ? *block : OneLine(node), "\n");
  }
  return out;
}

bool PlainScalarChangesType(absl::string_view text) {
  if (text.empty()) return true;
  const std::string lower = absl::AsciiStrToLower(text);
  for (absl::string_view word :
       {"~", "null", "y", "n", "yes", "no", "true", "false", "on", "off",
        ".inf", "-.inf", "+.inf", ".nan", "<<", "="}) {
    if (lower == word) return true;
  }
  // Numbers in any YAML 1.1 form (0x1f, 0o17, 1_000, 1:30, 1e3, .5) and
  // dates start with a digit, or a sign or dot and a digit, and use only
  // the characters below; "100m" or "1Gi" do not read as numbers.
  const bool numeric_start =
      absl::ascii_isdigit(text[0]) ||
      (text.size() > 1 &&
       (text[0] == '+' || text[0] == '-' || text[0] == '.') &&
       (absl::ascii_isdigit(text[1]) || text[1] == '.'));
  if (!numeric_start) return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(c) && !absl::StrContains("xXoO+-._: tTzZ", c)) {
      return false;
    }
  }
  return true;
}

Json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return node.Scalar();
    case YAML::NodeType::Sequence: {
      Json array = Json::array();
      for (const YAML::Node& item : node) array.push_back(YamlToJson(item));
      return array;
    }
    case YAML::NodeType::Map: {
      Json object = Json::object();
      for (const auto& kv : node) {
        const std::string key =
            kv.first.IsScalar() ? kv.first.Scalar() : EmitYaml(kv.first);
        object[key] = YamlToJson(kv.second);
      }
      return object;
    }
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      break;
  }
  return nullptr;
}

YAML::Node JsonToYaml(const Json& value) {
  if (value.is_object()) {
    YAML::Node map(YAML::NodeType::Map);
    for (const auto& [key, item] : value.items()) {
      YAML::Node k(key);
      k.SetTag("!");
      map.force_insert(k, JsonToYaml(item));
    }
    return map;
  }
  if (value.is_array()) {
    YAML::Node seq(YAML::NodeType::Sequence);
    for (const Json& item : value) seq.push_back(JsonToYaml(item));
    return seq;
  }
  if (value.is_null()) return YAML::Node(YAML::NodeType::Null);
  if (value.is_string()) {
    YAML::Node s(value.get<std::string>());
    s.SetTag("!");
    return s;
  }
  YAML::Node plain(value.dump());  // numbers and booleans
  plain.SetTag("?");
  return plain;
}

absl::Status ApplyAddOps(YAML::Node root, const std::vector<PatchOp>& ops) {
  for (const PatchOp& op : ops) {
    if (absl::Status s = ApplyAddOp(root, op); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace nearcache::inject
