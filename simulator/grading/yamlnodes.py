"""Safe YAML that remembers line numbers, so phrasebook errors can say file:line."""

from __future__ import annotations

import yaml

from ..errors import PhrasebookError


class YMap(dict):
    """A mapping with its own line and the line of each key."""
    line = 0
    key_lines: dict

    def line_of(self, key) -> int:
        return self.key_lines.get(key, self.line)


class YSeq(list):
    """A list with its own line and the line of each item."""
    line = 0
    item_lines: list

    def line_of(self, k: int) -> int:
        return self.item_lines[k] if 0 <= k < len(self.item_lines) else self.line


MAX_NODES = 200_000  # the whole built-in phrasebook is ~20,000


def load(text: str, where: str):
    """Parse one YAML document with yaml.SafeLoader; duplicate keys are errors."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)   # libyaml when present: ~5x faster
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else 1
            raise PhrasebookError(f"{where}:{line}: invalid YAML: {e.problem or e.context}") from None
        except yaml.YAMLError as e:
            raise PhrasebookError(f"{where}: invalid YAML: {' '.join(str(e).split())}") from None
        if node is None:
            return None
        loader.nodes_left = MAX_NODES  # aliases are shared nodes: a billion-laughs file would expand forever
        try:
            return _convert(loader, node, where)
        except RecursionError:        # an alias inside its own anchor, or thousands of nested lists
            raise PhrasebookError(f"{where}:{node.start_mark.line + 1}: the YAML nests too deeply "
                                  "(or an alias refers to itself)") from None
    finally:
        loader.dispose()


def _convert(loader, node, where):
    line = node.start_mark.line + 1
    loader.nodes_left -= 1
    if loader.nodes_left < 0:
        raise PhrasebookError(f"{where}:{line}: the file expands to over {MAX_NODES} values (aliases nested too deep)")
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out = YMap()
        out.line, out.key_lines = line, {}
        for knode, vnode in node.value:
            key = _convert(loader, knode, where)
            if isinstance(key, (dict, list)):
                raise PhrasebookError(f"{where}:{knode.start_mark.line + 1}: a key must be a plain value")
            if key in out:
                raise PhrasebookError(f"{where}:{knode.start_mark.line + 1}: duplicate key {key!r}")
            out[key] = _convert(loader, vnode, where)
            out.key_lines[key] = knode.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        out = YSeq(_convert(loader, n, where) for n in node.value)
        out.line, out.item_lines = line, [n.start_mark.line + 1 for n in node.value]
        return out
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as e:
        raise PhrasebookError(f"{where}:{line}: invalid YAML value: {getattr(e, 'problem', e)}") from None
