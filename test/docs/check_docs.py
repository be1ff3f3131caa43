#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the documentation: links, and the C++ snippets as programs.

  check_docs.py links ROOT
      Every relative link of ROOT/README.md, ROOT/CHANGELOG.md and ROOT/docs/*.md must name an
      existing file, and its #anchor a heading of the markdown file it names (GitHub's slugs).
      A ```cpp block right after `<!-- example: examples/NAME.cpp -->` must equal that example,
      less its SPDX line (the example is built and run as a test of its own).
  check_docs.py snippets ROOT OUT_DIR DOC...
      Writes the other ```cpp blocks of each DOC (relative to ROOT) as C++ sources into OUT_DIR,
      one source per DOC and group, and prints "SOURCE GROUP" per line (group: boost when a block
      mentions boost, else std). A block is compiled in its own namespace with its #include lines
      hoisted: a block with `int main()` as it is, any other block as the body of one; the
      source's main runs every block and fails if one returns nonzero.
  check_docs.py version ROOT
      include/pmrkit/version.hpp's version must be the newest in CHANGELOG.md (its first heading
      "## [X.Y.Z]" or "## [Unreleased] (X.Y.Z)").
"""
import re
import sys
from pathlib import Path

LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
EXAMPLE = re.compile(r"<!--\s*example:\s*(\S+)\s*-->")


def prose_lines(text):
    """(line number, line) outside fenced code blocks, inline code removed."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line.lstrip())
        if match:
            if fence is None:
                fence = match.group(1)
            elif match.group(1).startswith(fence[0]) and len(match.group(1)) >= len(fence):
                fence = None
            continue
        if fence is None:
            yield number, re.sub(r"`[^`]*`", "", line)


def slug(heading):
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to -."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text.replace("`", ""))
    return text.replace(" ", "-")


def anchors(path):
    seen, out = {}, set()
    for _, line in prose_lines(path.read_text()):
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    out.update(re.findall(r"<a (?:name|id)=\"([^\"]+)\"", path.read_text()))
    return out


def check_links(root):
    docs = [root / "README.md", root / "CHANGELOG.md"] + sorted((root / "docs").glob("*.md"))
    errors, checked = [], 0
    for doc in docs:
        if not doc.exists():
            continue
        for number, line in prose_lines(doc.read_text()):
            for target in LINK.findall(line):
                if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                    continue
                checked += 1
                path_part, _, anchor = target.partition("#")
                file = (doc.parent / path_part).resolve() if path_part else doc
                where = f"{doc.relative_to(root)}:{number}: {target}"
                if not file.exists():
                    errors.append(f"{where}: no such file")
                elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                    errors.append(f"{where}: no heading with that anchor in {file.name}")
        for number, code, example in blocks(doc):
            if not example:
                continue
            shown = (root / example).read_text().splitlines()
            if "\n".join(l for l in shown if not l.startswith("// SPDX")).strip() != code.strip():
                errors.append(f"{doc.relative_to(root)}:{number}: the block differs from {example}")
    for error in errors:
        print(error)
    print(f"{checked} relative links checked, {len(errors)} broken or stale")
    return 1 if errors or not checked else 0


def blocks(doc):
    """(first line number, code, example file or None) of each ```cpp block."""
    lines, out = doc.read_text().splitlines(), []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, language, start = match.group(1), match.group(2), i + 1
        end = start
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        if language == "cpp":
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            example = EXAMPLE.search(before)
            out.append((start + 1, "\n".join(lines[start:end]),
                        example.group(1) if example else None))
        i = end + 1
    return out


def snippet_source(doc, items):
    includes, bodies = ["#include \"snippet_prelude.hpp\""], []
    for index, (number, code, _) in items:
        body = []
        for offset, line in enumerate(code.splitlines()):
            if line.startswith("#include"):
                includes.append(line)
                body.append("")  # keeps the #line numbering
            else:
                body.append(line)
        text = "\n".join(body)
        complete = re.search(r"\bint main\(\)", text)
        bodies.append(f"namespace snippet_{index} {{\n"
                      + ("" if complete else "int main() {\n")
                      + f"#line {number} \"{doc}\"\n{text}\n"
                      + ("" if complete else "return 0;\n}\n") + "}\n")
    calls = "".join(
        f"    if (snippet_{index}::main() != 0) {{\n"
        f"        std::fprintf(stderr, \"{doc}:{number}: the snippet returned nonzero\\n\");\n"
        f"        failed = 1;\n    }}\n" for index, (number, _, _) in items)
    return ("// Generated by test/docs/check_docs.py from " + str(doc) + ": do not edit.\n"
            + "\n".join(dict.fromkeys(includes)) + "\n#include <cstdio>\n\n" + "\n".join(bodies)
            + f"\nint main() {{\n    int failed = 0;\n{calls}    return failed;\n}}\n")


def write_snippets(root, out_dir, docs):
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in docs:
        doc = root / name
        groups = {}
        for index, (number, code, example) in enumerate(blocks(doc)):
            if example:
                continue
            group = "boost" if "boost" in code else "std"
            groups.setdefault(group, []).append((index, (number, code, example)))
        for group, items in groups.items():
            stem = re.sub(r"\W", "_", str(Path(name).with_suffix("")))
            source = out_dir / f"{stem}_{group}.cpp"
            text = snippet_source(doc, items)
            if not source.exists() or source.read_text() != text:
                source.write_text(text)
            print(f"{source} {group}")
    return 0


def check_version(root):
    header = (root / "include" / "pmrkit" / "version.hpp").read_text()
    parts = [re.search(rf"^#define PMRKIT_VERSION_{p} (\d+)$", header, re.MULTILINE)
             for p in ("MAJOR", "MINOR", "PATCH")]
    if not all(parts):
        print("version.hpp: no PMRKIT_VERSION_MAJOR, _MINOR and _PATCH lines", file=sys.stderr)
        return 1
    version = ".".join(m.group(1) for m in parts)
    newest = re.search(r"^## \[(?:Unreleased\] \()?(\d+\.\d+\.\d+)",
                       (root / "CHANGELOG.md").read_text(), re.MULTILINE)
    if newest is None or newest.group(1) != version:
        print(f"version.hpp says {version}, CHANGELOG.md's newest version is "
              f"{newest.group(1) if newest else 'missing'}", file=sys.stderr)
        return 1
    print(f"version {version}, as CHANGELOG.md")
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "links":
        return check_links(Path(argv[1]).resolve())
    if len(argv) >= 2 and argv[0] == "version":
        return check_version(Path(argv[1]).resolve())
    if len(argv) >= 4 and argv[0] == "snippets":
        return write_snippets(Path(argv[1]).resolve(), Path(argv[2]), argv[3:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
