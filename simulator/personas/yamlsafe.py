"""Safe YAML for hand-written persona files: a node tree with line marks, no tags, anchors or bombs.

``compose`` returns the node tree (for mapping error locations to lines) and the plain data.
"""

from __future__ import annotations

import re

import yaml

from ..errors import PersonaError


def zh(english: str, chinese: str) -> str:
    """A message for trainers: Chinese first, the English (what a YAML or pydantic manual says) after."""
    return f"{chinese}（{english}）"


MAX_BYTES = 64 * 1024
MAX_DEPTH = 12


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: ``on:``/``no``/``yes`` stay strings (``on`` is a trigger key)."""


_Loader.yaml_implicit_resolvers = {k: [(t, r) for t, r in v if t != "tag:yaml.org,2002:bool"]
                                   for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _first in "tTfF":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0, ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")))

MAX_INT_DIGITS = 100  # a longer number is a typo, and Python refuses ints over 4300 digits anyway


def _construct_int(loader, node):
    """Plain ints, but a number too long to be meant is a located YAML error, not a ValueError."""
    if len(node.value) > MAX_INT_DIGITS:
        raise yaml.constructor.ConstructorError(
            None, None, f"a number of {len(node.value)} digits (at most {MAX_INT_DIGITS}; quote it to keep it as text)",
            node.start_mark)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)

_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}


def line_of(mark) -> int:
    return mark.line + 1


def compose(text: str, source: str):
    """Parse YAML into a node tree, refusing tags, anchors, aliases, duplicate keys and deep nesting."""
    if re.search("[\ud800-\udfff]", text):  # half an emoji: not storable as UTF-8
        raise PersonaError(f"{source}: " + zh("text that is not valid Unicode (a lone surrogate)", "含有无效的字符"))
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise PersonaError(f"{source}: " + zh(f"persona file is too large (the limit is {MAX_BYTES // 1024} KB)", "文件太大"))
    try:
        loader = _Loader(text)  # the reader refuses control characters right here
    except yaml.YAMLError as e:
        raise PersonaError(f"{source}: " + zh(f"invalid YAML: {getattr(e, 'problem', None) or ' '.join(str(e).split())}", "YAML 格式错误")) from None
    try:
        depth = 0
        for ev in iter(loader.peek_event, None):
            if isinstance(ev, yaml.StreamEndEvent):
                break
            if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
                raise PersonaError(f"{source}:{line_of(ev.start_mark)}: " + zh("anchors and aliases (& and *) are not allowed", "不允许使用锚点和别名"))
            tag = getattr(ev, "tag", None)
            if tag and tag not in _PLAIN_TAGS and tag != "!":
                raise PersonaError(f"{source}:{line_of(ev.start_mark)}: " + zh(f"YAML tags such as {tag} are not allowed", "不允许使用 YAML 标签"))
            if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise PersonaError(f"{source}:{line_of(ev.start_mark)}: " + zh(f"nested too deeply (the limit is {MAX_DEPTH})", "嵌套太深"))
            elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            loader.get_event()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f":{line_of(mark)}" if mark else ""
        raise PersonaError(f"{source}{where}: " + zh(f"invalid YAML: {e.problem or e.context}", "YAML 格式错误")) from None
    finally:
        loader.dispose()
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise PersonaError(f"{source}: " + zh("the file is empty", "文件是空的"))
        _check_keys(node, source)
        return node, loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise PersonaError(f"{source}:{line_of(mark) if mark else '?'}: " + zh(f"invalid YAML: {e.problem or e.context}", "YAML 格式错误")) from None
    finally:
        loader.dispose()


def _check_keys(node, source):
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise PersonaError(f"{source}:{line_of(k.start_mark)}: " + zh("keys must be plain words", "键必须是简单的词"))
            if k.value in seen:
                raise PersonaError(f"{source}:{line_of(k.start_mark)}: " + zh(f"duplicate key {k.value!r}", "重复的键"))
            seen.add(k.value)
            _check_keys(v, source)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_keys(item, source)


def node_at(root, loc):
    """Follow a pydantic error location through the YAML nodes; return (node to point at, path parts)."""
    node, at, parts, key_node = root, root, [], None
    for part in loc:
        if part == "[key]":
            at = key_node or at
            continue
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match:
                key_node, node = match
                at = key_node
                parts.append(part)
                continue
            if any(k.value == "on" and v.value == part for k, v in node.value):
                continue  # the union tag of a trigger (its ``on``), not a key
            parts.append(part)  # a missing key: point at the mapping that lacks it
            break
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = at = node.value[part]
            parts.append(part)
        elif isinstance(part, str):
            continue  # a union branch name such as "list[str]", not a YAML key
        else:
            parts.append(part)
            break
    return at, parts


def path_text(parts) -> str:
    out = ""
    for p in parts:
        name = str(p) if str(p).isprintable() else repr(p)  # a key with a newline stays on one line
        out += f"[{p}]" if isinstance(p, int) else (f".{name}" if out else name)
    return out or "(top)"
