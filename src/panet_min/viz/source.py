"""Excerpts of the package's own source, as the chapters show them (``show_source``): whole
objects or line ranges between markers, with or without docstring and trailing comments, long
lines wrapped at a bracket.
"""
from __future__ import annotations

import ast
import inspect
import textwrap

def _depths(text):
    """Bracket depth and innermost open-bracket column at each character of one line."""
    stack, quote, out = [], None, []
    for i, ch in enumerate(text):
        inner = stack[-1] + 1 if stack and stack[-1] >= 0 else None
        anyb = (abs(stack[-1] + 2) + 1 if stack[-1] < 0 else stack[-1] + 1) if stack else None
        out.append((len(stack), inner, anyb))
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            sub = ch == "[" and i and (text[i - 1].isalnum() or text[i - 1] in "_)]")
            stack.append(-i - 2 if sub else i)
        elif ch in ")]}" and stack:
            stack.pop()
    return out


def wrap_code_line(line: str, width: int) -> list[str]:
    """One line of Python -> lines of at most ``width`` characters where it can.

    Breaks after the outermost ", " inside brackets and aligns the rest on the bracket
    (a call's arguments before a subscript's); a trailing comment goes on a line of its own
    above; a long string literal is shortened with "...". A line that cannot be broken is
    returned as it is.
    """
    indent = line[:len(line) - len(line.lstrip())]
    if len(line) <= width:
        return [line]
    if line.lstrip().startswith("#"):
        return textwrap.wrap(line.lstrip()[1:].strip(), width - len(indent) - 2,
                             initial_indent=indent + "# ", subsequent_indent=indent + "# ")
    code, sep, comment = line.partition("  # ")
    if sep:
        return wrap_code_line(indent + "# " + comment, width) + wrap_code_line(code.rstrip(), width)
    depth = _depths(line)
    vis = list(range(len(line)))  # visual column of each character
    out, start, ind = [], 0, 0
    while ind + len(line) - start > width:
        room = start + width - ind
        span = range(start + 1, min(room, len(line)))
        key = 1
        cuts = [i for i in span if line[i:i + 2] == ", " and depth[i][1]]
        if not cuts:
            key = 2
            cuts = [i for i in span if line[i:i + 2] == ", " and depth[i][2]]
        if not cuts:
            break
        least = min(depth[i][0] for i in cuts)
        cut = max(i for i in cuts if depth[i][0] == least)
        out.append(" " * ind + line[start:cut + 1])
        start, ind = cut + 2, vis[depth[cut][key]]
        for j in range(start, len(line)):
            vis[j] = ind + j - start
    last = " " * ind + line[start:]
    q = last.find('"')
    if len(last) > width and q > 0 and last.rfind('"') > q:
        tail = last[last.rfind('"'):]
        last = last[:max(q + 1, width - len(tail) - 3)] + "..." + tail
    return out + [last]


def _docstring_span(src: str) -> tuple[int, int] | None:
    """0-based (first, last) line of the docstring of the def/class/module in ``src``."""
    tree = ast.parse(src)
    node = tree.body[0] if tree.body and isinstance(
        tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else tree
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].lineno - 1, body[0].end_lineno - 1
    return None


def _find(lines, marker, start, what, obj, skip=range(0)) -> int:
    if isinstance(marker, int):
        if not 1 <= marker <= len(lines):
            raise ValueError(f"{what} line {marker} is outside the source of {_qualname(obj)} "
                             f"(1..{len(lines)})")
        return marker - 1
    for i in range(start, len(lines)):
        if i not in skip and marker in lines[i]:
            return i
    raise ValueError(f"no line containing {marker!r} in the source of {_qualname(obj)}"
                     + (f" after line {start + 1}" if start else ""))


def _qualname(obj) -> str:
    return getattr(obj, "__qualname__", getattr(obj, "__name__", repr(obj)))


def source_text(obj, lines=None, docstring: bool = True, comments: bool = True,
                width: int | None = None) -> str:
    """The source of ``obj`` (a function, method, class or module), or excerpts of it, as text.

    ``lines``: None for all of it; a pair ``(first, last)``, or a list of pairs, each bound a
    line number (1 = the ``def`` line) or a string: the first line containing it (``last``:
    the first one at or after ``first``). Bounds are included; each excerpt is dedented, and
    excerpts are joined by a ``...`` line. ``docstring=False`` leaves the docstring out (and
    string bounds are not looked for in it),
    ``comments=False`` trailing ``  # ...`` comments; ``width`` wraps longer lines
    (:func:`wrap_code_line`). A bound that matches nothing -> ValueError naming it.
    """
    src = textwrap.dedent(inspect.getsource(obj))
    all_lines = src.splitlines()
    if isinstance(lines, str):
        raise ValueError(f"lines must be a pair (first, last) or a list of pairs, got {lines!r}")
    if lines is None:
        ranges = [(1, len(all_lines))]
    elif len(lines) == 2 and all(isinstance(b, (int, str)) for b in lines):
        ranges = [tuple(lines)]
    else:
        ranges = [tuple(r) for r in lines]
        if not ranges or any(len(r) != 2 for r in ranges):
            raise ValueError(f"lines must be a pair (first, last) or a list of pairs, got {lines!r}")
    span = _docstring_span(src) if not docstring else None
    skip = range(0) if span is None else range(span[0], span[1] + 1)
    parts = []
    for first, last in ranges:
        i = _find(all_lines, first, 0, "first", obj, skip)
        j = _find(all_lines, last, i, "last", obj, skip)
        if j < i:
            raise ValueError(f"lines ({first!r}, {last!r}): the last comes before the first")
        block = [line for n, line in enumerate(all_lines[i:j + 1], start=i) if n not in skip]
        block = textwrap.dedent("\n".join(block)).splitlines()
        if not comments:
            block = [line.split("  # ")[0].rstrip() if line.strip() and not line.lstrip().startswith("#")
                     else line for line in block]
        if width is not None:
            block = [w for line in block for w in wrap_code_line(line, width)]
        parts.append("\n".join(block))
    return "\n...\n".join(parts)


def show_source(obj, lines=None, docstring: bool = True, comments: bool = True,
                width: int | None = None):
    """:func:`source_text` of ``obj`` as an IPython ``Code`` display (Python highlighting).

    ``show_source(f)``: all of ``f``; ``show_source(f, docstring=False, width=76)``: its code,
    wrapped for the page; ``show_source(f, ("q_loss =", "loss ="))``: the lines between two
    markers; ``show_source(f, [(a, b), (c, d)])``: two excerpts with ``...`` between.
    """
    from IPython.display import Code
    return Code(source_text(obj, lines, docstring=docstring, comments=comments, width=width),
                language="python")
